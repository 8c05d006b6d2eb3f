//! Every judged syscall, outside the whitelist: denied with EACCES, recorded exactly once with
//! the right name and resolved path, disk unchanged. Inside: allowed, nothing recorded. As root
//! and as nobody, under both engines.

use hutch_tests::both_engines;
use hutch_tests::tracer_harness::{can_run_as_nobody, snapshot, trace, Fixture, User, NOBODY};
use std::path::Path;

const PROBE: &str = env!("CARGO_BIN_EXE_hutch-probe");
const DRIVER: &str = env!("CARGO_BIN_EXE_hutch-trace");

/// `(op, args, syscall, resolved)`: `S/` is the side under test, `I/` always `in/`, `U` the
/// user's uid.
const CASES: &[(&str, &[&str], &str, &str)] = &[
    ("openat", &["wronly|creat", "S/new"], "openat", "S/new"),
    ("openat", &["wronly", "S/f"], "openat", "S/f"),
    ("openat", &["rdwr", "S/f"], "openat", "S/f"),
    ("openat", &["rdonly|trunc", "S/f"], "openat", "S/f"),
    ("openat", &["rdonly|creat", "S/new"], "openat", "S/new"),
    ("openat", &["wronly|tmpfile", "S/d"], "openat", "S/d"),
    ("openat", &["wronly|trunc", "S/l"], "openat", "S/f"),
    ("open", &["wronly|creat", "S/new"], "open", "S/new"),
    ("openat2", &["wronly|creat", "S/new"], "openat2", "S/new"),
    ("creat", &["S/new"], "creat", "S/new"),
    ("truncate", &["S/f"], "truncate", "S/f"),
    ("mkdir", &["S/newdir"], "mkdir", "S/newdir"),
    ("mkdirat", &["S/newdir"], "mkdirat", "S/newdir"),
    ("mknod", &["S/fifo"], "mknod", "S/fifo"),
    ("mknodat", &["S/fifo"], "mknodat", "S/fifo"),
    ("unlink", &["S/f"], "unlink", "S/f"),
    ("unlink", &["S/l"], "unlink", "S/l"),
    ("unlinkat", &["S/f"], "unlinkat", "S/f"),
    ("rmdir", &["S/d"], "rmdir", "S/d"),
    ("rename", &["S/f", "I/g"], "rename", "S/f"),
    ("rename", &["I/f", "S/g"], "rename", "S/g"),
    ("renameat", &["S/f", "I/g"], "renameat", "S/f"),
    ("renameat2", &["I/f", "S/g"], "renameat2", "S/g"),
    ("link", &["S/f", "I/h"], "link", "S/f"),
    ("linkat", &["I/f", "S/h"], "linkat", "S/h"),
    ("symlink", &["/etc/passwd", "S/sl"], "symlink", "S/sl"),
    ("symlinkat", &["/etc/passwd", "S/sl"], "symlinkat", "S/sl"),
    ("chmod", &["S/f"], "chmod", "S/f"),
    ("fchmodat", &["S/f"], "fchmodat", "S/f"),
    ("fchmodat2", &["S/f"], "fchmodat2", "S/f"),
    ("fchmod", &["S/f"], "fchmod", "S/f"),
    ("chown", &["S/f", "U", "U"], "chown", "S/f"),
    ("lchown", &["S/l", "U", "U"], "lchown", "S/l"),
    ("fchownat", &["S/f", "U", "U"], "fchownat", "S/f"),
    ("fchown", &["S/f", "U", "U"], "fchown", "S/f"),
    ("utime", &["S/f"], "utime", "S/f"),
    ("utimes", &["S/f"], "utimes", "S/f"),
    ("futimesat", &["S/f"], "futimesat", "S/f"),
    ("utimensat", &["S/f"], "utimensat", "S/f"),
    ("futimens", &["S/f"], "utimensat", "S/f"),
    ("setxattr", &["S/f"], "setxattr", "S/f"),
    ("lsetxattr", &["S/f"], "lsetxattr", "S/f"),
    ("fsetxattr", &["S/f"], "fsetxattr", "S/f"),
    ("setxattrat", &["S/f"], "setxattrat", "S/f"),
    ("removexattr", &["S/f"], "removexattr", "S/f"),
    ("lremovexattr", &["S/f"], "lremovexattr", "S/f"),
    ("fremovexattr", &["S/f"], "fremovexattr", "S/f"),
    ("removexattrat", &["S/f"], "removexattrat", "S/f"),
    ("bind-unix", &["S/sock"], "bind", "S/sock"),
    ("mount", &["S/d"], "mount", "S/d"),
    ("umount2", &["S/d"], "umount2", "S/d"),
    ("chroot", &["S/d"], "chroot", "S/d"),
    ("pivot_root", &["S/d", "S/d"], "pivot_root", "S/d"),
];

