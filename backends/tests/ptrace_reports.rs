//! What only the ptrace backend reports: violations (path as passed and resolved), collect-only,
//! faked ownership and recorded modes, network denials, and the tracer engine that ran.

mod common;

use std::path::PathBuf;

use common::*;
use hutch_backends::{BackendKind, Config, Enforcement, Engine, Network, Writable};

fn ptrace_available() -> bool {
    available().contains(&BackendKind::Ptrace)
}

#[test]
fn violations_are_reported() {
    if !ptrace_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t = std::fs::canonicalize(dir.path()).unwrap();
    std::fs::create_dir(t.join("w")).unwrap();
    let mut c = sh(
        "cd \"$1\" && echo x > ../outside; echo y > inside",
        &[t.join("w").to_str().unwrap()],
    );
    c.writable(Writable::List(vec![t.join("w")]));
    let o = run_on(BackendKind::Ptrace, &c);
    assert_eq!(o.enforcement, Enforcement::Traced);
    assert!(o.status.success(), "{}", err(&o));
    assert!(!t.join("outside").exists());
    assert!(t.join("w/inside").exists());
    assert_eq!(o.violations.len(), 1, "{:?}", o.violations);
    let v = &o.violations[0];
    assert_eq!(v.path, PathBuf::from("../outside"));
    assert_eq!(v.resolved, t.join("outside"));
    assert!(v.syscall.starts_with("open"), "{}", v.syscall);
    assert!(v.pid > 0);
}

#[test]
fn collect_only_allows_and_records() {
    if !ptrace_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t = std::fs::canonicalize(dir.path()).unwrap();
    let target = t.join("outside");
    let mut c = sh("echo x > \"$1\"", &[target.to_str().unwrap()]);
    c.writable(Writable::None).collect_only(true);
    let o = run_on(BackendKind::Ptrace, &c);
    assert!(o.status.success());
    assert!(target.exists(), "collect-only lets the write happen");
    assert_eq!(o.violations.len(), 1);
    assert_eq!(o.violations[0].resolved, target);
}

#[test]
fn fake_ownership_records_chown_and_chmod() {
    if !ptrace_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t = std::fs::canonicalize(dir.path()).unwrap();
    let f = t.join("f");
    std::fs::write(&f, b"").unwrap();
    let mut c = sh(
        "chown 4242:4343 \"$1\" && chmod 640 \"$1\"",
        &[f.to_str().unwrap()],
    );
    c.writable(Writable::List(vec![t.clone()]))
        .fake_ownership(true);
    let o = run_on(BackendKind::Ptrace, &c);
    assert!(o.status.success(), "{}", err(&o));
    use std::os::unix::fs::MetadataExt;
    assert_ne!(
        std::fs::metadata(&f).unwrap().uid(),
        4242,
        "chown was faked"
    );
    assert_eq!(o.ownerships.len(), 1, "{:?}", o.ownerships);
    assert_eq!(
        (o.ownerships[0].uid, o.ownerships[0].gid),
        (Some(4242), Some(4343))
    );
    assert_eq!(o.ownerships[0].path, f);
    assert!(
        o.modes
            .iter()
            .any(|m| m.path == f && m.mode & 0o777 == 0o640),
        "{:?}",
        o.modes
    );
}

#[test]
fn isolated_network_denials_are_reported() {
    if !ptrace_available() {
        return;
    }
    let mut c = cmd("bash", &["-c", "exec 3<>/dev/tcp/127.0.0.1/9"]);
    c.writable(Writable::All).network(Network::Isolated);
    c.stderr(hutch_backends::Stdio::Discard);
    let o = run_on(BackendKind::Ptrace, &c);
    assert!(!o.status.success());
    assert!(!o.network_denials.is_empty());
    assert!(o
        .network_denials
        .iter()
        .any(|d| d.syscall == "socket" || d.syscall == "connect"));
}

/// True when this kernel can run the notify engine (the tracer's own probe, which `auto`
/// uses too); prints why not.
fn notify_kernel() -> bool {
    let ok = hutch_backends::Engine::Auto.resolve() == hutch_backends::Engine::Notify;
    if !ok {
        eprintln!("notify engine not tested: this kernel lacks seccomp user notifications or is older than 5.19");
    }
    ok
}

/// Runs a denied write with `engine` asked for; checks the outcome names `ran` and that the
/// engine enforced the policy.
fn engine_runs_and_is_reported(engine: Engine, ran: Engine) {
    let dir = tempfile::tempdir().unwrap();
    let t = std::fs::canonicalize(dir.path()).unwrap();
    let mut c = sh("echo x > \"$1\"", &[t.join("outside").to_str().unwrap()]);
    c.writable(Writable::None).tracer_engine(engine);
    assert_eq!(c.get_tracer_engine(), engine);
    let o = run_on(BackendKind::Ptrace, &c);
    assert_eq!(o.engine, Some(ran), "asked {engine:?}");
    assert!(!o.status.success());
    assert!(!t.join("outside").exists());
    assert_eq!(o.violations.len(), 1, "{:?}", o.violations);
    assert_eq!(o.violations[0].resolved, t.join("outside"));
}

#[test]
fn ptrace_engine_runs_and_is_reported() {
    if ptrace_available() {
        engine_runs_and_is_reported(Engine::Ptrace, Engine::Ptrace);
    }
}

#[test]
fn notify_engine_runs_and_is_reported() {
    if ptrace_available() && notify_kernel() {
        engine_runs_and_is_reported(Engine::Notify, Engine::Notify);
    }
}

#[test]
fn auto_engine_is_resolved_and_reported() {
    if ptrace_available() {
        assert_eq!(Config::new("true").get_tracer_engine(), Engine::Auto);
        let resolved = Engine::Auto.resolve();
        assert_ne!(resolved, Engine::Auto);
        engine_runs_and_is_reported(Engine::Auto, resolved);
    }
}

#[test]
fn backends_that_do_not_trace_report_no_engine() {
    for backend in available() {
        if backend == BackendKind::Ptrace {
            continue;
        }
        let mut c = cmd("true", &[]);
        assert_eq!(run_on(backend, &c).engine, None, "{backend}");
        // A choice of engine is a setting they cannot honour: degraded only with best effort.
        c.tracer_engine(Engine::Notify).best_effort(true);
        let o = run_on(backend, &c);
        assert_eq!(o.engine, None, "{backend}");
        assert!(
            o.degradations
                .iter()
                .any(|d| d.setting == hutch_backends::Setting::TracerEngine),
            "{backend}: {:?}",
            o.degradations
        );
    }
}
