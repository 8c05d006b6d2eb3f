//! Real mounts in private mount namespaces, as root and as `nobody` inside a user namespace.
//!
//! `harness = false`: `main` is the orchestrator. For each case and each role it re-executes
//! this binary (as uid 65534 for the `nobody` role), with the case in the environment:
//!
//! * stage 1 (single-threaded) unshares a mount and PID namespace, plus a user namespace that
//!   maps its uid to 0 for the `nobody` role (raw nix calls; hutch-ns is not used), then
//!   re-executes itself once more so that stage 2 is PID 1 of the new PID namespace (needed to
//!   mount a procfs inside a user namespace);
//! * stage 1 also bind-mounts the case directory on itself as a shared mount;
//! * stage 2 unshares one more mount namespace (its copy of that mount is a peer of stage 1's),
//!   makes `/` recursively private (except for the cases that rely on `MountPlan::apply` to do
//!   it) and runs the case; stage 1 then checks that nothing propagated back to it.
//!
//! Each case gets a fresh directory owned by the role's uid. After the case the orchestrator
//! checks that the host's mountinfo shows nothing below that directory, then removes it.
//! Cases that cannot run (no user namespaces, not root) print why and count as skipped.

#[path = "namespace/cases.rs"]
mod cases;
#[path = "namespace/fallback.rs"]
mod fallback;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use nix::sched::CloneFlags;
use nix::unistd::{getgid, getuid, Uid};
use std::os::unix::process::CommandExt;

const CASE: &str = "HUTCH_MOUNTS_CASE";
const STAGE: &str = "HUTCH_MOUNTS_STAGE";
const ROLE: &str = "HUTCH_MOUNTS_ROLE";
const DIR: &str = "HUTCH_MOUNTS_DIR";
/// Exit status of a case that cannot run here.
const SKIP: i32 = 77;
const NOBODY: u32 = 65534;

fn main() -> ExitCode {
    match std::env::var(STAGE).as_deref() {
        Ok("1") => ExitCode::from(stage1()),
        Ok("2") => ExitCode::from(stage2()),
        _ => orchestrate(),
    }
}

fn orchestrate() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        for (name, _) in cases::CASES {
            for role in ["root", "nobody"] {
                println!("{name}::{role}: test");
            }
        }
        return ExitCode::SUCCESS;
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let exact = args.iter().any(|a| a == "--exact");
    let selected = |name: &str| {
        filters.is_empty()
            || filters.iter().any(|f| {
                if exact {
                    name == f.as_str()
                } else {
                    name.contains(f.as_str())
                }
            })
    };
    let me_root = getuid().is_root();
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for (name, _) in cases::CASES {
        for role in ["root", "nobody"] {
            let full = format!("{name}::{role}");
            if !selected(&full) {
                continue;
            }
            let outcome = if role == "root" && !me_root {
                Err(Some("needs root".to_string()))
            } else {
                run_case(name, role, me_root)
            };
            match outcome {
                Ok(()) => {
                    passed += 1;
                    println!("test {full} ... ok");
                }
                Err(Some(reason)) => {
                    skipped += 1;
                    println!("test {full} ... skipped: {reason}");
                }
                Err(None) => {
                    failed += 1;
                    println!("test {full} ... FAILED");
                }
            }
        }
    }
    println!("\ntest result: {passed} passed; {failed} failed; {skipped} skipped");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Runs one case in its child; `Err(Some(reason))` is a skip, `Err(None)` a failure.
