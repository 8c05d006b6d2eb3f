//! Mount points under a host root directory: created before a run, removed after it.

use std::io;
use std::path::{Component, Path, PathBuf};

use crate::backend::BackendKind;
use crate::config::{Config, ConfigError};
use crate::error::Error;
use crate::mount::Mount;
use crate::outcome::Outcome;

/// What [`create_all`] created, in creation order.
#[derive(Debug, Default)]
#[must_use = "created mount points must be removed after the run"]
pub(crate) struct Created {
    paths: Vec<(PathBuf, bool)>,
}

impl Created {
    /// Removes everything that was created, in reverse order. Best effort: something the command
    /// put inside a created directory keeps it.
    pub fn remove(self) {
        for (path, is_dir) in self.paths.into_iter().rev() {
            let _ = if is_dir {
                std::fs::remove_dir(&path)
            } else {
                std::fs::remove_file(&path)
            };
        }
    }
}

/// Creates the mount point of each mount under `root` (directories, or an empty file for a
/// bind of a file), never following a symlink: a target that goes through one is an error.
/// With `allow` false (the root is the host's `/`), nothing is created: a missing mount point
/// is an error.
pub(crate) fn create_all(
    root: &Path,
    mounts: &[Mount],
    allow: bool,
) -> Result<Created, (PathBuf, io::Error)> {
    let mut created = Created::default();
    for m in mounts {
        let file = m.source().is_some_and(|s| !s.is_dir());
        if let Err(e) = create_one(root, m.target(), file, allow, &mut created) {
            created.remove();
            return Err((m.target().to_path_buf(), e));
        }
    }
    Ok(created)
}

fn create_one(
    root: &Path,
    target: &Path,
    file: bool,
    allow: bool,
    created: &mut Created,
) -> io::Result<()> {
    let names: Vec<_> = target
        .components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name),
            _ => None,
        })
        .collect();
    let mut path = root.to_path_buf();
    for (i, name) in names.iter().enumerate() {
        path.push(name);
        let last = i + 1 == names.len();
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "mount target goes through a symlink",
                ))
            }
            Ok(meta) if !last && !meta.is_dir() => {
                return Err(io::Error::from(io::ErrorKind::NotADirectory))
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound && !allow => {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    "does not exist, and hutch does not create mount points on the host's /",
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if last && file {
                    std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .open(&path)?;
                    created.paths.push((path.clone(), false));
                } else {
                    std::fs::create_dir(&path)?;
                    created.paths.push((path.clone(), true));
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Resolves the root, creates the mount points the extra mounts need (only under a root other
/// than the host's), runs `body` with the resolved root, and removes them again, in reverse
/// order, whatever `body` returned. Shared by the userns and chroot backends.
pub(crate) fn around(
    config: &Config,
    backend: BackendKind,
    body: impl FnOnce(&Config, &Path) -> Result<Outcome, Error>,
) -> Result<Outcome, Error> {
    let root = std::fs::canonicalize(config.get_root()).map_err(|e| {
        Error::setup(
            backend,
            format!("resolve root {}", config.get_root().display()),
            e,
        )
    })?;
    let mounts = config.normalized_mounts()?;
    let created = create_all(&root, &mounts, !config.root_is_host()).map_err(|(target, e)| {
        Error::Config(ConfigError::Mount(format!(
            "mount point {}: {e}",
            target.display()
        )))
    })?;
    let result = body(config, &root);
    created.remove();
    result
}
