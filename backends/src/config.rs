//! The one configuration every backend accepts, built like `std::process::Command`.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hutch_pathset::{NormalizeError, PathSet};
use hutch_tracer::Engine;

use crate::mount::Mount;

/// Which paths the command may write to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Writable {
    /// Everything that is writable on the host stays writable.
    All,
    /// Nothing is writable (the default).
    None,
    /// Exactly these paths, inside the sandbox root, normalised (`data/1`, `/data/1/` and
    /// `/data//1` are the same entry), and everything below them.
    List(Vec<PathBuf>),
}

/// Network access of the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Network {
    /// The host's network (the default).
    #[default]
    Shared,
    /// A network namespace of its own with only a loopback interface.
    Isolated,
}

/// Where one of the command's standard streams goes.
#[derive(Debug, Clone, Default)]
pub enum Stdio {
    /// The caller's own stream (the default).
    #[default]
    Inherit,
    /// A pipe read by hutch; the bytes land in the outcome. Not for stdin.
    Capture,
    /// An open file.
    File(Arc<File>),
    /// `/dev/null`.
    Discard,
    /// Wherever stdout goes. Only for stderr.
    StderrToStdout,
}

impl Stdio {
    /// Redirects to (or from, for stdin) an open file.
    pub fn file(file: File) -> Stdio {
        Stdio::File(Arc::new(file))
    }

    fn name(&self) -> &'static str {
        match self {
            Stdio::Inherit => "inherit",
            Stdio::Capture => "capture",
            Stdio::File(_) => "file",
            Stdio::Discard => "discard",
            Stdio::StderrToStdout => "stderr-to-stdout",
        }
    }
}

/// A configuration that cannot run on any backend.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// No program was given.
    #[error("no command given")]
    NoCommand,
    /// A writable path cannot be normalised.
    #[error("invalid writable path {path:?}: {source}")]
    Writable {
        /// The entry as given.
        path: PathBuf,
        /// What is wrong with it.
        source: NormalizeError,
    },
    /// An extra mount is invalid.
    #[error("invalid mount: {0}")]
    Mount(String),
    /// The mount plan does not validate (a writable path or mount point that does not exist, a
    /// target through a symlink, ...); nothing was mounted or created.
    #[error("invalid mount plan: {0}")]
    Plan(String),
    /// The root directory is not a directory.
    #[error("sandbox root {0:?} is not a directory")]
    Root(PathBuf),
    /// The working directory is not absolute.
    #[error("working directory {0:?} must be absolute")]
    Cwd(PathBuf),
    /// A stream was given a destination it cannot have.
    #[error("{stream} cannot be {what}")]
    Stdio {
        /// `stdin`, `stdout` or `stderr`.
        stream: &'static str,
        /// The destination that was asked.
        what: &'static str,
    },
    /// The hostname is empty, too long or holds a NUL byte.
    #[error("invalid hostname {0:?}")]
    Hostname(String),
    /// An environment variable name is empty or holds `=` or NUL, or a value holds NUL.
    #[error("invalid environment variable {0:?}")]
    Env(OsString),
}

/// What to run and how to confine it; every backend takes the same `Config`.
///
/// ```
/// use hutch_backends::{Config, Network, Stdio};
/// let mut config = Config::new("sh");
/// config
///     .args(["-c", "echo hi"])
///     .env_clear()
///     .env("PATH", "/usr/bin:/bin")
///     .writable_path("/tmp")
///     .network(Network::Isolated)
///     .stdout(Stdio::Capture);
/// assert!(config.validate().is_ok());
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) program: OsString,
    pub(crate) args: Vec<OsString>,
    pub(crate) cwd: Option<PathBuf>,
    pub(crate) env_clear: bool,
    pub(crate) env: BTreeMap<OsString, Option<OsString>>,
    pub(crate) root: PathBuf,
    pub(crate) writable: Writable,
    pub(crate) mounts: Vec<Mount>,
    pub(crate) network: Network,
    pub(crate) hostname: Option<String>,
    pub(crate) stdin: Stdio,
    pub(crate) stdout: Stdio,
    pub(crate) stderr: Stdio,
    pub(crate) collect_only: bool,
    pub(crate) fake_ownership: bool,
    pub(crate) best_effort: bool,
    pub(crate) forward_signals: bool,
    pub(crate) tracer_engine: Engine,
}

