//! The userns backend: user, mount, pid, ipc, uts (and, when isolated, net) namespaces from
//! hutch-ns; a new root from hutch-mounts' plan (read-only root, writable paths bound read-write
//! on top, extra mounts) entered with `pivot_root`; all capabilities dropped (bounding set
//! included) and `no_new_privs` set in the command. The kernel enforces the whitelist.
//!
//! Process tree (hutch-ns): a relay that creates the namespaces, a pid-1 init that applies the
//! mount plan and reaps, and the command. The tree dies with the thread that ran it.

use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use hutch_mounts::{LinuxSyscall, MountPlan, MountSpec};
use hutch_ns::{caps, Namespaces, Outcome as NsOutcome, Sandbox, Stage};
use nix::sys::resource::{getrusage, UsageWho};

use crate::backend::BackendKind;
use crate::config::{Config, ConfigError, Network, Writable};
use crate::error::Error;
use crate::mount::Mount;
use crate::mountpoint;
use crate::outcome::{ExitStatus, Outcome, Usage};
use crate::stdio::{plumb, Readers};

const BACKEND: BackendKind = BackendKind::Userns;

/// Prefix of the errors the command closure returns before `exec`.
pub(crate) const SETUP_PREFIX: &str = "hutch setup: ";

/// Converts our mount description to hutch-mounts'.
pub(crate) fn mount_spec(mount: &Mount) -> MountSpec {
    match mount {
        Mount::Bind { source, target } => MountSpec::bind(source, target),
        Mount::RoBind { source, target } => MountSpec::ro_bind(source, target),
        Mount::Tmpfs { target } => MountSpec::tmpfs(target),
        Mount::Proc { target } => MountSpec::proc(target),
        Mount::Dev { target } => MountSpec::dev(target),
    }
}

/// The mount plan for `config` (validated by the caller).
pub(crate) fn plan(config: &Config, root: &Path) -> Result<MountPlan, Error> {
    let mut plan = MountPlan::new(root);
    match config.writable_set()? {
        None => {
            plan.read_only(false);
        }
        Some(set) => {
            plan.read_only(true).writable_set(&set);
        }
    }
    plan.mounts(config.normalized_mounts()?.iter().map(mount_spec));
    Ok(plan)
}

/// User time, system time, peak RSS (KiB) of this process's reaped children.
pub(crate) type RUsage = (std::time::Duration, std::time::Duration, u64);

/// `getrusage(RUSAGE_CHILDREN)`: hutch-ns reaps the sandbox itself, so `wait4`'s usage is not
/// available; the deltas are exact when no other child of this process ends meanwhile, and the
/// peak is the largest of any child so far.
pub(crate) fn rusage_children() -> RUsage {
    match getrusage(UsageWho::RUSAGE_CHILDREN) {
        Ok(u) => {
            let tv = |t: nix::sys::time::TimeVal| {
                std::time::Duration::from_secs(u64::try_from(t.tv_sec()).unwrap_or(0))
                    + std::time::Duration::from_micros(u64::try_from(t.tv_usec()).unwrap_or(0))
            };
            (
                tv(u.user_time()),
                tv(u.system_time()),
                u64::try_from(u.max_rss()).unwrap_or(0),
            )
        }
        Err(_) => Default::default(),
    }
}

/// Runs `config` (validated, supported by this backend) in fresh namespaces.
pub(crate) fn run(config: &Config) -> Result<Outcome, Error> {
    mountpoint::around(config, BACKEND, run_created)
}

