//! Escapes that beat catbox: i386 `int 0x80`, io_uring, a thread racing the path buffer,
//! untraced clones, handles, ptrace, a seccomp listener of the tracee's own. As root and as nobody, under both engines.

use hutch_tests::both_engines;
use hutch_tests::tracer_harness::{snapshot, trace, users, Fixture, User};
use std::path::Path;

const PROBE: &str = env!("CARGO_BIN_EXE_hutch-probe");
const DRIVER: &str = env!("CARGO_BIN_EXE_hutch-trace");

both_engines!(int80_open_is_killed_and_writes_nothing);
fn int80_open_is_killed_and_writes_nothing() {
    for user in users() {
        let fx = Fixture::new(user);
        let before = snapshot(&fx.root);
        let t = trace(
            Path::new(DRIVER),
            user,
            &fx.root,
            &["-w", &fx.p("in")],
            &[PROBE, "int80-open", &fx.p("out/i")],
        );
        assert_eq!(t.status, format!("signaled {}", libc::SIGSYS), "{user:?}");
        assert_eq!(snapshot(&fx.root), before);
        // Even a 32-bit open *inside* the whitelist is refused: no foreign ABI runs.
        let t = trace(
            Path::new(DRIVER),
            user,
            &fx.root,
            &["-w", &fx.p("in")],
            &[PROBE, "int80-open", &fx.p("in/i")],
        );
        assert_eq!(t.status, format!("signaled {}", libc::SIGSYS));
        assert!(!fx.root.join("in/i").exists());
    }
}

both_engines!(x32_calls_are_killed_and_negative_numbers_answer_enosys);
fn x32_calls_are_killed_and_negative_numbers_answer_enosys() {
    for user in users() {
        let fx = Fixture::new(user);
        let t = trace(
            Path::new(DRIVER),
            user,
            &fx.root,
            &["-w", &fx.p("in")],
            &[PROBE, "x32-open", &fx.p("in/x")],
        );
        assert_eq!(t.status, format!("signaled {}", libc::SIGSYS), "{user:?}");
        assert!(!fx.root.join("in/x").exists());
        let t = trace(
            Path::new(DRIVER),
            user,
            &fx.root,
            &[],
            &[PROBE, "negative-nr"],
        );
        assert_eq!(t.results(), [format!("errno:{}", libc::ENOSYS)]);
    }
}

both_engines!(io_uring_open_is_refused);
fn io_uring_open_is_refused() {
    for user in users() {
        let fx = Fixture::new(user);
        let before = snapshot(&fx.root);
        let t = trace(
            Path::new(DRIVER),
            user,
            &fx.root,
            &["-w", &fx.p("in")],
            &[PROBE, "uring-open", &fx.p("out/u")],
        );
        assert_eq!(t.results(), [format!("errno:{}", libc::ENOSYS)]);
        assert_eq!(snapshot(&fx.root), before);
    }
}

both_engines!(a_listener_of_the_tracees_own_is_refused);
/// A tracee's own USER_NOTIF filter would take precedence over the tracer's and could let a
/// chmod outside the whitelist run unseen (Landlock does not cover chmod): installing one with
/// a listener is refused, and the file keeps its mode.
fn a_listener_of_the_tracees_own_is_refused() {
    for user in users() {
        let fx = Fixture::new(user);
        let before = snapshot(&fx.root);
        let t = trace(
            Path::new(DRIVER),
            user,
            &fx.root,
            &["-w", &fx.p("in")],
            &[PROBE, "own-listener-chmod", &fx.p("out/f")],
        );
        assert_eq!(t.results(), [format!("errno:{}", libc::EPERM)], "{user:?}");
        assert_eq!(t.status, "exited 0");
        assert_eq!(snapshot(&fx.root), before, "{user:?}");
    }
}

both_engines!(racing_thread_gets_nothing_outside);
fn racing_thread_gets_nothing_outside() {
    for user in users() {
        let fx = Fixture::new(user);
        let before_out = snapshot(&fx.root.join("out"));
        let t = trace(
            Path::new(DRIVER),
            user,
            &fx.root,
            &["-w", &fx.p("in")],
            &[PROBE, "race", &fx.p("in/r"), &fx.p("out/r"), "20000"],
        );
        assert_eq!(t.status, "exited 0");
        let line = t
            .output
            .iter()
            .find(|l| l.starts_with("eacces="))
            .expect("race output");
        assert!(line.ends_with("escaped=0"), "{user:?}: {line}");
        let eacces: usize = line[7..line.find(' ').unwrap()].parse().unwrap();
        // Denials the tracer recorded, plus opens it allowed on the inside path that the
        // kernel then saw outside and Landlock refused.
        eprintln!(
            "race ({user:?}): {line}, {} recorded by the tracer, {} refused by Landlock after the check",
            t.violations.len(),
            eacces.saturating_sub(t.violations.len())
        );
        assert!(!t.violations.is_empty(), "the flipper never won a check");
        assert!(eacces >= t.violations.len());
        assert!(!fx.root.join("out/r").exists());
        assert_eq!(snapshot(&fx.root.join("out")), before_out);
        // Every denial is of a path outside the whitelist: the denied path, or a torn mix
        // of both that the tracer read while the flipper was half-way through a copy.
        for v in &t.violations {
            let resolved = Path::new(&v.resolved);
            assert!(
                resolved.starts_with(&fx.root) && !resolved.starts_with(fx.root.join("in")),
                "{user:?}: {v:?}"
            );
        }
    }
}

both_engines!(untraced_clones_handles_and_ptrace_are_refused);
fn untraced_clones_handles_and_ptrace_are_refused() {
    for user in users() {
        let fx = Fixture::new(user);
        let t = trace(
            Path::new(DRIVER),
            user,
            &fx.root,
            &[],
            &[
                PROBE,
                "seq",
                "clone-untraced",
                "--",
                "clone3",
                "--",
                "open-by-handle",
                "--",
                "ptrace-traceme",
            ],
        );
        let (eperm, enosys) = (
            format!("errno:{}", libc::EPERM),
            format!("errno:{}", libc::ENOSYS),
        );
        assert_eq!(
            t.results(),
            [
                eperm.as_str(),
                enosys.as_str(),
                eperm.as_str(),
                eperm.as_str()
            ]
        );
    }
}

both_engines!(signals_to_processes_outside_the_sandbox_are_refused);
fn signals_to_processes_outside_the_sandbox_are_refused() {
    let mut outsider = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let pid = outsider.id().to_string();
    for user in users() {
        let fx = Fixture::new(user);
        let t = trace(
            Path::new(DRIVER),
            user,
            &fx.root,
            &[],
            &[PROBE, "kill0", &pid],
        );
        let abi: u32 = t
            .landlock
            .split("abi: ")
            .nth(1)
            .and_then(|rest| rest.trim_end_matches(" }").parse().ok())
            .unwrap_or(0);
        if abi >= 6 {
            assert_eq!(t.results(), [format!("errno:{}", libc::EPERM)], "{user:?}");
        } else {
            eprintln!("Landlock signal scoping needs ABI 6: {}", t.landlock);
        }
    }
    // Without Landlock (collect_only) root may signal it: the probe itself works.
    let fx = Fixture::new(User::Root);
    let t = trace(
        Path::new(DRIVER),
        User::Root,
        &fx.root,
        &["--collect-only"],
        &[PROBE, "kill0", &pid],
    );
    assert_eq!(t.results(), ["ok"]);
    outsider.kill().unwrap();
    outsider.wait().unwrap();
}
