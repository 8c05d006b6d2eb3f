//! The test cases. Each runs in its own single-threaded process (see `main.rs`); it panics (or
//! exits non-zero) on failure.

use std::fs;
use std::io::{self, BufRead, BufReader};
use std::os::fd::OwnedFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{exit, Command, Stdio};

use hutch_ns::caps::{self, CapSet, Capability};
use hutch_ns::{
    enter_user_ns, exit_like, setns, unshare, ExitStatus, Namespaces, NsError, Outcome, Sandbox,
    SpawnError, Stage, UnsharePlan, UserMapping, FORWARDED,
};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{mount, MsFlags};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::{getegid, geteuid, gethostname, getpid, getuid, Pid};

use crate::{AS_ENV, ROLE_ENV};

type Case = (&'static str, fn());

/// Every case, by name.
pub const CASES: &[Case] = &[
    ("unshare_and_setns_basics", unshare_and_setns_basics),
    ("user_map_files", user_map_files),
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
    ("caps_drop_except", caps_drop_except),
    ("exit_like_mirrors_status", exit_like_mirrors_status),
    ("namespaces_differ_from_host", namespaces_differ_from_host),
    (
        "terminal_handed_over_and_back",
        terminal_handed_over_and_back,
    ),
];

fn is_root() -> bool {
    std::env::var(AS_ENV).as_deref() == Ok("root") && geteuid().is_root()
}

fn skip(reason: &str) -> ! {
    println!("SKIP: {reason}");
    exit(0)
}

/// The sandbox used by most cases: as root without a user namespace (the privileged path), as
/// nobody with one, mapped to root.
fn base(extra: Namespaces) -> Sandbox {
    let ns = Namespaces::MOUNT | Namespaces::IPC | Namespaces::UTS | extra;
    if is_root() {
        Sandbox::new(ns)
    } else {
        Sandbox::new(ns).map_root()
    }
}

fn no_setup() -> Result<(), String> {
    Ok(())
}

fn sh(script: String) -> impl FnOnce() -> io::Error {
    move || Command::new("/bin/sh").args(["-c", &script]).exec()
}

fn sh_to(script: String, out: OwnedFd) -> impl FnOnce() -> io::Error {
    move || {
        Command::new("/bin/sh")
            .args(["-c", &script])
            .stdout(Stdio::from(out))
            .exec()
    }
}

/// Run and wait; skip the case when an unprivileged user namespace is refused by the machine.
fn run<C: FnOnce() -> io::Error>(sb: &Sandbox, command: C) -> Outcome {
    let out = sb
        .spawn(no_setup, command)
        .expect("spawn")
        .wait()
        .expect("wait");
    skip_if_userns_refused(&out);
    out
}

fn skip_if_userns_refused(out: &Outcome) {
    if let Outcome::Failed(f) = out {
        if f.stage == Stage::Unshare && !is_root() {
            skip(&format!("unprivileged user namespaces refused here: {f}"));
        }
    }
}

fn pipe() -> (BufReader<fs::File>, OwnedFd) {
    let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).expect("pipe");
    (BufReader::new(fs::File::from(r)), w)
}

fn read_line(r: &mut BufReader<fs::File>) -> String {
    let mut line = String::new();
    r.read_line(&mut line).expect("read line");
    line.trim().to_owned()
}

fn marker() -> String {
    format!("7{}", std::process::id())
}

/// Host pids of processes that have `arg` as a whole argument.
fn processes_with_arg(arg: &str) -> Vec<i32> {
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
fn background_sleep(m: &str) -> String {
    format!("sleep {m} & while [ \"$(cat /proc/$!/comm 2>/dev/null)\" != sleep ]; do :; done")
}

/// Reap every child (we are a subreaper) until none is left; hangs (and the runner times out)
/// if anything of the tree survived.
fn reap_all() {
    loop {
        match waitpid(None, Some(WaitPidFlag::__WALL)) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(Errno::ECHILD) => return,
            Err(e) => panic!("waitpid: {e}"),
        }
    }
}

