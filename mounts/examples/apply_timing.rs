//! Measures `MountPlan::apply` for a typical plan (root `/` read-only, `/tmp` writable, a
//! tmpfs on `/run`, a minimal `/dev`), each run in a fresh mount namespace (and a user
//! namespace when not root). Prints figures; asserts nothing.
//!
//! ```text
//! cargo run --release -p hutch-mounts --example apply_timing [RUNS]
//! setpriv --reuid=65534 --regid=65534 --clear-groups target/release/examples/apply_timing
//! ```
#![forbid(unsafe_code)]

use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use hutch_mounts::{LinuxSyscall, MountPlan, MountSpec};
use nix::sched::CloneFlags;

const CHILD: &str = "HUTCH_TIMING_CHILD";

fn plan() -> MountPlan {
    let mut plan = MountPlan::new("/");
    plan.writable("/tmp")
        .staging_dir("/mnt")
        .mount(MountSpec::tmpfs("/run"))
        .mount(MountSpec::dev("/dev"));
    plan
}

fn child() -> Result<(Duration, Duration), String> {
    let (uid, gid) = (nix::unistd::getuid(), nix::unistd::getgid());
    let mut flags = CloneFlags::CLONE_NEWNS;
    if !uid.is_root() {
        flags |= CloneFlags::CLONE_NEWUSER;
    }
    nix::sched::unshare(flags).map_err(|e| format!("unshare: {e}"))?;
    if !uid.is_root() {
        for (file, line) in [
            ("/proc/self/setgroups", "deny".to_string()),
            ("/proc/self/uid_map", format!("0 {uid} 1")),
            ("/proc/self/gid_map", format!("0 {gid} 1")),
        ] {
            std::fs::write(file, line).map_err(|e| format!("{file}: {e}"))?;
        }
    }
    let plan = plan();
    let start = Instant::now();
    let valid = plan.validate().map_err(|e| e.to_string())?;
    let validated = start.elapsed();
    valid.apply(&LinuxSyscall).map_err(|e| e.to_string())?;
    Ok((validated, start.elapsed()))
}

fn main() -> ExitCode {
    if std::env::var_os(CHILD).is_some() {
        return match child() {
            Ok((v, t)) => {
                println!("{} {}", v.as_nanos(), t.as_nanos());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        };
    }
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(30);
    let exe = std::env::current_exe().expect("own path");
    let mut validate = Vec::new();
    let mut total = Vec::new();
    for _ in 0..runs {
        let out = Command::new(&exe).env(CHILD, "1").output().expect("spawn");
        if !out.status.success() {
            eprintln!("run failed: {}", String::from_utf8_lossy(&out.stderr));
            return ExitCode::FAILURE;
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let mut it = text
            .split_whitespace()
            .map(|n| n.parse::<u64>().unwrap_or(0));
        validate.push(it.next().unwrap_or(0));
        total.push(it.next().unwrap_or(0));
    }
    let show = |name: &str, v: &mut Vec<u64>| {
        v.sort_unstable();
        let us = |n: u64| n as f64 / 1000.0;
        println!(
            "{name:>18}: median {:8.1} µs  min {:8.1} µs  max {:8.1} µs  ({} runs)",
            us(v[v.len() / 2]),
            us(v[0]),
            us(v[v.len() - 1]),
            v.len()
        );
    };
    let who = if nix::unistd::getuid().is_root() {
        "root"
    } else {
        "user namespace"
    };
    println!(
        "MountPlan::apply, root / read-only + /tmp writable + tmpfs /run + dev /dev, as {who}"
    );
    show("validate", &mut validate);
    show("validate + apply", &mut total);
    ExitCode::SUCCESS
}
