//! What only the ptrace backend reports: violations (path as passed and resolved), collect-only,
//! faked ownership and recorded modes, network denials.

mod common;

use std::path::PathBuf;

use common::*;
use hutch_backends::{BackendKind, Enforcement, Network, Writable};

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