fn status_field(name: &str) -> String {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(':')))
        .unwrap_or_else(|| panic!("no {name} in /proc/self/status"))
        .trim()
        .to_owned()
}

fn map_fields(path: &str) -> Vec<u64> {
    fs::read_to_string(path)
        .unwrap()
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect()
}

// ---------------------------------------------------------------------------------------------

fn unshare_and_setns_basics() {
    let host = gethostname().unwrap();
    let orig = fs::File::open("/proc/self/ns/uts").unwrap();
    let ino = || fs::metadata("/proc/self/ns/uts").map(|m| std::os::unix::fs::MetadataExt::ino(&m));
    let before = ino().unwrap();
    if !is_root() {
        // Without a user namespace nobody may not unshare: a typed error naming the kind.
        let err = unshare(Namespaces::UTS).unwrap_err();
        assert_eq!(
            err,
            NsError::Unshare {
                ns: Namespaces::UTS,
                errno: Errno::EPERM
            }
        );
        assert!(err.to_string().starts_with("unshare uts: EPERM"), "{err}");
        assert_eq!(ino().unwrap(), before, "a failed unshare changed nothing");
        if let Err(e) = unshare(Namespaces::USER | Namespaces::UTS) {
            skip(&format!("unprivileged user namespaces refused: {e}"));
        }
    } else {
        unshare(Namespaces::UTS).unwrap();
    }
    assert_ne!(ino().unwrap(), before, "new uts namespace");
    nix::unistd::sethostname("hutch-basics").unwrap();
    assert_eq!(gethostname().unwrap(), "hutch-basics");
    // Wrong kind: the kernel says EINVAL and the error names the kind we asked for.
    let err = setns(&orig, Namespaces::NET).unwrap_err();
    assert_eq!(
        err,
        NsError::Setns {
            ns: Namespaces::NET,
            errno: Errno::EINVAL
        }
    );
    if is_root() {
        setns(&orig, Namespaces::UTS).unwrap();
        assert_eq!(ino().unwrap(), before);
        assert_eq!(gethostname().unwrap(), host);
        // By path too, into the namespace of another process (the runner, our parent).
        let parent = format!("/proc/{}/ns/uts", nix::unistd::getppid());
        unshare(Namespaces::UTS).unwrap();
        nix::unistd::sethostname("hutch-basics-2").unwrap();
        hutch_ns::setns_path(Path::new(&parent), Namespaces::UTS).unwrap();
        assert_eq!(gethostname().unwrap(), host);
    } else {
        // Joining the host's uts namespace needs CAP_SYS_ADMIN over the host's user namespace.
        let err = setns(&orig, Namespaces::UTS).unwrap_err();
        assert_eq!(
            err,
            NsError::Setns {
                ns: Namespaces::UTS,
                errno: Errno::EPERM
            }
        );
    }
    let err = hutch_ns::setns_path(Path::new("/nonexistent/ns"), Namespaces::NET).unwrap_err();
    assert!(
        matches!(
            err,
            NsError::Open {
                errno: Errno::ENOENT,
                ..
            }
        ),
        "{err}"
    );
}

fn user_map_files() {
    let (uid, gid) = (geteuid().as_raw() as u64, getegid().as_raw() as u64);
    if let Err(e) = enter_user_ns(&UserMapping::root()) {
        if is_root() {
            panic!("{e}");
        }
        skip(&format!("unprivileged user namespaces refused: {e}"));
    }
    assert_eq!(map_fields("/proc/self/uid_map"), [0, uid, 1]);
    assert_eq!(map_fields("/proc/self/gid_map"), [0, gid, 1]);
    assert_eq!(
        fs::read_to_string("/proc/self/setgroups").unwrap().trim(),
        "deny"
    );
    assert_eq!(getuid().as_raw(), 0);
    // A chosen id, in a nested namespace: inside ids map onto our current (root) ids.
    enter_user_ns(&UserMapping::current_to(1234, 4321)).unwrap();
    assert_eq!(map_fields("/proc/self/uid_map"), [1234, 0, 1]);
    assert_eq!(map_fields("/proc/self/gid_map"), [4321, 0, 1]);
    assert_eq!(getuid().as_raw(), 1234);
    assert_eq!(nix::unistd::getgid().as_raw(), 4321);
}

