//! `hutch-probe OP ARGS...`: performs raw system calls chosen by argv and prints
//! machine-checkable results (`result=ok`, `result=errno:N`, `key=value`).
//!
//! Used by the tracer tests (under the tracer, as root and as nobody) and the benches.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

fn c(s: &str) -> CString {
    CString::new(s).expect("no NUL in probe arguments")
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Formats a raw return value.
fn res(ret: i64) -> String {
    if ret < 0 {
        format!("result=errno:{}", errno())
    } else {
        "result=ok".to_string()
    }
}

fn flags(spec: &str) -> i32 {
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
            other => panic!("unknown flag {other}"),
        };
    }
    f | libc::O_CLOEXEC
}

fn sys(nr: libc::c_long, args: &[i64]) -> i64 {
    let a = |i: usize| args.get(i).copied().unwrap_or(0);
    // SAFETY: the probe passes pointers to live CStrings/buffers as the calls expect.
    unsafe { libc::syscall(nr, a(0), a(1), a(2), a(3), a(4), a(5)) }
}

fn p(s: &CString) -> i64 {
    s.as_ptr() as i64
}

const FDCWD: i64 = libc::AT_FDCWD as i64;

/// A unix socket and an `AF_UNIX` address for `path`: `(fd, addr)`.
fn unix_socket(path: &str) -> (i64, libc::sockaddr_un) {
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
fn op(name: &str, args: &[String]) -> i64 {
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
        "ptrace-traceme" => sys(libc::SYS_ptrace, &[libc::PTRACE_TRACEME as i64]),
        "open-by-handle" => sys(libc::SYS_open_by_handle_at, &[FDCWD, 0, 0]),
        other => panic!("unknown op {other}"),
    }
}

/// i386 `open(path, O_WRONLY|O_CREAT, 0644)` through `int 0x80` from 64-bit code.
fn int80_open(path: &str) -> i64 {
    // SAFETY: a fresh anonymous mapping below 4 GiB holds the path for the 32-bit ABI.
    unsafe {
        let mem = libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_32BIT,
            -1,
            0,
        );
        assert_ne!(mem, libc::MAP_FAILED);
        std::ptr::copy_nonoverlapping(path.as_ptr(), mem.cast::<u8>(), path.len());
        let mut ret: i64 = 5; // __NR_open on i386
        std::arch::asm!(
            "xchg rbx, {path}",
            "int 0x80",
            "xchg rbx, {path}",
            path = inout(reg) mem as u64 => _,
            inout("rax") ret,
            in("rcx") (libc::O_WRONLY | libc::O_CREAT) as u64,
            in("rdx") 0o644u64,
        );
        ret
    }
}

/// Raw io_uring (no liburing): one IORING_OP_OPENAT of `path` for writing.
fn uring_open(path: &str) -> i64 {
    let mut params = [0u32; 30]; // struct io_uring_params is 120 bytes
    let ring = sys(libc::SYS_io_uring_setup, &[4, params.as_mut_ptr() as i64]);
    if ring < 0 {
        return ring;
    }
    let (sq_entries, cq_entries) = (params[0], params[1]);
    let sq_off = &params[10..20]; // head, tail, ring_mask, ring_entries, flags, dropped, array, resv1, user_addr
    let cq_off = &params[20..30]; // head, tail, ring_mask, ring_entries, overflow, cqes, flags, resv1
    let sq_size = sq_off[6] as usize + sq_entries as usize * 4;
    let cq_size = cq_off[5] as usize + cq_entries as usize * 16;
    let cpath = c(path);
    // SAFETY: the mappings follow io_uring_setup's offsets; the probe is single-threaded here.
    unsafe {
        let map = |len: usize, off: i64| {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                ring as i32,
                off,
            )
            .cast::<u8>()
        };
        let sq = map(sq_size, 0);
        let cq = map(cq_size, 0x800_0000);
        let sqes = map(sq_entries as usize * 64, 0x1000_0000);
        let sqe = std::slice::from_raw_parts_mut(sqes, 64);
        sqe.fill(0);
        sqe[0] = 18; // IORING_OP_OPENAT
        sqe[4..8].copy_from_slice(&libc::AT_FDCWD.to_ne_bytes()); // fd
        sqe[8..16].copy_from_slice(&0o644u64.to_ne_bytes()); // off = mode
        sqe[16..24].copy_from_slice(&(cpath.as_ptr() as u64).to_ne_bytes()); // addr
        sqe[28..32].copy_from_slice(&((libc::O_WRONLY | libc::O_CREAT) as u32).to_ne_bytes());
        let tail = sq.add(sq_off[1] as usize).cast::<u32>();
        let mask = *sq.add(sq_off[2] as usize).cast::<u32>();
        let array = sq.add(sq_off[6] as usize).cast::<u32>();
        let t = tail.read_volatile();
        *array.add((t & mask) as usize) = 0;
        tail.write_volatile(t + 1);
        let entered = sys(libc::SYS_io_uring_enter, &[ring, 1, 1, 1, 0, 0]); // GETEVENTS
        if entered < 0 {
            return entered;
        }
        let cqe = cq.add(cq_off[5] as usize);
        let res = cqe.add(8).cast::<i32>().read_volatile();
        if res < 0 {
            *libc::__errno_location() = -res;
            return -1;
        }
        i64::from(res)
    }
}

