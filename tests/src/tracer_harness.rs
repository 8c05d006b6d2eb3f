//! Helpers for the tracer tests: run a command under `hutch-trace` as root or as `nobody`,
//! parse its report, build fixture trees and snapshot them.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Who runs the tracer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum User {
    /// The test's own user (root in CI).
    Root,
    /// uid/gid 65534 through `setpriv`.
    Nobody,
}

/// The uid of `nobody`.
pub const NOBODY: u32 = 65534;

/// One violation line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The thread.
    pub pid: u32,
    /// The syscall name.
    pub syscall: String,
    /// The path as passed.
    pub path: String,
    /// The resolved path.
    pub resolved: String,
}

/// A parsed `hutch-trace` report.
#[derive(Debug, Default)]
pub struct Traced {
    /// The command's own output lines.
    pub output: Vec<String>,
    /// `exited N` or `signaled N`.
    pub status: String,
    /// Violations, in order.
    pub violations: Vec<Violation>,
    /// `(path, uid, gid)` records.
    pub ownerships: Vec<(String, u32, u32)>,
    /// `(path, octal mode)` records.
    pub modes: Vec<(String, String)>,
    /// `(syscall, destination)` records.
    pub network: Vec<(String, String)>,
    /// Killed leftovers.
    pub leftovers: Vec<u32>,
    /// The Landlock status line.
    pub landlock: String,
    /// The error line, when the run failed.
    pub error: Option<String>,
}

impl Traced {
    /// The `result=` lines of the command's output.
    pub fn results(&self) -> Vec<&str> {
        self.output
            .iter()
            .filter_map(|l| l.strip_prefix("result="))
            .collect()
    }
}

/// True when tests can switch to `nobody` (root and `setpriv` present); prints why not.
pub fn can_run_as_nobody() -> bool {
    let root = fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false);
    let setpriv = Command::new("setpriv").arg("--version").output().is_ok();
    if !(root && setpriv) {
        eprintln!(
            "skipping the nobody half: needs root and setpriv (root={root}, setpriv={setpriv})"
        );
    }
    root && setpriv
}

/// Root, plus nobody when the machine allows switching to it.
pub fn users() -> Vec<User> {
    let mut users = vec![User::Root];
    if can_run_as_nobody() {
        users.push(User::Nobody);
    }
    users
}

/// A command that runs `driver` as `user`.
pub fn driver_command(driver: &Path, user: User) -> Command {
    match user {
        User::Root => Command::new(driver),
        User::Nobody => {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(driver);
            c
        }
    }
}

/// Runs `cmd` under `driver` (the `hutch-trace` binary) with `opts`, as `user`, in `cwd`.
pub fn trace(driver: &Path, user: User, cwd: &Path, opts: &[&str], cmd: &[&str]) -> Traced {
    let mut command = driver_command(driver, user);
    let out = command
        .args(opts)
        .arg("--")
        .args(cmd)
        .current_dir(cwd)
        .output()
        .expect("run hutch-trace");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut t = Traced::default();
    for line in stdout.lines() {
        let Some(rest) = line.strip_prefix("hutch:") else {
            t.output.push(line.to_string());
            continue;
        };
        let f: Vec<&str> = rest.split('\t').collect();
        match f[0] {
            "status" => t.status = format!("{} {}", f[1], f[2]),
            "violation" => t.violations.push(Violation {
                pid: f[1].parse().expect("pid"),
                syscall: f[2].into(),
                path: f[3].into(),
                resolved: f[4].into(),
            }),
            "ownership" => t.ownerships.push((
                f[1].into(),
                f[2].parse().expect("uid"),
                f[3].parse().expect("gid"),
            )),
            "mode" => t.modes.push((f[1].into(), f[2].into())),
            "network" => t.network.push((f[1].into(), f[2].into())),
            "leftover" => t.leftovers.push(f[1].parse().expect("pid")),
            "landlock" => t.landlock = f[1].into(),
            "error" => t.error = Some(f[1].into()),
            _ => panic!("unknown report line {line}"),
        }
    }
    if !out.stderr.is_empty() {
        eprintln!("stderr: {}", String::from_utf8_lossy(&out.stderr));
    }
    t
}

/// A fixture tree: `in/` (to be whitelisted) and `out/` (not), both world-writable so that
/// only the tracer and Landlock stand between `nobody` and a write. Each holds a file `f`
/// ("x", 0666), a directory `d` and a symlink `l -> f`.
pub struct Fixture {
    /// Keeps the tree alive.
    pub dir: tempfile::TempDir,
    /// The canonical root of the tree.
    pub root: PathBuf,
}

impl Fixture {
    /// Builds the tree, owned by `user`.
    pub fn new(user: User) -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().canonicalize().expect("canonical");
        fs::set_permissions(&root, fs::Permissions::from_mode(0o777)).expect("chmod");
        for side in ["in", "out"] {
            let d = root.join(side);
            fs::create_dir(&d).expect("mkdir");
            fs::write(d.join("f"), b"x").expect("write");
            fs::create_dir(d.join("d")).expect("mkdir");
            std::os::unix::fs::symlink("f", d.join("l")).expect("symlink");
            fs::set_permissions(&d, fs::Permissions::from_mode(0o777)).expect("chmod");
            fs::set_permissions(d.join("f"), fs::Permissions::from_mode(0o666)).expect("chmod");
            fs::set_permissions(d.join("d"), fs::Permissions::from_mode(0o777)).expect("chmod");
        }
        if user == User::Nobody {
            chown_tree(&root, NOBODY);
        }
        Fixture { dir, root }
    }

    /// `root/rel` as a string.
    pub fn p(&self, rel: &str) -> String {
        self.root.join(rel).to_string_lossy().into_owned()
    }
}

fn chown_tree(path: &Path, uid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(uid)).expect("chown");
    if fs::symlink_metadata(path).expect("stat").is_dir() {
        for entry in fs::read_dir(path).expect("readdir") {
            chown_tree(&entry.expect("entry").path(), uid);
        }
    }
}

/// Everything observable about a tree: names, types, sizes, modes, owners, times (ctime
/// catches chmod, chown, xattr and link changes), symlink targets.
pub fn snapshot(path: &Path) -> Vec<String> {
    let mut out = Vec::new();
    snap(path, &mut out);
    out.sort();
    out
}

fn snap(path: &Path, out: &mut Vec<String>) {
    let Ok(m) = fs::symlink_metadata(path) else {
        return;
    };
    let target = fs::read_link(path)
        .map(|t| t.display().to_string())
        .unwrap_or_default();
    out.push(format!(
        "{} mode={:o} uid={} gid={} size={} mtime={}.{} ctime={}.{} nlink={} -> {target}",
        path.display(),
        m.mode(),
        m.uid(),
        m.gid(),
        m.size(),
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec(),
        m.nlink()
    ));
    if m.is_dir() {
        for entry in fs::read_dir(path).expect("readdir") {
            snap(&entry.expect("entry").path(), out);
        }
    }
}
