//! Every raw system call of the crate that nix does not wrap safely. Nothing else in the crate
//! uses `unsafe`; each block here states why it is sound.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::errno::Errno;
use nix::unistd::{ForkResult, Pid};

/// `fork(2)`.
///
/// The child of a multi-threaded parent may only use state that no other thread held at the
/// moment of the fork. Callers in this crate prepare everything (strings, pipes, closures) before
/// forking, run only the documented namespace setup in the child, and end the child with `_exit`
/// or `execve`. glibc re-initialises its malloc locks in the child, so allocation is usable.
pub(crate) fn fork() -> nix::Result<ForkResult> {
    // SAFETY: see the function comment: the child never returns into the caller's code paths that
    // could hold locks of vanished threads; it runs the sandbox setup and leaves with _exit/exec.
    unsafe { nix::unistd::fork() }
}

/// Reset `sig` (a raw number, so real-time signals work too) to its default disposition.
pub(crate) fn default_disposition(sig: i32) -> nix::Result<()> {
    // SAFETY: installing SIG_DFL runs no user code and needs no valid handler pointer; the
    // previous disposition is not needed.
    let prev = unsafe { libc::signal(sig, libc::SIG_DFL) };
    if prev == libc::SIG_ERR {
        return Err(Errno::last());
    }
    Ok(())
}

/// Reset `sig` to its default disposition if it has a handler function; keep `SIG_IGN` (as
/// `execve` would) so that e.g. a `nohup`-ignored SIGHUP stays ignored in the command.
pub(crate) fn reset_handler(sig: i32) -> nix::Result<()> {
    // SAFETY: sigaction is plain data; all-zero is a valid "SIG_DFL, empty mask" value.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: a null new action only queries; `old` is a valid, exclusively borrowed sigaction.
    let rc = unsafe { libc::sigaction(sig, std::ptr::null(), &mut old) };
    Errno::result(rc)?;
    if old.sa_sigaction == libc::SIG_IGN || old.sa_sigaction == libc::SIG_DFL {
        return Ok(());
    }
    default_disposition(sig)
}

/// Unblock `sig` (raw number) in the calling thread.
pub(crate) fn unblock_raw(sig: i32) -> nix::Result<()> {
    // SAFETY: sigset_t is plain data; it is initialised by sigemptyset before any other use.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid, exclusively borrowed sigset_t.
    unsafe {
        libc::sigemptyset(&mut set);
        if libc::sigaddset(&mut set, sig) != 0 {
            return Err(Errno::last());
        }
    }
    // SAFETY: both pointers are valid for the duration of the call (old set not requested).
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
    Errno::result(rc).map(drop)
}

/// `raise(3)` with a raw signal number.
pub(crate) fn raise_raw(sig: i32) -> nix::Result<()> {
    // SAFETY: raise only sends a signal to the calling thread; no memory is shared.
    Errno::result(unsafe { libc::raise(sig) }).map(drop)
}

/// `setdomainname(2)`.
pub(crate) fn setdomainname(name: &[u8]) -> nix::Result<()> {
    // SAFETY: the pointer and length describe the live slice `name`; the kernel copies it.
    let rc = unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) };
    Errno::result(rc).map(drop)
}

/// `pidfd_open(2)` for `pid`.
pub(crate) fn pidfd_open(pid: Pid) -> nix::Result<OwnedFd> {
    // SAFETY: pidfd_open takes two integers and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    let fd = Errno::result(fd)?;
    // SAFETY: the kernel just returned this descriptor to us; nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

fn ifreq_for(name: &CStr) -> io::Result<libc::ifreq> {
    let bytes = name.to_bytes();
    if bytes.len() >= libc::IFNAMSIZ {
        return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    }
    // SAFETY: ifreq is plain old data (arrays, integers, a union of such); all-zero is valid.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(bytes) {
        *dst = *src as libc::c_char;
    }
    Ok(req)
}

