//! Every raw system call of the tracer, and nothing else. This is the only module with `unsafe`.
//!
//! The child side ([`spawn_child`]) runs between `fork` and `execve` in a process that may have
//! been multi-threaded: it only makes async-signal-safe raw calls on memory prepared before the
//! fork, and reports a failure as `(stage, errno)` on a close-on-exec pipe.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;

/// `PTRACE_GET_SYSCALL_INFO`.
const PTRACE_GET_SYSCALL_INFO: libc::c_uint = 0x420e;
/// `PTRACE_SYSCALL_INFO_SECCOMP`: the stop is a seccomp `RET_TRACE` stop.
pub const SYSCALL_INFO_SECCOMP: u8 = 3;
/// `offsetof(struct user_regs_struct, orig_rax)`.
const ORIG_RAX_OFFSET: usize = 15 * 8;
/// `offsetof(struct user_regs_struct, rax)`.
const RAX_OFFSET: usize = 10 * 8;
/// `landlock_restrict_self` (x86_64).
const SYS_LANDLOCK_CREATE_RULESET: libc::c_long = 444;
const SYS_LANDLOCK_RESTRICT_SELF: libc::c_long = 446;
const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;

/// What `PTRACE_GET_SYSCALL_INFO` returns for a seccomp stop (the kernel's layout).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct SyscallInfo {
    /// One of the `PTRACE_SYSCALL_INFO_*` values.
    pub op: u8,
    pad: [u8; 3],
    /// `AUDIT_ARCH_*` of the call.
    pub arch: u32,
    instruction_pointer: u64,
    stack_pointer: u64,
    /// The system call number.
    pub nr: u64,
    /// The six arguments.
    pub args: [u64; 6],
    /// `SECCOMP_RET_DATA` of the filter's verdict.
    pub ret_data: u32,
    pad2: u32,
}

/// A raw wait status and the rusage of the waited process.
pub struct Waited {
    /// The thread id the status is about.
    pub pid: i32,
    /// The raw status word (decoded by `stop.rs`, never by nix, so real-time signals are fine).
    pub status: i32,
    /// Resource usage, meaningful when the status is an exit of a child of this thread.
    pub rusage: libc::rusage,
}

/// `wait4(-1, __WALL | __WNOTHREAD)`: children and tracees of the calling thread only, so that
/// a multi-threaded caller's other children are never reaped here.
///
/// It first polls with `WNOHANG` for up to `spin` before it blocks: in a VM, waking an idle
/// vCPU at every stop costs far more than the tracer's own work (measured here: ~200 µs per
/// stop round trip unpinned vs ~35 µs pinned), and a tracer that is still running when the next
/// stop arrives avoids that wake-up.
pub fn wait_any(spin: std::time::Duration) -> Result<Waited, Errno> {
    let mut status = 0;
    // SAFETY: rusage is plain old data, all-zero is a valid value.
    let mut rusage: libc::rusage = unsafe { std::mem::zeroed() };
    let started = std::time::Instant::now();
    loop {
        let polling = !spin.is_zero() && started.elapsed() < spin;
        let flags = libc::__WALL | libc::__WNOTHREAD | if polling { libc::WNOHANG } else { 0 };
        // SAFETY: status and rusage are valid for writes for the duration of the call.
        let pid = unsafe { libc::wait4(-1, &mut status, flags, &mut rusage) };
        if pid == 0 {
            std::hint::spin_loop();
            continue;
        }
        if pid > 0 {
            return Ok(Waited {
                pid,
                status,
                rusage,
            });
        }
        let err = Errno::last();
        if err != Errno::EINTR {
            return Err(err);
        }
    }
}

fn ptrace_raw(
    req: libc::c_uint,
    pid: i32,
    addr: usize,
    data: usize,
) -> Result<libc::c_long, Errno> {
    // SAFETY: every caller passes addr/data that are valid for `req` (integers, or pointers to
    // live buffers of the size the request expects).
    let ret = unsafe {
        libc::ptrace(
            req,
            pid,
            addr as *mut libc::c_void,
            data as *mut libc::c_void,
        )
    };
    if ret == -1 {
        Err(Errno::last())
    } else {
        Ok(ret)
    }
}

/// `PTRACE_SEIZE` with `options`.
pub fn seize(pid: i32, options: libc::c_int) -> Result<(), Errno> {
    ptrace_raw(libc::PTRACE_SEIZE, pid, 0, options as usize).map(drop)
}

/// `PTRACE_CONT`, delivering `sig` (0 for none).
pub fn cont(pid: i32, sig: i32) -> Result<(), Errno> {
    ptrace_raw(libc::PTRACE_CONT, pid, 0, sig as usize).map(drop)
}

/// `PTRACE_LISTEN`: leave a group-stopped tracee stopped but let it report the next event.
pub fn listen(pid: i32) -> Result<(), Errno> {
    ptrace_raw(libc::PTRACE_LISTEN, pid, 0, 0).map(drop)
}

