//! sandboxlib's test suite (`tests/test_all.py`), ported and run against every backend that can
//! run here. Where sandboxlib expected a failure of its chroot backend (xfail), this suite
//! asserts what hutch does instead: the backend refuses the setting, or degrades it when best
//! effort is on and says so.

mod common;

use common::*;
use hutch_backends::{
    run_with, BackendKind, Choice, Config, ConfigError, Error, ExitStatus, Mount, Network, Setting,
    Stdio, Writable,
};

#[test]
fn no_output() {
    for b in available() {
        let mut c = cmd("echo", &["xyzzy"]);
        c.stdout(Stdio::Discard).stderr(Stdio::Discard);
        let o = run_on(b, &c);
        assert_eq!(o.status, ExitStatus::Code(0), "{b}");
        assert_eq!(o.stdout, None, "{b}");
        assert_eq!(o.stderr, None, "{b}");
    }
}

#[test]
fn output_and_exit_code() {
    for b in available() {
        let mut c = cmd("echo", &["xyzzy"]);
        c.stdout(Stdio::Capture).stderr(Stdio::Capture);
        let o = run_on(b, &c);
        assert_eq!(
            (o.status, out(&o), err(&o)),
            (ExitStatus::Code(0), "xyzzy\n".into(), String::new()),
            "{b}"
        );

        let o = run_on(b, &sh("echo xyzzy >&2; exit 11", &[]));
        assert_eq!(
            (o.status, out(&o), err(&o)),
            (ExitStatus::Code(11), String::new(), "xyzzy\n".into()),
            "{b}"
        );
    }
}

#[test]
fn killed_by_signal() {
    for b in available() {
        let o = run_on(b, &sh("kill -TERM $$", &[]));
        assert_eq!(o.status, ExitStatus::Signal(15), "{b}");
        assert_eq!(o.status.shell_code(), 143, "{b}");
    }
}

#[test]
fn output_redirection() {
    for b in available() {
        let dir = tempfile::tempdir().unwrap();
        let (po, pe) = (dir.path().join("out"), dir.path().join("err"));
        let mut c = sh("echo abcde; echo xyzzy >&2", &[]);
        c.stdout(Stdio::file(std::fs::File::create(&po).unwrap()))
            .stderr(Stdio::file(std::fs::File::create(&pe).unwrap()));
        let o = run_on(b, &c);
        assert!(o.status.success(), "{b}");
        assert_eq!(std::fs::read_to_string(&po).unwrap(), "abcde\n", "{b}");
        assert_eq!(std::fs::read_to_string(&pe).unwrap(), "xyzzy\n", "{b}");

        let both = dir.path().join("both");
        c.stdout(Stdio::file(std::fs::File::create(&both).unwrap()))
            .stderr(Stdio::StderrToStdout);
        let o = run_on(b, &c);
        assert!(o.status.success(), "{b}");
        assert_eq!(
            std::fs::read_to_string(&both).unwrap(),
            "abcde\nxyzzy\n",
            "{b}"
        );

        // Captured stderr-into-stdout lands in stdout, interleaved in order.
        c.stdout(Stdio::Capture).stderr(Stdio::StderrToStdout);
        let o = run_on(b, &c);
        assert_eq!((out(&o), o.stderr), ("abcde\nxyzzy\n".into(), None), "{b}");
    }
}

#[test]
fn large_output_does_not_hang() {
    // sandboxlib's chroot backend deadlocks at 300 kB; 10 MB on each stream here.
    for b in available() {
        let c = sh(
            "head -c 10485760 /dev/zero; head -c 10485760 /dev/zero >&2",
            &[],
        );
        let o = run_on(b, &c);
        assert!(o.status.success(), "{b}");
        assert_eq!(o.stdout.as_ref().map(Vec::len), Some(10 << 20), "{b}");
        assert_eq!(o.stderr.as_ref().map(Vec::len), Some(10 << 20), "{b}");
    }
}

