//! Each option of `hutch run`, on each backend that supports it.
mod common;
use common::*;

use std::path::Path;

#[test]
fn writable_paths_are_writable_and_nothing_else_is() {
    for backend in policy_backends() {
        let dir = shared_tempdir();
        std::fs::create_dir(dir.path().join("out")).unwrap();
        std::fs::create_dir(dir.path().join("out0")).unwrap();
        let r = run_in(
            dir.path(),
            [
                "run",
                "-b",
                &backend,
                "-w",
                "out",
                "--",
                "sh",
                "-c",
                "echo a > out/ok; echo b > out0/no; echo c > next-to; exit 0",
            ],
        );
        assert_eq!(r.code, 0, "{backend}: {r:?}");
        assert!(dir.path().join("out/ok").exists(), "{backend}");
        assert!(
            !dir.path().join("out0/no").exists(),
            "{backend}: sibling prefix"
        );
        assert!(
            !dir.path().join("next-to").exists(),
            "{backend}: parent dir"
        );
    }
}

#[test]
fn nothing_is_writable_by_default_and_writable_all_lifts_it() {
    for backend in available_backends() {
        let dir = shared_tempdir();
        let r = run_in(
            dir.path(),
            [
                "run",
                "-b",
                &backend,
                "--best-effort",
                "--",
                "sh",
                "-c",
                "echo x > f",
            ],
        );
        if backend == "chroot" {
            // chroot enforces no policy: the default is degraded to everything writable.
            assert!(r.stderr.contains("degraded"), "{r:?}");
            continue;
        }
        assert_ne!(r.code, 0, "{backend}: {r:?}");
        assert!(!dir.path().join("f").exists(), "{backend}");
        let r = run_in(
            dir.path(),
            [
                "run",
                "-b",
                &backend,
                "--writable-all",
                "--",
                "sh",
                "-c",
                "echo x > f",
            ],
        );
        assert_eq!(r.code, 0, "{backend}: {r:?}");
        assert!(dir.path().join("f").exists(), "{backend}");
    }
}

#[test]
fn denied_writes_print_one_line_each_unless_quiet() {
    if !has_backend("ptrace") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("denied");
    let script = format!("echo x > {0}; mkdir {0}.d; exit 0", target.display());
    let r = run_in(
        dir.path(),
        ["run", "-b", "ptrace", "--", "sh", "-c", &script],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.hutch_lines(),
        [
            format!("hutch: denied openat {}", target.display()),
            format!("hutch: denied mkdir {}.d", target.display()),
        ]
    );
    let r = run_in(
        dir.path(),
        ["run", "-b", "ptrace", "--quiet", "--", "sh", "-c", &script],
    );
    assert!(r.hutch_lines().is_empty(), "{r:?}");
    assert!(!target.exists());
}

