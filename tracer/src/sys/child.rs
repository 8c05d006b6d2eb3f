//! The traced command's side of the fork: async-signal-safe set-up, then `execve`.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use nix::errno::Errno;

/// `landlock_restrict_self` (x86_64).
const SYS_LANDLOCK_RESTRICT_SELF: libc::c_long = 446;

/// Stages of the child's setup, reported with the errno when one fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Stage {
    /// Waiting for the tracer to attach.
    Release = 1,
    /// Redirecting standard descriptors.
    Stdio = 2,
    /// `chroot`.
    Chroot = 3,
    /// `chdir`.
    Chdir = 4,
    /// `PR_SET_NO_NEW_PRIVS`.
    NoNewPrivs = 5,
    /// `landlock_restrict_self`.
    Landlock = 6,
    /// Installing the seccomp filter.
    Seccomp = 7,
    /// `execve`.
    Exec = 8,
    /// `PR_SET_PDEATHSIG`.
    DeathSignal = 9,
}

impl Stage {
    /// Decodes a stage number written by the child.
    pub fn from_u32(v: u32) -> Option<Stage> {
        use Stage::*;
        [
            Release,
            Stdio,
            Chroot,
            Chdir,
            NoNewPrivs,
            Landlock,
            Seccomp,
            Exec,
            DeathSignal,
        ]
        .into_iter()
        .find(|s| *s as u32 == v)
    }
}

/// Everything the child needs, prepared before the fork (no allocation after it).
#[derive(Clone, Copy)]
pub struct ChildPlan<'a> {
    /// Path to `execve`.
    pub program: &'a CString,
    /// NULL-terminated argv pointers.
    pub argv: &'a [*const libc::c_char],
    /// NULL-terminated envp pointers.
    pub envp: &'a [*const libc::c_char],
    /// Descriptors to place on 0, 1 and 2 (`None` keeps the inherited one).
    pub stdio: [Option<RawFd>; 3],
    /// Directory to chroot into.
    pub chroot: Option<&'a CString>,
    /// Directory to change into (after the chroot).
    pub cwd: Option<&'a CString>,
    /// Landlock ruleset to enforce.
    pub landlock: Option<RawFd>,
    /// The seccomp program.
    pub filter: &'a [libc::sock_filter],
    /// Read end of the release pipe: the child waits for EOF or a byte.
    pub release: RawFd,
    /// Write end of the error pipe.
    pub report: RawFd,
    /// The pid of the parent before the fork, to detect its death before PDEATHSIG was set.
    pub parent: i32,
    /// Notify engine: install the filter with a listener and send the listener over this
    /// socket (`SCM_RIGHTS`) before `execve`.
    pub listener_socket: Option<RawFd>,
    /// The signal mask to restore before `execve` (the keeper blocks every signal).
    pub sigmask: Option<libc::sigset_t>,
    /// The `SIGCHLD` disposition to restore before `execve` (the keeper resets it).
    pub sigchld: Option<libc::sigaction>,
}

/// Forks; the child runs the plan and never returns. Returns the child's pid in the parent.
pub fn spawn_child(plan: &ChildPlan<'_>) -> Result<i32, Errno> {
    // SAFETY: fork has no memory arguments; the child only runs `child_main`, which restricts
    // itself to async-signal-safe raw calls on memory that was prepared before the fork.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(Errno::last()),
        0 => child_main(plan),
        pid => Ok(pid),
    }
}

fn child_fail(plan: &ChildPlan<'_>, stage: Stage) -> ! {
    let err = Errno::last_raw() as u32;
    let mut msg = [0u8; 8];
    msg[..4].copy_from_slice(&(stage as u32).to_ne_bytes());
    msg[4..].copy_from_slice(&err.to_ne_bytes());
    // SAFETY: msg is a live 8-byte buffer; _exit never returns and runs no atexit hooks.
    unsafe {
        libc::write(plan.report, msg.as_ptr().cast(), msg.len());
        libc::_exit(127)
    }
}

