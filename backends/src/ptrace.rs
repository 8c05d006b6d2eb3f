//! The ptrace backend: hutch-tracer checks every write syscall of the command's process tree
//! against the whitelist and reports violations. Root `/` unless hutch runs as root (then the
//! tracer chroots first).
//!
//! What the tracer enforces is best effort against a racing thread (see hutch-tracer's notes on
//! TOCTOU; Landlock backs most writes up). The command keeps no capability (only
//! `CAP_SYS_CHROOT` when a root directory is used) and runs with `no_new_privs`.
//!
//! The tracer and the command run in a pid namespace of their own (with a user namespace when
//! hutch is not root), so the command cannot see or signal hutch or the caller's other
//! processes; ptrace is refused by the tracer's filter. Without root and without user
//! namespaces they run in hutch's pid namespace, and the outcome says so.

use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::sync::OnceLock;
use std::time::Instant;

use hutch_ns::caps::{self, CapSet, Capability};
use hutch_ns::{Namespaces, Sandbox};
use hutch_pathset::PathSet;
use hutch_tracer::{Policy, Tracer};
use nix::fcntl::OFlag;
use nix::unistd::{getegid, geteuid, pipe2};

use crate::backend::BackendKind;
use crate::config::{Config, Network};
use crate::error::Error;
use crate::outcome::{Outcome, Usage};
use crate::ptrace_wire::{decode, encode, Failed, Traced};
use crate::stdio::plumb;

const BACKEND: BackendKind = BackendKind::Ptrace;

fn policy(config: &Config) -> Result<Policy, Error> {
    let writable = match config.writable_set()? {
        Some(set) => set,
        None => PathSet::from_entries(["/"])
            .map_err(|e| Error::setup(BACKEND, "policy", io::Error::other(e)))?,
    };
    Ok(Policy {
        writable,
        collect_only: config.collect_only,
        network: config.network == Network::Shared,
        fake_ownership: config.fake_ownership,
        wait_for_all: false,
    })
}

fn failed_error(config: &Config, f: Failed) -> Error {
    match f {
        Failed::NotFound => Error::CommandNotFound {
            program: config.program.clone(),
        },
        Failed::NotExecutable(errno) => Error::CommandNotExecutable {
            program: config.program.clone(),
            source: io::Error::from_raw_os_error(errno),
        },
        Failed::Setup(stage, errno) => {
            Error::setup(BACKEND, stage, io::Error::from_raw_os_error(errno))
        }
        Failed::Other(message) => Error::setup(BACKEND, "trace", io::Error::other(message)),
    }
}

/// The namespaces that keep the command from seeing hutch: a pid namespace (and the mount
/// namespace for its `/proc`), plus a user namespace when hutch is not root. `None` when
/// neither root nor user namespaces are available: then the tracer runs in hutch's own pid
/// namespace.
fn isolation() -> Option<Namespaces> {
    static USERNS: OnceLock<bool> = OnceLock::new();
    if crate::probe::privileged() {
        Some(Namespaces::PID | Namespaces::MOUNT)
    } else if *USERNS.get_or_init(|| crate::probe::userns().is_available()) {
        Some(Namespaces::USER | Namespaces::PID | Namespaces::MOUNT)
    } else {
        None
    }
}

/// Builds the tracer for `config` with the given streams and runs it on the calling thread.
fn trace(config: &Config, policy: Policy, fds: [OwnedFd; 3]) -> Result<Traced, Failed> {
    let [stdin, stdout, stderr] = fds;
    let mut tracer = Tracer::new(policy);
    tracer
        .engine(config.tracer_engine)
        .command(&config.program, &config.args)
        .env_clear();
    for (k, v) in config.effective_env() {
        tracer.env(k, v);
    }
    tracer.current_dir(config.effective_cwd());
    if !config.root_is_host() {
        tracer.chroot(&config.root);
    }
    tracer.stdin(stdin).stdout(stdout).stderr(stderr);
    tracer.run().map(Traced::from).map_err(Failed::from)
}

/// The capabilities the command may keep: none, or `CAP_SYS_CHROOT` when the tracer must chroot.
fn keep(config: &Config) -> CapSet {
    if config.root_is_host() {
        CapSet::EMPTY
    } else {
        CapSet::of(&[Capability::SysChroot])
    }
}

/// Drops the calling thread's capabilities to `keep` (capabilities are per thread, and the
/// traced child inherits the thread's). An unprivileged caller has nothing to drop; its bounding
/// set cannot be changed, but `no_new_privs` (set here and by the tracer) keeps exec from
/// granting anything.
fn drop_thread_caps(keep: CapSet) -> Result<Vec<String>, Error> {
    let (eff, prm, _) = caps::current().map_err(|e| {
        Error::setup(
            BACKEND,
            "read capabilities",
            io::Error::other(e.to_string()),
        )
    })?;
    if eff.is_empty() && prm.is_empty() {
        nix::sys::prctl::set_no_new_privs()
            .map_err(|e| Error::setup(BACKEND, "set no_new_privs", e.into()))?;
        return Ok(Vec::new());
    }
    let kept = caps::drop_except(keep).map_err(|e| {
        Error::setup(
            BACKEND,
            "drop capabilities",
            io::Error::other(e.to_string()),
        )
    })?;
    Ok(crate::caps::names(kept))
}