fn run_case(name: &str, role: &str, me_root: bool) -> Result<(), Option<String>> {
    let dir = tempfile::Builder::new()
        .prefix("hutch-mounts-")
        .tempdir()
        .map_err(|e| Some(format!("no temporary directory: {e}")))?;
    let dir_path = dir.path().to_path_buf();
    let mut cmd = Command::new(std::env::current_exe().expect("test binary path"));
    cmd.env(CASE, name)
        .env(STAGE, "1")
        .env(ROLE, role)
        .env(DIR, &dir_path);
    if role == "nobody" && me_root {
        let nobody = Uid::from_raw(NOBODY);
        nix::unistd::chown(
            &dir_path,
            Some(nobody),
            Some(nix::unistd::Gid::from_raw(NOBODY)),
        )
        .expect("chown the case directory");
        cmd.uid(NOBODY)
            .gid(NOBODY)
            .env("HUTCH_MOUNTS_UID", NOBODY.to_string());
    }
    let out = match cmd.output() {
        Ok(out) => out,
        // For example a test binary that uid 65534 may not execute.
        Err(e) if role == "nobody" => return Err(Some(format!("cannot run as nobody: {e}"))),
        Err(e) => panic!("spawn the case: {e}"),
    };
    let leaked = leaked_mounts(&dir_path);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !leaked.is_empty() {
        println!("--- {name}::{role}: mounts visible on the host afterwards: {leaked:?}\n{text}");
        return Err(None);
    }
    match out.status.code() {
        Some(0) => Ok(()),
        Some(SKIP) => Err(Some(text.trim().to_string())),
        _ => {
            println!("--- {name}::{role} ({}):\n{text}", out.status);
            Err(None)
        }
    }
}

/// Mount points of the host's mount namespace at or below `dir`.
fn leaked_mounts(dir: &Path) -> Vec<PathBuf> {
    let table = hutch_mounts::read_mountinfo().expect("host mountinfo");
    hutch_mounts::mounts_under(&table, dir)
        .into_iter()
        .map(|m| m.mount_point.clone())
        .collect()
}

fn stage1() -> u8 {
    let role = std::env::var(ROLE).unwrap_or_default();
    let mut flags = CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWPID;
    let userns = role == "nobody";
    let (uid, gid) = (getuid(), getgid());
    if let Ok(want) = std::env::var("HUTCH_MOUNTS_UID") {
        if uid.to_string() != want {
            eprintln!("stage 1 runs as uid {uid}, expected {want}");
            return 1;
        }
    }
    if userns {
        flags |= CloneFlags::CLONE_NEWUSER;
    }
    if let Err(e) = nix::sched::unshare(flags) {
        println!("unshare({flags:?}) refused: {e} (user namespaces restricted?)");
        return SKIP as u8;
    }
    if userns {
        let maps = [
            ("/proc/self/setgroups", "deny".to_string()),
            ("/proc/self/uid_map", format!("0 {uid} 1")),
            ("/proc/self/gid_map", format!("0 {gid} 1")),
        ];
        for (file, line) in maps {
            if let Err(e) = std::fs::write(file, &line) {
                eprintln!("write {line:?} to {file}: {e}");
                return 1;
            }
        }
    }
    // A shared mount on the case directory: stage 2's copy is its peer, so anything stage 2
    // mounts below it without first making its mounts private propagates back here.
    let dir = PathBuf::from(std::env::var_os(DIR).unwrap_or_default());
    let sys = hutch_mounts::LinuxSyscall;
    let shared = hutch_mounts::ops::bind(&sys, &dir, &dir, false).and_then(|()| {
        hutch_mounts::ops::set_propagation(
            &sys,
            &dir,
            hutch_mounts::ops::Propagation::Shared,
            false,
        )
    });
    if let Err(e) = shared {
        eprintln!("shared bind of the case directory: {e}");
        return 1;
    }
    let status = Command::new("/proc/self/exe")
        .env(STAGE, "2")
        .status()
        .expect("spawn stage 2");
    let seen = leaked_mounts(&dir);
    if seen.len() != 1 {
        eprintln!("mounts propagated out of the case's mount namespace: {seen:?}");
        return 1;
    }
    status.code().map_or(1, |c| c as u8)
}

fn stage2() -> u8 {
    let name = std::env::var(CASE).unwrap_or_default();
    let dir = PathBuf::from(std::env::var_os(DIR).unwrap_or_default());
    let sys = hutch_mounts::LinuxSyscall;
    if let Err(e) = nix::sched::unshare(CloneFlags::CLONE_NEWNS) {
        eprintln!("unshare(CLONE_NEWNS) in stage 2: {e}");
        return 1;
    }
    if !cases::SELF_PRIVATE.contains(&name.as_str()) {
        let private = hutch_mounts::ops::Propagation::Private;
        if let Err(e) = hutch_mounts::ops::set_propagation(&sys, Path::new("/"), private, true) {
            eprintln!("{e}");
            return 1;
        }
    }
    let Some((_, case)) = cases::CASES.iter().find(|(n, _)| *n == name) else {
        eprintln!("unknown case {name}");
        return 1;
    };
    match case(&dir) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}