fn userns_sandbox_from_multithreaded_caller() {
    let outer_uid = geteuid().as_raw();
    // The caller has another thread: a direct unshare(CLONE_NEWUSER) would be refused ...
    let t = std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_secs(3)));
    let err = enter_user_ns(&UserMapping::root()).unwrap_err();
    assert!(err.to_string().contains("single-threaded"), "{err}");
    // ... but the sandbox forks a single-threaded relay first.
    let sb = Sandbox::new(Namespaces::USER | Namespaces::MOUNT).map_to(1000, 1000);
    let out = run(&sb, move || -> io::Error {
        let fields = map_fields("/proc/self/uid_map");
        if getuid().as_raw() != 1000 || fields != [1000, u64::from(outer_uid), 1] {
            eprintln!("uid {} map {fields:?}", getuid());
            exit(1)
        }
        exit(0)
    });
    assert_eq!(out, Outcome::Completed(ExitStatus::Exited(0)));
    drop(t);
}

fn pid_namespace_view() {
    let sb = base(Namespaces::empty());
    let setup = || match getpid().as_raw() {
        1 => Ok(()),
        pid => Err(format!("setup runs as pid {pid}")),
    };
    let out = sb
        .spawn(setup, || -> io::Error {
            let me = getpid().as_raw();
            let mut pids: Vec<i32> = fs::read_dir("/proc")
                .unwrap()
                .flatten()
                .filter_map(|e| e.file_name().to_string_lossy().parse().ok())
                .collect();
            pids.sort();
            let link = fs::read_link("/proc/self").unwrap();
            if me != 2 || pids != [1, 2] || link != Path::new("2") {
                eprintln!("pid {me}, /proc pids {pids:?}, /proc/self -> {link:?}");
                exit(1)
            }
            exit(0)
        })
        .unwrap()
        .wait()
        .unwrap();
    skip_if_userns_refused(&out);
    assert_eq!(out, Outcome::Completed(ExitStatus::Exited(0)));
}

fn exit_codes_pass_through() {
    for code in [0, 7, 150] {
        let out = run(&base(Namespaces::empty()), sh(format!("exit {code}")));
        assert_eq!(out, Outcome::Completed(ExitStatus::Exited(code)));
        assert_eq!(out.code(), code);
    }
}

fn signal_deaths_reported_as_signals() {
    for (name, sig) in [("TERM", 15), ("KILL", 9), ("USR1", 10)] {
        let out = run(&base(Namespaces::empty()), sh(format!("kill -{name} $$")));
        assert_eq!(
            out,
            Outcome::Completed(ExitStatus::Signaled(sig)),
            "SIG{name}"
        );
        assert_eq!(out.code(), 128 + sig);
    }
}

fn background_process_killed_when_main_exits() {
    nix::sys::prctl::set_child_subreaper(true).unwrap();
    let m = marker();
    let out = run(
        &base(Namespaces::empty()),
        sh(format!("{}; exit 3", background_sleep(&m))),
    );
    assert_eq!(out, Outcome::Completed(ExitStatus::Exited(3)));
    // Nothing of the tree is left, not even a zombie handed to us, and no `sleep MARKER` runs.
    assert_eq!(
        waitpid(None, Some(WaitPidFlag::WNOHANG | WaitPidFlag::__WALL)),
        Err(Errno::ECHILD)
    );
    assert_eq!(processes_with_arg(&m), Vec::<i32>::new());
}

