//! The processes behind [`crate::Sandbox::spawn`], each a function that never returns:
//!
//! * the **relay** (forked from the caller, outside the pid namespace): unshares, maps ids, makes
//!   `/` private, sets the hostname, brings `lo` up, forks the init, forwards signals to it and
//!   mirrors its end;
//! * the **init** (pid 1): mounts `/proc`, runs the setup closure, forks the command, reaps every
//!   orphan, forwards signals to the command, and when the command ends kills the rest of the
//!   namespace and reports the command's status on the status pipe;
//! * the **command** (pid 2): takes the terminal if the caller owned it, unblocks signals and
//!   runs the command closure (which execs; if it returns, its error goes to the init over a
//!   separate pipe, and the init reports it). Only the relay and the init ever write the status
//!   pipe, and the init is non-dumpable, so the command cannot forge its status.

use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::prctl;
use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{getpgrp, getpid, getppid, setpgid, tcsetpgrp, ForkResult, Pid};

use crate::exit_status::{exit_like, ExitStatus};
use crate::kind::Namespaces;
use crate::mount::{make_root, mount_proc};
use crate::net::{loopback_up, set_domainname, set_hostname};
use crate::report::{Failure, Record, Stage};
use crate::sandbox::Sandbox;
use crate::sys;
use crate::userns::Target;

/// Signals the relay and the init pass on to the command.
pub const FORWARDED: [Signal; 6] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

/// The forwarded signals plus `SIGCHLD`: blocked and collected with `sigwait`.
pub(crate) fn wait_set() -> SigSet {
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(s);
    }
    set.add(Signal::SIGCHLD);
    set
}

/// Report `failure` and leave with its code.
fn fail(status: &OwnedFd, failure: Failure) -> ! {
    let code = failure.code();
    Record::Failed(failure).send(status);
    sys::exit_now(code)
}

fn failure(stage: Stage, errno: Option<Errno>, message: impl ToString) -> Failure {
    Failure {
        stage,
        errno,
        message: message.to_string(),
    }
}

/// What the relay needs besides the builder.
pub(crate) struct Launch {
    /// The caller's pid (for the parent-death race check).
    pub parent: Pid,
    /// The caller's process group owned the terminal on stdin at spawn time.
    pub tty_owned: bool,
    /// Mount a fresh /proc in the init.
    pub proc: bool,
}

/// The relay: runs in the child forked by the caller.
pub(crate) fn relay<S, G, E, C>(
    sb: &Sandbox,
    launch: &Launch,
    status: OwnedFd,
    setup: S,
    command: C,
) -> !
where
    S: FnOnce() -> Result<G, E>,
    E: std::fmt::Display,
    C: FnOnce() -> io::Error,
{
    // Die with the caller *process*: PR_SET_PDEATHSIG would fire when the spawning *thread*
    // exits, so the relay watches a pidfd of the caller instead (PDEATHSIG only as a fallback on
    // kernels without pidfd_open).
    let mut caller = None;
    if sb.die_with_parent {
        match sys::pidfd_open(launch.parent) {
            Ok(fd) => caller = Some(fd),
            Err(_) => {
                let _ = prctl::set_pdeathsig(Signal::SIGKILL);
            }
        }
        if getppid() != launch.parent {
            sys::exit_now(125);
        }
    }
    let set = wait_set();
    let _ = set.thread_block();
    // The caller's handlers must not run in our processes; ignored signals stay ignored,
    // except SIGCHLD, which must be default for waitpid to see our children.
    for s in FORWARDED {
        let _ = sys::reset_handler(s as i32);
    }
    let _ = sys::default_disposition(libc::SIGCHLD);
    let ns = sb.namespaces;
    if let Err(e) = crate::unshare::unshare(ns) {
        fail(&status, failure(Stage::Unshare, e.errno(), e));
    }
    if let Some(map) = &sb.user {
        if let Err(e) = map.write(Target::SelfProcess) {
            fail(&status, failure(Stage::UserMap, e.errno(), e));
        }
    }
    if ns.contains(Namespaces::MOUNT) {
        if let Err(e) = make_root(sb.propagation) {
            fail(&status, failure(Stage::Propagation, Some(e.errno()), e));
        }
    }
    if let Some(name) = &sb.hostname {
        if let Err(e) = set_hostname(name) {
            fail(&status, failure(Stage::Hostname, e.errno(), e));
        }
    }
    if let Some(name) = &sb.domainname {
        if let Err(e) = set_domainname(name) {
            fail(&status, failure(Stage::Hostname, e.errno(), e));
        }
    }
    if sb.loopback {
        if let Err(e) = loopback_up() {
            fail(&status, failure(Stage::Loopback, e.errno(), e));
        }
    }
    let me = sys::pidfd_open(getpid()).ok();
    match sys::fork() {
        Err(errno) => fail(&status, failure(Stage::Fork, Some(errno), "fork init")),
        Ok(ForkResult::Child) => init(launch, status, me, setup, command),
        Ok(ForkResult::Parent { child }) => {
            drop(status);
            drop(me);
            relay_loop(&set, child, caller)
        }
    }
}

