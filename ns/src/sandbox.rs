//! The [`Sandbox`] builder and the [`Child`] it spawns.

use std::io::{self, Read};
use std::os::fd::OwnedFd;

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{getegid, geteuid, getpgrp, getpid, tcgetpgrp, tcsetpgrp, ForkResult, Pid};

use crate::exit_status::ExitStatus;
use crate::init::{relay, wait_set, Launch};
use crate::kind::Namespaces;
use crate::mount::Propagation;
use crate::report::{Failure, Record, Stage};
use crate::sys;
use crate::userns::UserMapping;

/// Errors of [`Sandbox::spawn`] (the child was not created).
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// The configuration is contradictory.
    #[error("invalid sandbox: {0}")]
    Config(&'static str),
    /// Creating the status pipe failed.
    #[error("status pipe: {0}")]
    Pipe(Errno),
    /// `fork(2)` failed.
    #[error("fork: {0}")]
    Fork(Errno),
}

/// Errors of [`Child::wait`] and friends.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    /// `waitpid(2)` failed.
    #[error("waitpid: {0}")]
    Wait(Errno),
    /// Reading the status pipe failed.
    #[error("read status pipe: {0}")]
    Read(io::Error),
    /// Blocking signals failed.
    #[error("signal mask: {0}")]
    Mask(Errno),
}

/// How a sandboxed run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The command ran and ended with this status (as seen by the pid-namespace init, so a
    /// signal death is reported as that signal).
    Completed(ExitStatus),
    /// The sandbox failed before the command could run: namespace setup, the setup closure, or
    /// the command closure returned (exec failed).
    Failed(Failure),
}

impl Outcome {
    /// Shell-style code: the command's code (128 + N for signal N), or [`Failure::code`].
    pub fn code(&self) -> i32 {
        match self {
            Outcome::Completed(st) => st.code(),
            Outcome::Failed(f) => f.code(),
        }
    }
}

/// Builder for a process tree in fresh namespaces, `std::process::Command`-shaped.
///
/// [`Sandbox::spawn`] forks a single-threaded **relay** which unshares the namespaces, maps
/// ids, makes `/` private, sets the hostname and brings `lo` up, then forks the pid-namespace
/// **init** (pid 1). The init mounts `/proc`, runs the caller's `setup` closure (e.g. a mount plan
/// ending in `pivot_root`), and forks the **command** (pid 2) which runs the caller's `command`
/// closure (e.g. drop capabilities, then exec). The init reaps orphans, forwards
/// SIGINT/SIGTERM/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2, and when the command ends kills the rest of
/// the namespace and reports the status over a pipe; the relay forwards the same signals to the
/// init. Killing the relay (e.g. [`Child::kill`]) kills the whole tree: the init has
/// `PR_SET_PDEATHSIG(SIGKILL)` and its death ends the namespace.
///
/// The closures run in forked children of a possibly multi-threaded caller: they must not take
/// locks another thread of the caller may hold (glibc's malloc is safe after fork; `println!`
/// of a stdout locked by another thread is not). With `die_with_parent` (the default) the tree
/// also dies when the caller process exits, however it exits (the relay watches a pidfd of it),
/// but not when only the spawning thread exits.
///
/// ```no_run
/// use std::os::unix::process::CommandExt;
/// use hutch_ns::{Namespaces, Outcome, Sandbox};
///
/// let mut child = Sandbox::new(Namespaces::USER | Namespaces::MOUNT | Namespaces::NET)
///     .map_root()
///     .hostname("box")
///     .loopback(true)
///     .spawn(
///         || Ok::<(), std::io::Error>(()),        // setup: runs as pid 1, before the command
///         || std::process::Command::new("hostname").exec(), // command: pid 2, must exec
///     )?;
/// println!("relay pid {}", child.pid());
/// match child.wait()? {
///     Outcome::Completed(status) => println!("{status}"),
///     Outcome::Failed(failure) => eprintln!("sandbox: {failure} (exit {})", failure.code()),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Sandbox {
    pub(crate) namespaces: Namespaces,
    pub(crate) user: Option<UserMapping>,
    pub(crate) propagation: Propagation,
    pub(crate) hostname: Option<String>,
    pub(crate) domainname: Option<String>,
    pub(crate) loopback: bool,
    pub(crate) proc: Option<bool>,
    pub(crate) die_with_parent: bool,
    pub(crate) foreground: bool,
}

