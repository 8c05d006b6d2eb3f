//! Wait statuses, shell-style exit codes, and "exit like this status".

use std::fmt;

use nix::sys::resource::{setrlimit, Resource};
use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;

use crate::sys;

/// How a process ended.
///
/// The signal is a raw number so that real-time signals (which nix's `Signal` cannot name) are
/// reported faithfully; [`ExitStatus::signal`] gives the typed value when there is one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExitStatus {
    /// Exited normally with this code (0..=255).
    Exited(i32),
    /// Killed by this signal number.
    Signaled(i32),
}

impl ExitStatus {
    /// Decode a raw `wait(2)` status; `None` for stopped/continued statuses.
    pub fn from_raw(raw: i32) -> Option<Self> {
        if libc::WIFEXITED(raw) {
            Some(Self::Exited(libc::WEXITSTATUS(raw)))
        } else if libc::WIFSIGNALED(raw) {
            Some(Self::Signaled(libc::WTERMSIG(raw)))
        } else {
            None
        }
    }

    /// Encode as a raw `wait(2)` status (without the core-dump bit).
    pub fn into_raw(self) -> i32 {
        match self {
            Self::Exited(code) => (code & 0xff) << 8,
            Self::Signaled(sig) => sig & 0x7f,
        }
    }

    /// From a nix `WaitStatus`; `None` unless it is `Exited` or `Signaled`.
    pub fn from_wait_status(ws: &WaitStatus) -> Option<Self> {
        match *ws {
            WaitStatus::Exited(_, code) => Some(Self::Exited(code)),
            WaitStatus::Signaled(_, sig, _) => Some(Self::Signaled(sig as i32)),
            _ => None,
        }
    }

    /// The shell-style exit code: the code itself, or 128 + the signal number.
    pub fn code(self) -> i32 {
        match self {
            Self::Exited(code) => code & 0xff,
            Self::Signaled(sig) => 128 + sig,
        }
    }

    /// Read a shell-style code back: 129..=192 (128 + a signal number up to 64) is taken as a
    /// signal death, anything else as an exit code. This is the shell's own ambiguity: a program
    /// that really exits with 143 cannot be told apart from one killed by SIGTERM.
    pub fn from_code(code: i32) -> Self {
        match code {
            129..=192 => Self::Signaled(code - 128),
            _ => Self::Exited(code & 0xff),
        }
    }

    /// `true` for `Exited(0)`.
    pub fn success(self) -> bool {
        self == Self::Exited(0)
    }

    /// The killing signal, if it has a name in nix.
    pub fn signal(self) -> Option<Signal> {
        match self {
            Self::Signaled(sig) => Signal::try_from(sig).ok(),
            Self::Exited(_) => None,
        }
    }
}

impl From<std::process::ExitStatus> for ExitStatus {
    fn from(status: std::process::ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            Self::Signaled(sig)
        } else {
            Self::Exited(status.code().unwrap_or(0))
        }
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Exited(code) => write!(f, "exited with code {code}"),
            Self::Signaled(sig) => match self.signal() {
                Some(s) => write!(f, "killed by signal {sig} ({})", s.as_str()),
                None => write!(f, "killed by signal {sig}"),
            },
        }
    }
}

/// End the calling process the way `status` says, so that its own parent sees the same status.
///
/// `Exited(c)` exits with `c`. `Signaled(n)` disables core dumps (the dump would be of the
/// wrong process, so the process is made non-dumpable), resets `n` to its default action,
/// unblocks it and raises it; if the process is still alive afterwards (the default action of
/// `n` is to ignore it, or the process is a pid-namespace init, which the kernel protects from
/// its own signals) it exits with `128 + n`. Unlike chromite's `ExitAsStatus` it never turns a
/// signal death into 127. Flush buffered output first: it exits with `_exit`.
pub fn exit_like(status: ExitStatus) -> ! {
    if let ExitStatus::Signaled(sig) = status {
        // No core dump, not even through a core_pattern pipe (which ignores RLIMIT_CORE).
        let _ = setrlimit(Resource::RLIMIT_CORE, 0, 0);
        let _ = nix::sys::prctl::set_dumpable(false);
        let _ = sys::default_disposition(sig);
        let _ = sys::unblock_raw(sig);
        let _ = sys::raise_raw(sig);
    }
    // Flushing Rust's stdout is the caller's business; exit without running anything else.
    sys::exit_now(status.code())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_round_trip() {
        for s in [
            ExitStatus::Exited(0),
            ExitStatus::Exited(7),
            ExitStatus::Exited(150),
        ] {
            assert_eq!(ExitStatus::from_raw(s.into_raw()), Some(s));
        }
        for sig in [1, 9, 10, 15, 34, 64] {
            let s = ExitStatus::Signaled(sig);
            assert_eq!(ExitStatus::from_raw(s.into_raw()), Some(s));
        }
        // A stopped status (0x137f = stopped by SIGSTOP) is not an end.
        assert_eq!(ExitStatus::from_raw(0x137f), None);
    }

    #[test]
    fn shell_codes() {
        assert_eq!(ExitStatus::Exited(0).code(), 0);
        assert_eq!(ExitStatus::Exited(10).code(), 10);
        assert_eq!(ExitStatus::Exited(150).code(), 150);
        assert_eq!(ExitStatus::Signaled(libc::SIGUSR1).code(), 128 + 10);
        assert_eq!(ExitStatus::Signaled(libc::SIGKILL).code(), 137);
        assert_eq!(ExitStatus::from_code(143), ExitStatus::Signaled(15));
        assert_eq!(ExitStatus::from_code(7), ExitStatus::Exited(7));
        assert_eq!(ExitStatus::from_code(200), ExitStatus::Exited(200));
    }

    #[test]
    fn display_and_signal_names() {
        assert_eq!(
            ExitStatus::Signaled(15).to_string(),
            "killed by signal 15 (SIGTERM)"
        );
        assert_eq!(ExitStatus::Signaled(40).to_string(), "killed by signal 40");
        assert_eq!(ExitStatus::Exited(3).to_string(), "exited with code 3");
        assert_eq!(ExitStatus::Signaled(9).signal(), Some(Signal::SIGKILL));
    }

    #[test]
    fn from_std_status() {
        use std::process::Command;
        let st = Command::new("sh").args(["-c", "exit 7"]).status().unwrap();
        assert_eq!(ExitStatus::from(st), ExitStatus::Exited(7));
        let st = Command::new("sh")
            .args(["-c", "kill -USR1 $$"])
            .status()
            .unwrap();
        assert_eq!(ExitStatus::from(st), ExitStatus::Signaled(libc::SIGUSR1));
    }
}
