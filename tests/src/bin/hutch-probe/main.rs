//! `hutch-probe OP ARGS...`: performs raw system calls chosen by argv and prints
//! machine-checkable results (`result=ok`, `result=errno:N`, `key=value`).
//!
//! Used by the tracer tests (under the tracer, as root and as nobody) and the benches.
#![allow(unsafe_code)]

mod attacks;
mod ops;
mod tree;

use std::sync::atomic::{AtomicBool, Ordering};

use attacks::{forktree, int80_open, own_listener_chmod, race, uring_open};
use ops::{c, flags, op, p, res, sys, FDCWD};

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
        "own-listener-chmod" => own_listener_chmod(&rest[0]),
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
        "daemonize" => tree::daemonize(rest[0].parse().expect("secs")),
        "fork-chain" => tree::fork_chain(rest[0].parse().expect("secs")),
        "subreaper" => tree::subreaper(rest),
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