/// `PTRACE_GETEVENTMSG`.
pub fn event_msg(pid: i32) -> Result<u64, Errno> {
    let mut msg: libc::c_ulong = 0;
    ptrace_raw(
        libc::PTRACE_GETEVENTMSG,
        pid,
        0,
        &mut msg as *mut _ as usize,
    )?;
    Ok(msg)
}

/// `PTRACE_GET_SYSCALL_INFO`.
pub fn syscall_info(pid: i32) -> Result<SyscallInfo, Errno> {
    let mut info = SyscallInfo::default();
    ptrace_raw(
        PTRACE_GET_SYSCALL_INFO,
        pid,
        std::mem::size_of::<SyscallInfo>(),
        &mut info as *mut SyscallInfo as usize,
    )?;
    Ok(info)
}

/// Skips the system call the tracee is stopped in (number -1) and makes it return `ret`.
pub fn skip_syscall(pid: i32, ret: i64) -> Result<(), Errno> {
    ptrace_raw(libc::PTRACE_POKEUSER, pid, ORIG_RAX_OFFSET, usize::MAX)?;
    ptrace_raw(libc::PTRACE_POKEUSER, pid, RAX_OFFSET, ret as usize).map(drop)
}

/// Reads up to `buf.len()` bytes of the tracee's memory at `addr` with one
/// `process_vm_readv`; returns how many bytes were read.
pub fn read_mem(pid: i32, addr: u64, buf: &mut [u8]) -> Result<usize, Errno> {
    let local = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let remote = libc::iovec {
        iov_base: addr as usize as *mut libc::c_void,
        iov_len: buf.len(),
    };
    // SAFETY: `local` describes `buf`, which is valid for writes of its length; the remote
    // iovec is only dereferenced by the kernel in the other process.
    let n = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
    if n < 0 {
        Err(Errno::last())
    } else {
        Ok(n as usize)
    }
}

/// `kill(pid, sig)`; a missing process is not an error.
pub fn kill(pid: i32, sig: i32) {
    // SAFETY: kill has no memory arguments.
    unsafe { libc::kill(pid, sig) };
}

/// The Landlock ABI version of the running kernel, 0 when Landlock is unavailable.
pub fn landlock_abi() -> u32 {
    // SAFETY: a version query takes no attribute pointer.
    let ret = unsafe {
        libc::syscall(
            SYS_LANDLOCK_CREATE_RULESET,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    u32::try_from(ret).unwrap_or(0)
}

/// A close-on-exec pipe `(read, write)`.
pub fn pipe() -> Result<(OwnedFd, OwnedFd), Errno> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
}

/// A close-on-exec, non-blocking pipe `(read, write)` for the child's report: the report is
/// written before the child exits, so the parent reads it without waiting for other holders
/// of the write end (children that other threads of the caller fork meanwhile).
pub fn report_pipe() -> Result<(OwnedFd, OwnedFd), Errno> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)
}

/// Duplicates `fd` to a close-on-exec descriptor numbered at least 10, so that the child can
/// `dup2` it onto 0, 1 or 2 without clobbering another source.
pub fn dup_high(fd: RawFd) -> Result<OwnedFd, Errno> {
    // SAFETY: F_DUPFD_CLOEXEC has no memory arguments.
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10) };
    if new < 0 {
        return Err(Errno::last());
    }
    // SAFETY: `new` is a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

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

fn child_main(plan: &ChildPlan<'_>) -> ! {
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
        if libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &prog as *const libc::sock_fprog,
        ) != 0
        {
            child_fail(plan, Stage::Seccomp);
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

/// `access(path, X_OK)` for a path-search candidate.
pub fn is_executable(path: &CString) -> bool {
    // SAFETY: path is NUL-terminated.
    unsafe { libc::access(path.as_ptr(), libc::X_OK) == 0 }
}

/// `SECCOMP_GET_ACTION_AVAIL`.
const SECCOMP_GET_ACTION_AVAIL: libc::c_uint = 2;

/// True when the kernel can serve [`crate::Engine::Notify`] with exact records: the
/// `USER_NOTIF` action exists and the kernel is 5.19 or later (`CONTINUE` is 5.5,
/// `WAIT_KILLABLE_RECV` 5.19).
pub fn notify_supported() -> bool {
    let action: u32 = libc::SECCOMP_RET_USER_NOTIF;
    // SAFETY: the action pointer is valid for the call; GET_ACTION_AVAIL only reads it.
    let avail = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_GET_ACTION_AVAIL,
            0,
            &action as *const u32,
        )
    } == 0;
    avail && kernel_at_least(5, 19)
}

/// True when the running kernel's release is at least `major.minor`.
fn kernel_at_least(major: u32, minor: u32) -> bool {
    let Ok(uts) = nix::sys::utsname::uname() else {
        return false;
    };
    let release = uts.release().to_string_lossy().into_owned();
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (a, b) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (a, b) >= (major, minor)
}