#[test]
fn collect_only_records_but_allows() {
    if !has_backend("ptrace") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let r = run_in(
        dir.path(),
        [
            "run",
            "-b",
            "ptrace",
            "--collect-only",
            "--",
            "sh",
            "-c",
            "echo x > f",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(dir.path().join("f").exists());
    let line = format!("hutch: recorded openat {}", dir.path().join("f").display());
    assert_eq!(r.hutch_lines(), [line.as_str()]);
}

#[test]
fn fake_ownership_leaves_the_owner_alone() {
    if !has_backend("ptrace") {
        return;
    }
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f");
    std::fs::write(&f, b"").unwrap();
    let before = std::fs::metadata(&f).unwrap();
    let r = run_in(
        dir.path(),
        [
            "run",
            "-b",
            "ptrace",
            "-w",
            ".",
            "--fake-ownership",
            "--report",
            "-",
            "--",
            "chown",
            "4321:4321",
            "f",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let after = std::fs::metadata(&f).unwrap();
    assert_eq!((after.uid(), after.gid()), (before.uid(), before.gid()));
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["ownerships"][0]["uid"], 4321);
    assert_eq!(report["ownerships"][0]["gid"], 4321);
}

#[test]
fn chdir_setenv_unsetenv_clearenv() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    for backend in available_backends() {
        let sub = dir.path().join("sub");
        let r = output(
            hutch()
                .current_dir(dir.path())
                .env("HUTCH_TEST_KEEP", "kept")
                .env("HUTCH_TEST_DROP", "dropped")
                .arg("run")
                .args(backend_args(&backend))
                .args(["--chdir", sub.to_str().unwrap()])
                .args([
                    "--setenv",
                    "A",
                    "1",
                    "--unsetenv",
                    "HUTCH_TEST_DROP",
                    "--",
                    "sh",
                    "-c",
                ])
                .arg("pwd; echo ${A}-${HUTCH_TEST_KEEP}-${HUTCH_TEST_DROP:-unset}"),
        );
        assert_eq!(r.code, 0, "{backend}: {r:?}");
        assert_eq!(
            r.stdout,
            format!("{}\n1-kept-unset\n", sub.display()),
            "{backend}"
        );
        // --clearenv: exactly what is given, nothing added (no PWD).
        let r = output(
            hutch()
                .current_dir(dir.path())
                .arg("run")
                .args(backend_args(&backend))
                .args(["--clearenv", "--setenv", "foo", "bar", "--", "/usr/bin/env"]),
        );
        assert_eq!(r.code, 0, "{backend}: {r:?}");
        assert_eq!(r.stdout, "foo=bar\n", "{backend}");
    }
}

#[test]
fn isolated_network_has_only_loopback_and_a_hostname_of_its_own() {
    if !has_backend("userns") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let r = run_in(
        dir.path(),
        [
            "run",
            "-b",
            "userns",
            "--network",
            "isolated",
            "--hostname",
            "hutchbox",
            "--",
            "sh",
            "-c",
            "sed 1,2d /proc/net/dev | cut -d: -f1 | tr -d ' '; hostname",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, "lo\nhutchbox\n");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_ne!(host.trim(), "hutchbox");
}

#[test]
fn ptrace_network_isolated_denies_connect() {
    if !has_backend("ptrace") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let r = run_in(
        dir.path(),
        ["run", "-b", "ptrace", "--network", "isolated", "--report", "-", "--", "python3", "-c",
         "import socket\ntry:\n socket.create_connection(('127.0.0.1', 9), 1)\nexcept OSError as e:\n print(e.errno)"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let report: serde_json::Value =
        serde_json::from_str(&r.stdout[r.stdout.find('{').unwrap()..]).unwrap();
    let denials = report["network_denials"].as_array().unwrap();
    assert!(!denials.is_empty(), "{r:?}");
}

/// A minimal root: the host's /usr read-only, the usual symlinks, nothing else.
fn rootfs() -> tempfile::TempDir {
    let root = shared_tempdir();
    for dir in ["usr", "data/1", "data/10"] {
        std::fs::create_dir_all(root.path().join(dir)).unwrap();
    }
    for link in ["bin", "lib", "lib64", "sbin"] {
        if Path::new("/").join(link).is_symlink() {
            std::os::unix::fs::symlink(format!("usr/{link}"), root.path().join(link)).unwrap();
        }
    }
    root
}

#[test]
fn fresh_root_with_proc_dev_tmpfs_and_binds() {
    if !has_backend("userns") {
        return;
    }
    let root = rootfs();
    let shared = tempfile::tempdir().unwrap();
    std::fs::write(shared.path().join("hello"), b"hi\n").unwrap();
    let r = run_in(
        root.path(),
        [
            "run",
            "-b",
            "userns",
            "--root",
            root.path().to_str().unwrap(),
            "--ro-bind",
            "/usr",
            "/usr",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--tmpfs",
            "/tmp",
            "--bind",
            shared.path().to_str().unwrap(),
            "/shared",
            "-w",
            "/data/1",
            "--",
            "sh",
            "-c",
            "cat /shared/hello; echo y > /shared/w; echo t > /tmp/t && cat /tmp/t; \
             test -c /dev/null && echo devnull; test -r /proc/self/status && echo proc; \
             echo d > /data/1/ok && echo ok; echo e > /data/10/no 2>/dev/null || echo denied",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, "hi\nt\ndevnull\nproc\nok\ndenied\n", "{r:?}");
    assert!(shared.path().join("w").exists(), "--bind is read-write");
    assert!(root.path().join("data/1/ok").exists());
    assert!(!root.path().join("data/10/no").exists());
}

#[test]
fn unprivileged_runs_work_as_nobody() {
    let dir = shared_tempdir();
    std::fs::create_dir(dir.path().join("out")).unwrap();
    std::fs::set_permissions(
        dir.path().join("out"),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    for backend in ["userns", "ptrace"] {
        let Some(r) = as_nobody(
            dir.path(),
            &[
                "run",
                "-b",
                backend,
                "-w",
                "out",
                "--",
                "sh",
                "-c",
                "echo x > out/f-$$; id -u",
            ],
        ) else {
            return;
        };
        assert_eq!(r.code, 0, "{backend} as nobody: {r:?}");
        let uid = r.stdout.trim();
        assert!(uid == "65534" || uid == "0", "{backend}: {r:?}");
    }
    let written = std::fs::read_dir(dir.path().join("out")).unwrap().count();
    assert_eq!(written, 2);
}
