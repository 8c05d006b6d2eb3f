//! Shared helpers for the backends tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use hutch_backends::{Availability, BackendKind, Config, Outcome, Stdio};

/// Every backend with its availability; prints why each unavailable one is left out.
///
/// `HUTCH_TEST_BACKENDS=userns,ptrace` narrows the list (for debugging one backend).
pub fn available() -> Vec<BackendKind> {
    let only = std::env::var("HUTCH_TEST_BACKENDS").ok();
    BackendKind::ALL
        .into_iter()
        .filter(|kind| {
            only.as_deref()
                .is_none_or(|list| list.split(',').any(|n| n == kind.name()))
        })
        .filter(|kind| match kind.probe() {
            Availability::Available => true,
            Availability::Unavailable(why) => {
                eprintln!("backend {kind} not tested here: {why}");
                false
            }
        })
        .collect()
}

/// True when running as root (with the capabilities the chroot backend needs).
pub fn is_root() -> bool {
    BackendKind::Chroot.probe().is_available()
}

/// A command with an exact, small environment and everything writable (sandboxlib's
/// default; the writable tests set their own).
pub fn cmd(program: &str, args: &[&str]) -> Config {
    let mut c = Config::new(program);
    c.args(args)
        .writable(hutch_backends::Writable::All)
        .env_clear()
        .env("PATH", "/usr/bin:/bin:/usr/sbin:/sbin");
    c
}

/// `sh -c SCRIPT sh ARGS...` with captured output.
pub fn sh(script: &str, args: &[&str]) -> Config {
    let mut all = vec!["-c", script, "sh"];
    all.extend_from_slice(args);
    let mut c = cmd("sh", &all);
    c.stdout(Stdio::Capture).stderr(Stdio::Capture);
    c
}

/// Runs on `backend`, panicking with the error if it could not run.
pub fn run_on(backend: BackendKind, config: &Config) -> Outcome {
    match hutch_backends::run_with(config, hutch_backends::Choice::Named(backend)) {
        Ok(outcome) => {
            assert_eq!(outcome.backend, backend);
            outcome
        }
        Err(e) => panic!("{backend}: {e}"),
    }
}

/// Captured stdout as text.
pub fn out(o: &Outcome) -> String {
    String::from_utf8_lossy(o.stdout.as_deref().unwrap_or_default()).into_owned()
}

/// Captured stderr as text.
pub fn err(o: &Outcome) -> String {
    String::from_utf8_lossy(o.stderr.as_deref().unwrap_or_default()).into_owned()
}

/// sandboxlib's `test-file-is-writable` as a shell script: prints what happened, exits 0/1.
pub const WRITE_PROBE: &str = r#"if (printf '!' > "$1") 2>/dev/null; then printf 'Wrote data to %s.' "$1"; else printf "Couldn't open %s for writing." "$1"; exit 1; fi"#;

/// A directory tree `data/1/canary`, `data/10/canary`, `topfile` for the writable tests.
pub struct Tree {
    pub dir: tempfile::TempDir,
}

impl Tree {
    pub fn new() -> Tree {
        let dir = tempfile::Builder::new()
            .prefix("hutch-backends-")
            .tempdir()
            .expect("tempdir");
        for sub in ["data/1", "data/10"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
            std::fs::write(dir.path().join(sub).join("canary"), b"canary").unwrap();
        }
        std::fs::write(dir.path().join("topfile"), b"top").unwrap();
        Tree { dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_default()
    }
}

/// A fresh root directory that only holds `bin`, `lib`, `lib64`, `sbin` symlinks into `usr`;
/// `/usr` itself comes from a read-only bind mount added by [`fresh_root_config`].
pub fn fresh_root() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("hutch-root-")
        .tempdir()
        .expect("tempdir");
    for (link, to) in [
        ("bin", "usr/bin"),
        ("lib", "usr/lib"),
        ("lib64", "usr/lib64"),
        ("sbin", "usr/sbin"),
    ] {
        std::os::unix::fs::symlink(to, dir.path().join(link)).unwrap();
    }
    dir
}

/// `sh -c SCRIPT` in `root` with `/usr` bound read-only.
pub fn fresh_root_config(root: &Path, script: &str) -> Config {
    let mut c = sh(script, &[]);
    c.root(root).mount(hutch_backends::Mount::RoBind {
        source: "/usr".into(),
        target: "/usr".into(),
    });
    c
}

/// True in a child started by [`rerun_as_nobody`].
pub fn is_nobody_child() -> bool {
    std::env::var_os("HUTCH_TEST_AS_NOBODY").is_some()
}

/// Re-runs this test binary as `nobody` with `args` (e.g. `["--exact", "name"]`); asserts it
/// passed. Without root, says so and does nothing (the run is unprivileged already).
pub fn rerun_as_nobody(args: &[&str]) {
    if !is_root() {
        eprintln!("not root: cannot switch to nobody; this run is unprivileged already");
        return;
    }
    let status = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(std::env::current_exe().unwrap())
        .args(args)
        .env("HUTCH_TEST_AS_NOBODY", "1")
        .env("TMPDIR", "/tmp")
        .status()
        .expect("setpriv (util-linux) is needed to run tests as nobody");
    assert!(status.success(), "failed as nobody: {args:?}");
}
