//! seccomp user notifications: the support probe, the listener hand-over and its ioctls.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;

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

/// `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP` (6.6): wake the supervisor and the notifying thread
/// on the CPU that made the other runnable.
const SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP: u64 = 1;

/// Sends `fd` over the unix socket `socket` with `SCM_RIGHTS` (child side: raw calls only, no
/// allocation). Returns 0 on success, -1 with errno set otherwise.
///
/// # Safety
/// Async-signal-safe; `socket` and `fd` must be open descriptors.
pub(super) unsafe fn send_fd(socket: RawFd, fd: RawFd) -> libc::ssize_t {
    // Room for one cmsghdr carrying one int, 8-byte aligned as the kernel expects.
    let mut space = [0u64; 4];
    let mut byte = 0u8;
    let mut iov = libc::iovec {
        iov_base: (&mut byte as *mut u8).cast(),
        iov_len: 1,
    };
    // SAFETY: msghdr is plain old data (all-zero is valid); every pointer set below points to
    // a live stack buffer of the stated length.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = space.as_mut_ptr().cast();
    // SAFETY: CMSG_SPACE is arithmetic.
    msg.msg_controllen = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as _;
    // SAFETY: the control buffer is large enough for one header and one int (checked by
    // CMSG_SPACE above, 24 bytes of 32), so CMSG_FIRSTHDR is non-null and in bounds.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), fd);
        libc::sendmsg(socket, &msg, libc::MSG_NOSIGNAL)
    }
    .min(0)
}

/// A close-on-exec unix socket pair for the listener hand-over `(tracer end, child end)`.
pub fn listener_socketpair() -> Result<(OwnedFd, OwnedFd), Errno> {
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
}

/// One notification: which thread made which call.
#[derive(Debug, Clone, Copy)]
pub struct Notification {
    /// The cookie that answers it.
    pub id: u64,
    /// The calling thread (in the tracer's pid namespace).
    pub pid: i32,
    /// `AUDIT_ARCH_*` of the call.
    pub arch: u32,
    /// The system call number.
    pub nr: u64,
    /// The six arguments.
    pub args: [u64; 6],
}

/// The tracer's end of a seccomp filter: the listener descriptor.
#[derive(Debug)]
pub struct Listener {
    fd: OwnedFd,
}

impl std::os::fd::AsFd for Listener {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Listener {
    /// Receives the listener the child sent over `socket`; `Ok(None)` when the child closed
    /// its end without sending one (its set-up failed).
    pub fn receive(socket: &OwnedFd) -> Result<Option<Listener>, Errno> {
        use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
        let mut byte = [0u8; 1];
        let mut iov = [std::io::IoSliceMut::new(&mut byte)];
        let mut space = nix::cmsg_space!(RawFd);
        let msg = recvmsg::<()>(
            socket.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )?;
        for cmsg in msg.cmsgs()? {
            if let ControlMessageOwned::ScmRights(fds) = cmsg {
                let mut owned = fds.into_iter().map(|fd| {
                    // SAFETY: SCM_RIGHTS just installed this descriptor in our table; we are
                    // its only owner.
                    unsafe { OwnedFd::from_raw_fd(fd) }
                });
                return Ok(owned.next().map(|fd| Listener { fd }));
            }
        }
        Ok(None)
    }

    /// Asks the kernel to wake both sides on the same CPU (6.6+). Older kernels refuse with
    /// EINVAL; the engine works without it.
    pub fn sync_wake_up(&self) -> bool {
        let fd = self.fd.as_raw_fd();
        // SAFETY: SET_FLAGS takes its argument by value.
        unsafe {
            libc::ioctl(
                fd,
                libc::SECCOMP_IOCTL_NOTIF_SET_FLAGS,
                SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP,
            ) == 0
        }
    }

    /// Reads the next notification (blocks if none is pending). ENOENT: the caller went away
    /// between the poll and the read.
    pub fn recv(&self) -> Result<Notification, Errno> {
        // SAFETY: seccomp_notif is plain old data; the kernel requires it zeroed.
        let mut notif: libc::seccomp_notif = unsafe { std::mem::zeroed() };
        loop {
            // SAFETY: `notif` is a live, writable seccomp_notif.
            let ret = unsafe {
                libc::ioctl(
                    self.fd.as_raw_fd(),
                    libc::SECCOMP_IOCTL_NOTIF_RECV,
                    &mut notif,
                )
            };
            if ret == 0 {
                break;
            }
            let errno = Errno::last();
            if errno != Errno::EINTR {
                return Err(errno);
            }
        }
        Ok(Notification {
            id: notif.id,
            pid: notif.pid as i32,
            arch: notif.data.arch,
            nr: notif.data.nr as u32 as u64,
            args: notif.data.args,
        })
    }

    /// True while notification `id` is still pending (its caller alive and waiting).
    pub fn id_valid(&self, id: u64) -> bool {
        // SAFETY: ID_VALID reads the u64 behind the pointer.
        unsafe { libc::ioctl(self.fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0 }
    }

    /// Answers notification `id`: run the call (`None`), or make it return `ret` without
    /// running it (`-errno` for an error). ENOENT: the caller went away meanwhile.
    pub fn send(&self, id: u64, ret: Option<i64>) -> Result<(), Errno> {
        let resp = libc::seccomp_notif_resp {
            id,
            val: ret.filter(|r| *r >= 0).unwrap_or(0),
            error: ret.filter(|r| *r < 0).map_or(0, |r| r as i32),
            flags: if ret.is_none() {
                libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32
            } else {
                0
            },
        };
        loop {
            // SAFETY: SEND reads the seccomp_notif_resp behind the pointer.
            let ret =
                unsafe { libc::ioctl(self.fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SEND, &resp) };
            if ret == 0 {
                return Ok(());
            }
            let errno = Errno::last();
            if errno != Errno::EINTR {
                return Err(errno);
            }
        }
    }
}
