//! The JSON report: fields, destinations and non-UTF-8 paths.
mod common;
use common::*;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

fn report_of(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout).expect("stdout is the JSON report")
}

#[test]
fn report_has_the_documented_fields() {
    for backend in available_backends() {
        let dir = tempfile::tempdir().unwrap();
        let r = output(
            hutch()
                .current_dir(dir.path())
                .arg("run")
                .args(backend_args(&backend))
                .args(["--report", "-", "--", "sh", "-c", "exit 7"]),
        );
        assert_eq!(r.code, 7, "{backend}: {r:?}");
        let v = report_of(&r.stdout);
        assert_eq!(v["backend"], backend.as_str());
        assert_eq!(v["exit_code"], 7);
        assert!(v["signal"].is_null());
        for key in [
            "violations",
            "ownerships",
            "modes",
            "degraded",
            "network_denials",
        ] {
            assert!(v[key].is_array(), "{backend}: {key}");
        }
        let expected = match backend.as_str() {
            "userns" => "kernel",
            "ptrace" => "traced",
            _ => "none",
        };
        assert_eq!(v["enforcement"], expected);
        // The tracer engine that ran: auto's pick for ptrace, none for the others.
        match backend.as_str() {
            "ptrace" => assert_eq!(v["engine"], auto_tracer_engine().as_str()),
            _ => assert!(v["engine"].is_null(), "{backend}: {v}"),
        }
        assert!(v["usage"]["wall_s"].as_f64().unwrap() > 0.0);
        assert!(v["supervisor_max_rss_kib"].as_u64().unwrap() > 0);
    }
}

#[test]
fn signal_deaths_are_reported_as_signals() {
    let dir = tempfile::tempdir().unwrap();
    for backend in available_backends() {
        let r = output(
            hutch()
                .current_dir(dir.path())
                .arg("run")
                .args(backend_args(&backend))
                .args(["--report", "-", "--", "sh", "-c", "kill -USR1 $$"]),
        );
        assert_eq!(r.code, 138, "{backend}: {r:?}");
        let v = report_of(&r.stdout);
        assert!(v["exit_code"].is_null(), "{backend}");
        assert_eq!(v["signal"], 10, "{backend}");
    }
}

#[test]
fn violations_in_the_report_and_in_a_file() {
    if !has_backend("ptrace") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("out")).unwrap();
    let report = dir.path().join("out/report.json");
    let r = run_in(
        dir.path(),
        [
            "run",
            "-b",
            "ptrace",
            "-w",
            "out",
            "--report",
            report.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            "cd out && echo x > ../escape; exit 0",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let violations = v["violations"].as_array().unwrap();
    assert_eq!(violations.len(), 1, "{v}");
    assert_eq!(violations[0]["syscall"], "openat");
    assert_eq!(violations[0]["path"], "../escape");
    assert_eq!(
        violations[0]["resolved"],
        dir.path().join("escape").to_str().unwrap()
    );
    assert!(violations[0]["pid"].as_i64().unwrap() > 0);
    assert!(!dir.path().join("escape").exists());
}

#[test]
fn non_utf8_paths_are_reported_as_hex() {
    if !has_backend("ptrace") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let name = OsStr::from_bytes(b"bad\xffname");
    let r = output(
        hutch()
            .current_dir(dir.path())
            .args([
                "run", "-b", "ptrace", "--quiet", "--report", "-", "--", "touch",
            ])
            .arg(name),
    );
    assert_ne!(r.code, 0, "{r:?}");
    let v = report_of(&r.stdout);
    let violation = &v["violations"][0];
    assert_eq!(violation["path"]["hex"], "626164ff6e616d65");
    let mut resolved = dir.path().as_os_str().as_bytes().to_vec();
    resolved.extend_from_slice(b"/bad\xffname");
    let hex: String = resolved.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(violation["resolved"]["hex"], hex.as_str());
}

/// `--tracer-engine ENGINE` on the ptrace backend: the report names ENGINE and the denied
/// write is recorded.
fn tracer_engine_reaches_the_report(engine: &str) {
    let dir = tempfile::tempdir().unwrap();
    let r = output(hutch().current_dir(dir.path()).args([
        "run",
        "-b",
        "ptrace",
        "--tracer-engine",
        engine,
        "--quiet",
        "--report",
        "-",
        "--",
        "sh",
        "-c",
        "echo x > escape; exit 3",
    ]));
    assert_eq!(r.code, 3, "{engine}: {r:?}");
    let v = report_of(&r.stdout);
    assert_eq!(v["engine"], engine);
    assert_eq!(
        v["violations"].as_array().unwrap().len(),
        1,
        "{engine}: {v}"
    );
    assert!(!dir.path().join("escape").exists());
}

#[test]
fn ptrace_tracer_engine_reaches_the_report() {
    if has_backend("ptrace") {
        tracer_engine_reaches_the_report("ptrace");
    }
}

#[test]
fn notify_tracer_engine_reaches_the_report() {
    if has_backend("ptrace") && notify_kernel() {
        tracer_engine_reaches_the_report("notify");
    }
}

#[test]
fn a_tracer_engine_on_a_backend_that_does_not_trace_is_refused_or_degraded() {
    let dir = tempfile::tempdir().unwrap();
    for backend in available_backends() {
        if backend == "ptrace" {
            continue;
        }
        let run = |extra: &[&str]| {
            output(
                hutch()
                    .current_dir(dir.path())
                    .arg("run")
                    .args(backend_args(&backend))
                    .args(extra)
                    .args(["--tracer-engine", "notify", "--report", "-", "--", "true"]),
            )
        };
        let r = run(&[]);
        assert_eq!(r.code, 125, "{backend}: {r:?}");
        assert_eq!(r.stderr.lines().count(), 1, "{backend}: {r:?}");
        assert!(
            r.stderr.contains("tracer-engine=notify"),
            "{backend}: {r:?}"
        );
        let r = run(&["--best-effort"]);
        assert_eq!(r.code, 0, "{backend}: {r:?}");
        let report = report_of(&r.stdout);
        assert!(report["engine"].is_null(), "{backend}");
        assert!(
            report["degraded"].to_string().contains("tracer-engine"),
            "{backend}: {report}"
        );
    }
}
