//! `hutch plan`: shows what `run` would set up and runs nothing.
mod common;
use common::*;

#[test]
fn plan_shows_backend_mounts_and_inversion_without_running() {
    if !has_backend("userns") {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    for d in ["data/1", "data/10", "etc"] {
        std::fs::create_dir_all(root.path().join(d)).unwrap();
    }
    let r = run_in(
        root.path(),
        [
            "plan",
            "-b",
            "userns",
            "--root",
            root.path().to_str().unwrap(),
            "-w",
            "data/1",
            "--tmpfs",
            "/tmp",
            "--",
            "touch",
            "/data/1/x",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .starts_with("backend   userns (enforcement: kernel)\n"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("/data/1"), "{}", r.stdout);
    assert!(r.stdout.contains("tmpfs"), "{}", r.stdout);
    assert!(r.stdout.contains("  read-only /data/10\n"), "{}", r.stdout);
    assert!(r.stdout.contains("  read-only /etc\n"), "{}", r.stdout);
    assert!(!r.stdout.contains("read-only /data/1\n"), "{}", r.stdout);
    assert!(!root.path().join("data/1/x").exists(), "plan runs nothing");
    assert!(
        !root.path().join("tmp").exists(),
        "plan creates no mount point"
    );
}

#[test]
fn plan_shows_the_tracer_policy() {
    if !has_backend("ptrace") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let r = run_in(
        dir.path(),
        [
            "plan",
            "-b",
            "ptrace",
            "-w",
            "/tmp/out",
            "--network",
            "isolated",
            "--",
            "make",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("backend   ptrace (enforcement: traced)"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("/tmp/out"), "{}", r.stdout);
    assert!(r.stdout.contains("socket/connect denied"), "{}", r.stdout);
    // The filter as built, not a description kept by hand.
    for line in [
        "open, openat with O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_TMPFILE -> judged by the tracer",
        "io_uring_setup, io_uring_enter, io_uring_register -> ENOSYS",
        "socket (not AF_UNIX), connect -> judged by the tracer and denied",
    ] {
        assert!(r.stdout.contains(line), "{line}: {}", r.stdout);
    }
    assert!(r.stdout.contains(" renameat2,"), "{}", r.stdout);
    let auto = format!(
        "\nengine    {} (auto's pick on this kernel)\n",
        auto_tracer_engine()
    );
    assert!(r.stdout.contains(&auto), "{}", r.stdout);
    for engine in ["ptrace", "notify"] {
        let r = run_in(
            dir.path(),
            [
                "plan",
                "-b",
                "ptrace",
                "--tracer-engine",
                engine,
                "--",
                "make",
            ],
        );
        assert_eq!(r.code, 0, "{r:?}");
        let asked = format!("\nengine    {engine} (asked)\n");
        assert!(r.stdout.contains(&asked), "{}", r.stdout);
    }
}

#[test]
fn plan_rejects_what_run_rejects() {
    let dir = tempfile::tempdir().unwrap();
    let r = run_in(
        dir.path(),
        ["plan", "--root", "/no/such/root", "--", "true"],
    );
    assert_eq!(r.code, 125, "{r:?}");
    assert_eq!(r.hutch_lines().len(), 1, "{r:?}");
}
