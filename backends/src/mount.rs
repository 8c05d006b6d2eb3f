//! Extra mounts, as the configuration describes them (converted to hutch-mounts' specs by the
//! backends).

use std::path::{Path, PathBuf};

use hutch_pathset::normalize;

use crate::config::ConfigError;

/// An extra mount inside the sandbox. Targets are paths inside the sandbox root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    /// Bind a host path read-write.
    Bind {
        /// Host path.
        source: PathBuf,
        /// Path inside the sandbox.
        target: PathBuf,
    },
    /// Bind a host path read-only.
    RoBind {
        /// Host path.
        source: PathBuf,
        /// Path inside the sandbox.
        target: PathBuf,
    },
    /// A fresh, empty, writable tmpfs.
    Tmpfs {
        /// Path inside the sandbox.
        target: PathBuf,
    },
    /// A procfs.
    Proc {
        /// Path inside the sandbox.
        target: PathBuf,
    },
    /// A minimal `/dev` (null, zero, full, random, urandom, tty, shm, pts, fd links).
    Dev {
        /// Path inside the sandbox.
        target: PathBuf,
    },
}

impl Mount {
    /// Reads a sandboxlib-style fstab entry: `(source, target, type, options)`.
    ///
    /// `type` is `proc`, `tmpfs`, `dev` or `none`/empty with `options` `bind` (read-write) or
    /// `bind,ro`/`ro,bind` (read-only). Anything else, or a missing target, is an error.
    pub fn from_fstab(
        source: Option<&Path>,
        target: Option<&Path>,
        fstype: &str,
        options: &str,
    ) -> Result<Mount, ConfigError> {
        let target = match target {
            Some(t) if !t.as_os_str().is_empty() => t.to_path_buf(),
            _ => {
                return Err(ConfigError::Mount(format!(
                    "mount entry ({}, -, {fstype}) has no target",
                    source.map_or("-".into(), |s| s.display().to_string())
                )))
            }
        };
        let opts: Vec<&str> = options.split(',').filter(|o| !o.is_empty()).collect();
        let source = || {
            source.map(Path::to_path_buf).ok_or_else(|| {
                ConfigError::Mount(format!("bind mount on {} has no source", target.display()))
            })
        };
        match (fstype, opts.as_slice()) {
            ("proc", []) => Ok(Mount::Proc { target }),
            ("tmpfs", []) => Ok(Mount::Tmpfs { target }),
            ("dev", []) => Ok(Mount::Dev { target }),
            ("" | "none", ["bind"]) => Ok(Mount::Bind {
                source: source()?,
                target,
            }),
            ("" | "none", ["bind", "ro"] | ["ro", "bind"]) => Ok(Mount::RoBind {
                source: source()?,
                target,
            }),
            _ => Err(ConfigError::Mount(format!(
                "unsupported mount type {fstype:?} with options {options:?} on {}",
                target.display()
            ))),
        }
    }

    /// The path inside the sandbox where this mount goes.
    pub fn target(&self) -> &Path {
        match self {
            Mount::Bind { target, .. }
            | Mount::RoBind { target, .. }
            | Mount::Tmpfs { target }
            | Mount::Proc { target }
            | Mount::Dev { target } => target,
        }
    }

    /// The host path, for bind mounts.
    pub fn source(&self) -> Option<&Path> {
        match self {
            Mount::Bind { source, .. } | Mount::RoBind { source, .. } => Some(source),
            _ => None,
        }
    }

    /// A short name of the kind of mount: `bind`, `ro-bind`, `tmpfs`, `proc`, `dev`.
    pub fn kind(&self) -> &'static str {
        match self {
            Mount::Bind { .. } => "bind",
            Mount::RoBind { .. } => "ro-bind",
            Mount::Tmpfs { .. } => "tmpfs",
            Mount::Proc { .. } => "proc",
            Mount::Dev { .. } => "dev",
        }
    }
}

impl Mount {
    /// This mount with its target normalised (`tmp//x/` is `/tmp/x`); a target that is empty,
    /// climbs above the root or is the root itself is an error.
    pub fn normalized(&self) -> Result<Mount, ConfigError> {
        let mount = self;
        let target = normalize(mount.target()).map_err(|e| {
            ConfigError::Mount(format!("target {:?}: {e}", mount.target().display()))
        })?;
        if target == Path::new("/") {
            return Err(ConfigError::Mount(format!(
                "{} mount cannot replace the sandbox root",
                mount.kind()
            )));
        }
        Ok(match mount {
            Mount::Bind { source, .. } => Mount::Bind {
                source: source.clone(),
                target,
            },
            Mount::RoBind { source, .. } => Mount::RoBind {
                source: source.clone(),
                target,
            },
            Mount::Tmpfs { .. } => Mount::Tmpfs { target },
            Mount::Proc { .. } => Mount::Proc { target },
            Mount::Dev { .. } => Mount::Dev { target },
        })
    }
}
