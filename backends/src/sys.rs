//! The only module of this crate with `unsafe`: `fork` for the probes.
#![allow(unsafe_code)]

use nix::errno::Errno;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::ForkResult;

/// Runs `child` in a forked child process and returns what it returned (0..=255) as the child's
/// exit code, or `Err` when the fork failed or the child died otherwise.
///
/// `child` runs in a copy of a possibly multi-threaded process: it must only make plain syscalls
/// (no locks, no allocation that could deadlock on a lock held by another thread at fork time).
pub(crate) fn fork_and_wait(child: impl FnOnce() -> u8) -> Result<WaitStatus, Errno> {
    // SAFETY: the child only runs `child`, which by this function's contract makes plain
    // syscalls, and then leaves with `_exit` without running destructors or atexit handlers.
    match unsafe { nix::unistd::fork() }? {
        ForkResult::Child => {
            let code = child();
            // SAFETY: `_exit` is async-signal-safe and never returns.
            unsafe { libc::_exit(i32::from(code)) }
        }
        ForkResult::Parent { child } => loop {
            match waitpid(child, Some(nix::sys::wait::WaitPidFlag::__WALL)) {
                Err(Errno::EINTR) => continue,
                other => return other,
            }
        },
    }
}
