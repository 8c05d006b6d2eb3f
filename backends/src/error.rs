//! The crate's error type.

use std::ffi::OsString;
use std::io;

use crate::backend::BackendKind;
use crate::config::ConfigError;

/// Why a sandboxed command could not be run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid; nothing was created.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// `HUTCH_BACKEND` or a backend argument names no backend.
    #[error("unknown backend {name:?} (valid: {valid})")]
    UnknownBackend {
        /// The name given.
        name: String,
        /// The valid names.
        valid: &'static str,
    },
    /// The backend asked for cannot run here.
    #[error("backend {backend} cannot run here: {reason}")]
    Unavailable {
        /// The backend.
        backend: BackendKind,
        /// Why (which probe failed).
        reason: String,
    },
    /// The backend asked for does not support some settings, and best effort was not allowed
    /// (or a setting cannot be degraded).
    #[error("backend {backend} does not support {settings}")]
    Unsupported {
        /// The backend.
        backend: BackendKind,
        /// The settings and why, `; `-separated.
        settings: String,
    },
    /// `auto` found no backend that can run this configuration.
    #[error("no backend can run this configuration: {reasons}")]
    NoBackend {
        /// Each backend and why it was passed over, `; `-separated.
        reasons: String,
    },
    /// The program does not exist (inside the sandbox).
    #[error("command not found: {}", program.to_string_lossy())]
    CommandNotFound {
        /// The program.
        program: OsString,
    },
    /// The program exists but cannot be executed.
    #[error("cannot execute {}: {source}", program.to_string_lossy())]
    CommandNotExecutable {
        /// The program.
        program: OsString,
        /// What `execve` said.
        source: io::Error,
    },
    /// Setting up the sandbox failed.
    #[error("{backend}: {step} failed: {source}")]
    Setup {
        /// The backend.
        backend: BackendKind,
        /// What it was doing.
        step: String,
        /// What the system said.
        source: io::Error,
    },
}

impl Error {
    /// The conventional exit status for this error: 127 when the command was not found, 126
    /// when it cannot be executed, 125 for everything else (hutch itself failed).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::CommandNotFound { .. } => 127,
            Error::CommandNotExecutable { .. } => 126,
            _ => 125,
        }
    }

    /// Maps an `execve` error of `program` to `CommandNotFound`/`CommandNotExecutable`.
    pub(crate) fn exec(program: &OsString, source: io::Error) -> Error {
        match source.raw_os_error() {
            Some(libc::ENOENT) | Some(libc::ENOTDIR) => Error::CommandNotFound {
                program: program.clone(),
            },
            _ => Error::CommandNotExecutable {
                program: program.clone(),
                source,
            },
        }
    }

    pub(crate) fn setup(backend: BackendKind, step: impl Into<String>, source: io::Error) -> Error {
        Error::Setup {
            backend,
            step: step.into(),
            source,
        }
    }
}