/// Helper role `outer`: a process that runs a sandbox and forwards its own signals to it, then
/// mirrors the command's end. It prints `ready` once the command printed `ready`.
fn role_outer() {
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(s);
    }
    set.thread_block().unwrap();
    let script = std::env::var("HUTCH_NS_SCRIPT").unwrap();
    let (mut r, w) = pipe();
    let mut child = base(Namespaces::empty())
        .spawn(no_setup, sh_to(script, w))
        .unwrap();
    let line = read_line(&mut r);
    println!("{line}");
    match child.wait_forwarding().unwrap() {
        Outcome::Completed(st) => exit_like(st),
        Outcome::Failed(f) => {
            eprintln!("{f}");
            exit(f.code())
        }
    }
}

fn start_outer(script: &str) -> (std::process::Child, String) {
    let mut helper = Command::new(std::env::current_exe().unwrap())
        .env(ROLE_ENV, "outer")
        .env("HUTCH_NS_SCRIPT", script)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(helper.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    (helper, line.trim().to_owned())
}

fn sigterm_to_outer_reaches_command() {
    // The command's handler runs and decides the status.
    let loop_ = "while :; do sleep 0.05; done";
    let (mut helper, line) = start_outer(&format!(
        "trap 'echo bye; exit 42' TERM; echo ready; {loop_}"
    ));
    if line != "ready" {
        let st = helper.wait().unwrap();
        if st.code() == Some(125) && !is_root() {
            skip("unprivileged user namespaces refused here");
        }
        panic!("helper said {line:?}, ended {st:?}");
    }
    kill(Pid::from_raw(helper.id() as i32), Signal::SIGTERM).unwrap();
    assert_eq!(helper.wait().unwrap().code(), Some(42));
    // Without a handler the command dies of SIGTERM and the outer process mirrors it.
    let (mut helper, line) = start_outer(&format!("echo ready; {loop_}"));
    assert_eq!(line, "ready");
    kill(Pid::from_raw(helper.id() as i32), Signal::SIGTERM).unwrap();
    assert_eq!(helper.wait().unwrap().signal(), Some(libc::SIGTERM));
    // SIGUSR2 and SIGHUP are forwarded as well.
    for (name, sig) in [("USR2", Signal::SIGUSR2), ("HUP", Signal::SIGHUP)] {
        let (mut helper, line) =
            start_outer(&format!("trap 'exit 33' {name}; echo ready; {loop_}"));
        assert_eq!(line, "ready");
        kill(Pid::from_raw(helper.id() as i32), sig).unwrap();
        assert_eq!(helper.wait().unwrap().code(), Some(33), "SIG{name}");
    }
}

fn kill_ends_the_tree() {
    nix::sys::prctl::set_child_subreaper(true).unwrap();
    // Child::kill: SIGKILL to the relay; the init follows (PR_SET_PDEATHSIG) and with it the
    // whole pid namespace.
    let m = marker();
    let (mut r, w) = pipe();
    let script = format!("{}; echo ready; wait", background_sleep(&m));
    let mut child = base(Namespaces::empty())
        .spawn(no_setup, sh_to(script, w))
        .unwrap();
    let line = read_line(&mut r);
    if line != "ready" {
        let out = child.wait().unwrap();
        skip_if_userns_refused(&out);
        panic!("command said {line:?}: {out:?}");
    }
    assert_eq!(processes_with_arg(&m).len(), 1, "the background sleep runs");
    child.kill().unwrap();
    assert_eq!(
        child.wait().unwrap(),
        Outcome::Completed(ExitStatus::Signaled(9))
    );
    reap_all();
    assert_eq!(processes_with_arg(&m), Vec::<i32>::new());

    // The caller itself dies (SIGKILL, no chance to clean up): the relay has
    // PR_SET_PDEATHSIG(SIGKILL), so the tree goes too.
    let m = format!("8{}", std::process::id());
    let (mut helper, line) = start_outer(&format!("{}; echo ready; wait", background_sleep(&m)));
    assert_eq!(line, "ready");
    assert_eq!(processes_with_arg(&m).len(), 1);
    kill(Pid::from_raw(helper.id() as i32), Signal::SIGKILL).unwrap();
    assert_eq!(helper.wait().unwrap().signal(), Some(libc::SIGKILL));
    reap_all();
    assert_eq!(processes_with_arg(&m), Vec::<i32>::new());
}

fn loopback_up_and_alone() {
    let check = |want_up: bool| {
        move || -> io::Error {
            let names: Vec<String> = nix::net::if_::if_nameindex()
                .unwrap()
                .iter()
                .map(|i| i.name().to_string_lossy().into_owned())
                .collect();
            let up = nix::ifaddrs::getifaddrs().unwrap().any(|a| {
                a.interface_name == "lo" && a.flags.contains(nix::net::if_::InterfaceFlags::IFF_UP)
            });
            // Bind and connect over 127.0.0.1 (a down `lo` makes the connect fail).
            let talk = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| std::net::TcpStream::connect(l.local_addr()?))
                .is_ok();
            if names != ["lo"] || up != want_up || talk != want_up {
                eprintln!("interfaces {names:?}, lo up {up}, 127.0.0.1 usable {talk}");
                exit(1)
            }
            exit(0)
        }
    };
    let out = run(&base(Namespaces::NET).loopback(true), check(true));
    assert_eq!(out, Outcome::Completed(ExitStatus::Exited(0)));
    let out = run(&base(Namespaces::NET), check(false));
    assert_eq!(out, Outcome::Completed(ExitStatus::Exited(0)));
}

