//! Helpers for the tracer tests: run a command under `hutch-trace` as root or as `nobody`,
//! with the engine the running test asked for, parse its report, build fixture trees and
//! snapshot them.
//!
//! Every tracer test runs under both engines through [`both_engines!`](crate::both_engines):
//! each half sets the current engine of its thread (cargo runs each test on a thread of its
//! own), and [`trace`], [`driver_command`] and [`tracer`] pass it on.

use std::cell::Cell;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub use hutch_tracer::Engine;
use hutch_tracer::{Policy, Tracer};

thread_local! {
    static ENGINE: Cell<Option<Engine>> = const { Cell::new(None) };
}

/// Runs `test` with `engine` as this thread's current engine (what [`both_engines!`] expands
/// to); the previous setting comes back afterwards, even when `test` panics.
///
/// [`both_engines!`]: crate::both_engines
pub fn with_engine<R>(engine: Engine, test: impl FnOnce() -> R) -> R {
    struct Restore(Option<Engine>);
    impl Drop for Restore {
        fn drop(&mut self) {
            ENGINE.with(|e| e.set(self.0));
        }
    }
    let _restore = Restore(ENGINE.with(|e| e.replace(Some(engine))));
    test()
}

/// The engine the running test asked for.
///
/// # Panics
///
/// Outside [`with_engine`] (and so outside [`both_engines!`]): every tracer test names its
/// engine, so that a run on the wrong one cannot pass unnoticed.
///
/// [`both_engines!`]: crate::both_engines
pub fn current_engine() -> Engine {
    ENGINE
        .with(Cell::get)
        .expect("no engine chosen: wrap the test in both_engines! or with_engine")
}

/// The `--engine` value of `hutch-trace` for `engine`.
pub fn engine_arg(engine: Engine) -> &'static str {
    match engine {
        Engine::Auto => "auto",
        Engine::Ptrace => "ptrace",
        Engine::Notify => "notify",
    }
}

/// A library tracer for `policy` on the current engine.
pub fn tracer<'a>(policy: Policy) -> Tracer<'a> {
    let mut tracer = Tracer::new(policy);
    tracer.engine(current_engine());
    tracer
}

/// Runs the test functions named (each `fn name()`) under both engines: for each name, a
/// module `name` with two tests, `ptrace` and `notify`, that call the function with that
/// engine as the current one (see [`with_engine`]). Write it just above the function, like
/// an attribute; the bodies stay ordinary functions that rustfmt formats.
///
/// ```
/// use hutch_tests::both_engines;
/// use hutch_tests::tracer_harness::{current_engine, Engine};
///
/// both_engines!(engine_is_set);
/// fn engine_is_set() {
///     assert_ne!(current_engine(), Engine::Auto);
/// }
/// # fn main() {
/// #     hutch_tests::tracer_harness::with_engine(Engine::Notify, engine_is_set);
/// # }
/// ```
#[macro_export]
macro_rules! both_engines {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[test]
            fn ptrace() {
                $crate::tracer_harness::with_engine(
                    $crate::tracer_harness::Engine::Ptrace,
                    super::$name,
                );
            }

            #[test]
            fn notify() {
                $crate::tracer_harness::with_engine(
                    $crate::tracer_harness::Engine::Notify,
                    super::$name,
                );
            }
        }
    )+};
}

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
    /// The engine that ran, when the run gave an outcome.
    pub engine: Option<Engine>,
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

/// A command that runs `driver` as `user` on the current engine (`--engine` is its first
/// option; add the others, `--` and the traced command).
pub fn driver_command(driver: &Path, user: User) -> Command {
    let mut c = match user {
        User::Root => Command::new(driver),
        User::Nobody => {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(driver);
            c
        }
    };
    c.args(["--engine", engine_arg(current_engine())]);
    c
}

/// Runs `cmd` under `driver` (the `hutch-trace` binary) with `opts`, as `user`, in `cwd`, on
/// the current engine.
///
/// # Panics
///
/// When the run gave no outcome (the driver printed an error), or when the outcome names
/// another engine than the one asked for (a silent fallback).
pub fn trace(driver: &Path, user: User, cwd: &Path, opts: &[&str], cmd: &[&str]) -> Traced {
    let engine = current_engine();
    let t = try_trace(driver, user, cwd, opts, cmd);
    if let Some(error) = &t.error {
        panic!("hutch-trace failed on {engine:?} ({user:?}): {error}");
    }
    assert_eq!(
        t.engine,
        Some(engine),
        "hutch-trace ran another engine than asked ({user:?})"
    );
    t
}

/// [`trace`] without its checks: the report as it came, error included.
pub fn try_trace(driver: &Path, user: User, cwd: &Path, opts: &[&str], cmd: &[&str]) -> Traced {
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
            "engine" => {
                t.engine = Some(match f[1] {
                    "Ptrace" => Engine::Ptrace,
                    "Notify" => Engine::Notify,
                    "Auto" => Engine::Auto,
                    other => panic!("unknown engine {other}"),
                })
            }
            "error" => t.error = Some(f[1].into()),
            _ => panic!("unknown report line {line}"),
        }
    }
    if !out.stderr.is_empty() {
        eprintln!("stderr: {}", String::from_utf8_lossy(&out.stderr));
    }
    t
}

/// True when `pid` no longer runs: gone, or a zombie nobody reaped (PID 1 here does not reap).
pub fn dead(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => {
            stat.rsplit(')')
                .next()
                .and_then(|s| s.split_whitespace().next())
                == Some("Z")
        }
    }
}

/// Waits up to 5 s for every process of `pids` to be [`dead`]; false if one still runs.
pub fn wait_dead(pids: &[u32]) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        if pids.iter().all(|p| dead(*p)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// The `TracerPid` of `pid` (0 when nothing ptraces it), or `None` when it is gone.
pub fn tracer_pid(pid: u32) -> Option<u32> {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("TracerPid:"))?
        .trim()
        .parse()
        .ok()
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
