//! Path resolution and policy options: sibling prefix, dangling symlink, `/proc/self/cwd`,
//! relative paths, catbox's ENOENT/EEXIST quirks, collect_only, network, fake ownership,
//! exit statuses. As root and as nobody, under both engines.

use hutch_tests::both_engines;
use hutch_tests::tracer_harness::{snapshot, trace, users, Fixture, User};
use std::fs;
use std::path::Path;

const PROBE: &str = env!("CARGO_BIN_EXE_hutch-probe");
const DRIVER: &str = env!("CARGO_BIN_EXE_hutch-trace");

fn run(user: User, cwd: &Path, opts: &[&str], cmd: &[&str]) -> hutch_tests::tracer_harness::Traced {
    let mut full = vec![PROBE];
    full.extend_from_slice(cmd);
    trace(Path::new(DRIVER), user, cwd, opts, &full)
}

both_engines!(sibling_prefix_is_not_inside);
fn sibling_prefix_is_not_inside() {
    for user in users() {
        let fx = Fixture::new(user);
        fs::create_dir(fx.root.join("inx")).unwrap();
        std::os::unix::fs::chown(fx.root.join("inx"), Some(65534), Some(65534)).unwrap();
        let before = snapshot(&fx.root);
        let t = run(
            user,
            &fx.root,
            &["-w", &fx.p("in")],
            &["openat", "wronly|creat", &fx.p("inx/f")],
        );
        assert_eq!(t.results(), ["errno:13"], "{user:?}");
        assert_eq!(t.violations.len(), 1);
        assert_eq!(t.violations[0].resolved, fx.p("inx/f"));
        assert_eq!(snapshot(&fx.root), before);
    }
}

both_engines!(dangling_symlink_under_o_creat_resolves_to_its_target);
fn dangling_symlink_under_o_creat_resolves_to_its_target() {
    for user in users() {
        let fx = Fixture::new(user);
        std::os::unix::fs::symlink(fx.root.join("out/newfile"), fx.root.join("in/evil")).unwrap();
        let t = run(
            user,
            &fx.root,
            &["-w", &fx.p("in")],
            &["openat", "wronly|creat", &fx.p("in/evil")],
        );
        assert_eq!(t.results(), ["errno:13"], "{user:?}");
        assert_eq!(t.violations.len(), 1);
        assert_eq!(t.violations[0].path, fx.p("in/evil"));
        assert_eq!(t.violations[0].resolved, fx.p("out/newfile"));
        assert!(!fx.root.join("out/newfile").exists());
        // With O_NOFOLLOW the link itself is the target (inside): allowed, the kernel says ELOOP.
        let t = run(
            user,
            &fx.root,
            &["-w", &fx.p("in")],
            &["openat", "wronly|creat|nofollow", &fx.p("in/evil")],
        );
        assert_eq!(t.results(), ["errno:40"]);
        assert!(t.violations.is_empty());
    }
}

both_engines!(proc_self_cwd_and_relative_paths_resolve_in_the_tracee);
fn proc_self_cwd_and_relative_paths_resolve_in_the_tracee() {
    for user in users() {
        let fx = Fixture::new(user);
        let w = fx.p("in");
        // cwd inside: /proc/self/cwd/x is inside.
        let t = run(
            user,
            &fx.root.join("in"),
            &["-w", &w],
            &["openat", "wronly|creat", "/proc/self/cwd/x"],
        );
        assert_eq!(t.results(), ["ok"], "{user:?} {t:?}");
        assert!(t.violations.is_empty());
        assert!(fx.root.join("in/x").exists());
        // cwd outside: the same path is outside.
        let t = run(
            user,
            &fx.root.join("out"),
            &["-w", &w],
            &["openat", "wronly|creat", "/proc/self/cwd/x"],
        );
        assert_eq!(t.results(), ["errno:13"]);
        assert_eq!(t.violations[0].resolved, fx.p("out/x"));
        assert_eq!(t.violations[0].path, "/proc/self/cwd/x");
        // Relative paths, with `..`.
        let t = run(
            user,
            &fx.root.join("in/d"),
            &["-w", &w],
            &[
                "seq",
                "openat",
                "wronly|creat",
                "../../out/y",
                "--",
                "openat",
                "wronly|creat",
                "../z",
            ],
        );
        assert_eq!(t.results(), ["errno:13", "ok"]);
        assert_eq!(t.violations.len(), 1);
        assert_eq!(t.violations[0].path, "../../out/y");
        assert_eq!(t.violations[0].resolved, fx.p("out/y"));
        assert!(!fx.root.join("out/y").exists() && fx.root.join("in/z").exists());
    }
}

both_engines!(catbox_quirks_enoent_and_eexist_without_violation);
fn catbox_quirks_enoent_and_eexist_without_violation() {
    for user in users() {
        let fx = Fixture::new(user);
        let w = fx.p("in/d/sub");
        let t = run(
            user,
            &fx.root,
            &["-w", &w],
            &[
                "seq",
                "openat",
                "rdwr",
                &fx.p("out/missing"),
                "--",
                "mkdir",
                &fx.p("in/d"),
                "--",
                "mkdir",
                &fx.p("in/e"),
            ],
        );
        assert_eq!(t.results(), ["errno:2", "errno:17", "errno:13"], "{user:?}");
        assert_eq!(t.violations.len(), 1);
        assert_eq!(t.violations[0].resolved, fx.p("in/e"));
    }
}