fn hostname_inside_only() {
    let host = gethostname().unwrap();
    let inside = format!("hutch-{}", std::process::id());
    let want = inside.clone();
    let sb = base(Namespaces::empty())
        .hostname(&inside)
        .domainname("hutch.test");
    let out = run(&sb, move || -> io::Error {
        let name = gethostname().unwrap();
        let dom = fs::read_to_string("/proc/sys/kernel/domainname").unwrap();
        if name != want.as_str() || dom.trim() != "hutch.test" {
            eprintln!("hostname {name:?}, domain {dom:?}");
            exit(1)
        }
        exit(0)
    });
    assert_eq!(out, Outcome::Completed(ExitStatus::Exited(0)));
    assert_eq!(gethostname().unwrap(), host);
    assert_ne!(host.to_string_lossy(), inside);
    // Without a uts namespace a hostname is refused before anything is created.
    let err = Sandbox::new(Namespaces::MOUNT)
        .hostname("x")
        .spawn(no_setup, sh("true".into()));
    assert!(matches!(err, Err(SpawnError::Config(_))), "{err:?}");
}

fn mount_inside_absent_on_host() {
    // Make our own view of `/` shared, so that without the sandbox's rprivate a mount made
    // inside would propagate back here (the host's `/` may already be private).
    if is_root() {
        unshare(Namespaces::MOUNT).unwrap();
    } else if let Err(e) = enter_user_ns(&UserMapping::root()) {
        skip(&format!("unprivileged user namespaces refused: {e}"));
    } else {
        unshare(Namespaces::MOUNT).unwrap();
    }
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SHARED,
        None::<&str>,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().to_owned();
    let t1 = target.clone();
    let setup = move || {
        mount(
            Some("tmpfs"),
            &t1,
            Some("tmpfs"),
            MsFlags::empty(),
            None::<&str>,
        )
        .map_err(|e| format!("mount tmpfs: {e}"))
    };
    let t2 = target.clone();
    let command = move || -> io::Error {
        let info = fs::read_to_string("/proc/self/mountinfo").unwrap();
        let mounted = info
            .lines()
            .any(|l| l.split(' ').nth(4) == Some(t2.to_str().unwrap()));
        if !mounted || fs::write(t2.join("inside"), "x").is_err() {
            eprintln!("tmpfs not mounted inside: {info}");
            exit(1)
        }
        exit(0)
    };
    let sb = Sandbox::new(Namespaces::MOUNT);
    let sb = if is_root() { sb } else { sb.map_root() };
    let out = sb.spawn(setup, command).unwrap().wait().unwrap();
    assert_eq!(out, Outcome::Completed(ExitStatus::Exited(0)));
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let leaked = info
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(target.to_str().unwrap()));
    assert!(!leaked, "the sandbox's mount leaked out:\n{info}");
    assert!(!target.join("inside").exists());
    // The same with rslave propagation.
    let t3 = target.clone();
    let setup = move || {
        mount(
            Some("tmpfs"),
            &t3,
            Some("tmpfs"),
            MsFlags::empty(),
            None::<&str>,
        )
        .map_err(|e| format!("mount tmpfs: {e}"))
    };
    let sb = sb.propagation(hutch_ns::Propagation::Slave);
    let out = sb
        .spawn(setup, || -> io::Error { exit(0) })
        .unwrap()
        .wait()
        .unwrap();
    assert_eq!(out, Outcome::Completed(ExitStatus::Exited(0)));
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!info
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(target.to_str().unwrap())));
}