/// Read the interface flags of `name` (`SIOCGIFFLAGS`) through socket `sock`.
pub(crate) fn link_flags(sock: BorrowedFd<'_>, name: &CStr) -> io::Result<i16> {
    let mut req = ifreq_for(name)?;
    // SAFETY: `req` is a valid ifreq that the kernel fills in; it outlives the call.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: SIOCGIFFLAGS succeeded, so the kernel wrote the `ifru_flags` member of the union.
    Ok(unsafe { req.ifr_ifru.ifru_flags })
}

/// Set the interface flags of `name` (`SIOCSIFFLAGS`) through socket `sock`.
pub(crate) fn set_link_flags(sock: BorrowedFd<'_>, name: &CStr, flags: i16) -> io::Result<()> {
    let mut req = ifreq_for(name)?;
    req.ifr_ifru.ifru_flags = flags;
    // SAFETY: `req` is a valid, initialised ifreq that outlives the call; the kernel only reads it.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &mut req) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

const CAP_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// The three capability sets of the calling thread as 64-bit masks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RawCaps {
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
}

/// `capget(2)` for the calling thread.
pub(crate) fn capget() -> nix::Result<RawCaps> {
    let mut hdr = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: version 3 uses exactly two CapData elements; both structs are repr(C) and valid.
    let rc = unsafe { libc::syscall(libc::SYS_capget, &mut hdr, data.as_mut_ptr()) };
    Errno::result(rc)?;
    let join = |lo: u32, hi: u32| u64::from(lo) | (u64::from(hi) << 32);
    Ok(RawCaps {
        effective: join(data[0].effective, data[1].effective),
        permitted: join(data[0].permitted, data[1].permitted),
        inheritable: join(data[0].inheritable, data[1].inheritable),
    })
}

/// `capset(2)` for the calling thread.
pub(crate) fn capset(caps: RawCaps) -> nix::Result<()> {
    let mut hdr = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    let split = |v: u64| (v as u32, (v >> 32) as u32);
    let (e0, e1) = split(caps.effective);
    let (p0, p1) = split(caps.permitted);
    let (i0, i1) = split(caps.inheritable);
    let data = [
        CapData {
            effective: e0,
            permitted: p0,
            inheritable: i0,
        },
        CapData {
            effective: e1,
            permitted: p1,
            inheritable: i1,
        },
    ];
    // SAFETY: version 3 reads exactly two CapData elements; both structs are repr(C) and valid.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &mut hdr, data.as_ptr()) };
    Errno::result(rc).map(drop)
}

/// `prctl(PR_CAPBSET_READ, cap)`: is `cap` in the bounding set.
pub(crate) fn capbset_read(cap: u32) -> nix::Result<bool> {
    // SAFETY: PR_CAPBSET_READ takes an integer and returns 0/1 or -1; no pointers.
    let rc = unsafe { libc::prctl(libc::PR_CAPBSET_READ, libc::c_ulong::from(cap), 0, 0, 0) };
    Errno::result(rc).map(|v| v == 1)
}

/// `prctl(PR_CAPBSET_DROP, cap)`.
pub(crate) fn capbset_drop(cap: u32) -> nix::Result<()> {
    // SAFETY: PR_CAPBSET_DROP takes an integer; no pointers.
    let rc = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(cap), 0, 0, 0) };
    Errno::result(rc).map(drop)
}

/// `prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)`.
pub(crate) fn ambient_clear_all() -> nix::Result<()> {
    // SAFETY: integer-only prctl; no pointers.
    let rc = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    Errno::result(rc).map(drop)
}

/// `prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap)`.
pub(crate) fn ambient_is_set(cap: u32) -> nix::Result<bool> {
    // SAFETY: integer-only prctl; no pointers.
    let rc = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_IS_SET as libc::c_ulong,
            libc::c_ulong::from(cap),
            0,
            0,
        )
    };
    Errno::result(rc).map(|v| v == 1)
}

/// `_exit(2)`: end the process at once, without running atexit handlers or destructors (the
/// right way to leave a forked child of a possibly multi-threaded parent).
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: _exit takes an integer and does not return; it touches no Rust-managed memory.
    unsafe { libc::_exit(code) }
}