fn run_created(config: &Config, root: &Path) -> Result<Outcome, Error> {
    let plan = plan(config, root)?;
    plan.validate()
        .map_err(|e| Error::Config(ConfigError::Plan(e.to_string())))?;

    let mut namespaces =
        Namespaces::USER | Namespaces::MOUNT | Namespaces::PID | Namespaces::IPC | Namespaces::UTS;
    let isolated = config.network == Network::Isolated;
    if isolated {
        namespaces |= Namespaces::NET;
    }
    let mut sandbox = Sandbox::new(namespaces)
        .map_root()
        .loopback(isolated)
        .foreground(false);
    if let Some(name) = &config.hostname {
        sandbox = sandbox.hostname(name);
    }

    let (mut command, readers) = command(config, BACKEND)?;
    let cwd = config.effective_cwd();

    let before = rusage_children();
    let started = Instant::now();
    let spawned = sandbox.spawn(
        || plan.apply(&LinuxSyscall),
        move || {
            if let Err(e) = std::env::set_current_dir(&cwd) {
                return io::Error::other(format!("{SETUP_PREFIX}chdir {}: {e}", cwd.display()));
            }
            if let Err(e) = caps::drop_except(caps::CapSet::EMPTY) {
                return io::Error::other(format!("{SETUP_PREFIX}drop capabilities: {e}"));
            }
            command.exec()
        },
    );
    let mut outcome = finish(BACKEND, config, spawned, readers, before, started)?;
    if config.writable == Writable::All {
        outcome
            .notes
            .push("everything writable: the root is bound read-write".to_string());
    }
    Ok(outcome)
}

/// The command to exec, with its environment and its streams plumbed (shared with the chroot
/// backend).
pub(crate) fn command(config: &Config, backend: BackendKind) -> Result<(Command, Readers), Error> {
    let plumbing = plumb(&config.stdin, &config.stdout, &config.stderr)
        .map_err(|e| Error::setup(backend, "set up standard streams", e))?;
    let mut command = Command::new(&config.program);
    command
        .args(&config.args)
        .env_clear()
        .envs(config.effective_env())
        .stdin(plumbing.stdin)
        .stdout(plumbing.stdout)
        .stderr(plumbing.stderr);
    Ok((command, plumbing.readers))
}

/// Waits for a hutch-ns sandbox and assembles the outcome (shared with the chroot backend).
pub(crate) fn finish(
    backend: BackendKind,
    config: &Config,
    spawned: Result<hutch_ns::Child, hutch_ns::SpawnError>,
    readers: Readers,
    before: RUsage,
    started: Instant,
) -> Result<Outcome, Error> {
    let waited = spawned
        .map_err(|e| Error::setup(backend, "spawn", io::Error::other(e.to_string())))
        .and_then(|mut child| {
            let waited = if config.forward_signals {
                child.wait_forwarding()
            } else {
                child.wait()
            };
            waited.map_err(|e| Error::setup(backend, "wait", io::Error::other(e.to_string())))
        });
    let wall = started.elapsed();
    let after = rusage_children();
    let captured = readers.finish();
    let status = match waited? {
        NsOutcome::Completed(hutch_ns::ExitStatus::Exited(c)) => ExitStatus::Code(c),
        NsOutcome::Completed(hutch_ns::ExitStatus::Signaled(s)) => ExitStatus::Signal(s),
        NsOutcome::Failed(f) => return Err(failure(backend, config, f)),
    };
    let (stdout, stderr) =
        captured.map_err(|e| Error::setup(backend, "read captured output", e))?;
    Ok(Outcome {
        status,
        stdout,
        stderr,
        usage: Usage {
            wall,
            user_cpu: after.0.saturating_sub(before.0),
            system_cpu: after.1.saturating_sub(before.1),
            max_rss_kib: after.2,
        },
        capabilities_kept: Vec::new(),
        no_new_privs: true,
        ..crate::run::blank(backend)
    })
}

/// Maps a failure reported by hutch-ns to our error.
fn failure(backend: BackendKind, config: &Config, f: hutch_ns::Failure) -> Error {
    let io_err = |f: &hutch_ns::Failure| match f.errno {
        Some(errno) => io::Error::from(errno),
        None => io::Error::other(f.message.clone()),
    };
    match f.stage {
        Stage::Exec if f.errno.is_some() => Error::exec(&config.program, io_err(&f)),
        Stage::Exec => Error::setup(
            backend,
            "prepare the command",
            io::Error::other(
                f.message
                    .split_once(SETUP_PREFIX)
                    .map_or(f.message.as_str(), |(_, m)| m)
                    .to_string(),
            ),
        ),
        Stage::Setup => Error::setup(backend, "mount plan", io_err(&f)),
        stage => Error::setup(backend, stage.to_string(), io_err(&f)),
    }
}
