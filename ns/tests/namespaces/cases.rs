//! The test cases. Each runs in its own single-threaded process (see `main.rs`); it panics (or
//! exits non-zero) on failure.

pub(crate) use std::fs;
pub(crate) use std::io::{self, BufRead, BufReader};
pub(crate) use std::os::fd::OwnedFd;
pub(crate) use std::os::unix::process::{CommandExt, ExitStatusExt};
pub(crate) use std::path::Path;
pub(crate) use std::process::{exit, Command, Stdio};

pub(crate) use hutch_ns::caps::{self, CapSet, Capability};
pub(crate) use hutch_ns::{
    enter_user_ns, exit_like, setns, unshare, ExitStatus, Namespaces, NsError, Outcome, Sandbox,
    SpawnError, Stage, Target, UnsharePlan, UserMapping, FORWARDED,
};
pub(crate) use nix::errno::Errno;
pub(crate) use nix::fcntl::OFlag;
pub(crate) use nix::mount::{mount, MsFlags};
pub(crate) use nix::sys::signal::{kill, SigSet, Signal};
pub(crate) use nix::sys::wait::{waitpid, WaitPidFlag};
pub(crate) use nix::unistd::{getegid, geteuid, gethostname, getpid, getuid, Pid};

use crate::ns_cases::*;
use crate::process_cases::*;
pub(crate) use crate::{AS_ENV, ROLE_ENV};

type Case = (&'static str, fn());

/// Every case, by name.
pub const CASES: &[Case] = &[
    ("unshare_and_setns_basics", unshare_and_setns_basics),
    ("user_map_files", user_map_files),
    (
        "user_map_written_for_another_process",
        user_map_written_for_another_process,
    ),
    (
        "userns_sandbox_from_multithreaded_caller",
        userns_sandbox_from_multithreaded_caller,
    ),
    ("pid_namespace_view", pid_namespace_view),
    ("exit_codes_pass_through", exit_codes_pass_through),
    (
        "signal_deaths_reported_as_signals",
        signal_deaths_reported_as_signals,
    ),
    (
        "background_process_killed_when_main_exits",
        background_process_killed_when_main_exits,
    ),
    (
        "sigterm_to_outer_reaches_command",
        sigterm_to_outer_reaches_command,
    ),
    ("kill_ends_the_tree", kill_ends_the_tree),
    ("loopback_up_and_alone", loopback_up_and_alone),
    ("hostname_inside_only", hostname_inside_only),
    ("mount_inside_absent_on_host", mount_inside_absent_on_host),
    (
        "best_effort_skips_unsupported",
        best_effort_skips_unsupported,
    ),
    (
        "failures_are_reported_by_stage",
        failures_are_reported_by_stage,
    ),
    (
        "setup_guard_is_dropped_after_the_command",
        setup_guard_is_dropped_after_the_command,
    ),
    ("caps_drop_except", caps_drop_except),
    ("exit_like_mirrors_status", exit_like_mirrors_status),
    ("namespaces_differ_from_host", namespaces_differ_from_host),
    (
        "terminal_handed_over_and_back",
        terminal_handed_over_and_back,
    ),
    ("probe_reports_what_fails", probe_reports_what_fails),
    (
        "command_cannot_forge_its_status",
        command_cannot_forge_its_status,
    ),
    (
        "concurrent_spawns_from_threads",
        concurrent_spawns_from_threads,
    ),
];

pub(crate) fn is_root() -> bool {
    std::env::var(AS_ENV).as_deref() == Ok("root") && geteuid().is_root()
}

pub(crate) fn skip(reason: &str) -> ! {
    println!("SKIP: {reason}");
    exit(0)
}

/// The sandbox used by most cases: as root without a user namespace (the privileged path), as
/// nobody with one, mapped to root.
pub(crate) fn base(extra: Namespaces) -> Sandbox {
    let ns = Namespaces::MOUNT | Namespaces::IPC | Namespaces::UTS | extra;
    if is_root() {
        Sandbox::new(ns)
    } else {
        Sandbox::new(ns).map_root()
    }
}

pub(crate) fn no_setup() -> Result<(), String> {
    Ok(())
}

pub(crate) fn sh(script: String) -> impl FnOnce() -> io::Error {
    move || Command::new("/bin/sh").args(["-c", &script]).exec()
}

pub(crate) fn sh_to(script: String, out: OwnedFd) -> impl FnOnce() -> io::Error {
    move || {
        Command::new("/bin/sh")
            .args(["-c", &script])
            .stdout(Stdio::from(out))
            .exec()
    }
}

/// Run and wait; skip the case when an unprivileged user namespace is refused by the machine.
pub(crate) fn run<C: FnOnce() -> io::Error>(sb: &Sandbox, command: C) -> Outcome {
    let out = sb
        .spawn(no_setup, command)
        .expect("spawn")
        .wait()
        .expect("wait");
    skip_if_userns_refused(&out);
    out
}

pub(crate) fn skip_if_userns_refused(out: &Outcome) {
    if let Outcome::Failed(f) = out {
        if f.stage == Stage::Unshare && !is_root() {
            skip(&format!("unprivileged user namespaces refused here: {f}"));
        }
    }
}

pub(crate) fn pipe() -> (BufReader<fs::File>, OwnedFd) {
    let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).expect("pipe");
    (BufReader::new(fs::File::from(r)), w)
}

pub(crate) fn read_line(r: &mut BufReader<fs::File>) -> String {
    let mut line = String::new();
    r.read_line(&mut line).expect("read line");
    line.trim().to_owned()
}

pub(crate) fn marker() -> String {
    format!("7{}", std::process::id())
}

/// Host pids of processes that have `arg` as a whole argument.
pub(crate) fn processes_with_arg(arg: &str) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if cmdline.split(|b| *b == 0).any(|a| a == arg.as_bytes()) {
            found.push(pid);
        }
    }
    found
}

/// A shell snippet that starts `sleep MARKER` in the background and waits until it runs.
pub(crate) fn background_sleep(m: &str) -> String {
    format!("sleep {m} & while [ \"$(cat /proc/$!/comm 2>/dev/null)\" != sleep ]; do :; done")
}

/// Reap every child (we are a subreaper) until none is left; hangs (and the runner times out)
/// if anything of the tree survived.
pub(crate) fn reap_all() {
    loop {
        match waitpid(None, Some(WaitPidFlag::__WALL)) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(Errno::ECHILD) => return,
            Err(e) => panic!("waitpid: {e}"),
        }
    }
}

pub(crate) fn status_field(name: &str) -> String {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(':')))
        .unwrap_or_else(|| panic!("no {name} in /proc/self/status"))
        .trim()
        .to_owned()
}

pub(crate) fn map_fields(path: &str) -> Vec<u64> {
    fs::read_to_string(path)
        .unwrap()
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect()
}
