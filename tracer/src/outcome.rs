//! The policy given to a run and everything a run reports.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use hutch_pathset::PathSet;

/// What a traced command may do.
///
/// `Policy::default()` is the most restrictive policy (nothing writable, network off);
/// [`Policy::new`] turns the network on.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Paths (and everything beneath them) the command may write. `/dev/null`, `/dev/zero`,
    /// `/dev/full`, `/dev/tty`, `/dev/ptmx` and `/dev/pts` are always writable.
    pub writable: PathSet,
    /// Record violations but let the calls run (catbox's `collect_only`). Landlock is not
    /// applied in this mode, since it has no permissive mode.
    pub collect_only: bool,
    /// Allow the network. When false, `socket` of a non-`AF_UNIX` family and every `connect`
    /// are denied with EACCES and recorded in [`TraceOutcome::network`].
    pub network: bool,
    /// Fake the chown family inside the writable paths (success without acting, recorded in
    /// [`TraceOutcome::ownerships`]) and record chmod modes in [`TraceOutcome::modes`].
    pub fake_ownership: bool,
    /// Wait for every descendant to exit (catbox's behaviour) instead of killing the leftovers
    /// when the main command exits.
    pub wait_for_all: bool,
}

impl Policy {
    /// A policy that allows writing beneath `writable` only, network on, nothing faked.
    pub fn new(writable: PathSet) -> Policy {
        Policy {
            writable,
            network: true,
            ..Policy::default()
        }
    }
}

/// How the tracer intercepts the calls the seccomp filter selects.
///
/// Both engines install the same flag-aware filter and Landlock backstop and judge calls the
/// same way; they differ in how a selected call reaches the tracer and how the process tree
/// is kept on a leash.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Engine {
    /// [`Engine::Notify`] when the kernel supports it (Linux 5.19 or later, for exact records
    /// under signals), else [`Engine::Ptrace`].
    #[default]
    Auto,
    /// `PTRACE_SEIZE` of every process (auto-attached on fork, vfork, clone), seccomp
    /// `RET_TRACE` stops, one `wait4` loop. Costs a stop per fork, clone, exec and exit too.
    Ptrace,
    /// seccomp user notifications (`SECCOMP_RET_USER_NOTIF`, answered with `CONTINUE`, an
    /// error or a faked result) served by the calling thread, woken on the notifying CPU
    /// (`SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP`, 6.6+). A small keeper process (a child
    /// subreaper) runs the command, reports its status and kills the rest of the tree when
    /// the command or the tracer ends. Forks, execs and exits never stop.
    Notify,
}

impl Engine {
    /// The engine a run with this setting uses on this kernel: `Auto` becomes `Notify` when
    /// the kernel can serve it, else `Ptrace`; the others stay as they are.
    pub fn resolve(self) -> Engine {
        match self {
            Engine::Auto if crate::sys::notify_supported() => Engine::Notify,
            Engine::Auto => Engine::Ptrace,
            chosen => chosen,
        }
    }
}

/// How the main command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// It exited with this code.
    Exited(i32),
    /// It was killed by this signal.
    Signaled(i32),
}

impl ExitStatus {
    /// The shell convention: the code, or 128 + the signal.
    pub fn code_or_128_plus_signal(self) -> i32 {
        match self {
            ExitStatus::Exited(code) => code,
            ExitStatus::Signaled(sig) => 128 + sig,
        }
    }
}

/// One denied (or, with `collect_only`, recorded) write attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The thread that made the call.
    pub pid: u32,
    /// The system call's name (`openat`, `renameat2`, `fchmod`, ...).
    pub syscall: &'static str,
    /// The path as the program passed it; empty for the fd forms (`fchmod`, `fchown`, ...).
    pub path: OsString,
    /// The absolute path the call would have written, resolved as the tracee sees it.
    pub resolved: PathBuf,
}

/// A denied network operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkViolation {
    /// The thread that made the call.
    pub pid: u32,
    /// `connect` or `socket`.
    pub syscall: &'static str,
    /// `ip:port`, `[ipv6]:port`, a unix socket path, `@abstract`, or `family N`.
    pub destination: String,
}

/// What Landlock enforced as the backstop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LandlockStatus {
    /// A ruleset was enforced with this ABI version.
    Enforced {
        /// The kernel's Landlock ABI.
        abi: u32,
    },
    /// The kernel has no Landlock: only the tracer enforced the policy.
    Unsupported,
    /// Not applied because of `collect_only`.
    NotApplied,
}

/// Resource usage of the main command (and the descendants it waited for).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// User CPU time.
    pub user: Duration,
    /// System CPU time.
    pub system: Duration,
    /// Peak resident set size in KiB.
    pub max_rss_kib: u64,
}

/// The result of a traced run.
#[derive(Debug, Clone)]
pub struct TraceOutcome {
    /// The main command's exit code or signal, never flattened.
    pub status: ExitStatus,
    /// Write attempts outside the writable paths, in order.
    pub violations: Vec<Violation>,
    /// Faked chown calls: `(path, uid, gid)` (`u32::MAX` means "unchanged").
    pub ownerships: Vec<(PathBuf, u32, u32)>,
    /// chmod calls inside the writable paths: `(path, mode)`.
    pub modes: Vec<(PathBuf, u32)>,
    /// Denied network operations.
    pub network: Vec<NetworkViolation>,
    /// Processes still running when the main command exited, killed by the tracer.
    pub leftovers: Vec<u32>,
    /// The Landlock backstop.
    pub landlock: LandlockStatus,
    /// Resource usage of the main command, when it was reaped by the tracer.
    pub usage: Usage,
    /// The engine that ran ([`Engine::Ptrace`] or [`Engine::Notify`], never `Auto`).
    pub engine: Engine,
}

/// The error an [`Observer`] hook returns to abort a run.
pub type ObserverError = Box<dyn std::error::Error + Send + Sync>;

/// Hooks called from the tracing thread during a run. Returning an error kills the traced
/// tree and makes [`crate::Tracer::run`] return [`crate::TraceError::Observer`].
pub trait Observer {
    /// The main command's process exists and is traced, before its first instruction.
    fn child_initialized(&mut self, _pid: u32) -> Result<(), ObserverError> {
        Ok(())
    }

    /// A traced process was killed by a signal the tracer did not send, or an unknown child
    /// of the tracing thread died.
    fn child_died_unexpectedly(&mut self, _pid: u32) -> Result<(), ObserverError> {
        Ok(())
    }

    /// A violation was recorded (before the call is denied or, with `collect_only`, allowed).
    fn violation(&mut self, _violation: &Violation) -> Result<(), ObserverError> {
        Ok(())
    }
}
