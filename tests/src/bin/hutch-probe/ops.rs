//! Single raw system calls on paths, sockets and processes.

use std::ffi::CString;

/// A C string of a probe argument.
pub(crate) fn c(s: &str) -> CString {
    CString::new(s).expect("no NUL in probe arguments")
}

/// The calling thread's errno.
pub(crate) fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Formats a raw return value.
pub(crate) fn res(ret: i64) -> String {
    if ret < 0 {
        format!("result=errno:{}", errno())
    } else {
        "result=ok".to_string()
    }
}

pub(crate) fn flags(spec: &str) -> i32 {
    let mut f = 0;
    for part in spec.split('|') {
        f |= match part {
            "rdonly" => libc::O_RDONLY,
            "wronly" => libc::O_WRONLY,
            "rdwr" => libc::O_RDWR,
            "creat" => libc::O_CREAT,
            "trunc" => libc::O_TRUNC,
            "excl" => libc::O_EXCL,
            "nofollow" => libc::O_NOFOLLOW,
            "tmpfile" => libc::O_TMPFILE,
            "append" => libc::O_APPEND,
            "directory" => libc::O_DIRECTORY,
            "path" => libc::O_PATH,
            other => panic!("unknown flag {other}"),
        };
    }
    f | libc::O_CLOEXEC
}

pub(crate) fn sys(nr: libc::c_long, args: &[i64]) -> i64 {
    let a = |i: usize| args.get(i).copied().unwrap_or(0);
    // SAFETY: the probe passes pointers to live CStrings/buffers as the calls expect.
    unsafe { libc::syscall(nr, a(0), a(1), a(2), a(3), a(4), a(5)) }
}

pub(crate) fn p(s: &CString) -> i64 {
    s.as_ptr() as i64
}

pub(crate) const FDCWD: i64 = libc::AT_FDCWD as i64;

/// A unix socket and an `AF_UNIX` address for `path`: `(fd, addr)`.
pub(crate) fn unix_socket(path: &str) -> (i64, libc::sockaddr_un) {
    // SAFETY: sockaddr_un is plain old data.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as u16;
    for (dst, src) in addr.sun_path.iter_mut().zip(path.as_bytes()) {
        *dst = *src as libc::c_char;
    }
    let fd = sys(
        libc::SYS_socket,
        &[libc::AF_UNIX as i64, libc::SOCK_STREAM as i64, 0],
    );
    (fd, addr)
}

