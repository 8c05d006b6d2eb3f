//! Exit status: the command's own code, 128+N for signals, 125/126/127 for hutch's errors, each
//! error one line on stderr.
mod common;
use common::*;

#[test]
fn command_codes_pass_through_on_every_backend() {
    let dir = tempfile::tempdir().unwrap();
    for backend in available_backends() {
        for code in [0, 3, 150] {
            let r = output(
                hutch()
                    .current_dir(dir.path())
                    .arg("run")
                    .args(backend_args(&backend))
                    .args(["--", "sh", "-c", &format!("exit {code}")]),
            );
            assert_eq!(r.code, code, "{backend}: {r:?}");
            assert!(r.hutch_lines().is_empty(), "{backend}: {r:?}");
        }
    }
}

#[test]
fn deaths_by_signal_are_128_plus_n() {
    let dir = tempfile::tempdir().unwrap();
    for backend in available_backends() {
        for (sig, n) in [("TERM", 15), ("KILL", 9), ("USR1", 10)] {
            let r = output(
                hutch()
                    .current_dir(dir.path())
                    .arg("run")
                    .args(backend_args(&backend))
                    .args(["--", "sh", "-c", &format!("kill -{sig} $$")]),
            );
            assert_eq!(r.code, 128 + n, "{backend} SIG{sig}: {r:?}");
        }
    }
}

#[test]
fn not_found_is_127_and_not_executable_is_126() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("script");
    std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap(); // no execute bit
    for backend in available_backends() {
        let run = |cmd: &str| {
            output(
                hutch()
                    .current_dir(dir.path())
                    .arg("run")
                    .args(backend_args(&backend))
                    .args(["--", cmd]),
            )
        };
        let r = run("/no/such/program");
        assert_eq!(r.code, 127, "{backend}: {r:?}");
        assert_eq!(
            r.hutch_lines(),
            ["hutch: command not found: /no/such/program"]
        );
        let r = run("no-such-program-on-path");
        assert_eq!(r.code, 127, "{backend}: {r:?}");
        let r = run(script.to_str().unwrap());
        assert_eq!(r.code, 126, "{backend}: {r:?}");
        assert_eq!(r.hutch_lines().len(), 1, "{backend}: {r:?}");
        assert!(r.stderr.contains("cannot execute"), "{backend}: {r:?}");
    }
}

#[test]
fn hutch_failures_are_125_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[&[&str]] = &[
        &["run", "--no-such-option", "--", "true"],
        &["run", "-b", "bogus", "--", "true"],
        &["run", "--root", "/no/such/root", "--", "true"],
        &["run", "--bind", "/tmp", "--", "true"],
        &["run", "--network", "sideways", "--", "true"],
        &["run", "--tracer-engine", "sideways", "--", "true"],
        &["plan", "--tracer-engine", "", "--", "true"],
        &["run"],
        &["frobnicate"],
    ];
    for args in cases {
        let r = run_in(dir.path(), *args);
        assert_eq!(r.code, 125, "{args:?}: {r:?}");
        let lines: Vec<&str> = r.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{args:?}: one line, got {r:?}");
        assert!(lines[0].starts_with("hutch: "), "{args:?}: {r:?}");
    }
    let r = run_in(dir.path(), ["run", "-b", "bogus", "--", "true"]);
    assert!(r.stderr.contains("auto, chroot, userns, ptrace"), "{r:?}");
    let r = run_in(
        dir.path(),
        ["run", "--tracer-engine", "bogus", "--", "true"],
    );
    assert!(r.stderr.contains("auto, ptrace, notify"), "{r:?}");
}

#[test]
fn unknown_backend_in_the_environment_lists_the_valid_ones() {
    let dir = tempfile::tempdir().unwrap();
    let r = output(
        hutch()
            .current_dir(dir.path())
            .env("HUTCH_BACKEND", "nope")
            .args(["run", "--", "true"]),
    );
    assert_eq!(r.code, 125, "{r:?}");
    assert_eq!(
        r.hutch_lines(),
        ["hutch: unknown backend \"nope\" (valid: auto, chroot, userns, ptrace)"]
    );
}

#[test]
fn unsupported_settings_fail_unless_best_effort() {
    if !has_backend("chroot") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let r = run_in(
        dir.path(),
        ["run", "-b", "chroot", "-w", "out", "--", "true"],
    );
    assert_eq!(r.code, 125, "{r:?}");
    assert_eq!(r.hutch_lines().len(), 1, "{r:?}");
    assert!(r.stderr.contains("does not support"), "{r:?}");
    let r = run_in(
        dir.path(),
        [
            "run",
            "-b",
            "chroot",
            "--best-effort",
            "-w",
            "out",
            "--",
            "true",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("hutch: degraded writable"), "{r:?}");
}

#[test]
fn bad_input_creates_nothing_on_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let missing_root = dir.path().join("rootfs");
    let r = run_in(
        dir.path(),
        [
            "run",
            "--root",
            missing_root.to_str().unwrap(),
            "--tmpfs",
            "/scratch",
            "--report",
            report.to_str().unwrap(),
            "--",
            "true",
        ],
    );
    assert_eq!(r.code, 125, "{r:?}");
    let r2 = run_in(
        dir.path(),
        [
            "run",
            "--report",
            report.to_str().unwrap(),
            "--",
            "/no/such/program",
        ],
    );
    assert_eq!(r2.code, 127, "{r2:?}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "nothing created: {left:?}");
}

#[test]
fn sigterm_to_hutch_reaches_the_commands_handler() {
    use std::io::Read;
    for backend in ["userns", "chroot"] {
        if !has_backend(backend) {
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut child = hutch()
            .current_dir(dir.path())
            .arg("run")
            .args(backend_args(backend))
            .args([
                "--",
                "sh",
                "-c",
                "trap 'echo got-term; exit 7' TERM; echo ready; while :; do sleep 0.05; done",
            ])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = child.stdout.take().unwrap();
        let mut buf = [0u8; 6];
        out.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ready\n");
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        let status = child.wait().unwrap();
        let mut rest = String::new();
        out.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "got-term\n", "{backend}");
        assert_eq!(status.code(), Some(7), "{backend}");
    }
}

#[test]
fn a_backend_that_cannot_run_here_says_why() {
    // As nobody, chroot cannot run: the run fails to set up and the probe explains why.
    let dir = shared_tempdir();
    let Some(r) = as_nobody(
        dir.path(),
        &["run", "-b", "chroot", "--writable-all", "--", "true"],
    ) else {
        return;
    };
    assert_eq!(r.code, 125, "{r:?}");
    assert_eq!(r.hutch_lines().len(), 1, "{r:?}");
    assert!(r.stderr.contains("backend chroot cannot run here"), "{r:?}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "nothing created: {left:?}");
}
