//! Wait statuses decoded from the raw status word, and ptrace stops as types.
//!
//! A stop owns its tracee: every way to resume it takes `self`, so a tracee cannot be
//! restarted twice (tracexec's guard idea). Real-time signals decode like any other.

use nix::errno::Errno;

use crate::sys;

const PTRACE_EVENT_FORK: i32 = 1;
const PTRACE_EVENT_VFORK: i32 = 2;
const PTRACE_EVENT_CLONE: i32 = 3;
const PTRACE_EVENT_EXEC: i32 = 4;
const PTRACE_EVENT_SECCOMP: i32 = 7;
const PTRACE_EVENT_STOP: i32 = 128;

/// What one `wait4` reported.
#[derive(Debug)]
pub(crate) enum Stop {
    /// The thread exited with a code.
    Exited { pid: i32, code: i32 },
    /// The thread was killed by a signal.
    Signaled { pid: i32, signal: i32 },
    /// A seccomp `RET_TRACE` stop.
    Seccomp(SeccompStop),
    /// A signal is about to be delivered.
    Signal(SignalStop),
    /// The thread group is stopped (SIGSTOP, SIGTSTP, ...).
    Group(GroupStop),
    /// fork/vfork/clone/exec, or the initial stop of a new tracee.
    Event(EventStop),
}

/// Kinds of [`EventStop`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    /// A new child (fork, vfork or clone): the payload is its pid.
    NewChild,
    /// A successful execve: the payload is the former thread id.
    Exec,
    /// The first stop of an auto-attached tracee, or another `PTRACE_EVENT_STOP`.
    Attached,
    /// Another event (not requested).
    Other,
}

impl Stop {
    /// Decodes a raw status of `pid`.
    pub(crate) fn decode(pid: i32, status: i32) -> Stop {
        let low = status & 0x7f;
        if low == 0 {
            return Stop::Exited {
                pid,
                code: (status >> 8) & 0xff,
            };
        }
        if status & 0xff != 0x7f {
            return Stop::Signaled { pid, signal: low };
        }
        let sig = (status >> 8) & 0xff;
        let event = (status >> 16) & 0xffff;
        match event {
            0 => Stop::Signal(SignalStop { pid, signal: sig }),
            PTRACE_EVENT_SECCOMP => Stop::Seccomp(SeccompStop { pid }),
            PTRACE_EVENT_STOP
                if matches!(
                    sig,
                    libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU
                ) =>
            {
                Stop::Group(GroupStop { pid })
            }
            PTRACE_EVENT_STOP => Stop::Event(EventStop {
                pid,
                event: Event::Attached,
            }),
            PTRACE_EVENT_FORK | PTRACE_EVENT_VFORK | PTRACE_EVENT_CLONE => Stop::Event(EventStop {
                pid,
                event: Event::NewChild,
            }),
            PTRACE_EVENT_EXEC => Stop::Event(EventStop {
                pid,
                event: Event::Exec,
            }),
            _ => Stop::Event(EventStop {
                pid,
                event: Event::Other,
            }),
        }
    }
}

/// A tracee stopped by the filter's `RET_TRACE`.
#[derive(Debug)]
pub(crate) struct SeccompStop {
    pid: i32,
}

impl SeccompStop {
    /// The stopped thread.
    pub(crate) fn pid(&self) -> i32 {
        self.pid
    }

    /// The call, its arch and arguments.
    pub(crate) fn info(&self) -> Result<sys::SyscallInfo, Errno> {
        sys::syscall_info(self.pid)
    }

    /// Lets the call run.
    pub(crate) fn allow(self) -> Result<(), Errno> {
        sys::cont(self.pid, 0)
    }

    /// Skips the call; it returns `ret` (`-errno` to fail, 0 to fake success).
    pub(crate) fn skip(self, ret: i64) -> Result<(), Errno> {
        sys::skip_syscall(self.pid, ret)?;
        sys::cont(self.pid, 0)
    }
}

/// A signal-delivery stop.
#[derive(Debug)]
pub(crate) struct SignalStop {
    pid: i32,
    signal: i32,
}

impl SignalStop {
    /// Resumes the tracee and delivers the signal it stopped for.
    pub(crate) fn deliver(self) -> Result<(), Errno> {
        sys::cont(self.pid, self.signal)
    }
}

/// A group-stop (job control).
#[derive(Debug)]
pub(crate) struct GroupStop {
    pid: i32,
}

impl GroupStop {
    /// Keeps the tracee stopped until SIGCONT, but lets it report events (`PTRACE_LISTEN`).
    pub(crate) fn listen(self) -> Result<(), Errno> {
        sys::listen(self.pid)
    }
}

/// A ptrace event stop.
#[derive(Debug)]
pub(crate) struct EventStop {
    pid: i32,
    event: Event,
}

impl EventStop {
    /// The stopped thread.
    pub(crate) fn pid(&self) -> i32 {
        self.pid
    }

    /// The kind of event.
    pub(crate) fn event(&self) -> Event {
        self.event
    }

    /// `PTRACE_GETEVENTMSG`: the new child's pid, or the former thread id after an exec.
    pub(crate) fn message(&self) -> Result<u64, Errno> {
        sys::event_msg(self.pid)
    }

    /// Resumes the tracee.
    pub(crate) fn resume(self) -> Result<(), Errno> {
        sys::cont(self.pid, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_raw_statuses() {
        assert!(matches!(
            Stop::decode(5, 3 << 8),
            Stop::Exited { code: 3, .. }
        ));
        assert!(matches!(
            Stop::decode(5, 150 << 8),
            Stop::Exited { code: 150, .. }
        ));
        assert!(matches!(
            Stop::decode(5, 9),
            Stop::Signaled { signal: 9, .. }
        ));
        assert!(matches!(
            Stop::decode(5, 0x80 | 11),
            Stop::Signaled { signal: 11, .. }
        ));
        // Real-time signal delivery stop: nix's WaitStatus refuses these.
        let rt = 40;
        assert!(matches!(
            Stop::decode(5, (rt << 8) | 0x7f),
            Stop::Signal(SignalStop { signal: 40, .. })
        ));
        let seccomp = (PTRACE_EVENT_SECCOMP << 16) | (libc::SIGTRAP << 8) | 0x7f;
        assert!(matches!(Stop::decode(5, seccomp), Stop::Seccomp(_)));
        let group = (PTRACE_EVENT_STOP << 16) | (libc::SIGTSTP << 8) | 0x7f;
        assert!(matches!(Stop::decode(5, group), Stop::Group(_)));
        let initial = (PTRACE_EVENT_STOP << 16) | (libc::SIGTRAP << 8) | 0x7f;
        assert!(matches!(
            Stop::decode(5, initial),
            Stop::Event(EventStop {
                event: Event::Attached,
                ..
            })
        ));
        let fork = (PTRACE_EVENT_VFORK << 16) | (libc::SIGTRAP << 8) | 0x7f;
        assert!(matches!(
            Stop::decode(5, fork),
            Stop::Event(EventStop {
                event: Event::NewChild,
                ..
            })
        ));
    }
}
