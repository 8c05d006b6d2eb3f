//! Process trees that try to outlive the tracer: a double-forked daemon, a fork chain, and
//! the subreaper that watches them from outside.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::ops::errno;

/// Forks (single-threaded caller); the child side gets 0.
fn fork() -> libc::pid_t {
    // SAFETY: every caller is single-threaded at this point.
    unsafe { libc::fork() }
}

/// Leaves a forked child without running the rest of `main`.
fn leave(code: i32) -> ! {
    let _ = std::io::stdout().flush();
    // SAFETY: _exit ends the process; nothing is left to unwind.
    unsafe { libc::_exit(code) }
}

/// The classic daemon: fork, `setsid`, fork again, the middle process exits, and the
/// grandchild ignores the polite signals, drops its streams and sleeps `secs`. The main
/// process reaps the middle one and prints `middle=PID daemon=PID`.
pub(crate) fn daemonize(secs: u64) {
    let mut fds = [0; 2];
    // SAFETY: fds has room for the two descriptors.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    let middle = fork();
    if middle == 0 {
        // SAFETY: plain calls on our own process and descriptors.
        unsafe { libc::setsid() };
        if fork() == 0 {
            // SAFETY: ignoring signals, redirecting our own streams, writing a pid we own.
            unsafe {
                for sig in [libc::SIGHUP, libc::SIGINT, libc::SIGTERM, libc::SIGQUIT] {
                    libc::signal(sig, libc::SIG_IGN);
                }
                let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
                for fd in 0..3 {
                    libc::dup2(null, fd);
                }
                let pid = libc::getpid();
                libc::write(fds[1], (&raw const pid).cast(), 4);
                libc::close(fds[1]);
            }
            std::thread::sleep(Duration::from_secs(secs));
            leave(0);
        }
        leave(0);
    }
    // SAFETY: closing our write end, reaping our own child, reading into a local.
    let daemon = unsafe {
        libc::close(fds[1]);
        libc::waitpid(middle, std::ptr::null_mut(), 0);
        let mut pid: libc::pid_t = 0;
        let n = libc::read(fds[0], (&raw mut pid).cast(), 4);
        assert_eq!(n, 4, "the daemon did not report its pid");
        pid
    };
    println!("middle={middle} daemon={daemon}");
}

/// The main process prints `main=PID` and sleeps `secs`, while a chain of processes keeps
/// forking: each forks its successor and exits at once, so the tree's pids keep changing and
/// every new process is an orphan. The chain stops by itself after `secs`, its last link
/// printing `generations=N`.
pub(crate) fn fork_chain(secs: u64) {
    let until = Instant::now() + Duration::from_secs(secs);
    if fork() == 0 {
        let mut generation = 0u64;
        while Instant::now() < until {
            match fork() {
                0 => generation += 1,
                pid if pid > 0 => leave(0),
                _ => std::thread::sleep(Duration::from_millis(1)), // EAGAIN: try again
            }
        }
        println!("generations={generation}");
        leave(0);
    }
    println!("main={}", std::process::id());
    let _ = std::io::stdout().flush();
    std::thread::sleep(Duration::from_secs(secs));
}

/// The children of this process, from `/proc` (any thread's children).
fn children() -> Vec<u32> {
    let me = std::process::id().to_string();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    let mut kids: Vec<u32> = tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|s| {
            s.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect();
    kids.retain(|p| p.to_string() != me);
    kids
}

/// Reaps every child that has ended; true when no child is left.
fn reap_all() -> bool {
    loop {
        // SAFETY: reaping our own children without blocking.
        let pid = unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) };
        if pid > 0 {
            continue;
        }
        return pid < 0 && errno() == libc::ECHILD;
    }
}

/// `subreaper CMD ARGS...`: becomes a child subreaper, runs CMD (printing `tracer=PID`), reaps
/// everything until CMD ends, then gives its orphans 5 s to end and prints
/// `tracer_status=...` and `survivors=none` or `survivors=PID,...` (which it then kills).
pub(crate) fn subreaper(cmd: &[String]) {
    // SAFETY: a prctl on this process, before any child exists.
    let set = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    assert_eq!(set, 0, "PR_SET_CHILD_SUBREAPER");
    // Reaped below by `waitpid(-1)` with the orphans, not by `Child::wait`.
    #[allow(clippy::zombie_processes)]
    let child = std::process::Command::new(&cmd[0])
        .args(&cmd[1..])
        .spawn()
        .expect("spawn the tracer");
    let tracer = child.id() as libc::pid_t;
    println!("tracer={tracer}");
    let _ = std::io::stdout().flush();
    let mut status = 0;
    loop {
        let mut st = 0;
        // SAFETY: reaping our own children (orphans included) until the tracer ends.
        let pid = unsafe { libc::waitpid(-1, &mut st, 0) };
        if pid == tracer {
            status = st;
            break;
        }
        if pid < 0 && errno() != libc::EINTR {
            break;
        }
    }
    let ended = if libc::WIFSIGNALED(status) {
        format!("signaled {}", libc::WTERMSIG(status))
    } else {
        format!("exited {}", libc::WEXITSTATUS(status))
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut clean = reap_all();
    while !clean && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
        clean = reap_all();
    }
    let survivors = if clean {
        "none".to_string()
    } else {
        let kids = children();
        let list: Vec<String> = kids.iter().map(u32::to_string).collect();
        let list = if list.is_empty() {
            vec!["unlisted".to_string()]
        } else {
            list
        };
        // Clean up after a failure: kill and reap until nothing is left (a chain keeps
        // handing its orphans to us).
        let deadline = Instant::now() + Duration::from_secs(10);
        while !reap_all() && Instant::now() < deadline {
            for kid in children() {
                // SAFETY: killing our own child.
                unsafe { libc::kill(kid as libc::pid_t, libc::SIGKILL) };
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        list.join(",")
    };
    // The reader may be gone (a test that failed early): no panic over a closed pipe.
    let mut out = std::io::stdout();
    let _ = writeln!(out, "tracer_status={ended}\nsurvivors={survivors}");
}