pub(super) fn child_main(plan: &ChildPlan<'_>) -> ! {
    // SAFETY: only raw, async-signal-safe calls on pointers that stay valid (they point into
    // the parent's memory, duplicated by fork), and no allocation, in the whole block.
    unsafe {
        if libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        ) != 0
        {
            child_fail(plan, Stage::DeathSignal);
        }
        if libc::getppid() != plan.parent {
            libc::_exit(127);
        }
        // Wait until the tracer has seized us: it writes one byte.
        let mut byte = 0u8;
        loop {
            let n = libc::read(plan.release, (&mut byte as *mut u8).cast(), 1);
            if n == 1 {
                break;
            }
            if n == 0 || Errno::last() != Errno::EINTR {
                // The tracer gave up: exit without running anything.
                libc::_exit(127);
            }
        }
        for (target, src) in plan.stdio.iter().enumerate() {
            if let Some(src) = src {
                if libc::dup2(*src, target as RawFd) < 0 {
                    child_fail(plan, Stage::Stdio);
                }
            }
        }
        if let Some(root) = plan.chroot {
            if libc::chroot(root.as_ptr()) != 0 {
                child_fail(plan, Stage::Chroot);
            }
            if plan.cwd.is_none() && libc::chdir(c"/".as_ptr()) != 0 {
                child_fail(plan, Stage::Chdir);
            }
        }
        if let Some(cwd) = plan.cwd {
            if libc::chdir(cwd.as_ptr()) != 0 {
                child_fail(plan, Stage::Chdir);
            }
        }
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            child_fail(plan, Stage::NoNewPrivs);
        }
        if let Some(fd) = plan.landlock {
            if libc::syscall(SYS_LANDLOCK_RESTRICT_SELF, fd, 0) != 0 {
                child_fail(plan, Stage::Landlock);
            }
        }
        let prog = libc::sock_fprog {
            len: plan.filter.len() as libc::c_ushort,
            filter: plan.filter.as_ptr() as *mut libc::sock_filter,
        };
        let install = |flags: libc::c_ulong| {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                flags,
                &prog as *const libc::sock_fprog,
            )
        };
        match plan.listener_socket {
            None => {
                if install(0) != 0 {
                    child_fail(plan, Stage::Seccomp);
                }
            }
            Some(socket) => {
                let listen = libc::SECCOMP_FILTER_FLAG_NEW_LISTENER;
                // WAIT_KILLABLE_RECV (5.19): once the tracer has read a notification, only
                // a fatal signal interrupts the call, so a signal cannot make it restart and
                // be judged (and recorded) twice.
                let mut listener = install(listen | libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV);
                if listener < 0 && Errno::last() == Errno::EINVAL {
                    listener = install(listen);
                }
                if listener < 0 {
                    child_fail(plan, Stage::Seccomp);
                }
                if super::notify::send_fd(socket, listener as RawFd) != 0 {
                    child_fail(plan, Stage::Seccomp);
                }
                libc::close(listener as RawFd);
            }
        }
        if let Some(action) = &plan.sigchld {
            libc::sigaction(libc::SIGCHLD, action, std::ptr::null_mut());
        }
        if let Some(mask) = &plan.sigmask {
            libc::sigprocmask(libc::SIG_SETMASK, mask, std::ptr::null_mut());
        }
        libc::execve(
            plan.program.as_ptr(),
            plan.argv.as_ptr(),
            plan.envp.as_ptr(),
        );
        child_fail(plan, Stage::Exec)
    }
}

/// Reads the child's `(stage, errno)` report, if it wrote one (call it after the child was
/// reaped; the pipe is non-blocking).
pub fn read_report(fd: &OwnedFd) -> Option<(u32, i32)> {
    let mut msg = [0u8; 8];
    let mut got = 0;
    while got < msg.len() {
        // SAFETY: the pointer and length describe the unfilled tail of `msg`.
        let n = unsafe {
            libc::read(
                fd.as_raw_fd(),
                msg[got..].as_mut_ptr().cast(),
                msg.len() - got,
            )
        };
        if n > 0 {
            got += n as usize;
        } else if n == 0 || Errno::last() != Errno::EINTR {
            break;
        }
    }
    (got == msg.len()).then(|| {
        let stage = u32::from_ne_bytes([msg[0], msg[1], msg[2], msg[3]]);
        let err = i32::from_ne_bytes([msg[4], msg[5], msg[6], msg[7]]);
        (stage, err)
    })
}

/// Writes one byte to release the child.
pub fn release(fd: OwnedFd) -> Result<(), Errno> {
    nix::unistd::write(&fd, &[1u8]).map(drop)
}