impl Config {
    /// A configuration that runs `program` (looked up in `PATH` inside the sandbox when it has
    /// no `/`), with the caller's environment, root `/`, nothing writable, shared network and
    /// inherited streams.
    pub fn new(program: impl AsRef<OsStr>) -> Config {
        Config {
            program: program.as_ref().to_os_string(),
            args: Vec::new(),
            cwd: None,
            env_clear: false,
            env: BTreeMap::new(),
            root: PathBuf::from("/"),
            writable: Writable::None,
            mounts: Vec::new(),
            network: Network::Shared,
            hostname: None,
            stdin: Stdio::Inherit,
            stdout: Stdio::Inherit,
            stderr: Stdio::Inherit,
            collect_only: false,
            fake_ownership: false,
            best_effort: false,
            forward_signals: false,
            tracer_engine: Engine::Auto,
        }
    }

    /// Adds one argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Config {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Config
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    /// Working directory inside the sandbox. Default: `/` when a root other than `/` is set,
    /// else the caller's working directory.
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Config {
        self.cwd = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Sets one environment variable.
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Config {
        self.env.insert(
            key.as_ref().to_os_string(),
            Some(value.as_ref().to_os_string()),
        );
        self
    }

    /// Sets several environment variables.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Config
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        for (k, v) in vars {
            self.env(k, v);
        }
        self
    }

    /// Removes one environment variable.
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Config {
        self.env.insert(key.as_ref().to_os_string(), None);
        self
    }

    /// Starts from an empty environment: the command sees exactly the variables set with
    /// [`Config::env`], nothing added (no `PWD`).
    pub fn env_clear(&mut self) -> &mut Config {
        self.env_clear = true;
        self.env.clear();
        self
    }

    /// The host directory that becomes `/` for the command.
    pub fn root(&mut self, dir: impl AsRef<Path>) -> &mut Config {
        self.root = dir.as_ref().to_path_buf();
        self
    }

    /// Which paths are writable.
    pub fn writable(&mut self, writable: Writable) -> &mut Config {
        self.writable = writable;
        self
    }

    /// Adds one writable path (relative to the root); turns `None` into a list. No effect on
    /// `All`.
    pub fn writable_path(&mut self, path: impl AsRef<Path>) -> &mut Config {
        let path = path.as_ref().to_path_buf();
        match &mut self.writable {
            Writable::All => {}
            Writable::List(list) => list.push(path),
            Writable::None => self.writable = Writable::List(vec![path]),
        }
        self
    }

    /// Adds an extra mount; mounts are set up in the order given.
    pub fn mount(&mut self, mount: Mount) -> &mut Config {
        self.mounts.push(mount);
        self
    }

    /// Network access.
    pub fn network(&mut self, network: Network) -> &mut Config {
        self.network = network;
        self
    }

    /// Hostname inside the sandbox (a UTS namespace of its own).
    pub fn hostname(&mut self, name: impl Into<String>) -> &mut Config {
        self.hostname = Some(name.into());
        self
    }

    /// Standard input: `Inherit`, `File` or `Discard`.
    pub fn stdin(&mut self, stdio: Stdio) -> &mut Config {
        self.stdin = stdio;
        self
    }

    /// Standard output: anything but `StderrToStdout`.
    pub fn stdout(&mut self, stdio: Stdio) -> &mut Config {
        self.stdout = stdio;
        self
    }

    /// Standard error.
    pub fn stderr(&mut self, stdio: Stdio) -> &mut Config {
        self.stderr = stdio;
        self
    }

    /// Record writes outside the whitelist but let them happen (ptrace backend).
    pub fn collect_only(&mut self, on: bool) -> &mut Config {
        self.collect_only = on;
        self
    }

    /// Make `chown` succeed without acting, and record it (ptrace backend).
    pub fn fake_ownership(&mut self, on: bool) -> &mut Config {
        self.fake_ownership = on;
        self
    }

    /// Let [`run`](crate::run) degrade settings the chosen backend does not support instead of
    /// refusing them; the outcome lists what was degraded.
    pub fn best_effort(&mut self, on: bool) -> &mut Config {
        self.best_effort = on;
        self
    }

    /// Forward SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 that the calling process
    /// receives during [`run`](crate::run) to the command (userns and chroot; with ptrace they
    /// are not forwarded: they end hutch, and the traced tree dies with it). Off by default: a library should not take
    /// its host's signals. While a run lasts, the calling thread blocks those signals and
    /// `SIGCHLD`, so start no thread that should receive them during a run.
    pub fn forward_signals(&mut self, on: bool) -> &mut Config {
        self.forward_signals = on;
        self
    }

    /// How the ptrace backend intercepts calls ([`Engine::Auto`] by default: seccomp user
    /// notifications where the kernel supports them, else ptrace). The other backends do not
    /// trace and ignore it.
    pub fn tracer_engine(&mut self, engine: Engine) -> &mut Config {
        self.tracer_engine = engine;
        self
    }

    /// The tracer engine setting (see [`Config::tracer_engine`]).
    pub fn get_tracer_engine(&self) -> Engine {
        self.tracer_engine
    }