fn expand(fx: &Fixture, side: &str, user: User, s: &str) -> String {
    let uid = if user == User::Nobody { NOBODY } else { 0 };
    if s == "U" {
        return uid.to_string();
    }
    if let Some(rest) = s.strip_prefix("S/") {
        return fx.p(&format!("{side}/{rest}"));
    }
    if let Some(rest) = s.strip_prefix("I/") {
        return fx.p(&format!("in/{rest}"));
    }
    s.to_string()
}

fn outside_all_denied(user: User) {
    let fx = Fixture::new(user);
    let mut cmd = vec![PROBE.to_string(), "seq".to_string()];
    for (op, args, _, _) in CASES {
        cmd.push(op.to_string());
        cmd.extend(args.iter().map(|a| expand(&fx, "out", user, a)));
        cmd.push("--".into());
    }
    let before = snapshot(&fx.root);
    let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
    let writable = fx.p("in");
    let t = trace(Path::new(DRIVER), user, &fx.root, &["-w", &writable], &cmd);
    assert_eq!(t.status, "exited 0", "{t:?}");
    assert_eq!(snapshot(&fx.root), before, "disk changed ({user:?})");
    assert_eq!(t.results().len(), CASES.len(), "{t:?}");
    assert_eq!(
        t.violations.len(),
        CASES.len(),
        "one record per attempt ({user:?}): {:#?}",
        t.violations
    );
    for (i, (op, args, syscall, resolved)) in CASES.iter().enumerate() {
        assert_eq!(t.results()[i], "errno:13", "{op} {args:?} ({user:?})");
        let v = &t.violations[i];
        assert_eq!(v.syscall, *syscall, "{op} {args:?}");
        assert_eq!(
            v.resolved,
            expand(&fx, "out", user, resolved),
            "{op} {args:?}"
        );
        let fd_form = matches!(
            *op,
            "fchmod" | "fchown" | "fsetxattr" | "fremovexattr" | "futimens"
        );
        if fd_form {
            assert_eq!(v.path, "", "{op}");
        }
    }
}

fn inside_allowed(user: User) {
    for (op, args, _, _) in CASES {
        if matches!(*op, "mount" | "umount2" | "pivot_root" | "chroot") {
            continue; // would act on the test machine's mount table or fail in the kernel
        }
        let fx = Fixture::new(user);
        let mut cmd = vec![PROBE.to_string(), op.to_string()];
        cmd.extend(args.iter().map(|a| expand(&fx, "in", user, a)));
        let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
        let writable = fx.p("in");
        let t = trace(Path::new(DRIVER), user, &fx.root, &["-w", &writable], &cmd);
        assert_eq!(t.status, "exited 0", "{op} {t:?}");
        assert!(
            t.violations.is_empty(),
            "{op} {args:?} ({user:?}): {:?}",
            t.violations
        );
        // Removing an xattr that was never set answers ENODATA: the call ran.
        let expected = if op.contains("removexattr") {
            "errno:61"
        } else {
            "ok"
        };
        assert_eq!(t.results(), [expected], "{op} {args:?} ({user:?})");
    }
}

both_engines!(outside_every_syscall_is_denied_once_as_root);
fn outside_every_syscall_is_denied_once_as_root() {
    outside_all_denied(User::Root);
}

both_engines!(outside_every_syscall_is_denied_once_as_nobody);
fn outside_every_syscall_is_denied_once_as_nobody() {
    if can_run_as_nobody() {
        outside_all_denied(User::Nobody);
    }
}

both_engines!(inside_every_syscall_is_allowed_as_root);
fn inside_every_syscall_is_allowed_as_root() {
    inside_allowed(User::Root);
}

both_engines!(inside_every_syscall_is_allowed_as_nobody);
fn inside_every_syscall_is_allowed_as_nobody() {
    if can_run_as_nobody() {
        inside_allowed(User::Nobody);
    }
}
