//! The two mount operations a namespace setup needs: making `/` non-shared after a new mount
//! namespace, and a fresh `/proc` inside a pid namespace. Mount plans live in `hutch-mounts`.

use std::path::Path;

use nix::errno::Errno;
use nix::mount::{mount, MsFlags};

/// Errors of the mount helpers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MountError {
    /// Changing the propagation of `/` failed.
    #[error("make / {propagation}: {errno}")]
    Propagation {
        /// The requested propagation.
        propagation: Propagation,
        /// The kernel's error.
        errno: Errno,
    },
    /// Mounting procfs failed.
    #[error("mount proc on {target}: {errno}")]
    Proc {
        /// Where it was to be mounted.
        target: String,
        /// The kernel's error.
        errno: Errno,
    },
}

impl MountError {
    /// The kernel's error.
    pub fn errno(&self) -> Errno {
        match self {
            MountError::Propagation { errno, .. } | MountError::Proc { errno, .. } => *errno,
        }
    }
}

/// Mount propagation to give `/` (recursively) after unsharing the mount namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Propagation {
    /// `MS_REC|MS_PRIVATE`: nothing propagates in either direction (the default).
    #[default]
    Private,
    /// `MS_REC|MS_SLAVE`: host mounts still appear inside, nothing leaks out.
    Slave,
}

impl std::fmt::Display for Propagation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Private => "rprivate",
            Self::Slave => "rslave",
        })
    }
}

/// Make `/` recursively private (or slave) so that no mount made afterwards reaches the host.
///
/// Call it right after unsharing the mount namespace (the [`crate::UnsharePlan`] and
/// [`crate::Sandbox`] do).
pub fn make_root(propagation: Propagation) -> Result<(), MountError> {
    let kind = match propagation {
        Propagation::Private => MsFlags::MS_PRIVATE,
        Propagation::Slave => MsFlags::MS_SLAVE,
    };
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | kind,
        None::<&str>,
    )
    .map_err(|errno| MountError::Propagation { propagation, errno })
}

/// Mount a fresh procfs on `target` (`nosuid,nodev,noexec`).
///
/// Only meaningful from inside a new pid namespace and a private mount namespace; the
/// [`crate::Sandbox`] refuses to do it without a mount namespace (it would shadow the host's
/// `/proc`, chromite's flaw).
pub fn mount_proc(target: &Path) -> Result<(), MountError> {
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount(Some("proc"), target, Some("proc"), flags, None::<&str>).map_err(|errno| {
        MountError::Proc {
            target: target.display().to_string(),
            errno,
        }
    })
}
