//! Errors of [`crate::Tracer::run`].

use std::path::PathBuf;

use nix::errno::Errno;

use crate::outcome::ObserverError;

/// Why a traced run could not give an outcome.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The program was not found (a CLI maps this to exit status 127).
    #[error("command not found: {}", .0.display())]
    NotFound(PathBuf),
    /// The program exists but cannot be executed (a CLI maps this to exit status 126).
    #[error("command not executable: {}: {}", .0.display(), .1)]
    NotExecutable(PathBuf, Errno),
    /// A program, argument, environment entry or directory held a NUL byte, or no program
    /// was given.
    #[error("invalid command: {0}")]
    InvalidCommand(String),
    /// The child could not be set up before exec (chroot, chdir, Landlock, seccomp, ...).
    #[error("child setup failed at {stage}: {errno}")]
    Setup {
        /// The setup step that failed.
        stage: &'static str,
        /// Its errno.
        errno: Errno,
    },
    /// The Landlock ruleset could not be built.
    #[error("landlock: {0}")]
    Landlock(String),
    /// A system call of the tracer itself failed.
    #[error("tracer: {call}: {errno}")]
    Sys {
        /// What the tracer was doing.
        call: &'static str,
        /// Its errno.
        errno: Errno,
    },
    /// A standard stream could not be prepared.
    #[error("stdio: {0}")]
    Stdio(#[from] std::io::Error),
    /// An observer hook failed; the traced tree was killed.
    #[error("observer: {0}")]
    Observer(ObserverError),
}

impl TraceError {
    /// Shorthand for [`TraceError::Sys`].
    pub(crate) fn sys(call: &'static str) -> impl FnOnce(Errno) -> TraceError {
        move |errno| TraceError::Sys { call, errno }
    }
}