impl Sandbox {
    /// A sandbox with these namespaces; [`Namespaces::PID`] is always added (the init needs it).
    ///
    /// With [`Namespaces::USER`] and no explicit mapping, the caller's ids are mapped to
    /// themselves. Defaults: `/` rprivate, `/proc` mounted when there is a mount namespace,
    /// die with parent, terminal handed over when owned, `lo` left as is.
    pub fn new(namespaces: Namespaces) -> Self {
        Sandbox {
            namespaces: namespaces | Namespaces::PID,
            user: None,
            propagation: Propagation::Private,
            hostname: None,
            domainname: None,
            loopback: false,
            proc: None,
            die_with_parent: true,
            foreground: true,
        }
    }

    /// Map the caller's uid/gid to 0 inside (adds [`Namespaces::USER`]).
    pub fn map_root(self) -> Self {
        self.map_to(0, 0)
    }

    /// Map the caller's uid/gid to `uid`/`gid` inside (adds [`Namespaces::USER`]).
    pub fn map_to(self, uid: u32, gid: u32) -> Self {
        self.user_mapping(UserMapping::current_to(uid, gid))
    }

    /// Use an explicit mapping (adds [`Namespaces::USER`]); the relay writes it for itself, so
    /// unprivileged callers are limited to mapping their own ids.
    pub fn user_mapping(mut self, mapping: UserMapping) -> Self {
        self.namespaces |= Namespaces::USER;
        self.user = Some(mapping);
        self
    }

    /// Propagation of `/` in the new mount namespace (default rprivate).
    pub fn propagation(mut self, propagation: Propagation) -> Self {
        self.propagation = propagation;
        self
    }

    /// Hostname inside (needs [`Namespaces::UTS`]).
    pub fn hostname(mut self, name: &str) -> Self {
        self.hostname = Some(name.to_owned());
        self
    }

    /// Domain name inside (needs [`Namespaces::UTS`]).
    pub fn domainname(mut self, name: &str) -> Self {
        self.domainname = Some(name.to_owned());
        self
    }

    /// Bring `lo` up inside (needs [`Namespaces::NET`]).
    pub fn loopback(mut self, up: bool) -> Self {
        self.loopback = up;
        self
    }

    /// Mount a fresh `/proc` in the init before `setup` (default: yes with a mount namespace;
    /// asking for it without one is a configuration error). A setup that mounts its own procfs
    /// in a new root can turn this off.
    pub fn mount_proc(mut self, mount: bool) -> Self {
        self.proc = Some(mount);
        self
    }

    /// Kill the tree when the caller process dies (default true).
    pub fn die_with_parent(mut self, yes: bool) -> Self {
        self.die_with_parent = yes;
        self
    }

    /// Hand the terminal's foreground process group to the command when the caller's group
    /// owns the terminal on stdin, and take it back in [`Child::wait`] (default true).
    pub fn foreground(mut self, yes: bool) -> Self {
        self.foreground = yes;
        self
    }

    /// The namespaces that will be unshared.
    pub fn namespaces(&self) -> Namespaces {
        self.namespaces
    }