fn relay_loop(set: &SigSet, init: Pid, caller: Option<OwnedFd>) -> ! {
    let Ok(signals) = SignalFd::with_flags(set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
    else {
        let _ = kill(init, Signal::SIGKILL);
        sys::exit_now(125)
    };
    loop {
        let mut fds = vec![PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
        if let Some(fd) = &caller {
            fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
        }
        if poll(&mut fds, PollTimeout::NONE).is_err() {
            continue;
        }
        drop(fds);
        if caller.as_ref().is_some_and(parent_gone) {
            // The caller process is gone: end the tree (the init dies with us, and so does
            // its namespace).
            let _ = kill(init, Signal::SIGKILL);
            sys::exit_now(137);
        }
        while let Ok(Some(info)) = signals.read_signal() {
            match Signal::try_from(info.ssi_signo as i32) {
                Ok(Signal::SIGCHLD) => match waitpid(init, Some(WaitPidFlag::WNOHANG)) {
                    Ok(ws) => {
                        if let Some(st) = ExitStatus::from_wait_status(&ws) {
                            exit_like(st)
                        }
                    }
                    Err(Errno::ECHILD) => sys::exit_now(125),
                    Err(_) => {}
                },
                Ok(sig) => {
                    let _ = kill(init, sig);
                }
                Err(_) => {}
            }
        }
    }
}

/// The process behind `pidfd` is gone if the pidfd is readable (or in error).
fn parent_gone(pidfd: &OwnedFd) -> bool {
    let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
    matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0)
}

fn init<S, G, E, C>(
    launch: &Launch,
    status: OwnedFd,
    relay: Option<OwnedFd>,
    setup: S,
    command: C,
) -> !
where
    S: FnOnce() -> Result<G, E>,
    E: std::fmt::Display,
    C: FnOnce() -> io::Error,
{
    // Always die with the relay, whatever `die_with_parent` says: the relay is the caller's
    // handle on the tree ([`crate::Child::kill`] relies on this).
    let _ = prctl::set_pdeathsig(Signal::SIGKILL);
    if relay.as_ref().is_some_and(parent_gone) {
        sys::exit_now(125);
    }
    drop(relay);
    if launch.proc {
        if let Err(e) = mount_proc(Path::new("/proc")) {
            fail(&status, failure(Stage::Proc, Some(e.errno()), e));
        }
    }
    // What setup returns (a guard, e.g. mounts to undo) lives until the command and the rest
    // of the namespace are gone, and is dropped before the status is reported.
    let guard = match catch_unwind(AssertUnwindSafe(setup)) {
        Ok(Ok(guard)) => guard,
        Ok(Err(e)) => fail(&status, failure(Stage::Setup, None, e)),
        Err(_) => fail(
            &status,
            failure(Stage::Setup, None, "setup closure panicked"),
        ),
    };
    // The command never holds the status pipe: its exec error goes to the init over a pipe of
    // its own, and the init is made non-dumpable so that the command cannot open the init's
    // descriptors through /proc/1/fd (without CAP_SYS_PTRACE) and forge a status.
    let (exec_read, exec_write) = match nix::unistd::pipe2(OFlag::O_CLOEXEC) {
        Ok(p) => p,
        Err(errno) => fail(&status, failure(Stage::Fork, Some(errno), "exec pipe")),
    };
    let _ = prctl::set_dumpable(false);
    match sys::fork() {
        Err(errno) => fail(&status, failure(Stage::Fork, Some(errno), "fork command")),
        Ok(ForkResult::Child) => {
            drop(status);
            drop(exec_read);
            // Only the init is protected; the command (which may trace its own children
            // without exec'ing, e.g. a ptrace backend) is dumpable as usual.
            let _ = prctl::set_dumpable(true);
            run_command(launch, exec_write, command)
        }
        Ok(ForkResult::Parent { child }) => {
            drop(exec_write);
            reap_loop(&status, exec_read, child, move || drop(guard))
        }
    }
}

fn run_command<C: FnOnce() -> io::Error>(launch: &Launch, status: OwnedFd, command: C) -> ! {
    if launch.tty_owned {
        take_terminal();
    }
    let _ = sys::default_disposition(libc::SIGPIPE);
    let _ = SigSet::empty().thread_set_mask();
    let err = match catch_unwind(AssertUnwindSafe(command)) {
        Ok(err) => err,
        Err(_) => io::Error::other("command closure panicked"),
    };
    let errno = err.raw_os_error().map(Errno::from_raw);
    let message = match errno {
        Some(e) => format!("exec failed: {e}"),
        None => format!("exec failed: {err}"),
    };
    fail(&status, failure(Stage::Exec, errno, message))
}

/// Put the command in its own process group and make it the terminal's foreground group
/// (chromite's `_SafeTcSetPgrp`, done only when the caller's group owned the terminal).
fn take_terminal() {
    let mut ttou = SigSet::empty();
    ttou.add(Signal::SIGTTOU);
    let _ = ttou.thread_block();
    if setpgid(Pid::from_raw(0), Pid::from_raw(0)).is_ok() {
        let _ = tcsetpgrp(io::stdin(), getpgrp());
    }
    let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_UNBLOCK, Some(&ttou), None);
}

