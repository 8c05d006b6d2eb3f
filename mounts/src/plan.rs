//! [`MountPlan`]: a description of the sandbox's filesystem, built like a
//! `std::process::Command`.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use hutch_pathset::{InvertError, NormalizeError, PathSet};

use crate::spec::{MountSpec, SpecError};

/// How writable paths are made writable when the root is read-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WritableStrategy {
    /// Make the whole new root read-only (recursively), then bind each writable path read-write
    /// on top of it. Only the listed paths are writable: their ancestors are not, so no file
    /// can be created next to a writable path. The default.
    #[default]
    BindOnTop,
    /// sandboxlib's linux-user-chroot model: leave the root writable and make read-only every
    /// path that [`hutch_pathset::invert`] yields. Ancestors of writable paths stay writable
    /// (files can be created next to a writable path), symlinks are skipped, and files created
    /// later directly in those ancestors are writable. For compatibility only.
    Inverted,
}

/// A description, in order, of what the sandbox's filesystem will look like.
///
/// 1. the new root: a host directory, or `/`;
/// 2. the root made read-only (default; [`MountPlan::read_only`] turns it off);
/// 3. each writable path bound read-write on top (or the [`WritableStrategy::Inverted`]
///    alternative);
/// 4. the extra mounts, in the order given.
///
/// Nothing happens until [`MountPlan::apply`] (namespace sandbox: builds the root elsewhere
/// and pivots into it) or [`MountPlan::apply_chroot`] (chroot sandbox: mounts under the root
/// directory in place). Both validate first ([`MountPlan::validate`]): every bad spec or
/// missing path is reported before anything is mounted or created.
///
/// ```
/// use hutch_mounts::{MountPlan, MountSpec};
/// let mut plan = MountPlan::new("/");
/// plan.writable("/tmp")
///     .mount(MountSpec::proc("/proc"))
///     .mount(MountSpec::tmpfs("/dev/shm"));
/// assert_eq!(
///     plan.to_string(),
///     "root      / -> /\n\
///      read-only / (recursive)\n\
///      writable  /tmp\n\
///      mount     proc /proc\n\
///      mount     tmpfs /dev/shm\n"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountPlan {
    pub(crate) root: PathBuf,
    pub(crate) read_only: bool,
    pub(crate) writable: Vec<PathBuf>,
    pub(crate) strategy: WritableStrategy,
    pub(crate) mounts: Vec<MountSpec>,
    pub(crate) staging: PathBuf,
}

/// The default staging directory of [`MountPlan::apply`].
pub const DEFAULT_STAGING: &str = "/tmp";

impl MountPlan {
    /// A plan whose new root is the host directory `root` (or `/`), read-only, with nothing
    /// writable and no extra mounts.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        MountPlan {
            root: root.into(),
            read_only: true,
            writable: Vec::new(),
            strategy: WritableStrategy::default(),
            mounts: Vec::new(),
            staging: PathBuf::from(DEFAULT_STAGING),
        }
    }

    /// Whether the root is read-only (default `true`). With `false` everything is writable and
    /// writable paths are ignored (sandboxlib's `'all'`).
    pub fn read_only(&mut self, read_only: bool) -> &mut Self {
        self.read_only = read_only;
        self
    }

    /// Adds a writable path, relative to the new root (`data/1` and `/data/1` are the same).
    pub fn writable(&mut self, path: impl Into<PathBuf>) -> &mut Self {
        self.writable.push(path.into());
        self
    }

    /// Adds every member of `set` as a writable path.
    pub fn writable_set(&mut self, set: &PathSet) -> &mut Self {
        self.writable.extend(set.members());
        self
    }

    /// Chooses how writable paths are made writable.
    pub fn strategy(&mut self, strategy: WritableStrategy) -> &mut Self {
        self.strategy = strategy;
        self
    }

    /// Appends an extra mount.
    pub fn mount(&mut self, spec: MountSpec) -> &mut Self {
        self.mounts.push(spec);
        self
    }

    /// Appends extra mounts, in order.
    pub fn mounts(&mut self, specs: impl IntoIterator<Item = MountSpec>) -> &mut Self {
        self.mounts.extend(specs);
        self
    }

    /// The directory [`MountPlan::apply`] mounts its staging tmpfs on (default `/tmp`). Only
    /// the private mount namespace sees that tmpfs, and it is gone after the pivot.
    pub fn staging_dir(&mut self, dir: impl Into<PathBuf>) -> &mut Self {
        self.staging = dir.into();
        self
    }

    /// The new root, as given.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether the root is read-only.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// The writable paths, as given.
    pub fn writable_paths(&self) -> &[PathBuf] {
        &self.writable
    }

    /// The extra mounts, in order.
    pub fn extra_mounts(&self) -> &[MountSpec] {
        &self.mounts
    }

    /// The writable strategy.
    pub fn writable_strategy(&self) -> WritableStrategy {
        self.strategy
    }
}