#[test]
fn current_working_directory() {
    for b in available() {
        let dir = tempfile::tempdir().unwrap();
        let dir = std::fs::canonicalize(dir.path()).unwrap();
        let mut c = cmd("pwd", &[]);
        c.current_dir(&dir)
            .stdout(Stdio::Capture)
            .stderr(Stdio::Capture);
        let o = run_on(b, &c);
        assert_eq!(out(&o), format!("{}\n", dir.display()), "{b}");
        assert_eq!(err(&o), "", "{b}");
    }
}

#[test]
fn exact_environment() {
    for b in available() {
        let mut c = Config::new("/usr/bin/env");
        c.writable(Writable::All)
            .env_clear()
            .env("foo", "bar")
            .stdout(Stdio::Capture);
        let o = run_on(b, &c);
        assert_eq!(out(&o), "foo=bar\n", "{b}: nothing may be added (no PWD)");
    }
}

#[test]
fn inherited_environment_with_changes() {
    for b in available() {
        let mut c = Config::new("/usr/bin/env");
        c.writable(Writable::All)
            .env("HUTCH_TEST_ADDED", "1")
            .env_remove("PATH")
            .stdout(Stdio::Capture);
        let o = run_on(b, &c);
        let text = out(&o);
        assert!(
            text.lines().any(|l| l == "HUTCH_TEST_ADDED=1"),
            "{b}: {text}"
        );
        assert!(!text.lines().any(|l| l.starts_with("PATH=")), "{b}: {text}");
    }
}

#[test]
fn isolated_network() {
    for b in available() {
        let mut c = sh("cat /proc/net/dev | sed 1,2d | cut -f1 -d:", &[]);
        c.network(Network::Isolated);
        let o = run_on(b, &c);
        assert!(o.status.success(), "{b}: {}", err(&o));
        if b.capabilities().network_isolated && b != BackendKind::Ptrace {
            assert_eq!(out(&o).trim(), "lo", "{b}");
        }
    }
}

/// Extra mounts in a fresh root, for backends that support mounts; the others refuse.
fn fresh_root_mount(mount: Mount, script: &str, expect: &str) {
    for b in available() {
        let root = fresh_root();
        let mut c = fresh_root_config(root.path(), script);
        c.mount(mount.clone());
        if !b.capabilities().mounts || !b.capabilities().root_dir {
            match run_with(&c, Choice::Named(b)) {
                Err(Error::Unsupported { .. }) => continue,
                other => panic!("{b}: expected a refusal, got {other:?}"),
            }
        }
        let o = run_on(b, &c);
        assert_eq!(err(&o), "", "{b}");
        assert_eq!(out(&o), expect, "{b}");
        assert!(o.status.success(), "{b}");
        // Mount points created for the run are gone again, nothing is mounted on the host.
        assert!(
            !root.path().join("usr").exists(),
            "{b}: mount point left behind"
        );
    }
}

#[test]
fn mount_proc() {
    fresh_root_mount(
        Mount::Proc {
            target: "/proc".into(),
        },
        "test -e /proc/self/status && printf '/proc exists'",
        "/proc exists",
    );
}

#[test]
fn mount_tmpfs() {
    fresh_root_mount(
        Mount::Tmpfs {
            target: "/dev/shm".into(),
        },
        "test -d /dev/shm && printf '/dev/shm exists' && touch /dev/shm/x",
        "/dev/shm exists",
    );
}

#[test]
fn mount_dev() {
    fresh_root_mount(
        Mount::Dev {
            target: "/dev".into(),
        },
        "echo gone > /dev/null && test -c /dev/zero && printf ok",
        "ok",
    );
}

