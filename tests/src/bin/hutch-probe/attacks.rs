//! Escape attempts and process-tree scenarios.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::ops::{c, errno, p, res, sys, FDCWD};

/// i386 `open(path, O_WRONLY|O_CREAT, 0644)` through `int 0x80` from 64-bit code.
pub(crate) fn int80_open(path: &str) -> i64 {
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
pub(crate) fn uring_open(path: &str) -> i64 {
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
pub(crate) fn race(allowed: &str, denied: &str, n: usize) {
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
pub(crate) fn forktree(depth: u32, width: u32, path: &str) {
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

/// Installs a filter of our own that sends `fchmodat` to our own listener, answers it with
/// CONTINUE from a thread, and chmods `path` 0777. Prints the install's result, then (only if
/// it worked) the chmod's. Under hutch the install must be refused: a newer USER_NOTIF filter
/// takes precedence over the tracer's, so the tracer would never see the chmod.
pub(crate) fn own_listener_chmod(path: &str) {
    const RET_USER_NOTIF: u32 = 0x7fc0_0000;
    let ld_nr = libc::sock_filter {
        code: (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16,
        jt: 0,
        jf: 0,
        k: 0,
    };
    let is_fchmodat = libc::sock_filter {
        code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
        jt: 0,
        jf: 1,
        k: libc::SYS_fchmodat as u32,
    };
    let ret = |k: u32| libc::sock_filter {
        code: (libc::BPF_RET | libc::BPF_K) as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let prog = [
        ld_nr,
        is_fchmodat,
        ret(RET_USER_NOTIF),
        ret(libc::SECCOMP_RET_ALLOW),
    ];
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_ptr() as *mut libc::sock_filter,
    };
    let listener = sys(
        libc::SYS_seccomp,
        &[
            libc::SECCOMP_SET_MODE_FILTER as i64,
            libc::SECCOMP_FILTER_FLAG_NEW_LISTENER as i64,
            &fprog as *const libc::sock_fprog as i64,
        ],
    );
    println!("{}", res(listener));
    if listener < 0 {
        return;
    }
    let answer = std::thread::spawn(move || {
        // SAFETY: zeroed notification and response structs, as the kernel requires.
        unsafe {
            let mut notif: libc::seccomp_notif = std::mem::zeroed();
            if libc::ioctl(listener as i32, libc::SECCOMP_IOCTL_NOTIF_RECV, &mut notif) == 0 {
                let resp = libc::seccomp_notif_resp {
                    id: notif.id,
                    val: 0,
                    error: 0,
                    flags: libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32,
                };
                libc::ioctl(listener as i32, libc::SECCOMP_IOCTL_NOTIF_SEND, &resp);
            }
        }
    });
    let path = c(path);
    println!(
        "{}",
        res(sys(libc::SYS_fchmodat, &[FDCWD, p(&path), 0o777]))
    );
    let _ = answer.join();
}