/// A thread flips a path buffer between an allowed and a denied path while the main thread
/// opens it `n` times; counts opens whose fd resolves outside the allowed directory.
fn race(allowed: &str, denied: &str, n: usize) {
    let width = allowed.len().max(denied.len()) + 1;
    let mut a = allowed.as_bytes().to_vec();
    a.resize(width, 0);
    let mut d = denied.as_bytes().to_vec();
    d.resize(width, 0);
    let buf: &'static mut [u8] = Box::leak(a.clone().into_boxed_slice());
    let addr = buf.as_mut_ptr() as usize;
    let stop = Arc::new(AtomicBool::new(false));
    let flipper = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut flip = false;
            while !stop.load(Ordering::Relaxed) {
                let src = if flip { &a } else { &d };
                // SAFETY: deliberate racy writes into a leaked buffer: that is the attack.
                unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), addr as *mut u8, width) };
                flip = !flip;
            }
        })
    };
    let allowed_dir = std::path::Path::new(allowed)
        .parent()
        .expect("parent")
        .to_path_buf();
    let (mut opened, mut escaped, mut eacces) = (0, 0, 0);
    for _ in 0..n {
        let fd = sys(
            libc::SYS_openat,
            &[
                FDCWD,
                addr as i64,
                (libc::O_WRONLY | libc::O_CREAT | libc::O_CLOEXEC) as i64,
                0o644,
            ],
        );
        if fd < 0 && errno() == libc::EACCES {
            eacces += 1;
        }
        if fd >= 0 {
            opened += 1;
            let target = std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap_or_default();
            if !target.starts_with(&allowed_dir) {
                escaped += 1;
            }
            sys(libc::SYS_close, &[fd]);
        }
    }
    stop.store(true, Ordering::Relaxed);
    flipper.join().expect("flipper");
    println!("eacces={eacces} opened={opened} escaped={escaped}");
}