#[test]
fn invalid_mount_specs() {
    // sandboxlib: ('proc', None, 'tmpfs') and ('proc', 'tmpfs') raise before running.
    assert!(Mount::from_fstab(Some("proc".as_ref()), None, "tmpfs", "").is_err());
    assert!(Mount::from_fstab(Some("proc".as_ref()), Some("".as_ref()), "tmpfs", "").is_err());
    assert!(Mount::from_fstab(None, Some("/x".as_ref()), "ext4", "").is_err());
    assert!(Mount::from_fstab(None, Some("/x".as_ref()), "none", "bind").is_err());
    assert_eq!(
        Mount::from_fstab(None, Some("/proc".as_ref()), "proc", "").unwrap(),
        Mount::Proc {
            target: "/proc".into()
        }
    );

    let root = fresh_root();
    for mount in [
        Mount::Tmpfs { target: "".into() },
        Mount::Proc {
            target: "/../proc".into(),
        },
        Mount::Tmpfs { target: "/".into() },
        Mount::Bind {
            source: "/nonexistent/hutch".into(),
            target: "/x".into(),
        },
    ] {
        let mut c = fresh_root_config(root.path(), "touch /created");
        c.mount(mount.clone());
        for b in BackendKind::ALL {
            match run_with(&c, Choice::Named(b)) {
                Err(Error::Config(ConfigError::Mount(_))) => {}
                other => panic!("{b} {mount:?}: expected a mount error, got {other:?}"),
            }
        }
    }
    let left: Vec<_> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        left.len(),
        4,
        "nothing may be created on the host: {left:?}"
    );
}

/// Runs the write probe on `target` (relative to the tree) with `writable` on every backend.
/// Backends without a write policy must refuse, and degrade (saying so) with best effort.
fn write_case(writable: &dyn Fn(&Tree) -> Writable, target: &str, allowed: bool) {
    for b in available() {
        let tree = Tree::new();
        let path = tree.path(target);
        let mut c = sh(WRITE_PROBE, &[path.to_str().unwrap()]);
        let w = writable(&tree);
        c.writable(w.clone());
        if !b.capabilities().writable_policy && w != Writable::All {
            match run_with(&c, Choice::Named(b)) {
                Err(Error::Unsupported { .. }) => {}
                other => panic!("{b}: expected a refusal, got {other:?}"),
            }
            c.best_effort(true);
            let o = run_on(b, &c);
            assert_eq!(o.degradations.len(), 1, "{b}");
            assert_eq!(o.degradations[0].setting, Setting::Writable);
            assert_eq!(o.degradations[0].got, "all");
            assert!(
                o.status.success(),
                "{b}: degraded to all, the write succeeds"
            );
            continue;
        }
        let before = tree.read(target);
        let existed = path.exists();
        let o = run_on(b, &c);
        let shown = path.display();
        if allowed {
            assert_eq!(out(&o), format!("Wrote data to {shown}."), "{b}");
            assert_eq!(o.status, ExitStatus::Code(0), "{b}");
            assert!(tree.read(target).ends_with('!'), "{b}: write did not land");
        } else {
            assert_eq!(
                out(&o),
                format!("Couldn't open {shown} for writing."),
                "{b}"
            );
            assert_eq!(o.status, ExitStatus::Code(1), "{b}");
            assert_eq!(tree.read(target), before, "{b}: host file changed");
            assert_eq!(
                path.exists(),
                existed,
                "{b}: denied file created on the host"
            );
        }
    }
}

