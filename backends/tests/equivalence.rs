//! Cross-backend equivalence: one list of write scenarios (inside, outside, next to, through
//! symlinks, renames and links across the boundary) run under every backend with a write policy
//! (userns, ptrace) and, as a reference, under bubblewrap when it is installed. Every backend
//! must give the expected allow/deny answer, and the same answer as bubblewrap.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use hutch_backends::{BackendKind, Writable};

/// (name, script, allowed). The script runs with `$T` set to the tree, where `w/` is the only
/// writable directory; it exits 0 when the operation succeeded.
const SCENARIOS: &[(&str, &str, bool)] = &[
    ("create inside", "echo x > $T/w/new", true),
    ("append inside", "echo x >> $T/w/existing", true),
    ("mkdir inside", "mkdir $T/w/dir", true),
    ("unlink inside", "rm $T/w/existing", true),
    ("rename within", "mv $T/w/existing $T/w/renamed", true),
    (
        "symlink inside to outside",
        "ln -s /etc/passwd $T/w/sl",
        true,
    ),
    (
        "write through outside link to inside",
        "echo x > $T/o/link_in/new",
        true,
    ),
    ("create outside", "echo x > $T/o/new", false),
    ("overwrite outside", "echo x > $T/o/existing", false),
    ("truncate outside", "truncate -s 0 $T/o/existing", false),
    ("create next to writable", "echo x > $T/new", false),
    ("mkdir next to writable", "mkdir $T/dir", false),
    ("unlink outside", "rm $T/o/existing", false),
    ("chmod outside", "chmod 600 $T/o/existing", false),
    ("touch outside", "touch -d 2001-01-01 $T/o/existing", false),
    ("mkfifo outside", "mkfifo $T/o/fifo", false),
    (
        "write through inside link to outside",
        "echo x > $T/w/link_out/new",
        false,
    ),
    (
        "write through dangling link to outside",
        "echo x > $T/w/dangling",
        false,
    ),
    (
        "rename inside to outside",
        "mv $T/w/existing $T/o/moved",
        false,
    ),
    (
        "rename outside to inside",
        "mv $T/o/existing $T/w/moved",
        false,
    ),
    (
        "hard link outside into inside",
        "ln $T/o/existing $T/w/hl",
        false,
    ),
    ("rename writable dir away", "mv $T/w $T/w2", false),
];

/// A fresh tree for one scenario.
fn tree() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("hutch-equiv-")
        .tempdir()
        .unwrap();
    let t = dir.path();
    for d in ["w", "o"] {
        std::fs::create_dir(t.join(d)).unwrap();
        std::fs::write(t.join(d).join("existing"), b"existing").unwrap();
    }
    std::os::unix::fs::symlink("../o", t.join("w/link_out")).unwrap();
    std::os::unix::fs::symlink("../w", t.join("o/link_in")).unwrap();
    std::os::unix::fs::symlink("../o/via_dangling", t.join("w/dangling")).unwrap();
    dir
}

/// Snapshot of everything outside `w/`: names, sizes, modes, mtimes.
fn outside_state(t: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(t).sort_by_file_name() {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(t).unwrap();
        if rel.starts_with("w") {
            continue;
        }
        let meta = entry.path().symlink_metadata().unwrap();
        use std::os::unix::fs::MetadataExt;
        out.push(format!(
            "{} {} {:o} {}",
            rel.display(),
            meta.len(),
            meta.mode(),
            meta.mtime()
        ));
    }
    out
}

fn bwrap() -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("bwrap"))
            .find(|p| p.is_file())
    })
}

/// Runs `script` under bubblewrap with only `t/w` writable; true when it exited 0.
fn under_bwrap(bwrap: &Path, t: &Path, script: &str) -> bool {
    let w = t.join("w");
    let status = Command::new(bwrap)
        .args([
            "--ro-bind",
            "/",
            "/",
            "--dev",
            "/dev",
            "--proc",
            "/proc",
            "--bind",
        ])
        .arg(&w)
        .arg(&w)
        .args([
            "--unshare-pid",
            "--die-with-parent",
            "--",
            "sh",
            "-c",
            script,
        ])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("T", t)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    status.success()
}

fn under_backend(b: BackendKind, t: &Path, script: &str) -> bool {
    let mut c = sh(script, &[]);
    c.env("T", t).writable(Writable::List(vec![t.join("w")]));
    run_on(b, &c).status.success()
}

#[test]
fn same_answer_as_bubblewrap() {
    let backends: Vec<BackendKind> = available()
        .into_iter()
        .filter(|b| b.capabilities().writable_policy)
        .collect();
    let reference = bwrap();
    if reference.is_none() {
        eprintln!("bubblewrap (bwrap) is not installed: comparing backends with the expected answers only");
    }
    let mut failures = Vec::new();
    for (name, script, allowed) in SCENARIOS {
        let mut answers = Vec::new();
        if let Some(bwrap) = &reference {
            let t = tree();
            answers.push(("bwrap".to_string(), under_bwrap(bwrap, t.path(), script)));
        }
        for &b in &backends {
            let t = tree();
            let before = outside_state(t.path());
            let ok = under_backend(b, t.path(), script);
            answers.push((b.name().to_string(), ok));
            let after = outside_state(t.path());
            if before != after {
                failures.push(format!(
                    "{name}: {b} changed the host outside w/: {before:?} -> {after:?}"
                ));
            }
        }
        eprintln!(
            "{name:45} expected {:5} {answers:?}",
            if *allowed { "allow" } else { "deny" }
        );
        for (who, ok) in &answers {
            if ok != allowed {
                failures.push(format!(
                    "{name}: {who} {}",
                    if *ok { "allowed" } else { "denied" }
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn same_answer_as_bubblewrap_as_nobody() {
    if is_nobody_child() {
        return;
    }
    rerun_as_nobody(&["--exact", "same_answer_as_bubblewrap"]);
}
