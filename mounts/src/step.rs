//! The resolved steps of a validated plan and their one-line rendering.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::plan::LABEL;
use crate::spec::MountSpec;
use crate::validate::ApplyMode;

/// What a mount point is, when one must be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// A directory.
    Dir,
    /// An empty regular file (the target of a file bind).
    File,
}

/// One resolved step of a validated plan. Paths without "host" in their name are inside the
/// new root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Chroot path only: create the missing mount point `path` on the host (the components
    /// from `first_missing` down, the last one of kind `kind`); removed afterwards.
    CreateOnHost {
        /// The mount point.
        path: PathBuf,
        /// The highest component that does not exist.
        first_missing: PathBuf,
        /// What the last component is.
        kind: NodeKind,
    },
    /// Recursive bind of the host directory `host` onto the new root.
    BindRoot {
        /// The canonical host path of the root.
        host: PathBuf,
    },
    /// Make the mount at `path` and every mount below it read-only.
    ReadOnly {
        /// The path.
        path: PathBuf,
    },
    /// Recursive bind of `path` onto itself, then clear read-only on that one mount.
    Writable {
        /// The writable path.
        path: PathBuf,
    },
    /// Namespace path: a writable path inside a tmpfs or dev of the plan, bound recursively
    /// from the host right after that mount (mount point created in it), then made read-write.
    WritableInMount {
        /// The writable path.
        path: PathBuf,
        /// The host path it is bound from.
        host: PathBuf,
        /// Where its mount point is created.
        create: CreateBelow,
    },
    /// Inverted strategy: recursive bind of `path` onto itself, then make it read-only
    /// recursively.
    ReadOnlyPath {
        /// The path.
        path: PathBuf,
    },
    /// An extra mount (normalised target, canonical bind source).
    Mount {
        /// The mount.
        spec: MountSpec,
        /// Create the missing mount point first, inside a tmpfs or dev mounted earlier by the
        /// plan.
        create: Option<CreateBelow>,
    },
}

/// A mount point to create inside a mount made earlier by the plan: the components of the
/// target below `below` (that mount's target) are created as needed, the last one of `kind`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateBelow {
    /// The target of the earlier tmpfs or dev mount.
    pub below: PathBuf,
    /// What the last component is.
    pub kind: NodeKind,
}

/// A plan that passed validation: the resolved steps, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedPlan {
    pub(crate) mode: ApplyMode,
    pub(crate) root: PathBuf,
    pub(crate) staging: PathBuf,
    pub(crate) steps: Vec<Step>,
    pub(crate) skipped_symlinks: Vec<PathBuf>,
    /// Per step: `(st_dev, st_ino)` of the host directory or file a bind step mounts, as seen
    /// at validation; checked on the mounted target afterwards.
    pub(crate) expected_ids: Vec<Option<(u64, u64)>>,
}

impl ValidatedPlan {
    /// The mode this plan was validated for.
    pub fn mode(&self) -> ApplyMode {
        self.mode
    }

    /// The canonical host path of the new root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The resolved steps, in order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Inverted strategy: symlinks that could not be made read-only (a symlink cannot be
    /// bind-mounted; it can only be replaced through a write to its parent directory).
    pub fn skipped_symlinks(&self) -> &[PathBuf] {
        &self.skipped_symlinks
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::CreateOnHost { path, kind, .. } => {
                let what = if *kind == NodeKind::Dir {
                    "directory"
                } else {
                    "file"
                };
                write!(
                    f,
                    "{:LABEL$} {} ({what} on the host, removed afterwards)",
                    "create",
                    path.display()
                )
            }
            Step::BindRoot { host } => {
                write!(
                    f,
                    "{:LABEL$} {} -> / (recursive bind)",
                    "root",
                    host.display()
                )
            }
            Step::ReadOnly { path } => {
                write!(f, "{:LABEL$} {} (recursive)", "read-only", path.display())
            }
            Step::WritableInMount { path, host, .. } => write!(
                f,
                "{:LABEL$} {} (read-write bind of {} from the host)",
                "writable",
                path.display(),
                host.display()
            ),
            Step::Writable { path } => {
                write!(
                    f,
                    "{:LABEL$} {} (read-write bind on top)",
                    "writable",
                    path.display()
                )
            }
            Step::ReadOnlyPath { path } => {
                write!(
                    f,
                    "{:LABEL$} {} (inverted, recursive)",
                    "read-only",
                    path.display()
                )
            }
            Step::Mount { spec, create } => {
                write!(f, "{:LABEL$} {spec}", "mount")?;
                if create.is_some() {
                    write!(f, " (mount point created)")?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for ValidatedPlan {
    /// One line per step, as `hutch plan` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mode == ApplyMode::Namespace {
            writeln!(
                f,
                "{:LABEL$} tmpfs on {} (private to the mount namespace)",
                "staging",
                self.staging.display()
            )?;
        }
        for step in &self.steps {
            writeln!(f, "{step}")?;
        }
        for link in &self.skipped_symlinks {
            writeln!(
                f,
                "{:LABEL$} {} (symlink: cannot be made read-only)",
                "skipped",
                link.display()
            )?;
        }
        if self.mode == ApplyMode::Namespace {
            writeln!(f, "{:LABEL$} into the new root, old root detached", "pivot")?;
        }
        Ok(())
    }
}
