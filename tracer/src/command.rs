//! The `std::process::Command`-shaped builder and the spawn of the traced child.

use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use crate::error::TraceError;
use crate::judge::Records;
use crate::outcome::{Engine, ExitStatus, LandlockStatus, Observer, Policy, TraceOutcome, Usage};
use crate::sys::{self, Stage};
use crate::{filter, notify, run, sandbox};

/// Where a standard stream of the traced command goes.
#[derive(Debug, Default)]
pub enum Stdio {
    /// The caller's own stream.
    #[default]
    Inherit,
    /// `/dev/null`.
    Null,
    /// This descriptor (a file, a pipe end, ...).
    Fd(OwnedFd),
}

impl From<OwnedFd> for Stdio {
    fn from(fd: OwnedFd) -> Stdio {
        Stdio::Fd(fd)
    }
}

impl From<File> for Stdio {
    fn from(file: File) -> Stdio {
        Stdio::Fd(file.into())
    }
}

/// A command to run under the tracer: build it like `std::process::Command`, then [`run`].
///
/// [`run`]: Tracer::run
pub struct Tracer<'a> {
    pub(crate) policy: Policy,
    program: Option<OsString>,
    args: Vec<OsString>,
    env_clear: bool,
    env: Vec<(OsString, Option<OsString>)>,
    cwd: Option<PathBuf>,
    pub(crate) chroot: Option<PathBuf>,
    stdio: [Stdio; 3],
    pub(crate) observer: Option<&'a mut dyn Observer>,
    engine: Engine,
}