/// Every process of a fork tree (`width` children per level, `depth` levels) tries one write.
fn forktree(depth: u32, width: u32, path: &str) {
    let cpath = c(path);
    let flags = (libc::O_WRONLY | libc::O_CREAT | libc::O_CLOEXEC) as i64;
    let mut level = 0;
    'outer: while level < depth {
        let mut kids = Vec::new();
        for _ in 0..width {
            // SAFETY: the probe is single-threaded; the child continues the loop.
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                level += 1;
                continue 'outer;
            }
            kids.push(pid);
        }
        let r = sys(libc::SYS_openat, &[FDCWD, p(&cpath), flags, 0o644]);
        println!("attempt {}", res(r));
        for kid in kids {
            // SAFETY: reaping our own child.
            unsafe { libc::waitpid(kid, std::ptr::null_mut(), 0) };
        }
        // SAFETY: leave without running the rest of main in a forked child.
        unsafe { libc::_exit(0) };
    }
    let r = sys(libc::SYS_openat, &[FDCWD, p(&cpath), flags, 0o644]);
    println!("attempt {}", res(r));
    use std::io::Write;
    let _ = std::io::stdout().flush();
    // SAFETY: leaf processes leave at once.
    unsafe { libc::_exit(0) };
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = argv.split_first() else {
        eprintln!("usage: hutch-probe OP ARGS...");
        std::process::exit(2);
    };
    match cmd.as_str() {
        "exit" => std::process::exit(rest[0].parse().expect("code")),
        "signal" => {
            let sig = rest[0].parse().expect("signal");
            // SAFETY: restore the default action (std handles SIGSEGV), then raise it.
            unsafe {
                libc::signal(sig, libc::SIG_DFL);
                libc::raise(sig);
            }
            std::process::exit(99);
        }
        "exec" => {
            // execve ourselves with the remaining arguments.
            let exe = std::env::current_exe().expect("exe");
            let err = std::os::unix::process::CommandExt::exec(
                std::process::Command::new(exe).args(rest),
            );
            eprintln!("exec failed: {err}");
            std::process::exit(98);
        }
        "int80-open" => println!("{}", res(int80_open(&rest[0]))),
        "uring-open" => println!("{}", res(uring_open(&rest[0]))),
        "race" => race(&rest[0], &rest[1], rest[2].parse().expect("n")),
        "forktree" => forktree(
            rest[0].parse().expect("depth"),
            rest[1].parse().expect("width"),
            &rest[2],
        ),
        "threads" => {
            let n: usize = rest[0].parse().expect("n");
            let handles: Vec<_> = (0..n)
                .map(|_| {
                    let path = rest[1].clone();
                    std::thread::spawn(move || res(op("openat", &["wronly|creat".into(), path])))
                })
                .collect();
            for h in handles {
                println!("{}", h.join().expect("thread"));
            }
        }
        "spawn-sleeper" => {
            // SAFETY: single-threaded fork; the child only sleeps.
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                std::thread::sleep(std::time::Duration::from_secs(
                    rest[0].parse().expect("secs"),
                ));
                // `spawn-sleeper SECS PATH`: leave a mark when the sleep ends.
                if let Some(path) = rest.get(1) {
                    let _ = std::fs::write(path, b"done");
                }
                // SAFETY: leave the forked child.
                unsafe { libc::_exit(0) };
            }
            println!("sleeper={pid}");
        }
        "sleep-tree" => {
            let secs: u64 = rest[0].parse().expect("secs");
            // SAFETY: single-threaded fork; the child only sleeps.
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                std::thread::sleep(std::time::Duration::from_secs(secs));
                // SAFETY: leave the forked child.
                unsafe { libc::_exit(0) };
            }
            println!("child={pid} parent={}", std::process::id());
            std::thread::sleep(std::time::Duration::from_secs(secs));
        }
        "stopcont" => {
            // A child stops itself (group-stop); the parent continues it and checks it ends.
            // SAFETY: single-threaded fork.
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                // SAFETY: stop ourselves, then leave the forked child.
                unsafe {
                    libc::raise(libc::SIGSTOP);
                    libc::_exit(7);
                }
            }
            let mut status = 0;
            // SAFETY: waiting for our own child.
            unsafe { libc::waitpid(pid, &mut status, libc::WUNTRACED) };
            let stopped = libc::WIFSTOPPED(status);
            // SAFETY: continuing and reaping our own child.
            unsafe {
                libc::kill(pid, libc::SIGCONT);
                libc::waitpid(pid, &mut status, 0);
            }
            let exited = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 7;
            println!("result={}", if stopped && exited { "ok" } else { "bad" });
        }
        "rtsig" => {
            static GOT: AtomicBool = AtomicBool::new(false);
            extern "C" fn on_signal(_: libc::c_int) {
                GOT.store(true, Ordering::SeqCst);
            }
            let sig = libc::SIGRTMIN() + 2;
            // SAFETY: an async-signal-safe handler (one atomic store), then raise it.
            unsafe {
                libc::signal(sig, on_signal as *const () as libc::sighandler_t);
                libc::raise(sig);
            }
            println!(
                "result={}",
                if GOT.load(Ordering::SeqCst) {
                    "ok"
                } else {
                    "bad"
                }
            );
        }
        "spawn" => {
            // std::process::Command: posix_spawn (clone3 with a clone fallback, CLONE_VFORK).
            let status = std::process::Command::new(&rest[0])
                .args(&rest[1..])
                .status()
                .expect("spawn");
            println!("child={}", status.code().unwrap_or(-1));
        }
        "loop" => {
            let n: u64 = rest[0].parse().expect("n");
            let start = std::time::Instant::now();
            let path = c(&rest[2]);
            let f = flags(&rest[1]) as i64;
            for _ in 0..n {
                let fd = sys(libc::SYS_openat, &[FDCWD, p(&path), f, 0o644]);
                if fd >= 0 {
                    sys(libc::SYS_close, &[fd]);
                }
            }
            println!(
                "ns_per_op={}",
                start.elapsed().as_nanos() / u128::from(n.max(1))
            );
        }
        "seq" => {
            // Several ops separated by `--`: `seq OP A.. -- OP B..`.
            for group in rest.split(|a| a == "--") {
                if let Some((name, args)) = group.split_first() {
                    println!("{}", res(op(name, args)));
                }
            }
        }
        name => println!("{}", res(op(name, rest))),
    }
}