    /// Whether signals are forwarded (see [`Config::forward_signals`]).
    pub fn get_forward_signals(&self) -> bool {
        self.forward_signals
    }

    /// The program.
    pub fn get_program(&self) -> &OsStr {
        &self.program
    }

    /// The arguments (without the program).
    pub fn get_args(&self) -> &[OsString] {
        &self.args
    }

    /// The root directory.
    pub fn get_root(&self) -> &Path {
        &self.root
    }

    /// The writable setting as given.
    pub fn get_writable(&self) -> &Writable {
        &self.writable
    }

    /// The extra mounts.
    pub fn get_mounts(&self) -> &[Mount] {
        &self.mounts
    }

    /// The network setting.
    pub fn get_network(&self) -> Network {
        self.network
    }

    /// The hostname, if set.
    pub fn get_hostname(&self) -> Option<&str> {
        self.hostname.as_deref()
    }

    /// Whether collect-only is on.
    pub fn get_collect_only(&self) -> bool {
        self.collect_only
    }

    /// Whether fake ownership is on.
    pub fn get_fake_ownership(&self) -> bool {
        self.fake_ownership
    }

    /// Whether best effort is on.
    pub fn get_best_effort(&self) -> bool {
        self.best_effort
    }

    /// True when the root is the host's `/`.
    pub fn root_is_host(&self) -> bool {
        self.root.components().eq(Path::new("/").components())
    }

    /// The working directory the command starts in, as a path inside the sandbox.
    pub fn effective_cwd(&self) -> PathBuf {
        match &self.cwd {
            Some(dir) => dir.clone(),
            None if self.root_is_host() => {
                std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"))
            }
            None => PathBuf::from("/"),
        }
    }

    /// The exact environment of the command.
    pub fn effective_env(&self) -> Vec<(OsString, OsString)> {
        let mut vars: BTreeMap<OsString, OsString> = if self.env_clear {
            BTreeMap::new()
        } else {
            std::env::vars_os().collect()
        };
        for (k, v) in &self.env {
            match v {
                Some(v) => vars.insert(k.clone(), v.clone()),
                None => vars.remove(k),
            };
        }
        vars.into_iter().collect()
    }

    /// The writable paths, normalised, or `None` for [`Writable::All`].
    pub fn writable_set(&self) -> Result<Option<PathSet>, ConfigError> {
        match &self.writable {
            Writable::All => Ok(None),
            Writable::None => Ok(Some(PathSet::new())),
            Writable::List(list) => {
                let mut set = PathSet::new();
                for path in list {
                    set.insert(path).map_err(|source| ConfigError::Writable {
                        path: path.clone(),
                        source,
                    })?;
                }
                Ok(Some(set))
            }
        }
    }

    /// The extra mounts with normalised targets.
    pub fn normalized_mounts(&self) -> Result<Vec<Mount>, ConfigError> {
        self.mounts.iter().map(Mount::normalized).collect()
    }

    /// Checks everything that can be checked without running: one clear error, nothing created.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.program.is_empty() {
            return Err(ConfigError::NoCommand);
        }
        if !self.root.is_dir() {
            return Err(ConfigError::Root(self.root.clone()));
        }
        if let Some(cwd) = &self.cwd {
            if !cwd.is_absolute() {
                return Err(ConfigError::Cwd(cwd.clone()));
            }
        }
        self.writable_set()?;
        self.normalized_mounts()?;
        for mount in &self.mounts {
            if let Some(source) = mount.source() {
                if std::fs::symlink_metadata(source).is_err() {
                    return Err(ConfigError::Mount(format!(
                        "bind source {} does not exist",
                        source.display()
                    )));
                }
            }
        }
        if let Some(name) = &self.hostname {
            if name.is_empty() || name.len() > 64 || name.contains('\0') {
                return Err(ConfigError::Hostname(name.clone()));
            }
        }
        for (k, v) in &self.env {
            let bad_key = k.is_empty() || k.as_encoded_bytes().iter().any(|&b| b == b'=' || b == 0);
            let bad_val = v
                .as_ref()
                .is_some_and(|v| v.as_encoded_bytes().contains(&0));
            if bad_key || bad_val {
                return Err(ConfigError::Env(k.clone()));
            }
        }
        check_stream(
            "stdin",
            &self.stdin,
            &[Stdio::Capture.name(), "stderr-to-stdout"],
        )?;
        check_stream("stdout", &self.stdout, &["stderr-to-stdout"])?;
        Ok(())
    }
}

fn check_stream(
    stream: &'static str,
    stdio: &Stdio,
    forbidden: &[&'static str],
) -> Result<(), ConfigError> {
    match forbidden.iter().find(|f| **f == stdio.name()) {
        Some(what) => Err(ConfigError::Stdio { stream, what }),
        None => Ok(()),
    }
}