/// One path operation; returns the raw result.
pub(crate) fn op(name: &str, args: &[String]) -> i64 {
    let a0 = || c(&args[0]);
    let a1 = || c(&args[1]);
    let num = |i: usize| args[i].parse::<i64>().expect("number");
    let xname = c("user.hutch");
    let xval = b"v";
    let times = [
        libc::timeval {
            tv_sec: 1,
            tv_usec: 0,
        },
        libc::timeval {
            tv_sec: 1,
            tv_usec: 0,
        },
    ];
    let ts = [
        libc::timespec {
            tv_sec: 1,
            tv_nsec: 0,
        },
        libc::timespec {
            tv_sec: 1,
            tv_nsec: 0,
        },
    ];
    let with_fd = |f: &dyn Fn(i64) -> i64| {
        let path = a0();
        let fd = sys(
            libc::SYS_openat,
            &[FDCWD, p(&path), (libc::O_RDONLY | libc::O_CLOEXEC) as i64],
        );
        if fd < 0 {
            return fd;
        }
        let r = f(fd);
        let e = errno();
        sys(libc::SYS_close, &[fd]);
        // Keep the errno of the call, not of close.
        // SAFETY: errno location is thread-local and valid.
        unsafe { *libc::__errno_location() = e };
        r
    };
    match name {
        "open" => sys(libc::SYS_open, &[p(&a1()), flags(&args[0]) as i64, 0o644]),
        "openat" => sys(
            libc::SYS_openat,
            &[FDCWD, p(&a1()), flags(&args[0]) as i64, 0o644],
        ),
        "openat2" => {
            let how: [u64; 3] = [flags(&args[0]) as u64, 0o644, 0];
            sys(
                libc::SYS_openat2,
                &[FDCWD, p(&a1()), how.as_ptr() as i64, 24],
            )
        }
        "creat" => sys(libc::SYS_creat, &[p(&a0()), 0o644]),
        "truncate" => sys(libc::SYS_truncate, &[p(&a0()), 0]),
        "mkdir" => sys(libc::SYS_mkdir, &[p(&a0()), 0o755]),
        "mkdirat" => sys(libc::SYS_mkdirat, &[FDCWD, p(&a0()), 0o755]),
        "mknod" => sys(
            libc::SYS_mknod,
            &[p(&a0()), (libc::S_IFIFO | 0o644) as i64, 0],
        ),
        "mknodat" => sys(
            libc::SYS_mknodat,
            &[FDCWD, p(&a0()), (libc::S_IFIFO | 0o644) as i64, 0],
        ),
        "unlink" => sys(libc::SYS_unlink, &[p(&a0())]),
        "unlinkat" => sys(libc::SYS_unlinkat, &[FDCWD, p(&a0()), 0]),
        "rmdir" => sys(libc::SYS_rmdir, &[p(&a0())]),
        "rename" => sys(libc::SYS_rename, &[p(&a0()), p(&a1())]),
        "renameat" => sys(libc::SYS_renameat, &[FDCWD, p(&a0()), FDCWD, p(&a1())]),
        "renameat2" => sys(libc::SYS_renameat2, &[FDCWD, p(&a0()), FDCWD, p(&a1()), 0]),
        "link" => sys(libc::SYS_link, &[p(&a0()), p(&a1())]),
        "linkat" => sys(libc::SYS_linkat, &[FDCWD, p(&a0()), FDCWD, p(&a1()), 0]),
        "symlink" => sys(libc::SYS_symlink, &[p(&a0()), p(&a1())]),
        "symlinkat" => sys(libc::SYS_symlinkat, &[p(&a0()), FDCWD, p(&a1())]),
        "chmod" => sys(libc::SYS_chmod, &[p(&a0()), 0o700]),
        "fchmodat" => sys(libc::SYS_fchmodat, &[FDCWD, p(&a0()), 0o700]),
        "fchmodat2" => sys(libc::SYS_fchmodat2, &[FDCWD, p(&a0()), 0o700, 0]),
        "fchmod" => with_fd(&|fd| sys(libc::SYS_fchmod, &[fd, 0o700])),
        "chown" => sys(libc::SYS_chown, &[p(&a0()), num(1), num(2)]),
        "lchown" => sys(libc::SYS_lchown, &[p(&a0()), num(1), num(2)]),
        "fchownat" => sys(libc::SYS_fchownat, &[FDCWD, p(&a0()), num(1), num(2), 0]),
        "fchown" => with_fd(&|fd| sys(libc::SYS_fchown, &[fd, num(1), num(2)])),
        "utime" => {
            let t = libc::utimbuf {
                actime: 1,
                modtime: 1,
            };
            sys(libc::SYS_utime, &[p(&a0()), &t as *const _ as i64])
        }
        "utimes" => sys(libc::SYS_utimes, &[p(&a0()), times.as_ptr() as i64]),
        "futimesat" => sys(
            libc::SYS_futimesat,
            &[FDCWD, p(&a0()), times.as_ptr() as i64],
        ),
        "utimensat" => sys(
            libc::SYS_utimensat,
            &[FDCWD, p(&a0()), ts.as_ptr() as i64, 0],
        ),
        "futimens" => with_fd(&|fd| sys(libc::SYS_utimensat, &[fd, 0, ts.as_ptr() as i64, 0])),
        "setxattr" => sys(
            libc::SYS_setxattr,
            &[p(&a0()), p(&xname), xval.as_ptr() as i64, 1, 0],
        ),
        "lsetxattr" => sys(
            libc::SYS_lsetxattr,
            &[p(&a0()), p(&xname), xval.as_ptr() as i64, 1, 0],
        ),
        "fsetxattr" => with_fd(&|fd| {
            sys(
                libc::SYS_fsetxattr,
                &[fd, p(&xname), xval.as_ptr() as i64, 1, 0],
            )
        }),
        "removexattr" => sys(libc::SYS_removexattr, &[p(&a0()), p(&xname)]),
        "lremovexattr" => sys(libc::SYS_lremovexattr, &[p(&a0()), p(&xname)]),
        "fremovexattr" => with_fd(&|fd| sys(libc::SYS_fremovexattr, &[fd, p(&xname)])),
        "setxattrat" => {
            // struct xattr_args { u64 value; u32 size; u32 flags; }
            let xargs: [u64; 2] = [xval.as_ptr() as u64, 1];
            sys(
                463,
                &[FDCWD, p(&a0()), 0, p(&xname), xargs.as_ptr() as i64, 16],
            )
        }
        "removexattrat" => sys(466, &[FDCWD, p(&a0()), 0, p(&xname)]),
        "mount" => {
            let src = c("none");
            let fstype = c("tmpfs");
            sys(libc::SYS_mount, &[p(&src), p(&a0()), p(&fstype), 0, 0])
        }
        "umount2" => sys(libc::SYS_umount2, &[p(&a0()), 0]),
        "chroot" => sys(libc::SYS_chroot, &[p(&a0())]),
        "pivot_root" => sys(libc::SYS_pivot_root, &[p(&a0()), p(&a1())]),
        "bind-unix" => {
            let (fd, addr) = unix_socket(&args[0]);
            let size = std::mem::size_of::<libc::sockaddr_un>() as i64;
            sys(libc::SYS_bind, &[fd, &addr as *const _ as i64, size])
        }
        "clone-untraced" => {
            let pid = sys(
                libc::SYS_clone,
                &[(0x0080_0000 | libc::SIGCHLD) as i64, 0, 0, 0, 0],
            );
            if pid == 0 {
                // SAFETY: child of a raw clone: exit at once.
                unsafe { libc::_exit(0) };
            }
            if pid > 0 {
                // SAFETY: reaping our own child.
                unsafe { libc::waitpid(pid as i32, std::ptr::null_mut(), 0) };
            }
            pid
        }
        "clone3" => sys(libc::SYS_clone3, &[0, 0]),
        "socket-inet" => sys(
            libc::SYS_socket,
            &[libc::AF_INET as i64, libc::SOCK_STREAM as i64, 0],
        ),
        "connect-tcp" => {
            let fd = sys(
                libc::SYS_socket,
                &[libc::AF_INET as i64, libc::SOCK_STREAM as i64, 0],
            );
            let ip: std::net::Ipv4Addr = args[0].parse().expect("ipv4");
            let addr = libc::sockaddr_in {
                sin_family: libc::AF_INET as u16,
                sin_port: num(1).to_string().parse::<u16>().expect("port").to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(ip.octets()),
                },
                sin_zero: [0; 8],
            };
            sys(libc::SYS_connect, &[fd, &addr as *const _ as i64, 16])
        }
        "connect-unix" => {
            let (fd, addr) = unix_socket(&args[0]);
            let size = std::mem::size_of::<libc::sockaddr_un>() as i64;
            sys(libc::SYS_connect, &[fd, &addr as *const _ as i64, size])
        }
        "openat-dirfd" => {
            // `openat-dirfd DIR FLAGS NAME`: NAME relative to an fd of DIR.
            let dir = a0();
            let flags_dir = (libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) as i64;
            let dirfd = sys(libc::SYS_openat, &[FDCWD, p(&dir), flags_dir]);
            let name = c(&args[2]);
            sys(
                libc::SYS_openat,
                &[dirfd, p(&name), flags(&args[1]) as i64, 0o644],
            )
        }
        "fchownat-empty" => with_fd(&|fd| {
            let empty = c("");
            sys(
                libc::SYS_fchownat,
                &[fd, p(&empty), num(1), num(2), libc::AT_EMPTY_PATH as i64],
            )
        }),
        "bind-mount" => {
            let none = c("none");
            let flags = libc::MS_BIND as i64;
            sys(libc::SYS_mount, &[p(&a0()), p(&a1()), p(&none), flags, 0])
        }
        "x32-open" => {
            let flags = (libc::O_WRONLY | libc::O_CREAT) as i64;
            sys(
                0x4000_0000 | libc::SYS_openat,
                &[FDCWD, p(&a0()), flags, 0o644],
            )
        }
        "negative-nr" => sys(-1, &[]),
        "kill0" => sys(libc::SYS_kill, &[num(0), 0]),
        "ptrace-traceme" => sys(libc::SYS_ptrace, &[libc::PTRACE_TRACEME as i64]),
        "open-by-handle" => sys(libc::SYS_open_by_handle_at, &[FDCWD, 0, 0]),
        other => panic!("unknown op {other}"),
    }
}