    fn check(&self) -> Result<bool, SpawnError> {
        let ns = self.namespaces;
        if (self.hostname.is_some() || self.domainname.is_some()) && !ns.contains(Namespaces::UTS) {
            return Err(SpawnError::Config("hostname needs a uts namespace"));
        }
        if self.loopback && !ns.contains(Namespaces::NET) {
            return Err(SpawnError::Config("loopback needs a net namespace"));
        }
        let proc = self.proc.unwrap_or(ns.contains(Namespaces::MOUNT));
        if proc && !ns.contains(Namespaces::MOUNT) {
            return Err(SpawnError::Config(
                "a fresh /proc needs a mount namespace (it would shadow the host's)",
            ));
        }
        for name in self.hostname.iter().chain(&self.domainname) {
            if name.len() > 64 || name.contains('\0') {
                return Err(SpawnError::Config(
                    "hostname longer than 64 bytes or with a NUL",
                ));
            }
        }
        Ok(proc)
    }

    /// Fork the relay and return at once; see the type documentation for the process tree.
    ///
    /// `setup` runs as pid 1 before the command; its `Err` is reported as
    /// [`Stage::Setup`]. What it returns on success (a guard, e.g. mounts to undo) is kept by
    /// the init until the command has exited and the rest of the namespace has been killed and
    /// reaped, and dropped before the status is reported.
    /// `command` runs as pid 2 and should not return: it is meant to exec, and
    /// the error it returns is reported as [`Stage::Exec`] with its errno (see
    /// [`Failure::code`]: 127 not found, 126 not executable).
    pub fn spawn<S, G, E, C>(&self, setup: S, command: C) -> Result<Child, SpawnError>
    where
        S: FnOnce() -> Result<G, E>,
        E: std::fmt::Display,
        C: FnOnce() -> io::Error,
    {
        let mut sb = self.clone();
        let proc = sb.check()?;
        if sb.namespaces.contains(Namespaces::USER) && sb.user.is_none() {
            let (u, g) = (geteuid().as_raw(), getegid().as_raw());
            sb.user = Some(UserMapping::current_to(u, g));
        }
        let tty_owned = sb.foreground && owns_terminal();
        let launch = Launch {
            parent: getpid(),
            tty_owned,
            proc,
        };
        let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(SpawnError::Pipe)?;
        // Fork with the forwarded signals and SIGCHLD blocked, so that none of the caller's
        // handlers can run in the relay before it resets them; the relay keeps them blocked.
        let mut old = SigSet::empty();
        let blocked = nix::sys::signal::pthread_sigmask(
            SigmaskHow::SIG_BLOCK,
            Some(&wait_set()),
            Some(&mut old),
        );
        let forked = sys::fork();
        if blocked.is_ok() && !matches!(forked, Ok(ForkResult::Child)) {
            let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
        }
        match forked.map_err(SpawnError::Fork)? {
            ForkResult::Child => {
                drop(read);
                relay(&sb, &launch, write, setup, command)
            }
            ForkResult::Parent { child } => Ok(Child {
                pid: child,
                status: Some(read),
                tty_owned,
                outcome: None,
            }),
        }
    }
}

impl Sandbox {
    /// Check that this sandbox can be created here (namespaces, id maps, propagation, hostname,
    /// loopback, `/proc`) by running an empty command in it: for backend selection, e.g. to
    /// detect a kernel or a security module that refuses unprivileged user namespaces.
    /// Returns the failure that a real run would report.
    pub fn probe(&self) -> Result<(), Failure> {
        let spawned = self
            .clone()
            .foreground(false)
            .spawn(|| Ok::<(), String>(()), || sys::exit_now(0));
        let mut child = match spawned {
            Ok(child) => child,
            Err(SpawnError::Config(why)) => {
                return Err(Failure {
                    stage: Stage::Config,
                    errno: None,
                    message: why.into(),
                })
            }
            Err(SpawnError::Pipe(e) | SpawnError::Fork(e)) => {
                return Err(Failure {
                    stage: Stage::Fork,
                    errno: Some(e),
                    message: e.to_string(),
                })
            }
        };
        match child.wait() {
            Ok(Outcome::Completed(ExitStatus::Exited(0))) => Ok(()),
            Ok(Outcome::Failed(f)) => Err(f),
            Ok(Outcome::Completed(st)) => Err(Failure {
                stage: Stage::Init,
                errno: None,
                message: format!("empty probe command {st}"),
            }),
            Err(e) => Err(Failure {
                stage: Stage::Init,
                errno: None,
                message: e.to_string(),
            }),
        }
    }
}