impl<'a> Tracer<'a> {
    /// A tracer that will enforce `policy`.
    pub fn new(policy: Policy) -> Tracer<'a> {
        Tracer {
            policy,
            program: None,
            args: Vec::new(),
            env_clear: false,
            env: Vec::new(),
            cwd: None,
            chroot: None,
            stdio: Default::default(),
            observer: None,
            engine: Engine::Auto,
        }
    }

    /// The program (searched in `PATH` when it has no `/`) and its arguments (without `argv[0]`,
    /// which is the program as given).
    pub fn command<I, S>(&mut self, program: impl AsRef<OsStr>, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.program = Some(program.as_ref().to_os_string());
        self.args = args
            .into_iter()
            .map(|a| a.as_ref().to_os_string())
            .collect();
        self
    }

    /// Starts from an empty environment: the command gets exactly the variables set with
    /// [`Tracer::env`] (no `PWD` or anything else is added).
    pub fn env_clear(&mut self) -> &mut Self {
        self.env_clear = true;
        self.env.clear();
        self
    }

    /// Sets an environment variable.
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Self {
        self.env
            .push((key.as_ref().into(), Some(value.as_ref().into())));
        self
    }

    /// Removes an environment variable.
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Self {
        self.env.push((key.as_ref().into(), None));
        self
    }

    /// The command's working directory (inside the chroot, if one is set).
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.cwd = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Runs the command chrooted into `dir` (needs CAP_SYS_CHROOT). The policy's writable
    /// paths are then paths inside `dir`; violations report host paths.
    pub fn chroot(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.chroot = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Standard input.
    pub fn stdin(&mut self, stdio: impl Into<Stdio>) -> &mut Self {
        self.stdio[0] = stdio.into();
        self
    }

    /// Standard output.
    pub fn stdout(&mut self, stdio: impl Into<Stdio>) -> &mut Self {
        self.stdio[1] = stdio.into();
        self
    }

    /// Standard error.
    pub fn stderr(&mut self, stdio: impl Into<Stdio>) -> &mut Self {
        self.stdio[2] = stdio.into();
        self
    }

    /// The interception engine ([`Engine::Auto`] by default).
    pub fn engine(&mut self, engine: Engine) -> &mut Self {
        self.engine = engine;
        self
    }

    /// Hooks called during the run, on the calling thread.
    pub fn observer(&mut self, observer: &'a mut dyn Observer) -> &mut Self {
        self.observer = Some(observer);
        self
    }

    /// Runs the command to completion on the calling thread and reports what happened.
    ///
    /// Standard streams given as descriptors are consumed. Nothing is installed in the
    /// calling process (no signal handler, no atexit hook); the traced tree cannot outlive
    /// the calling thread (ptrace engine: PTRACE_O_EXITKILL on every tracee; notify engine:
    /// the keeper is a subreaper with PR_SET_PDEATHSIG and kills the tree when the thread
    /// dies).
    pub fn run(&mut self) -> Result<TraceOutcome, TraceError> {
        let program = self
            .program
            .clone()
            .ok_or_else(|| TraceError::InvalidCommand("no program".into()))?;
        let env = self.final_env();
        let exe = find_program(&program, &env, self.chroot.as_deref())?;
        let cstr = |s: &OsStr| {
            CString::new(s.as_bytes())
                .map_err(|_| TraceError::InvalidCommand(format!("NUL byte in {s:?}")))
        };
        let exe_c = cstr(exe.as_os_str())?;
        let mut argv_c = vec![cstr(&program)?];
        for arg in &self.args {
            argv_c.push(cstr(arg)?);
        }
        let mut envp_c = Vec::new();
        for (k, v) in &env {
            let mut entry = k.clone();
            entry.push("=");
            entry.push(v);
            envp_c.push(cstr(&entry)?);
        }
        let argv: Vec<*const libc::c_char> = argv_c
            .iter()
            .map(|c| c.as_ptr())
            .chain([std::ptr::null()])
            .collect();
        let envp: Vec<*const libc::c_char> = envp_c
            .iter()
            .map(|c| c.as_ptr())
            .chain([std::ptr::null()])
            .collect();
        let cwd_c = self
            .cwd
            .as_deref()
            .map(|p| cstr(p.as_os_str()))
            .transpose()?;
        let chroot_c = self
            .chroot
            .as_deref()
            .map(|p| cstr(p.as_os_str()))
            .transpose()?;

        let mut stdio_fds: Vec<Option<OwnedFd>> = Vec::new();
        for slot in &mut self.stdio {
            let fd = match std::mem::take(slot) {
                Stdio::Inherit => None,
                Stdio::Null => Some(
                    File::options()
                        .read(true)
                        .write(true)
                        .open("/dev/null")?
                        .into(),
                ),
                Stdio::Fd(fd) => Some(fd),
            };
            stdio_fds.push(
                fd.map(|fd| sys::dup_high(fd.as_raw_fd()))
                    .transpose()
                    .map_err(TraceError::sys("dup"))?,
            );
        }

        let writable_host = self.host_writable();
        let abi = sys::landlock_abi();
        let (landlock_fd, landlock) = if self.policy.collect_only {
            (None, LandlockStatus::NotApplied)
        } else if abi == 0 {
            (None, LandlockStatus::Unsupported)
        } else {
            (
                sandbox::ruleset(abi, &writable_host.members())?,
                LandlockStatus::Enforced { abi },
            )
        };
        let engine = self.engine.resolve();
        let intercept = match engine {
            Engine::Notify => filter::Intercept::Notify,
            _ => filter::Intercept::Trace,
        };
        let prog = filter::build(self.policy.network, intercept);

        let (release_r, release_w) = sys::pipe().map_err(TraceError::sys("pipe"))?;
        let (report_r, report_w) = sys::report_pipe().map_err(TraceError::sys("pipe"))?;
        let sockets = match engine {
            Engine::Notify => {
                Some(sys::listener_socketpair().map_err(TraceError::sys("socketpair"))?)
            }
            _ => None,
        };
        let raw = |fd: &Option<OwnedFd>| fd.as_ref().map(AsRawFd::as_raw_fd);
        let plan = sys::ChildPlan {
            program: &exe_c,
            argv: &argv,
            envp: &envp,
            stdio: [raw(&stdio_fds[0]), raw(&stdio_fds[1]), raw(&stdio_fds[2])],
            chroot: chroot_c.as_ref(),
            cwd: cwd_c.as_ref(),
            landlock: raw(&landlock_fd),
            filter: &prog,
            release: release_r.as_raw_fd(),
            report: report_w.as_raw_fd(),
            parent: std::process::id() as i32,
            listener_socket: sockets.as_ref().map(|(_, child)| child.as_raw_fd()),
            sigmask: None,
            sigchld: None,
        };
        if let Some((socket, child_socket)) = sockets {
            let (records_r, records_w) = sys::pipe().map_err(TraceError::sys("pipe"))?;
            let keeper = sys::KeeperPlan {
                child: plan,
                tracer: std::process::id() as i32,
                records: records_w.as_raw_fd(),
                wait_for_all: self.policy.wait_for_all,
            };
            let keeper = sys::spawn_keeper(&keeper).map_err(TraceError::sys("fork"))?;
            drop((
                release_r,
                report_w,
                landlock_fd,
                stdio_fds,
                records_w,
                child_socket,
            ));
            let ends = notify::Ends {
                keeper,
                records: records_r,
                socket,
                report: report_r,
                release: release_w,
            };
            return notify::Session::new(self, writable_host, landlock, exe).run(ends);
        }
        let pid = sys::spawn_child(&plan).map_err(TraceError::sys("fork"))?;
        drop((release_r, report_w, landlock_fd, stdio_fds));
        let session = run::Session::new(self, pid, writable_host, landlock, report_r, exe);
        session.start(release_w)
    }

    fn final_env(&self) -> Vec<(OsString, OsString)> {
        let mut env: Vec<(OsString, OsString)> = if self.env_clear {
            Vec::new()
        } else {
            std::env::vars_os().collect()
        };
        for (k, v) in &self.env {
            env.retain(|(key, _)| key != k);
            if let Some(v) = v {
                env.push((k.clone(), v.clone()));
            }
        }
        env
    }

    /// The writable paths as seen from the tracer (under the chroot, if any).
    fn host_writable(&self) -> hutch_pathset::PathSet {
        match &self.chroot {
            None => self.policy.writable.clone(),
            Some(root) => {
                let mut set = hutch_pathset::PathSet::new();
                for member in self.policy.writable.members() {
                    let rel = member.strip_prefix("/").unwrap_or(&member);
                    // Members are normalised; joining keeps them normalised.
                    let _ = set.insert(root.join(rel));
                }
                set
            }
        }
    }
}

