//! Every raw system call of the tracer, and nothing else. This is the only module with `unsafe`.
//!
//! The child side ([`spawn_child`]) runs between `fork` and `execve` in a process that may have
//! been multi-threaded: it only makes async-signal-safe raw calls on memory prepared before the
//! fork, and reports a failure as `(stage, errno)` on a close-on-exec pipe.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;

mod child;
mod keeper;
mod notify;

pub use child::{read_report, release, spawn_child, ChildPlan, Stage};
pub use keeper::{spawn_keeper, KeeperPlan, Record, KILL_TREE, RECORD_LEN};
pub use notify::{listener_socketpair, notify_supported, Listener};

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

/// True when `pid` can still be waited for by this thread (a live or not yet reaped child or
/// tracee); nothing is consumed.
pub fn is_tracee(pid: i32) -> bool {
    // SAFETY: siginfo_t is plain old data; waitid writes into it.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let flags = libc::WNOHANG | libc::WNOWAIT | libc::WEXITED | libc::WSTOPPED | libc::__WALL;
    loop {
        // SAFETY: `info` is live and writable.
        let ret = unsafe { libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, flags) };
        if ret == 0 {
            return true;
        }
        if Errno::last() != Errno::EINTR {
            return false;
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

/// `access(path, X_OK)` for a path-search candidate.
pub fn is_executable(path: &CString) -> bool {
    // SAFETY: path is NUL-terminated.
    unsafe { libc::access(path.as_ptr(), libc::X_OK) == 0 }
}