fn owns_terminal() -> bool {
    matches!(tcgetpgrp(io::stdin()), Ok(pgrp) if pgrp == getpgrp())
}

/// A running sandbox. Dropping it does not kill or reap the tree (like `std::process::Child`).
#[derive(Debug)]
pub struct Child {
    pid: Pid,
    status: Option<OwnedFd>,
    tty_owned: bool,
    outcome: Option<Outcome>,
}

impl Child {
    /// Pid of the relay process (in the caller's pid namespace). Signals in
    /// [`FORWARDED`](crate::FORWARDED) sent to it reach the command; `SIGKILL` ends the tree.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Send `sig` to the relay (see [`Child::pid`]).
    pub fn signal(&self, sig: Signal) -> nix::Result<()> {
        if self.outcome.is_some() {
            return Err(Errno::ESRCH);
        }
        kill(self.pid, sig)
    }

    /// Kill the whole tree (`SIGKILL` to the relay; the init and the namespace follow).
    pub fn kill(&self) -> nix::Result<()> {
        self.signal(Signal::SIGKILL)
    }

    /// Wait for the end of the tree and return how the command ended.
    pub fn wait(&mut self) -> Result<Outcome, WaitError> {
        if let Some(o) = &self.outcome {
            return Ok(o.clone());
        }
        let relay = loop {
            match waitpid(self.pid, None) {
                Ok(ws) => {
                    if let Some(st) = ExitStatus::from_wait_status(&ws) {
                        break st;
                    }
                }
                Err(Errno::EINTR) => {}
                Err(e) => return Err(WaitError::Wait(e)),
            }
        };
        self.finish(relay)
    }

    /// Like [`Child::wait`] but returns `None` at once if the tree is still running.
    pub fn try_wait(&mut self) -> Result<Option<Outcome>, WaitError> {
        if let Some(o) = &self.outcome {
            return Ok(Some(o.clone()));
        }
        match waitpid(self.pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => Ok(None),
            Ok(ws) => match ExitStatus::from_wait_status(&ws) {
                Some(st) => self.finish(st).map(Some),
                None => Ok(None),
            },
            Err(e) => Err(WaitError::Wait(e)),
        }
    }

    /// Wait while forwarding the [`FORWARDED`](crate::FORWARDED) signals this process receives
    /// to the tree: for a process whose own SIGTERM/SIGINT should reach the command.
    ///
    /// It blocks those signals and `SIGCHLD` in the calling thread and collects them with
    /// `sigwait`, restoring the mask at the end. The other threads of the process must block
    /// them too (block them before starting threads), or the kernel may deliver them there.
    /// `SIGCHLD`s of unrelated children are consumed.
    pub fn wait_forwarding(&mut self) -> Result<Outcome, WaitError> {
        let set = wait_set();
        let mut old = SigSet::empty();
        nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut old))
            .map_err(WaitError::Mask)?;
        let result = loop {
            match self.try_wait() {
                Ok(Some(o)) => break Ok(o),
                Ok(None) => {}
                Err(e) => break Err(e),
            }
            match set.wait() {
                Ok(Signal::SIGCHLD) | Err(_) => {}
                Ok(sig) => {
                    let _ = kill(self.pid, sig);
                }
            }
        };
        let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
        result
    }

    fn finish(&mut self, relay: ExitStatus) -> Result<Outcome, WaitError> {
        let mut buf = Vec::new();
        if let Some(fd) = self.status.take() {
            read_available(fd, &mut buf).map_err(WaitError::Read)?;
        }
        if self.tty_owned {
            reclaim_terminal();
        }
        let records = Record::decode_all(&buf);
        let failed = records.iter().find_map(|r| match r {
            Record::Failed(f) => Some(f.clone()),
            Record::Status(_) => None,
        });
        let status = records.iter().find_map(|r| match r {
            Record::Status(s) => Some(*s),
            Record::Failed(_) => None,
        });
        let outcome = match (failed, status, relay) {
            (Some(f), _, _) => Outcome::Failed(f),
            (None, Some(st), _) => Outcome::Completed(st),
            // Nothing reported: the relay (hence the init and the namespace) was killed.
            (None, None, ExitStatus::Signaled(sig)) => {
                Outcome::Completed(ExitStatus::Signaled(sig))
            }
            (None, None, st @ ExitStatus::Exited(_)) => Outcome::Failed(Failure {
                stage: Stage::Init,
                errno: None,
                message: format!("no status reported (relay {st})"),
            }),
        };
        self.outcome = Some(outcome.clone());
        Ok(outcome)
    }
}

