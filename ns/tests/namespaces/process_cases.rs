//! Cases about the process tree: pid view, statuses, signals, kills, failures, terminal.

#[allow(unused_imports)]
use crate::cases::*;

pub(crate) fn userns_sandbox_from_multithreaded_caller() {
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

pub(crate) fn pid_namespace_view() {
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
            // The init is non-dumpable, the command is not (it may trace its own children).
            if nix::sys::prctl::get_dumpable() != Ok(true) {
                eprintln!("the command is not dumpable");
                exit(2)
            }
            exit(0)
        })
        .unwrap()
        .wait()
        .unwrap();
    skip_if_userns_refused(&out);
    assert_eq!(out, Outcome::Completed(ExitStatus::Exited(0)));
}

pub(crate) fn exit_codes_pass_through() {
    for code in [0, 7, 150] {
        let out = run(&base(Namespaces::empty()), sh(format!("exit {code}")));
        assert_eq!(out, Outcome::Completed(ExitStatus::Exited(code)));
        assert_eq!(out.code(), code);
    }
}

pub(crate) fn signal_deaths_reported_as_signals() {
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

pub(crate) fn background_process_killed_when_main_exits() {
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
pub(crate) fn role_outer() {
    let mut set = SigSet::empty();
    for s in FORWARDED {
        // A signal ignored on entry stays ignored down to the command, and sh cannot trap it
        // (e.g. SIGHUP when the tests run under nohup): start from the defaults.
        // SAFETY: SIG_DFL installs no handler; this helper process is single-threaded here.
        unsafe { nix::sys::signal::signal(s, nix::sys::signal::SigHandler::SigDfl) }.unwrap();
        set.add(s);
    }
    set.thread_block().unwrap();
    let script = std::env::var("HUTCH_NS_SCRIPT").unwrap();
    let (mut r, w) = pipe();
    // HUTCH_NS_THREAD: spawn from another thread, which then exits (the tree must live on, and
    // still die with this process).
    let mut child = if std::env::var_os("HUTCH_NS_THREAD").is_some() {
        std::thread::spawn(move || base(Namespaces::empty()).spawn(no_setup, sh_to(script, w)))
            .join()
            .unwrap()
            .unwrap()
    } else {
        base(Namespaces::empty())
            .spawn(no_setup, sh_to(script, w))
            .unwrap()
    };
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

pub(crate) fn start_outer(script: &str) -> (std::process::Child, String) {
    start_outer_with(script, false)
}

fn start_outer_with(script: &str, thread: bool) -> (std::process::Child, String) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    if thread {
        cmd.env("HUTCH_NS_THREAD", "1");
    }
    let mut helper = cmd
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

pub(crate) fn sigterm_to_outer_reaches_command() {
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

pub(crate) fn kill_ends_the_tree() {
    nix::sys::prctl::set_child_subreaper(true).unwrap();
    // Child::kill: SIGKILL to the relay; the init follows (PR_SET_PDEATHSIG) and with it the
    // whole pid namespace.
    let m = marker();
    let (mut r, w) = pipe();
    let script = format!("{}; echo ready; wait", background_sleep(&m));
    let mut child = base(Namespaces::empty())
        // Not about the caller: the init dies with the relay regardless.
        .die_with_parent(false)
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
    assert_eq!(
        child.signal(Signal::SIGTERM),
        Err(Errno::ESRCH),
        "no signal after the end"
    );
    reap_all();
    assert_eq!(processes_with_arg(&m), Vec::<i32>::new());

    // The caller itself dies (SIGKILL, no chance to clean up): the relay watches it through a
    // pidfd, so the tree goes too, also when the sandbox was spawned by a thread of the caller
    // that has exited since.
    for (n, thread) in [(8, false), (9, true)] {
        let m = format!("{n}{}", std::process::id());
        let script = format!("{}; echo ready; wait", background_sleep(&m));
        let (mut helper, line) = start_outer_with(&script, thread);
        assert_eq!(line, "ready");
        assert_eq!(processes_with_arg(&m).len(), 1);
        kill(Pid::from_raw(helper.id() as i32), Signal::SIGKILL).unwrap();
        assert_eq!(helper.wait().unwrap().signal(), Some(libc::SIGKILL));
        reap_all();
        assert_eq!(
            processes_with_arg(&m),
            Vec::<i32>::new(),
            "thread: {thread}"
        );
    }
}

pub(crate) fn failures_are_reported_by_stage() {
    let sb = base(Namespaces::empty());
    let out = sb
        .spawn(|| Err::<(), _>("boom"), sh("exit 0".into()))
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
    let f = exec_failure(run(&sb, missing), Errno::ENOENT, 127);
    assert!(
        f.message.starts_with("exec failed: ENOENT"),
        "{}",
        f.message
    );
    exec_failure(
        run(&sb, || Command::new("/etc/passwd").exec()),
        Errno::EACCES,
        126,
    );
    let err = Sandbox::new(Namespaces::UTS)
        .mount_proc(true)
        .spawn(no_setup, sh("true".into()));
    assert!(matches!(err, Err(SpawnError::Config(_))), "{err:?}");
}

pub(crate) fn role_exit_like(spec: &str) {
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

pub(crate) fn exit_like_mirrors_status() {
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

/// Helper role `tty`: run from `script` (so it owns a pseudo-terminal), check the hand-over.
pub(crate) fn role_tty() {
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
    if matches!(&out, Outcome::Failed(f) if f.stage == Stage::Unshare && !is_root()) {
        exit(77)
    }
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

pub(crate) fn terminal_handed_over_and_back() {
    let exe = std::env::current_exe().unwrap();
    let status = Command::new("script")
        .args(["-qec", exe.to_str().unwrap(), "/dev/null"])
        .env(ROLE_ENV, "tty")
        .stdin(Stdio::null())
        .status();
    match status {
        Err(e) => skip(&format!("no `script` to get a pseudo-terminal: {e}")),
        Ok(st) if st.code() == Some(77) => skip("unprivileged user namespaces refused here"),
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

pub(crate) fn probe_reports_what_fails() {
    match base(Namespaces::NET)
        .hostname("probe")
        .loopback(true)
        .probe()
    {
        Ok(()) => {}
        Err(f) if f.stage == Stage::Unshare && !is_root() => skip(&format!("userns refused: {f}")),
        Err(f) => panic!("{f}"),
    }
    if !is_root() {
        // Without a user namespace nobody may not unshare the mount namespace.
        let f = Sandbox::new(Namespaces::MOUNT).probe().unwrap_err();
        assert_eq!(
            (f.stage, f.errno),
            (Stage::Unshare, Some(Errno::EPERM)),
            "{f}"
        );
    }
    let f = Sandbox::new(Namespaces::MOUNT)
        .hostname("x")
        .probe()
        .unwrap_err();
    assert_eq!(f.stage, Stage::Config);
    assert_eq!(f.code(), 125);
}

/// Assert `out` is an exec failure with `errno` and shell code `code`.
fn exec_failure(out: Outcome, errno: Errno, code: i32) -> hutch_ns::Failure {
    let Outcome::Failed(f) = &out else {
        panic!("{out:?}")
    };
    assert_eq!(
        (f.stage, f.errno, out.code()),
        (Stage::Exec, Some(errno), code)
    );
    f.clone()
}

pub(crate) fn command_cannot_forge_its_status() {
    // A command without capabilities tries to write a fake record into every descriptor of the
    // init (which holds the status pipe); the outcome must still be the command's real status.
    // The kernel refuses the opens (the init is non-dumpable and holds capabilities the command
    // lacks), and the command itself never held the status pipe.
    let script = "for f in /proc/1/fd/*; do printf '\\005\\000E\\000\\000\\000\\000' > \"$f\"; done 2>/dev/null; exit 3";
    let out = run(&base(Namespaces::empty()), move || {
        if let Err(e) = caps::drop_except(CapSet::EMPTY) {
            return io::Error::other(e.to_string());
        }
        Command::new("/bin/sh").args(["-c", script]).exec()
    });
    assert_eq!(out, Outcome::Completed(ExitStatus::Exited(3)));
}

pub(crate) fn concurrent_spawns_from_threads() {
    // Threads spawn short sandboxes while another thread spawns long ones. A relay forked by one
    // thread inherits whatever descriptors the others hold at that moment (relays never exec),
    // including, in a narrow window, another sandbox's status pipe; `wait` must not depend on
    // those copies being closed (the long sandboxes end only after every short one was waited).
    let (release_r, release_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).unwrap();
    let release_r = std::sync::Arc::new(release_r);
    const LONG: usize = 8;
    let long = std::thread::spawn(move || {
        (0..LONG)
            .map(|_| {
                let input = release_r.try_clone().unwrap();
                let command = move || {
                    Command::new("/bin/sh")
                        .args(["-c", "read x"])
                        .stdin(Stdio::from(input))
                        .exec()
                };
                base(Namespaces::empty()).spawn(no_setup, command).unwrap()
            })
            .collect::<Vec<_>>()
    });
    let short: Vec<_> = (0..3)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..10 {
                    let code = t * 10 + i;
                    let mut child = base(Namespaces::empty())
                        .spawn(no_setup, sh(format!("exit {code}")))
                        .unwrap();
                    let out = child.wait().unwrap();
                    skip_if_userns_refused(&out);
                    assert_eq!(out, Outcome::Completed(ExitStatus::Exited(code)));
                }
            })
        })
        .collect();
    for s in short {
        s.join().unwrap();
    }
    let mut long = long.join().unwrap();
    nix::unistd::write(&release_w, "go\n".repeat(LONG).as_bytes()).unwrap();
    for child in &mut long {
        assert_eq!(
            child.wait().unwrap(),
            Outcome::Completed(ExitStatus::Exited(0))
        );
    }
}

/// Appends a line to a file when dropped: stands for a setup guard such as mounts to undo.
struct Marker(std::path::PathBuf);

impl Drop for Marker {
    fn drop(&mut self) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.0)
            .unwrap();
        writeln!(f, "teardown").unwrap();
    }
}

pub(crate) fn setup_guard_is_dropped_after_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    std::fs::write(&log, b"").unwrap();
    std::fs::set_permissions(&log, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    let sb = base(Namespaces::empty());
    let marker_path = log.clone();
    let script = format!("sleep 0.2; echo command >> {}; exit 3", log.display());
    let out = sb
        .spawn(move || Ok::<_, String>(Marker(marker_path)), sh(script))
        .unwrap()
        .wait()
        .unwrap();
    skip_if_userns_refused(&out);
    assert_eq!(out.code(), 3, "{out:?}");
    // The guard outlived the command and was dropped before the status was reported.
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "command\nteardown\n"
    );
}