fn list<'a>(paths: &'a [&'a str]) -> impl Fn(&Tree) -> Writable + 'a {
    move |t: &Tree| Writable::List(paths.iter().map(|p| t.path(p)).collect())
}

#[test]
fn none_writable() {
    write_case(&|_| Writable::None, "data/1/canary", false);
}

#[test]
fn some_writable() {
    write_case(&list(&["data/1"]), "data/1/canary", true);
}

#[test]
fn all_writable() {
    write_case(&|_| Writable::All, "data/1/canary", true);
}

#[test]
fn mount_point_not_writable() {
    write_case(&|_| Writable::None, "data/new", false);
}

#[test]
fn mount_point_writable() {
    write_case(&list(&["data"]), "data/new", true);
}

#[test]
fn parent_directory_writable() {
    write_case(&list(&["data"]), "data/1/canary", true);
}

#[test]
fn whitelisted_file_only() {
    write_case(&list(&["data/1/canary"]), "data/1/canary", true);
    write_case(&list(&["data/1/canary"]), "data/1/new", false);
}

#[test]
fn sibling_prefix_is_not_writable() {
    // `/data/10` must not make `/data/1` writable (sandboxlib's string-prefix bug).
    write_case(&list(&["data/10"]), "data/1/canary", false);
    write_case(&list(&["data/10"]), "data/1/new", false);
    write_case(&list(&["data/1"]), "data/10/canary", false);
}

#[test]
fn next_to_whitelisted_is_not_writable() {
    write_case(&list(&["data/1"]), "data/new", false);
    write_case(&list(&["data/1"]), "topfile", false);
}

/// The whole suite again as `nobody` (users run hutch without root): chroot reports itself
/// unavailable (no CAP_SYS_CHROOT), userns and ptrace run every case.
#[test]
fn whole_suite_as_nobody() {
    if is_nobody_child() {
        assert_eq!(nix::unistd::geteuid().as_raw(), 65534);
        match BackendKind::Chroot.probe() {
            hutch_backends::Availability::Unavailable(why) => {
                assert!(why.contains("CAP_SYS_CHROOT"), "{why}")
            }
            other => panic!("chroot as nobody: {other:?}"),
        }
        return;
    }
    rerun_as_nobody(&["--test-threads=2"]);
}

#[test]
fn stdin_from_file_and_discarded() {
    for b in available() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in");
        std::fs::write(&input, b"from a file\n").unwrap();
        let mut c = cmd("cat", &[]);
        c.stdin(Stdio::file(std::fs::File::open(&input).unwrap()))
            .stdout(Stdio::Capture);
        assert_eq!(out(&run_on(b, &c)), "from a file\n", "{b}");
        c.stdin(Stdio::Discard);
        assert_eq!(out(&run_on(b, &c)), "", "{b}");
    }
}

#[test]
fn missing_writable_path() {
    // userns cannot bind what does not exist: one clear error, nothing created. ptrace allows
    // creating it (the path is whitelisted); chroot has no write policy.
    for b in available() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("out");
        let mut c = sh(
            "mkdir \"$1\" && echo x > \"$1\"/f",
            &[missing.to_str().unwrap()],
        );
        c.writable(Writable::List(vec![missing.clone()]));
        match b {
            BackendKind::Userns => {
                match run_with(&c, Choice::Named(b)) {
                    Err(e @ Error::Config(ConfigError::Plan(_))) => {
                        assert!(e.to_string().contains("does not exist"), "{e}");
                        assert_eq!(e.exit_code(), 125);
                    }
                    other => panic!("{b}: expected a plan error, got {other:?}"),
                }
                assert!(!missing.exists());
            }
            BackendKind::Ptrace => {
                assert!(run_on(b, &c).status.success(), "{b}");
                assert!(missing.join("f").exists());
            }
            BackendKind::Chroot => {}
        }
    }
}

#[test]
fn usage_is_measured() {
    for b in available() {
        let o = run_on(b, &sh("head -c 20000000 /dev/zero | wc -c", &[]));
        assert_eq!(out(&o).trim(), "20000000", "{b}");
        assert!(o.usage.max_rss_kib > 0, "{b}: {:?}", o.usage);
        assert!(o.usage.wall > std::time::Duration::ZERO, "{b}");
    }
}

#[test]
fn non_utf8_paths() {
    use std::os::unix::ffi::OsStrExt;
    for b in available() {
        if !b.capabilities().writable_policy {
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let w = dir.path().join(std::ffi::OsStr::from_bytes(b"w\xff"));
        let o_dir = dir.path().join(std::ffi::OsStr::from_bytes(b"o\xfe"));
        std::fs::create_dir(&w).unwrap();
        std::fs::create_dir(&o_dir).unwrap();
        let mut c = sh("echo x > \"$1/f\" && echo y > \"$2/f\"", &[]);
        c.arg(&w)
            .arg(&o_dir)
            .writable(Writable::List(vec![w.clone()]));
        let o = run_on(b, &c);
        assert!(!o.status.success(), "{b}");
        assert!(w.join("f").exists(), "{b}");
        assert!(!o_dir.join("f").exists(), "{b}");
        if b == BackendKind::Ptrace {
            assert_eq!(o.violations.len(), 1, "{b}");
            assert_eq!(o.violations[0].resolved, o_dir.join("f"));
        }
    }
}