/// Read what is in the status pipe without waiting for its end-of-file. The relay has been
/// reaped, so every record of this tree is already in the pipe; but the write end may still be
/// open elsewhere: a relay that another thread of the caller forked concurrently inherits it and
/// keeps it until its own tree ends.
fn read_available(fd: OwnedFd, buf: &mut Vec<u8>) -> io::Result<()> {
    let flags = OFlag::from_bits_retain(fcntl(&fd, FcntlArg::F_GETFL)?);
    fcntl(&fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    match std::fs::File::from(fd).read_to_end(buf) {
        Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
        _ => Ok(()),
    }
}

/// Give the terminal back to the caller's process group if the command kept it.
fn reclaim_terminal() {
    let me = getpgrp();
    if matches!(tcgetpgrp(io::stdin()), Ok(fg) if fg != me) {
        let mut ttou = SigSet::empty();
        ttou.add(Signal::SIGTTOU);
        let mut old = SigSet::empty();
        if nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&ttou), Some(&mut old))
            .is_ok()
        {
            let _ = tcsetpgrp(io::stdin(), me);
            let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contradictory_configurations_are_refused() {
        let pid_only = Sandbox::new(Namespaces::empty());
        assert_eq!(pid_only.namespaces(), Namespaces::PID);
        assert!(
            !pid_only.check().unwrap(),
            "no /proc without a mount namespace"
        );
        let refused = [
            pid_only.clone().hostname("h"),
            pid_only.clone().domainname("d"),
            pid_only.clone().loopback(true),
            pid_only.clone().mount_proc(true),
            Sandbox::new(Namespaces::UTS).hostname(&"x".repeat(65)),
            Sandbox::new(Namespaces::UTS).hostname("a\0b"),
        ];
        for sb in refused {
            assert!(matches!(sb.check(), Err(SpawnError::Config(_))), "{sb:?}");
        }
        let full = Sandbox::new(Namespaces::MOUNT | Namespaces::UTS | Namespaces::NET)
            .hostname("h")
            .loopback(true);
        assert!(full.check().unwrap());
        assert!(!full.clone().mount_proc(false).check().unwrap());
        let mapped = Sandbox::new(Namespaces::MOUNT).map_to(5, 6);
        assert!(mapped.namespaces().contains(Namespaces::USER));
        assert_eq!(mapped.user.unwrap().uid[0].inside, 5);
    }

    #[test]
    fn outcome_codes() {
        assert_eq!(Outcome::Completed(ExitStatus::Signaled(15)).code(), 143);
        let f = Failure {
            stage: Stage::Exec,
            errno: Some(Errno::ENOENT),
            message: String::new(),
        };
        assert_eq!(Outcome::Failed(f).code(), 127);
    }
}
