//! A sandboxed program must not be able to undo its sandbox, even when hutch runs as root
//! (bubblewrap run as root keeps every capability: `mount -o remount,rw,bind /` inside succeeds
//! and writes land on the host). Each attempt below must fail on every backend and leave the
//! host untouched; the outcome must say that no capability was kept.

mod common;

use common::*;
use hutch_backends::{BackendKind, Writable};

/// Each line: `held NAME` when the attempt failed, `ESCAPED NAME` when it worked.
const ATTEMPTS: &str = r#"
T=$1; SUP=$2
try() { name=$1; shift; if "$@" >/dev/null 2>&1; then echo "ESCAPED $name"; else echo "held $name"; fi; }
try remount-root-rw mount -o remount,rw,bind /
try remount-tree-rw mount -o remount,rw,bind "$T"
try unmount-root umount -l /
try mount-over-tree mount -t tmpfs none "$T"
try bind-over-outside mount --bind "$T/w" "$T/o"
try pivot-root sh -c 'cd "$1" && mkdir -p old && pivot_root . old' sh "$T/w"
try chroot-out chroot / true
try nested-userns-remount unshare -Urm sh -c 'mount -o remount,rw,bind / && echo x > "$1/o/nested"' sh "$T"
try signal-supervisor kill -0 "$SUP"
traced() { timeout 3 strace -qq -e trace=none -p "$SUP"; [ $? = 124 ]; }
try trace-supervisor traced
try write-outside sh -c 'echo x > "$1/o/file"' sh "$T"
grep -E '^Cap(Eff|Prm|Bnd|Amb):' /proc/self/status
grep NoNewPrivs /proc/self/status
"#;

#[test]
fn undo_attempts_fail_as_root() {
    if !is_root() && !is_nobody_child() {
        eprintln!("not root: the undo attempts are about hutch run as root; nothing to test");
        return;
    }
    for b in available() {
        let tree = tempfile::tempdir().unwrap();
        let t = tree.path();
        std::fs::create_dir_all(t.join("w")).unwrap();
        std::fs::create_dir_all(t.join("o")).unwrap();
        let sup = std::process::id().to_string();
        let mut c = sh(ATTEMPTS, &[t.to_str().unwrap(), &sup]);
        if b.capabilities().writable_policy {
            c.writable(Writable::List(vec![t.join("w")]));
        } else {
            c.writable(Writable::All);
        }
        let o = run_on(b, &c);
        let text = out(&o);
        eprintln!("{b}:\n{text}");
        let escaped: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("ESCAPED "))
            .filter(|name| !(*name == "write-outside" && b == BackendKind::Chroot))
            .collect();
        assert!(escaped.is_empty(), "{b}: escaped: {escaped:?}");
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("held ") || l.starts_with("ESCAPED "))
                .count(),
            11,
            "{b}: {text}"
        );
        continue_checks(b, &o, &text, t);
    }
}

/// The host is untouched and the outcome tells the truth about capabilities.
fn continue_checks(b: BackendKind, o: &hutch_backends::Outcome, text: &str, t: &std::path::Path) {
    {
        assert!(!t.join("o/nested").exists(), "{b}");
        if b != BackendKind::Chroot {
            assert!(!t.join("o/file").exists(), "{b}");
        }
        assert_eq!(
            std::fs::read_dir(t.join("o")).unwrap().count(),
            usize::from(b == BackendKind::Chroot),
            "{b}"
        );
        let mounted = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(
            !mounted.contains(t.to_str().unwrap()),
            "{b}: a mount leaked to the host"
        );
        {
            for set in ["CapEff", "CapPrm", "CapBnd", "CapAmb"] {
                assert!(
                    text.contains(&format!("{set}:\t0000000000000000")),
                    "{b}: {set} not empty"
                );
            }
            assert!(o.capabilities_kept.is_empty(), "{b}");
        }
        assert!(text.contains("NoNewPrivs:\t1"), "{b}");
        assert!(o.no_new_privs, "{b}");
    }
}

/// The same attempts when hutch runs as `nobody` (userns and ptrace; chroot needs root).
#[test]
fn undo_attempts_fail_as_nobody() {
    if is_nobody_child() {
        return;
    }
    rerun_as_nobody(&["--exact", "undo_attempts_fail_as_root"]);
}