/// Runs `config` (validated, supported by this backend) under the tracer.
///
/// Where possible (root, or user namespaces) the tracer runs as the command of a hutch-ns
/// sandbox with a pid namespace of its own, so that the command cannot see or signal hutch; the
/// result comes back over a pipe. Otherwise it runs on a thread of this process. Either way its
/// capabilities are dropped first, so that the command (which inherits them) keeps none, or only
/// `CAP_SYS_CHROOT` for a root directory.
pub(crate) fn run(config: &Config) -> Result<Outcome, Error> {
    let policy = policy(config)?;
    let plumbing = plumb(&config.stdin, &config.stdout, &config.stderr)
        .map_err(|e| Error::setup(BACKEND, "set up standard streams", e))?;
    let fds = [plumbing.stdin, plumbing.stdout, plumbing.stderr];
    let keep = keep(config);
    let started = Instant::now();
    let isolation = isolation();
    let result = match isolation {
        Some(namespaces) => in_namespaces(config, policy, fds, keep, namespaces),
        None => on_thread(config, policy, fds, keep),
    };
    let wall = started.elapsed();
    let captured = plumbing.readers.finish();
    let (traced, kept) = result?;
    let traced = traced.map_err(|f| failed_error(config, f))?;
    let (stdout, stderr) =
        captured.map_err(|e| Error::setup(BACKEND, "read captured output", e))?;

    let mut notes = Vec::new();
    notes.push(match traced.landlock {
        Some(0) => "no landlock on this kernel: only the tracer enforced the policy".into(),
        Some(abi) => format!("landlock backstop enforced (ABI {abi})"),
        None => "landlock not applied (collect-only)".into(),
    });
    notes.push(match isolation {
        Some(_) => "pid namespace of its own: the command cannot see or signal hutch; pids in violations are inside it".into(),
        None => "no pid namespace (neither root nor user namespaces): the command can signal hutch".into(),
    });
    if traced.leftovers > 0 {
        notes.push(format!(
            "killed {} process(es) still running when the command exited",
            traced.leftovers
        ));
    }
    Ok(Outcome {
        engine: Some(traced.engine),
        status: traced.status,
        stdout,
        stderr,
        violations: traced.violations,
        network_denials: traced.network,
        ownerships: traced.ownerships,
        modes: traced.modes,
        usage: Usage {
            wall,
            ..traced.usage
        },
        capabilities_kept: kept,
        no_new_privs: true,
        notes,
        ..crate::run::blank(BACKEND)
    })
}

type Joined = Result<(Result<Traced, Failed>, Vec<String>), Error>;

/// Runs the tracer on a thread of this process whose capabilities were dropped.
fn on_thread(config: &Config, policy: Policy, fds: [OwnedFd; 3], keep: CapSet) -> Joined {
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                let kept = drop_thread_caps(keep)?;
                Ok((trace(config, policy, fds), kept))
            })
            .join()
    })
    .map_err(|_| Error::setup(BACKEND, "trace", io::Error::other("tracer thread panicked")))?
}

/// Runs the tracer as the command of a hutch-ns sandbox and reads its result from a pipe.
fn in_namespaces(
    config: &Config,
    policy: Policy,
    fds: [OwnedFd; 3],
    keep: CapSet,
    namespaces: Namespaces,
) -> Joined {
    let (rd, wr) = pipe2(OFlag::O_CLOEXEC).map_err(|e| Error::setup(BACKEND, "pipe", e.into()))?;
    let mut sandbox = Sandbox::new(namespaces).foreground(false);
    if namespaces.contains(Namespaces::USER) {
        sandbox = sandbox.map_to(geteuid().as_raw(), getegid().as_raw());
    }
    let spawned = sandbox.spawn(
        || Ok::<(), String>(()),
        move || {
            let result = match caps::drop_except(keep) {
                Ok(_) => trace(config, policy, fds),
                Err(e) => Err(Failed::Other(format!("drop capabilities: {e}"))),
            };
            let _ = std::fs::File::from(wr).write_all(&encode(&result));
            // Not an exec: the init reports this as an exec failure, which run() ignores
            // when the result arrived.
            io::Error::other("tracer finished")
        },
    );
    let mut child =
        spawned.map_err(|e| Error::setup(BACKEND, "spawn", io::Error::other(e.to_string())))?;
    let mut bytes = Vec::new();
    let read = std::fs::File::from(rd).read_to_end(&mut bytes);
    let ended = child
        .wait()
        .map_err(|e| Error::setup(BACKEND, "wait", io::Error::other(e.to_string())))?;
    match (read, decode(&bytes)) {
        (Ok(_), Some(result)) => Ok((result, crate::caps::names(keep))),
        _ => Err(Error::setup(
            BACKEND,
            "trace",
            io::Error::other(format!(
                "the tracer process ended without a result: {ended:?}"
            )),
        )),
    }
}
