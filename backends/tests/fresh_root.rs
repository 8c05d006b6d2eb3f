//! sandboxlib's writable-path tests as it ran them: in a fresh root directory holding only a
//! static probe program (`test-file-is-writable`, compiled with `cc -static`) and a data tree.
//! Every backend that supports a root directory runs them; the write policy is checked where the
//! backend has one.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use hutch_backends::{BackendKind, Config, ExitStatus, Stdio, Writable};

const PROBE_C: &str = r#"
#include <stdio.h>
int main(int argc, char **argv) {
    if (argc != 2) return 2;
    FILE *f = fopen(argv[1], "w");
    if (!f) { printf("Couldn't open %s for writing.", argv[1]); return 1; }
    if (fputc('!', f) != '!') { printf("Couldn't write to %s.", argv[1]); return 1; }
    fclose(f);
    printf("Wrote data to %s.", argv[1]);
    return 0;
}
"#;

/// A fresh root with `/bin/test-file-is-writable`, `/data/1/canary`, `/data/10/canary`; `None`
/// (with the reason printed) when no static C compiler is available.
fn fresh_root_with_probe() -> Option<(tempfile::TempDir, PathBuf)> {
    let root = tempfile::Builder::new()
        .prefix("hutch-fresh-")
        .tempdir()
        .unwrap();
    let bin = root.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let src = root.path().join("probe.c");
    std::fs::write(&src, PROBE_C).unwrap();
    let exe = bin.join("test-file-is-writable");
    let built = std::process::Command::new("cc")
        .args(["-static", "-O1", "-o"])
        .arg(&exe)
        .arg(&src)
        .status();
    std::fs::remove_file(&src).unwrap();
    match built {
        Ok(s) if s.success() => {}
        other => {
            eprintln!(
                "cannot build a static probe with cc -static ({other:?}): not testing a fresh root"
            );
            return None;
        }
    }
    for d in ["data/1", "data/10"] {
        std::fs::create_dir_all(root.path().join(d)).unwrap();
        std::fs::write(root.path().join(d).join("canary"), b"canary").unwrap();
    }
    // Everything in the root belongs to whoever runs the test (nobody too).
    let _ = std::process::Command::new("chmod")
        .args(["-R", "a+rX"])
        .arg(root.path())
        .status();
    let path = exe;
    Some((root, path))
}

fn probe(root: &Path, target: &str, writable: Writable) -> Config {
    let mut c = Config::new("/bin/test-file-is-writable");
    c.arg(target)
        .env_clear()
        .root(root)
        .writable(writable)
        .stdout(Stdio::Capture);
    c
}

#[test]
fn writable_paths_in_a_fresh_root() {
    let Some((root, _)) = fresh_root_with_probe() else {
        return;
    };
    let list = |p: &str| Writable::List(vec![PathBuf::from(p)]);
    let cases: [(&str, Writable, bool); 6] = [
        ("/data/1/canary", Writable::None, false),
        ("/data/1/canary", list("/data/1"), true),
        ("/data/1/canary", list("data/1/"), true),
        ("/data/1/canary", list("/data/10"), false),
        ("/data/new", list("/data/1"), false),
        ("/data/1/canary", Writable::All, true),
    ];
    for b in available() {
        if !b.capabilities().root_dir {
            match hutch_backends::run_with(
                &probe(root.path(), "/x", Writable::All),
                hutch_backends::Choice::Named(b),
            ) {
                Err(hutch_backends::Error::Unsupported { .. }) => continue,
                other => panic!("{b}: expected a refusal of the root directory, got {other:?}"),
            }
        }
        for (target, writable, allowed) in &cases {
            if !b.capabilities().writable_policy && *writable != Writable::All {
                continue;
            }
            let host = root.path().join(target.trim_start_matches('/'));
            let before = std::fs::read(&host).ok();
            let o = run_on(b, &probe(root.path(), target, writable.clone()));
            if *allowed {
                assert_eq!(
                    out(&o),
                    format!("Wrote data to {target}."),
                    "{b} {writable:?}"
                );
                assert_eq!(o.status, ExitStatus::Code(0));
                assert_eq!(std::fs::read(&host).unwrap(), b"!", "{b}");
                std::fs::write(&host, b"canary").unwrap();
            } else {
                assert_eq!(
                    out(&o),
                    format!("Couldn't open {target} for writing."),
                    "{b} {writable:?}"
                );
                assert_eq!(o.status, ExitStatus::Code(1));
                assert_eq!(std::fs::read(&host).ok(), before, "{b}: host changed");
                if b == BackendKind::Ptrace {
                    assert_eq!(o.violations.len(), 1, "{b}");
                }
            }
        }
    }
}

#[test]
fn writable_paths_in_a_fresh_root_as_nobody() {
    if is_nobody_child() {
        return;
    }
    rerun_as_nobody(&["--exact", "writable_paths_in_a_fresh_root"]);
}