/// Labels are padded to this width in the plan listings.
pub(crate) const LABEL: usize = 9;

impl fmt::Display for MountPlan {
    /// One line per declared step, before validation (see [`crate::ValidatedPlan`]'s `Display`
    /// for the resolved steps).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:LABEL$} {} -> /", "root", self.root.display())?;
        if !self.read_only {
            writeln!(f, "{:LABEL$} everything is writable", "writable")?;
        } else {
            match self.strategy {
                WritableStrategy::BindOnTop => {
                    writeln!(f, "{:LABEL$} / (recursive)", "read-only")?;
                    for w in &self.writable {
                        writeln!(f, "{:LABEL$} {}", "writable", w.display())?;
                    }
                }
                WritableStrategy::Inverted => {
                    let list: Vec<String> = self
                        .writable
                        .iter()
                        .map(|w| w.display().to_string())
                        .collect();
                    writeln!(
                        f,
                        "{:LABEL$} everything except [{}] (inverted at validation)",
                        "read-only",
                        list.join(", ")
                    )?;
                }
            }
        }
        for spec in &self.mounts {
            writeln!(f, "{:LABEL$} {spec}", "mount")?;
        }
        Ok(())
    }
}

/// Why a plan does not validate. Nothing has been mounted or created when this is returned.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// An extra mount is malformed.
    #[error("mount #{index} ({spec}): {reason}")]
    BadSpec {
        /// 1-based position in the plan's extra mounts.
        index: usize,
        /// The spec, rendered.
        spec: String,
        /// What is wrong.
        reason: SpecError,
    },
    /// The new root cannot be used.
    #[error("cannot use {} as the new root: {source}", path.display())]
    Root {
        /// The root as given.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The staging directory cannot be used.
    #[error("cannot use {} as the staging directory: {source}", path.display())]
    Staging {
        /// The directory as given.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A writable entry cannot be normalised.
    #[error("bad writable path {}: {source}", path.display())]
    BadWritable {
        /// The entry as given.
        path: PathBuf,
        /// Why.
        source: NormalizeError,
    },
    /// A writable path does not exist under the new root.
    #[error("writable path does not exist under the new root: {}", .0.display())]
    WritableMissing(PathBuf),
    /// A writable path goes through (or is) a symlink.
    #[error("writable path goes through a symlink at {}: {}", at.display(), path.display())]
    WritableThroughSymlink {
        /// The writable path.
        path: PathBuf,
        /// The symlink, inside the root.
        at: PathBuf,
    },
    /// A writable path lies on a read-only host mount.
    #[error("writable path is on a read-only mount of the host: {}", .0.display())]
    WritableOnReadOnlyMount(PathBuf),
    /// A writable path is hidden by a later extra mount.
    #[error("writable path {} is hidden by mount #{index} ({spec})", path.display())]
    WritableShadowed {
        /// The writable path.
        path: PathBuf,
        /// 1-based position of the extra mount.
        index: usize,
        /// The extra mount, rendered.
        spec: String,
    },
    /// A bind source does not exist on the host.
    #[error("mount #{index} ({spec}): source {}: {source}", path.display())]
    SourceMissing {
        /// 1-based position of the extra mount.
        index: usize,
        /// The spec, rendered.
        spec: String,
        /// The source.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A mount point does not exist in the new root and creating it would write to the host.
    #[error(
        "mount #{index} ({spec}): mount point {} does not exist in the new root; it is not \
         created on the host (create it in the root, or mount a tmpfs on a parent first)",
        missing.display()
    )]
    MountPointMissing {
        /// 1-based position of the extra mount.
        index: usize,
        /// The spec, rendered.
        spec: String,
        /// The first missing component, inside the root.
        missing: PathBuf,
    },
    /// A mount target goes through (or is) a symlink.
    #[error("mount #{index} ({spec}): target goes through a symlink at {}", at.display())]
    TargetThroughSymlink {
        /// 1-based position of the extra mount.
        index: usize,
        /// The spec, rendered.
        spec: String,
        /// The symlink, inside the root.
        at: PathBuf,
    },
    /// A mount target exists but has the wrong type (a file where a directory is needed, or
    /// the reverse).
    #[error("mount #{index} ({spec}): target {} is {found}, expected {expected}", target.display())]
    TargetKind {
        /// 1-based position of the extra mount.
        index: usize,
        /// The spec, rendered.
        spec: String,
        /// The target, inside the root.
        target: PathBuf,
        /// What is there.
        found: &'static str,
        /// What the mount needs.
        expected: &'static str,
    },
    /// Writable-path inversion failed.
    #[error(transparent)]
    Invert(#[from] InvertError),
    /// A read-only `/` cannot be set up in place (chroot mode): mounting on `/` does not change
    /// what the current root shows.
    #[error("a read-only root of / needs the namespace path (pivot_root), not the chroot path")]
    ReadOnlySlashInPlace,
}
