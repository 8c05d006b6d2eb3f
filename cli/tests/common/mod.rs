//! Drives the built `hutch` binary as a user would.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

/// What one invocation produced.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The stderr lines that hutch itself printed.
    pub fn hutch_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| l.starts_with("hutch: "))
            .collect()
    }
}

pub fn hutch() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hutch"));
    cmd.env_remove("HUTCH_BACKEND").stdin(Stdio::null());
    cmd
}

pub fn run_in<I, S>(dir: &Path, args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    output(hutch().current_dir(dir).args(args))
}

pub fn output(cmd: &mut Command) -> Run {
    let out = cmd.output().expect("hutch runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// True when this process is root (some cases only make sense there).
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Runs hutch as `nobody` through setpriv, or says why it cannot.
pub fn as_nobody(dir: &Path, args: &[&str]) -> Option<Run> {
    if !is_root() {
        eprintln!("not root: cannot switch to nobody; the suite already runs unprivileged");
        return None;
    }
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_hutch"))
        .args(args)
        .current_dir(dir)
        .env_remove("HUTCH_BACKEND")
        .stdin(Stdio::null());
    Some(output(&mut cmd))
}

/// A temporary directory that `nobody` may use too.
pub fn shared_tempdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    dir
}

/// The entries of `hutch backends --json`.
pub fn backends_json() -> Vec<serde_json::Value> {
    let out = output(hutch().args(["backends", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("backends --json");
    v["backends"]
        .as_array()
        .expect("a list of backends")
        .clone()
}

/// Which of the backends can run here, from `hutch backends --json`.
pub fn available_backends() -> Vec<String> {
    backends_json()
        .iter()
        .filter(|b| b["available"].as_bool() == Some(true))
        .map(|b| b["name"].as_str().unwrap().to_string())
        .collect()
}

/// The backends that enforce a writable whitelist and can run here.
pub fn policy_backends() -> Vec<String> {
    let list: Vec<String> = available_backends()
        .into_iter()
        .filter(|b| b == "userns" || b == "ptrace")
        .collect();
    if list.is_empty() {
        eprintln!("neither userns nor ptrace can run here: policy cases not exercised");
    }
    list
}

/// `-b BACKEND`, plus `--writable-all` for chroot, which enforces no write policy.
pub fn backend_args(backend: &str) -> Vec<String> {
    let mut args = vec!["-b".to_string(), backend.to_string()];
    if backend == "chroot" {
        args.push("--writable-all".to_string());
    }
    args
}

/// True when `backend` can run here; otherwise says so, so the caller can return early.
pub fn has_backend(backend: &str) -> bool {
    let here = available_backends().iter().any(|b| b == backend);
    if !here {
        eprintln!("{backend} backend unavailable here: case not exercised");
    }
    here
}

/// The tracer engine `auto` picks here, from `hutch backends --json` (`ptrace` or `notify`).
pub fn auto_tracer_engine() -> String {
    backends_json()
        .iter()
        .find(|b| b["name"] == "ptrace")
        .and_then(|b| b["tracer_engine_auto"].as_str())
        .expect("the ptrace backend names auto's tracer engine")
        .to_string()
}

/// True when this kernel can run the notify engine (the tracer's own probe, which `auto`
/// uses too); prints why not.
pub fn notify_kernel() -> bool {
    let ok = hutch_backends::Engine::Auto.resolve() == hutch_backends::Engine::Notify;
    if !ok {
        eprintln!("notify engine not exercised: this kernel lacks seccomp user notifications or is older than 5.19");
    }
    ok
}