fn best_effort_skips_unsupported() {
    if !is_root() {
        // EPERM is not "unsupported": best-effort still fails.
        let err = UnsharePlan::new()
            .best_effort(Namespaces::UTS)
            .run()
            .unwrap_err();
        assert_eq!(
            err,
            NsError::Unshare {
                ns: Namespaces::UTS,
                errno: Errno::EPERM
            }
        );
        if let Err(e) = enter_user_ns(&UserMapping::root()) {
            skip(&format!("unprivileged user namespaces refused: {e}"));
        }
    }
    // After one unshare(CLONE_NEWPID) without a fork, the kernel answers EINVAL to another:
    // this kernel does not support a second one, which is what best-effort must tolerate.
    unshare(Namespaces::PID).unwrap();
    let done = UnsharePlan::new()
        .require(Namespaces::UTS)
        .best_effort(Namespaces::PID | Namespaces::CGROUP)
        .run()
        .unwrap();
    assert_eq!(done.done, Namespaces::UTS | Namespaces::CGROUP);
    assert_eq!(done.skipped, vec![(Namespaces::PID, Errno::EINVAL)]);
    assert_eq!(done.skipped_set(), Namespaces::PID);
    // Required: the same answer is an error.
    let err = UnsharePlan::new()
        .require(Namespaces::PID)
        .run()
        .unwrap_err();
    assert_eq!(
        err,
        NsError::Unshare {
            ns: Namespaces::PID,
            errno: Errno::EINVAL
        }
    );
}

fn failures_are_reported_by_stage() {
    let sb = base(Namespaces::empty());
    let out = sb
        .spawn(|| Err("boom"), sh("exit 0".into()))
        .unwrap()
        .wait()
        .unwrap();
    skip_if_userns_refused(&out);
    let Outcome::Failed(f) = &out else {
        panic!("{out:?}")
    };
    assert_eq!(
        (f.stage, f.message.as_str(), out.code()),
        (Stage::Setup, "boom", 125)
    );
    let missing = || Command::new("/nonexistent/hutch-cmd").exec();
    let out = run(&sb, missing);
    let Outcome::Failed(f) = &out else {
        panic!("{out:?}")
    };
    assert_eq!(
        (f.stage, f.errno, out.code()),
        (Stage::Exec, Some(Errno::ENOENT), 127)
    );
    assert!(
        f.message.starts_with("exec failed: ENOENT"),
        "{}",
        f.message
    );
    let not_exec = || Command::new("/etc/passwd").exec();
    let out = run(&sb, not_exec);
    let Outcome::Failed(f) = &out else {
        panic!("{out:?}")
    };
    assert_eq!(
        (f.stage, f.errno, out.code()),
        (Stage::Exec, Some(Errno::EACCES), 126)
    );
    let err = Sandbox::new(Namespaces::UTS)
        .mount_proc(true)
        .spawn(no_setup, sh("true".into()));
    assert!(matches!(err, Err(SpawnError::Config(_))), "{err:?}");
}

