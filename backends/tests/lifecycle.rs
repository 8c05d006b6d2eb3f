//! The sandboxed tree dies with hutch: when the process that ran it is killed, nothing of the
//! command survives (as a running process; PID 1 of this machine may leave zombies).

mod common;

use std::time::{Duration, Instant};

use common::*;
use hutch_backends::BackendKind;

/// Finds a process whose command line holds `marker`; its state letter from /proc/PID/stat.
fn find(marker: &str) -> Option<(u32, char)> {
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if cmdline
            .split(|b| *b == 0)
            .any(|arg| arg == marker.as_bytes())
        {
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            let state = stat
                .rsplit_once(") ")
                .and_then(|(_, rest)| rest.chars().next())
                .unwrap_or('?');
            return Some((pid, state));
        }
    }
    None
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn tree_dies_with_hutch() {
    if let Ok(spec) = std::env::var("HUTCH_TEST_LIFECYCLE") {
        // Child role: run a long sleep; the parent kills this process.
        let (backend, marker) = spec.split_once(',').unwrap();
        let b: BackendKind = backend.parse().unwrap();
        let mut c = cmd("sleep", &[marker]);
        if b.capabilities().writable_policy {
            c.writable(hutch_backends::Writable::None);
        }
        let result = hutch_backends::run_with(&c, hutch_backends::Choice::Named(b));
        panic!("{b}: the run returned although it should have been killed: {result:?}");
    }
    for b in available() {
        let marker = format!("{}.{}{}", 1000, std::process::id(), b.name().len());
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "tree_dies_with_hutch", "--nocapture"])
            .env("HUTCH_TEST_LIFECYCLE", format!("{},{marker}", b.name()))
            .spawn()
            .unwrap();
        wait_until(&format!("{b}: the command starts"), || {
            find(&marker).is_some_and(|(_, s)| s != 'Z')
        });
        child.kill().unwrap();
        child.wait().unwrap();
        wait_until(&format!("{b}: the command dies with hutch"), || {
            find(&marker).is_none_or(|(_, s)| s == 'Z')
        });
    }
}
