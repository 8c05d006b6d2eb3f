//! The only module of this crate with `unsafe`: fork for probes, a pre-exec hook, `wait4`, and
//! capability dropping. Each block says why it is sound.
#![allow(unsafe_code)]

use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{ForkResult, Pid};

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

/// Registers `hook` to run in the forked child of `command` just before `execve`.
///
/// The hook runs after `fork` in a copy of this (multi-threaded) process: it must only make
/// syscalls and use memory prepared before the fork.
pub(crate) fn pre_exec<F>(command: &mut Command, hook: F)
where
    F: FnMut() -> io::Result<()> + Send + Sync + 'static,
{
    // SAFETY: every hook registered by this crate (see `chroot.rs`) only calls syscall wrappers
    // on paths and values prepared before the fork; none takes a lock.
    unsafe {
        command.pre_exec(hook);
    }
}

/// Resource usage of a reaped child (and of its reaped descendants).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ChildUsage {
    pub user: Duration,
    pub system: Duration,
    /// Peak resident set size in KiB.
    pub max_rss_kib: u64,
}

/// Waits for `pid` with `wait4`, returning its raw wait status and its resource usage.
pub(crate) fn wait4(pid: Pid) -> Result<(i32, ChildUsage), Errno> {
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers are to live, writable locals of the right types.
        let ret = unsafe { libc::wait4(pid.as_raw(), &mut status, 0, &mut usage) };
        if ret >= 0 {
            break;
        }
        match Errno::last() {
            Errno::EINTR => continue,
            err => return Err(err),
        }
    }
    let tv = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    Ok((
        status,
        ChildUsage {
            user: tv(usage.ru_utime),
            system: tv(usage.ru_stime),
            max_rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
        },
    ))
}

/// `struct __user_cap_header_struct`.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

/// `struct __user_cap_data_struct`.
#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAP_VERSION_3: u32 = 0x2008_0522;

/// Drops every capability: bounding set `0..=last_cap`, ambient set, then effective, permitted
/// and inheritable sets. Async-signal-safe (raw syscalls only).
pub(crate) fn drop_all_capabilities(last_cap: u32) -> Result<(), Errno> {
    for cap in 0..=last_cap {
        // SAFETY: prctl with integer arguments only.
        let ret = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(cap), 0, 0, 0) };
        // EINVAL: the kernel does not know this capability; nothing to drop.
        if ret != 0 && Errno::last() != Errno::EINVAL {
            return Err(Errno::last());
        }
    }
    // SAFETY: prctl with integer arguments only.
    let ret = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    if ret != 0 && Errno::last() != Errno::EINVAL {
        return Err(Errno::last());
    }
    let mut header = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    let data = [CapData {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: header and data point to live structs with the layout capset(2) expects for
    // version 3 (one header, two data elements).
    let ret = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
    if ret != 0 {
        return Err(Errno::last());
    }
    Ok(())
}

/// Brings up the loopback interface of the current network namespace (`SIOCSIFFLAGS` with
/// `IFF_UP`). Async-signal-safe (raw syscalls only).
pub(crate) fn loopback_up() -> Result<(), Errno> {
    use std::os::fd::AsRawFd;
    let sock = nix::sys::socket::socket(
        nix::sys::socket::AddressFamily::Inet,
        nix::sys::socket::SockType::Datagram,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    // SAFETY: an all-zero `ifreq` is a valid value of this plain C struct.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: `req` is a live, writable `ifreq` as SIOCGIFFLAGS expects.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) } != 0 {
        return Err(Errno::last());
    }
    // SAFETY: SIOCGIFFLAGS filled the `ifru_flags` member of the union.
    unsafe {
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
    }
    // SAFETY: `req` is a live `ifreq` with the interface name and flags set.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) } != 0 {
        return Err(Errno::last());
    }
    Ok(())
}