fn reap_loop(status: &OwnedFd, exec_errors: OwnedFd, command: Pid, teardown: impl FnOnce()) -> ! {
    let set = wait_set();
    let mut ended = None;
    loop {
        match set.wait() {
            Ok(Signal::SIGCHLD) => loop {
                match waitpid(None, Some(WaitPidFlag::WNOHANG | WaitPidFlag::__WALL)) {
                    Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => break,
                    Ok(ws) if ws.pid() == Some(command) => {
                        ended = ExitStatus::from_wait_status(&ws).or(ended);
                    }
                    Ok(_) | Err(Errno::EINTR) => {}
                    Err(_) => break,
                }
            },
            Ok(sig) => {
                let _ = kill(command, sig);
            }
            Err(_) => {}
        }
        if let Some(st) = ended {
            // The command is gone: end everything else in the namespace, reap it, report.
            // kill(-1) from pid 1 reaches only the namespace; never send it from anywhere else.
            if getpid().as_raw() == 1 {
                let _ = kill(Pid::from_raw(-1), Signal::SIGKILL);
            }
            while let Ok(_) | Err(Errno::EINTR) = waitpid(None, Some(WaitPidFlag::__WALL)) {}
            teardown();
            // Every process that could hold the exec pipe is gone: this read ends at once.
            let mut buf = Vec::new();
            let _ = std::fs::File::from(exec_errors).read_to_end(&mut buf);
            let exec_failure = Record::decode_all(&buf).into_iter().find_map(|r| match r {
                Record::Failed(f) if f.stage == Stage::Exec => Some(f),
                _ => None,
            });
            if let Some(f) = exec_failure {
                Record::Failed(f).send(status);
            }
            Record::Status(st).send(status);
            sys::exit_now(st.code());
        }
    }
}
