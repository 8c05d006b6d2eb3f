//! What a run produced and what it achieved.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use hutch_tracer::Engine;

use crate::backend::BackendKind;
use crate::capability::{Degradation, Enforcement};

/// The lowercase name of a tracer engine, as the CLI spells it: `auto`, `ptrace`, `notify`.
pub fn engine_name(engine: Engine) -> &'static str {
    match engine {
        Engine::Auto => "auto",
        Engine::Ptrace => "ptrace",
        Engine::Notify => "notify",
    }
}

/// How the command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// It exited with this code.
    Code(i32),
    /// It was killed by this signal.
    Signal(i32),
}

impl ExitStatus {
    /// True for exit code 0.
    pub fn success(self) -> bool {
        self == ExitStatus::Code(0)
    }

    /// The exit code, if it exited.
    pub fn code(self) -> Option<i32> {
        match self {
            ExitStatus::Code(c) => Some(c),
            ExitStatus::Signal(_) => None,
        }
    }

    /// The signal, if it was killed.
    pub fn signal(self) -> Option<i32> {
        match self {
            ExitStatus::Signal(s) => Some(s),
            ExitStatus::Code(_) => None,
        }
    }

    /// The shell convention: the code, or 128+N when killed by signal N.
    pub fn shell_code(self) -> i32 {
        match self {
            ExitStatus::Code(c) => c,
            ExitStatus::Signal(s) => 128 + s,
        }
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Code(c) => write!(f, "exit code {c}"),
            ExitStatus::Signal(s) => write!(f, "killed by signal {s}"),
        }
    }
}

/// Time and memory the command used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Wall-clock time from start to the end of the command.
    pub wall: Duration,
    /// User CPU time of the command and its reaped descendants.
    pub user_cpu: Duration,
    /// System CPU time of the command and its reaped descendants.
    pub system_cpu: Duration,
    /// Peak resident set size in KiB (the largest of the command and its reaped descendants;
    /// for the userns backend this includes hutch's small pid-1 init).
    pub max_rss_kib: u64,
}

/// A write outside the whitelist that the tracer saw (denied, or allowed in collect-only mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The process that tried it.
    pub pid: i32,
    /// The syscall's name.
    pub syscall: String,
    /// The path as the program passed it.
    pub path: PathBuf,
    /// The path the tracer resolved it to.
    pub resolved: PathBuf,
}

/// A network operation the tracer denied (network isolated on the ptrace backend).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkDenial {
    /// The process that tried it.
    pub pid: i32,
    /// `socket` or `connect`.
    pub syscall: String,
    /// `ip:port`, `[ipv6]:port`, a unix socket path, `@abstract`, or `family N`.
    pub destination: String,
}

/// A `chown` the tracer faked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ownership {
    /// The path (resolved).
    pub path: PathBuf,
    /// The uid asked for (`None` for -1).
    pub uid: Option<u32>,
    /// The gid asked for (`None` for -1).
    pub gid: Option<u32>,
}

/// A `chmod` the tracer recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModeChange {
    /// The path (resolved).
    pub path: PathBuf,
    /// The mode asked for.
    pub mode: u32,
}

/// Everything a run produced, and what the sandbox achieved.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The backend that ran the command.
    pub backend: BackendKind,
    /// The tracer engine that ran ([`Engine::Ptrace`] or [`Engine::Notify`]; `None` for the
    /// backends that do not trace).
    pub engine: Option<Engine>,
    /// How the write policy was enforced.
    pub enforcement: Enforcement,
    /// Settings that were degraded to fit the backend.
    pub degradations: Vec<Degradation>,
    /// Stronger backends that `auto` passed over, and why (empty for a named backend).
    pub passed_over: Vec<(BackendKind, String)>,
    /// How the command ended.
    pub status: ExitStatus,
    /// Captured standard output (`None` unless `Stdio::Capture`).
    pub stdout: Option<Vec<u8>>,
    /// Captured standard error (`None` unless `Stdio::Capture`).
    pub stderr: Option<Vec<u8>>,
    /// Writes outside the whitelist (ptrace backend).
    pub violations: Vec<Violation>,
    /// Network operations the tracer denied (ptrace backend with the network isolated).
    pub network_denials: Vec<NetworkDenial>,
    /// Faked ownership changes (ptrace backend with fake ownership).
    pub ownerships: Vec<Ownership>,
    /// Recorded mode changes (ptrace backend).
    pub modes: Vec<ModeChange>,
    /// Time and memory.
    pub usage: Usage,
    /// The capabilities the command kept (names like `CAP_CHOWN`); empty when all were dropped,
    /// bounding set included.
    pub capabilities_kept: Vec<String>,
    /// Whether `no_new_privs` was set for the command.
    pub no_new_privs: bool,
    /// Notes about the run that are not degradations (e.g. writable paths that were ignored
    /// because they do not exist).
    pub notes: Vec<String>,
}
