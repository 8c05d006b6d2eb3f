//! `unshare`, `setns` and the best-effort/required [`UnsharePlan`].

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sys::stat::Mode;

use crate::kind::{Namespaces, ORDER};
use crate::mount::{make_root, MountError, Propagation};

/// Errors of `unshare`, `setns` and [`UnsharePlan`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NsError {
    /// `unshare(2)` failed.
    #[error("unshare {ns}: {errno}")]
    Unshare {
        /// The namespaces of the failing call.
        ns: Namespaces,
        /// The kernel's error.
        errno: Errno,
    },
    /// `setns(2)` failed.
    #[error("setns {ns}: {errno}")]
    Setns {
        /// The namespace kind asked for (empty = any).
        ns: Namespaces,
        /// The kernel's error.
        errno: Errno,
    },
    /// Opening a namespace file failed.
    #[error("open {}: {errno}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// The kernel's error.
        errno: Errno,
    },
    /// A user namespace was requested from a process with more than one thread.
    #[error("a user namespace needs a single-threaded process, this one has {threads} threads")]
    MultiThreaded {
        /// The thread count seen in `/proc/self/status`.
        threads: usize,
    },
    /// Changing the propagation of `/` after the new mount namespace failed.
    #[error(transparent)]
    Mount(#[from] MountError),
}

impl NsError {
    /// The kernel's error, if the failure was a system call.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            NsError::Unshare { errno, .. }
            | NsError::Setns { errno, .. }
            | NsError::Open { errno, .. } => Some(*errno),
            NsError::MultiThreaded { .. } => None,
            NsError::Mount(e) => Some(e.errno()),
        }
    }
}

/// Number of threads of the calling process (from `/proc/self/status`).
pub fn thread_count() -> std::io::Result<usize> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| std::io::Error::other("no Threads line in /proc/self/status"))
}

/// Fail with [`NsError::MultiThreaded`] unless the process has exactly one thread.
pub(crate) fn require_single_thread() -> Result<(), NsError> {
    // If /proc is unreadable, let the kernel decide (unshare(CLONE_NEWUSER) itself refuses a
    // multi-threaded caller with EINVAL).
    match thread_count() {
        Ok(threads) if threads > 1 => Err(NsError::MultiThreaded { threads }),
        _ => Ok(()),
    }
}

/// `unshare(2)` the given kinds in one call.
///
/// A set containing [`Namespaces::USER`] is refused up front in a multi-threaded process.
/// Note that `PID` and `TIME` apply to children forked afterwards, not to the caller.
pub fn unshare(ns: Namespaces) -> Result<(), NsError> {
    if ns.contains(Namespaces::USER) {
        require_single_thread()?;
    }
    nix::sched::unshare(ns.clone_flags()).map_err(|errno| NsError::Unshare { ns, errno })
}

/// `setns(2)` into the namespace behind `fd`; `kind` is the expected kind (empty accepts any).
pub fn setns<F: AsFd>(fd: F, kind: Namespaces) -> Result<(), NsError> {
    if kind.contains(Namespaces::USER) {
        require_single_thread()?;
    }
    nix::sched::setns(fd, kind.clone_flags()).map_err(|errno| NsError::Setns { ns: kind, errno })
}

/// `setns(2)` into the namespace file at `path` (e.g. `/proc/1234/ns/net`).
pub fn setns_path(path: &Path, kind: Namespaces) -> Result<(), NsError> {
    let fd = open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty()).map_err(|errno| {
        NsError::Open {
            path: path.to_owned(),
            errno,
        }
    })?;
    setns(fd, kind)
}

/// Result of [`UnsharePlan::run`]: what was unshared and what was skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Unshared {
    /// Kinds now unshared.
    pub done: Namespaces,
    /// Best-effort kinds the kernel does not support, with its answer (`EINVAL` or `ENOSYS`).
    pub skipped: Vec<(Namespaces, Errno)>,
}

impl Unshared {
    /// All skipped kinds as one set.
    pub fn skipped_set(&self) -> Namespaces {
        self.skipped
            .iter()
            .fold(Namespaces::empty(), |acc, (k, _)| acc | *k)
    }
}

/// chromite's `SimpleUnshare`, fixed: each kind is either required (any error fails) or
/// best-effort (skipped only when the kernel answers `EINVAL` or `ENOSYS`, i.e. lacks it; every
/// other error, such as `EPERM`, still fails). Kinds are unshared one at a time, user first.
/// After a new mount namespace `/` is made recursively private (or slave).
///
/// ```no_run
/// use hutch_ns::{Namespaces, UnsharePlan};
/// let done = UnsharePlan::new()
///     .require(Namespaces::MOUNT | Namespaces::UTS)
///     .best_effort(Namespaces::CGROUP | Namespaces::TIME)
///     .run()?;
/// for (kind, errno) in &done.skipped {
///     eprintln!("skipped {kind}: {errno}");
/// }
/// # Ok::<(), hutch_ns::NsError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct UnsharePlan {
    required: Namespaces,
    best_effort: Namespaces,
    propagation: Propagation,
}

impl UnsharePlan {
    /// An empty plan (propagation `rprivate`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Kinds that must be unshared.
    pub fn require(mut self, ns: Namespaces) -> Self {
        self.required |= ns;
        self.best_effort -= ns;
        self
    }

    /// Kinds to unshare if the kernel supports them.
    pub fn best_effort(mut self, ns: Namespaces) -> Self {
        self.best_effort |= ns - self.required;
        self
    }

    /// Propagation of `/` after a new mount namespace.
    pub fn propagation(mut self, propagation: Propagation) -> Self {
        self.propagation = propagation;
        self
    }

    /// Unshare, kind by kind.
    pub fn run(&self) -> Result<Unshared, NsError> {
        let mut out = Unshared::default();
        for kind in ORDER {
            let required = self.required.contains(kind);
            if !required && !self.best_effort.contains(kind) {
                continue;
            }
            match unshare(kind) {
                Ok(()) => out.done |= kind,
                Err(NsError::Unshare { errno, .. })
                    if !required && matches!(errno, Errno::EINVAL | Errno::ENOSYS) =>
                {
                    out.skipped.push((kind, errno));
                    continue;
                }
                Err(e) => return Err(e),
            }
            if kind == Namespaces::MOUNT {
                make_root(self.propagation)?;
            }
        }
        Ok(out)
    }
}
