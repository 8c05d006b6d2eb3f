//! Process trees: a fork storm records one violation per attempt, a violation after execve,
//! threads, leftovers killed at exit (a double-forked daemon included) or waited for, and
//! nothing survives a SIGKILLed tracer (a fork chain included). As root and as nobody, under
//! both engines.

use hutch_tests::both_engines;
use hutch_tests::tracer_harness::{
    current_engine, driver_command, snapshot, trace, tracer_pid, users, wait_dead, Engine, Fixture,
    User,
};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

const PROBE: &str = env!("CARGO_BIN_EXE_hutch-probe");
const DRIVER: &str = env!("CARGO_BIN_EXE_hutch-trace");

both_engines!(fork_storm_records_exactly_one_violation_per_attempt);
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

both_engines!(violation_after_execve_is_recorded);
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

both_engines!(three_threads_denied_once_each_give_three_records);
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

both_engines!(leftovers_are_killed_and_reported);
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

both_engines!(a_double_forked_daemon_is_a_leftover_and_is_killed);
fn a_double_forked_daemon_is_a_leftover_and_is_killed() {
    // fork, setsid, fork, the middle exits: the daemon is an orphan in a session of its own,
    // ignores SIGHUP/SIGINT/SIGTERM/SIGQUIT and holds none of the command's streams.
    for user in users() {
        let fx = Fixture::new(user);
        let t = trace(
            Path::new(DRIVER),
            user,
            &fx.root,
            &[],
            &[PROBE, "daemonize", "30"],
        );
        assert_eq!(t.status, "exited 0", "{user:?}");
        let [middle, daemon] = pid_values(&t.output[0])[..] else {
            panic!("{:?}", t.output);
        };
        assert_eq!(
            t.leftovers,
            [daemon],
            "the middle {middle} was reaped ({user:?})"
        );
        assert!(wait_dead(&[daemon]), "the daemon still runs ({user:?})");
    }
}

both_engines!(wait_for_all_waits_like_catbox);
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

/// The pids of a probe line `name=PID name=PID ...`.
fn pid_values(line: &str) -> Vec<u32> {
    line.split_whitespace()
        .map(|kv| {
            kv.split_once('=')
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or_else(|| panic!("not a pid list: {line}"))
        })
        .collect()
}

/// The tracer as the tracee's `/proc/PID/status` names it on the current engine: the ptrace
/// engine's tracer is `tracer` itself; the notify engine ptraces nothing. A tracee under the
/// wrong engine fails this (the killed tracer's own report never comes).
fn expected_tracer_pid(tracer: u32) -> u32 {
    match current_engine() {
        Engine::Ptrace => tracer,
        _ => 0,
    }
}

both_engines!(nothing_survives_a_sigkilled_tracer);
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
        let pids = pid_values(&line);
        assert_eq!(pids.len(), 2, "{line}");
        // setpriv execs the driver, so the child's pid is the tracer's.
        assert_eq!(
            tracer_pid(pids[1]),
            Some(expected_tracer_pid(child.id())),
            "{user:?}"
        );
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(
            wait_dead(&pids),
            "tracees survived the tracer ({user:?}): {pids:?}"
        );
    }
}

both_engines!(a_fork_chain_does_not_outlive_a_sigkilled_tracer);
fn a_fork_chain_does_not_outlive_a_sigkilled_tracer() {
    // The tree keeps forking while the tracer dies: each link forks the next and exits, so
    // the pids keep changing and every new process is an orphan. The probe's subreaper
    // (this test runner must not become one) collects the orphans and says which outlive
    // the tracer.
    for user in users() {
        let driver = driver_command(Path::new(DRIVER), user);
        let mut child = Command::new(PROBE)
            .arg("subreaper")
            .arg(driver.get_program())
            .args(driver.get_args())
            .args(["--", PROBE, "fork-chain", "20"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut next = || {
            lines
                .next()
                .unwrap_or_else(|| panic!("the subreaper ended early ({user:?})"))
                .unwrap()
        };
        let (mut tracer, mut main) = (None, None);
        while tracer.is_none() || main.is_none() {
            let line = next();
            match line.split_once('=') {
                Some(("tracer", pid)) => tracer = pid.parse::<u32>().ok(),
                Some(("main", pid)) => main = pid.parse::<u32>().ok(),
                _ => panic!("unexpected line before the chain started ({user:?}): {line}"),
            }
        }
        let (tracer, main) = (tracer.unwrap(), main.unwrap());
        assert_eq!(
            tracer_pid(main),
            Some(expected_tracer_pid(tracer)),
            "{user:?}"
        );
        // Let the chain run a few hundred generations, then kill the tracer.
        std::thread::sleep(std::time::Duration::from_millis(300));
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(tracer as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        let (mut status, mut survivors) = (None, None);
        while survivors.is_none() {
            let line = next();
            if let Some(s) = line.strip_prefix("tracer_status=") {
                status = Some(s.to_string());
            } else if let Some(s) = line.strip_prefix("survivors=") {
                survivors = Some(s.to_string());
            }
        }
        assert!(child.wait().unwrap().success());
        assert_eq!(status.as_deref(), Some("signaled 9"), "{user:?}");
        assert_eq!(
            survivors.as_deref(),
            Some("none"),
            "processes outlived the tracer ({user:?})"
        );
    }
}

both_engines!(group_stops_realtime_signals_and_posix_spawn_children);
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