both_engines!(collect_only_records_but_allows);
fn collect_only_records_but_allows() {
    for user in users() {
        let fx = Fixture::new(user);
        let t = run(
            user,
            &fx.root,
            &["-w", &fx.p("in"), "--collect-only"],
            &["openat", "wronly|creat", &fx.p("out/c")],
        );
        assert_eq!(t.results(), ["ok"]);
        assert_eq!(t.violations.len(), 1);
        assert!(fx.root.join("out/c").exists());
        assert_eq!(t.landlock, "NotApplied");
    }
}

both_engines!(network_off_records_connect_destinations);
fn network_off_records_connect_destinations() {
    for user in users() {
        let fx = Fixture::new(user);
        let sock = fx.p("in/s.sock");
        let t = run(
            user,
            &fx.root,
            &["--no-network"],
            &[
                "seq",
                "socket-inet",
                "--",
                "connect-tcp",
                "127.0.0.1",
                "9",
                "--",
                "connect-unix",
                &sock,
            ],
        );
        assert_eq!(
            t.results(),
            ["errno:13", "errno:13", "errno:13"],
            "{user:?}"
        );
        let recorded: Vec<(&str, &str)> = t
            .network
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        assert_eq!(
            recorded,
            [
                ("socket", "family 2"),
                ("socket", "family 2"),
                ("connect", "127.0.0.1:9"),
                ("connect", sock.as_str())
            ]
        );
        // Network on: nothing recorded, the connect reaches the kernel (refused or unreachable).
        let t = run(user, &fx.root, &[], &["connect-tcp", "127.0.0.1", "9"]);
        assert!(t.network.is_empty());
        assert_ne!(t.results(), ["errno:13"]);
    }
}

both_engines!(fake_ownership_records_chown_and_leaves_the_owner);
fn fake_ownership_records_chown_and_leaves_the_owner() {
    use std::os::unix::fs::MetadataExt;
    for user in users() {
        let fx = Fixture::new(user);
        let f = fx.p("in/f");
        let uid_before = fs::metadata(&f).unwrap().uid();
        let t = run(
            user,
            &fx.root,
            &["-w", &fx.p("in"), "--fake-ownership"],
            &[
                "seq",
                "chown",
                &f,
                "1234",
                "4321",
                "--",
                "chmod",
                &f,
                "--",
                "chown",
                &fx.p("out/f"),
                "1",
                "1",
            ],
        );
        assert_eq!(t.results(), ["ok", "ok", "errno:13"], "{user:?}");
        assert_eq!(t.ownerships, [(f.clone(), 1234, 4321)]);
        assert_eq!(t.modes, [(f.clone(), "700".to_string())]);
        assert_eq!(t.violations.len(), 1);
        let meta = fs::metadata(&f).unwrap();
        assert_eq!(meta.uid(), uid_before, "owner untouched");
        assert_eq!(meta.mode() & 0o7777, 0o700, "chmod inside is applied");
    }
}

both_engines!(exit_codes_and_signals_pass_through);
fn exit_codes_and_signals_pass_through() {
    for user in users() {
        let fx = Fixture::new(user);
        for code in ["0", "3", "150"] {
            let t = run(user, &fx.root, &[], &["exit", code]);
            assert_eq!(t.status, format!("exited {code}"));
        }
        for sig in ["9", "15", "11"] {
            let t = run(user, &fx.root, &[], &["signal", sig]);
            assert_eq!(t.status, format!("signaled {sig}"));
        }
    }
}

both_engines!(dirfd_and_empty_path_forms_resolve_through_the_fd);
fn dirfd_and_empty_path_forms_resolve_through_the_fd() {
    for user in users() {
        let fx = Fixture::new(user);
        let before = snapshot(&fx.root.join("out"));
        let uid = if user == User::Nobody { "65534" } else { "0" };
        let t = run(
            user,
            &fx.root,
            &["-w", &fx.p("in")],
            &[
                "seq",
                "openat-dirfd",
                &fx.p("out"),
                "wronly|creat",
                "x",
                "--",
                "openat-dirfd",
                &fx.p("in"),
                "wronly|creat",
                "../out/y",
                "--",
                "openat-dirfd",
                &fx.p("out"),
                "wronly|creat",
                "../in/z",
                "--",
                "fchownat-empty",
                &fx.p("out/f"),
                uid,
                uid,
            ],
        );
        assert_eq!(
            t.results(),
            ["errno:13", "errno:13", "ok", "errno:13"],
            "{user:?}"
        );
        let resolved: Vec<String> = t.violations.iter().map(|v| v.resolved.clone()).collect();
        assert_eq!(resolved, [fx.p("out/x"), fx.p("out/y"), fx.p("out/f")]);
        assert_eq!(t.violations[2].syscall, "fchownat");
        assert_eq!(snapshot(&fx.root.join("out")), before);
        assert!(fx.root.join("in/z").exists());
    }
}

both_engines!(bind_mounts_are_judged_by_source_and_o_path_opens_are_not_writes);
fn bind_mounts_are_judged_by_source_and_o_path_opens_are_not_writes() {
    for user in users() {
        let fx = Fixture::new(user);
        let before = snapshot(&fx.root);
        let t = run(
            user,
            &fx.root,
            &["-w", &fx.p("in")],
            &[
                "seq",
                "bind-mount",
                &fx.p("out/d"),
                &fx.p("in/d"),
                "--",
                "openat",
                "path|wronly|creat|trunc",
                &fx.p("out/f"),
            ],
        );
        assert_eq!(t.results(), ["errno:13", "ok"], "{user:?}");
        assert_eq!(t.violations.len(), 1);
        assert_eq!(t.violations[0].syscall, "mount");
        assert_eq!(t.violations[0].resolved, fx.p("out/d"));
        assert_eq!(snapshot(&fx.root), before);
    }
}