fn caps_drop_except() {
    if !is_root() {
        // Outside a user namespace nobody cannot shrink the bounding set: fail closed.
        let err = caps::drop_except(CapSet::EMPTY).unwrap_err();
        assert!(
            matches!(
                err,
                caps::CapsError::Bounding {
                    errno: Errno::EPERM,
                    ..
                }
            ),
            "{err}"
        );
    }
    let keep = CapSet::of(&[Capability::NetBindService]);
    let out = run(&base(Namespaces::empty()), move || -> io::Error {
        let kept = match caps::drop_except(keep) {
            Ok(k) => k,
            Err(e) => {
                eprintln!("drop_except: {e}");
                exit(2)
            }
        };
        let fields: Vec<String> = [
            "CapEff",
            "CapPrm",
            "CapInh",
            "CapBnd",
            "CapAmb",
            "NoNewPrivs",
        ]
        .iter()
        .map(|f| status_field(f))
        .collect();
        let want = ["0000000000000400", "0000000000000400", "0000000000000400"];
        if kept != keep || fields[..2] != want[..2] || fields[3] != want[2] {
            eprintln!("kept {kept:?}, status {fields:?}");
            exit(1)
        }
        if fields[2] != "0000000000000400" || fields[4] != "0000000000000000" || fields[5] != "1" {
            eprintln!("status {fields:?}");
            exit(1)
        }
        // Without CAP_SETPCAP any further bounding-set drop is refused: fail closed.
        match caps::drop_except(CapSet::EMPTY) {
            Err(caps::CapsError::Bounding {
                cap: 10,
                errno: Errno::EPERM,
            }) => exit(0),
            other => {
                eprintln!("second drop: {other:?}");
                exit(3)
            }
        }
    });
    assert_eq!(out, Outcome::Completed(ExitStatus::Exited(0)));
    // Keep nothing: every set is empty afterwards.
    let out = run(&base(Namespaces::empty()), || -> io::Error {
        let kept = caps::drop_except(CapSet::EMPTY);
        let fields: Vec<String> = ["CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb"]
            .iter()
            .map(|f| status_field(f))
            .collect();
        if !matches!(kept, Ok(k) if k.is_empty()) || fields.iter().any(|f| f != "0000000000000000")
        {
            eprintln!("kept {kept:?}, status {fields:?}");
            exit(1)
        }
        exit(0)
    });
    assert_eq!(out, Outcome::Completed(ExitStatus::Exited(0)));
}

fn role_exit_like(spec: &str) {
    let (kind, n) = spec.split_once(':').unwrap();
    let n: i32 = n.parse().unwrap();
    // Even a blocked signal is re-raised.
    let mut set = SigSet::empty();
    set.add(Signal::SIGTERM);
    set.thread_block().unwrap();
    match kind {
        "exit" => exit_like(ExitStatus::Exited(n)),
        _ => exit_like(ExitStatus::Signaled(n)),
    }
}

fn exit_like_mirrors_status() {
    let run_role = |spec: &str| {
        Command::new(std::env::current_exe().unwrap())
            .env(ROLE_ENV, format!("exit_like:{spec}"))
            .status()
            .unwrap()
    };
    assert_eq!(run_role("exit:7").code(), Some(7));
    assert_eq!(run_role("exit:150").code(), Some(150));
    assert_eq!(run_role("sig:15").signal(), Some(libc::SIGTERM));
    assert_eq!(run_role("sig:10").signal(), Some(libc::SIGUSR1));
    assert_eq!(run_role("sig:9").signal(), Some(libc::SIGKILL));
    assert!(
        !run_role("sig:3").core_dumped(),
        "no core for a mirrored SIGQUIT"
    );
    // SIGWINCH's default action is to ignore it: fall back to 128 + 28.
    assert_eq!(run_role("sig:28").code(), Some(156));
}

