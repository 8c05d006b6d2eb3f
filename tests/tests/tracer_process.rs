//! Process trees: a fork storm records one violation per attempt, a violation after execve,
//! threads, leftovers killed at exit (or waited for), and nothing survives a SIGKILLed
//! tracer. As root and as nobody.

use hutch_tests::tracer_harness::{driver_command, snapshot, trace, users, Fixture, User};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

const PROBE: &str = env!("CARGO_BIN_EXE_hutch-probe");
const DRIVER: &str = env!("CARGO_BIN_EXE_hutch-trace");

/// True when `pid` no longer runs: gone, or a zombie nobody reaped (PID 1 here does not reap).
fn dead(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => {
            stat.rsplit(')')
                .next()
                .and_then(|s| s.split_whitespace().next())
                == Some("Z")
        }
    }
}

fn wait_dead(pids: &[u32]) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        if pids.iter().all(|p| dead(*p)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn fork_storm_records_exactly_one_violation_per_attempt() {
    for user in users() {
        let fx = Fixture::new(user);
        let before = snapshot(&fx.root);
        let target = fx.p("out/storm");
        // 1 + 3 + 9 + 27 + 81 = 121 processes, each tries once.
        let t = trace(
            Path::new(DRIVER),
            user,
            &fx.root,
            &["-w", &fx.p("in")],
            &[PROBE, "forktree", "4", "3", &target],
        );
        assert_eq!(t.status, "exited 0");
        let attempts = t.output.iter().filter(|l| l.starts_with("attempt")).count();
        assert_eq!(attempts, 121, "{user:?}");
        assert!(t
            .output
            .iter()
            .filter(|l| l.starts_with("attempt"))
            .all(|l| l == "attempt result=errno:13"));
        assert_eq!(t.violations.len(), 121, "{user:?}");
        assert!(t
            .violations
            .iter()
            .all(|v| v.resolved == target && v.syscall == "openat"));
        let mut pids: Vec<u32> = t.violations.iter().map(|v| v.pid).collect();
        pids.sort_unstable();
        pids.dedup();
        assert_eq!(pids.len(), 121, "one attempt per process");
        assert_eq!(snapshot(&fx.root), before);
    }
}

#[test]
fn violation_after_execve_is_recorded() {
    for user in users() {
        let fx = Fixture::new(user);
        let target = fx.p("out/x");
        let t = trace(
            Path::new(DRIVER),
            user,
            &fx.root,
            &["-w", &fx.p("in")],
            &[PROBE, "exec", "exec", "openat", "wronly|creat", &target],
        );
        assert_eq!(t.results(), ["errno:13"]);
        assert_eq!(t.violations.len(), 1);
        assert_eq!(t.violations[0].resolved, target);
        assert!(!fx.root.join("out/x").exists());
    }
}

#[test]
fn three_threads_denied_once_each_give_three_records() {
    for user in users() {
        let fx = Fixture::new(user);
        let t = trace(
            Path::new(DRIVER),
            user,
            &fx.root,
            &["-w", &fx.p("in")],
            &[PROBE, "threads", "3", &fx.p("out/t")],
        );
        assert_eq!(t.results(), ["errno:13"; 3]);
        assert_eq!(t.violations.len(), 3);
        let mut tids: Vec<u32> = t.violations.iter().map(|v| v.pid).collect();
        tids.sort_unstable();
        tids.dedup();
        assert_eq!(tids.len(), 3, "three different threads");
    }
}

#[test]
fn leftovers_are_killed_and_reported() {
    for user in users() {
        let fx = Fixture::new(user);
        let mark = fx.p("in/mark");
        let t = trace(
            Path::new(DRIVER),
            user,
            &fx.root,
            &["-w", &fx.p("in")],
            &[PROBE, "spawn-sleeper", "30", &mark],
        );
        let sleeper: u32 = t.output[0]
            .strip_prefix("sleeper=")
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(t.status, "exited 0");
        assert_eq!(t.leftovers, [sleeper], "{user:?}");
        assert!(wait_dead(&[sleeper]), "the sleeper still runs");
    }
}

#[test]
fn wait_for_all_waits_like_catbox() {
    let fx = Fixture::new(User::Root);
    let mark = fx.p("in/mark");
    let t = trace(
        Path::new(DRIVER),
        User::Root,
        &fx.root,
        &["--wait-all", "-w", &fx.p("in")],
        &[PROBE, "spawn-sleeper", "1", &mark],
    );
    assert_eq!(t.status, "exited 0");
    assert!(t.leftovers.is_empty());
    assert!(
        fx.root.join("in/mark").exists(),
        "returned before the sleeper finished"
    );
}

#[test]
fn nothing_survives_a_sigkilled_tracer() {
    for user in users() {
        let mut cmd = driver_command(Path::new(DRIVER), user);
        let mut child = cmd
            .args(["--", PROBE, "sleep-tree", "30"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let pids: Vec<u32> = line
            .split_whitespace()
            .map(|kv| kv.split_once('=').unwrap().1.parse().unwrap())
            .collect();
        assert_eq!(pids.len(), 2, "{line}");
        // setpriv execs the driver, so the child's pid is the tracer's.
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(
            wait_dead(&pids),
            "tracees survived the tracer ({user:?}): {pids:?}"
        );
    }
}

#[test]
fn group_stops_realtime_signals_and_posix_spawn_children() {
    for user in users() {
        let fx = Fixture::new(user);
        let target = fx.p("out/spawned");
        for op in ["stopcont", "rtsig"] {
            let t = trace(Path::new(DRIVER), user, &fx.root, &[], &[PROBE, op]);
            assert_eq!(t.results(), ["ok"], "{op} {user:?}");
            assert_eq!(t.status, "exited 0");
        }
        let t = trace(
            Path::new(DRIVER),
            user,
            &fx.root,
            &["-w", &fx.p("in")],
            &[PROBE, "spawn", PROBE, "openat", "wronly|creat", &target],
        );
        assert_eq!(t.results(), ["errno:13"]);
        assert_eq!(t.output.last().map(String::as_str), Some("child=0"));
        assert_eq!(t.violations.len(), 1);
        assert!(!fx.root.join("out/spawned").exists());
    }
}