/// Finds `program` like execvp: as given when it has a `/`, else in `PATH` (the command's,
/// else the caller's, else `/usr/local/bin:/usr/bin:/bin`).
fn find_program(
    program: &OsStr,
    env: &[(OsString, OsString)],
    root: Option<&Path>,
) -> Result<PathBuf, TraceError> {
    let within = |p: &Path| match root {
        Some(root) => root.join(p.strip_prefix("/").unwrap_or(p)),
        None => p.to_path_buf(),
    };
    if program.is_empty() {
        return Err(TraceError::NotFound(PathBuf::new()));
    }
    if program.as_bytes().contains(&b'/') {
        return Ok(PathBuf::from(program));
    }
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.clone())
        .or_else(|| std::env::var_os("PATH"))
        .unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    let mut not_executable = None;
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(program);
        let host = within(&candidate);
        if host.is_file() {
            let c = CString::new(host.as_os_str().as_bytes())
                .map_err(|_| TraceError::InvalidCommand("NUL byte in PATH".into()))?;
            if sys::is_executable(&c) {
                return Ok(candidate);
            }
            not_executable.get_or_insert(candidate);
        }
    }
    match not_executable {
        Some(path) => Err(TraceError::NotExecutable(path, Errno::EACCES)),
        None => Err(TraceError::NotFound(PathBuf::from(program))),
    }
}

/// What an engine knows once the whole tree is gone.
pub(crate) struct Ended {
    /// The main command's status, if it was reaped.
    pub(crate) status: Option<ExitStatus>,
    /// What the judge recorded.
    pub(crate) records: Records,
    /// The Landlock backstop.
    pub(crate) landlock: LandlockStatus,
    /// The main command's resource usage.
    pub(crate) usage: Usage,
    /// The engine that ran.
    pub(crate) engine: Engine,
}

impl Ended {
    /// The run's result: the first fatal error, else the child's set-up failure read from
    /// `report`, else the outcome.
    pub(crate) fn conclude(
        self,
        abort: Option<TraceError>,
        report: &OwnedFd,
        exe: &Path,
    ) -> Result<TraceOutcome, TraceError> {
        if let Some(err) = abort {
            return Err(err);
        }
        if let Some((stage, errno)) = sys::read_report(report) {
            return Err(setup_error(stage, errno, exe));
        }
        let status = self.status.ok_or(TraceError::Sys {
            call: "wait4",
            errno: Errno::ECHILD,
        })?;
        let records = self.records;
        Ok(TraceOutcome {
            status,
            violations: records.violations,
            ownerships: records.ownerships,
            modes: records.modes,
            network: records.network,
            leftovers: records.leftovers,
            landlock: self.landlock,
            usage: self.usage,
            engine: self.engine,
        })
    }
}

/// Maps the child's setup report to an error.
pub(crate) fn setup_error(stage: u32, errno: i32, exe: &Path) -> TraceError {
    let errno = Errno::from_raw(errno);
    match Stage::from_u32(stage) {
        Some(Stage::Exec) => match errno {
            Errno::ENOENT => TraceError::NotFound(exe.to_path_buf()),
            _ => TraceError::NotExecutable(exe.to_path_buf(), errno),
        },
        Some(stage) => TraceError::Setup {
            stage: stage_name(stage),
            errno,
        },
        None => TraceError::Setup {
            stage: "unknown",
            errno,
        },
    }
}

fn stage_name(stage: Stage) -> &'static str {
    match stage {
        Stage::Release => "release",
        Stage::Stdio => "stdio",
        Stage::Chroot => "chroot",
        Stage::Chdir => "chdir",
        Stage::NoNewPrivs => "no_new_privs",
        Stage::Landlock => "landlock",
        Stage::Seccomp => "seccomp",
        Stage::Exec => "exec",
        Stage::DeathSignal => "pdeathsig",
    }
}