fn namespaces_differ_from_host() {
    let kinds = [
        ("mnt", Namespaces::MOUNT),
        ("uts", Namespaces::UTS),
        ("ipc", Namespaces::IPC),
        ("net", Namespaces::NET),
        ("pid", Namespaces::PID),
        ("user", Namespaces::USER),
        ("cgroup", Namespaces::CGROUP),
    ];
    let link = |k: &str| fs::read_link(format!("/proc/self/ns/{k}")).unwrap();
    let host: Vec<_> = kinds.iter().map(|(k, _)| link(k)).collect();
    let sb = base(Namespaces::NET | Namespaces::CGROUP);
    let want = sb.namespaces();
    let out = run(&sb, move || -> io::Error {
        let mut bad = Vec::new();
        for ((name, kind), host) in kinds.iter().zip(&host) {
            if (link(name) != *host) != want.contains(*kind) {
                bad.push(*name);
            }
        }
        // chromite's cgroup test: every line of /proc/self/cgroup is at the namespace root.
        let cg = fs::read_to_string("/proc/self/cgroup").unwrap();
        if !bad.is_empty() || !cg.lines().all(|l| l.ends_with(":/")) {
            eprintln!("wrong namespaces: {bad:?}; cgroup {cg:?}");
            exit(1)
        }
        exit(0)
    });
    assert_eq!(out, Outcome::Completed(ExitStatus::Exited(0)));
}

/// Helper role `tty`: run from `script` (so it owns a pseudo-terminal), check the hand-over.
fn role_tty() {
    use nix::unistd::{getpgrp, tcgetpgrp};
    if tcgetpgrp(io::stdin()) != Ok(getpgrp()) {
        eprintln!("the helper does not own its terminal");
        exit(4)
    }
    let out = base(Namespaces::empty())
        .spawn(no_setup, || -> io::Error {
            let fg = tcgetpgrp(io::stdin());
            if getpgrp() != getpid() || fg != Ok(getpgrp()) {
                eprintln!(
                    "command pgrp {} pid {} foreground {fg:?}",
                    getpgrp(),
                    getpid()
                );
                exit(1)
            }
            exit(0)
        })
        .unwrap()
        .wait()
        .unwrap();
    if out != Outcome::Completed(ExitStatus::Exited(0)) {
        eprintln!("{out:?}");
        exit(2)
    }
    if tcgetpgrp(io::stdin()) != Ok(getpgrp()) {
        eprintln!("the terminal was not given back");
        exit(3)
    }
    // foreground(false): the command stays in the caller's group (invisible from the new pid
    // namespace, hence 0) and the terminal is not touched.
    let out = base(Namespaces::empty())
        .foreground(false)
        .spawn(no_setup, || -> io::Error {
            exit(i32::from(getpgrp() == getpid()))
        })
        .unwrap()
        .wait()
        .unwrap();
    if out != Outcome::Completed(ExitStatus::Exited(0)) {
        eprintln!("foreground(false): {out:?}");
        exit(5)
    }
    exit(0)
}

fn terminal_handed_over_and_back() {
    let exe = std::env::current_exe().unwrap();
    let status = Command::new("script")
        .args(["-qec", exe.to_str().unwrap(), "/dev/null"])
        .env(ROLE_ENV, "tty")
        .stdin(Stdio::null())
        .status();
    match status {
        Err(e) => skip(&format!("no `script` to get a pseudo-terminal: {e}")),
        Ok(st) => assert_eq!(st.code(), Some(0), "tty helper: {st:?}"),
    }
}

/// Helper roles, selected by `HUTCH_NS_ROLE`.
pub fn run_role(role: &str) {
    match role.split_once(':') {
        Some(("exit_like", spec)) => role_exit_like(spec),
        _ if role == "outer" => role_outer(),
        _ if role == "tty" => role_tty(),
        _ => panic!("unknown role {role}"),
    }
}
