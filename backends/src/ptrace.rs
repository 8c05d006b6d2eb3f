//! The ptrace backend: hutch-tracer checks every write syscall of the command's process tree
//! against the whitelist and reports violations. Root `/` unless hutch runs as root (then the
//! tracer chroots first).
//!
//! What the tracer enforces is best effort against a racing thread (see hutch-tracer's notes on
//! TOCTOU; Landlock backs most writes up). The command keeps no capability (only
//! `CAP_SYS_CHROOT` when a root directory is used) and runs with `no_new_privs`.
//!
//! Known gap: the command runs in the host's pid namespace as the caller's uid, so it can send
//! signals to hutch itself and to the caller's other processes (ptrace is refused by the
//! tracer's filter).

use std::io;
use std::path::PathBuf;
use std::time::Instant;

use hutch_ns::caps::{self, CapSet, Capability};
use hutch_pathset::PathSet;
use hutch_tracer::{LandlockStatus, Policy, TraceError, Tracer};

use crate::backend::BackendKind;
use crate::config::{Config, Network};
use crate::error::Error;
use crate::outcome::{ExitStatus, ModeChange, NetworkDenial, Outcome, Ownership, Usage, Violation};
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

fn trace_error(config: &Config, e: TraceError) -> Error {
    match e {
        TraceError::NotFound(_) => Error::CommandNotFound {
            program: config.program.clone(),
        },
        TraceError::NotExecutable(_, errno) => Error::CommandNotExecutable {
            program: config.program.clone(),
            source: errno.into(),
        },
        TraceError::Setup { stage, errno } => Error::setup(BACKEND, stage, errno.into()),
        other => Error::setup(BACKEND, "trace", io::Error::other(other.to_string())),
    }
}

fn unchanged(id: u32) -> Option<u32> {
    (id != u32::MAX).then_some(id)
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
/// The tracer runs on a thread of its own whose capabilities are dropped first, so that the
/// command (which inherits them) keeps none, or only `CAP_SYS_CHROOT` for a root directory.
pub(crate) fn run(config: &Config) -> Result<Outcome, Error> {
    let policy = policy(config)?;
    let plumbing = plumb(&config.stdin, &config.stdout, &config.stderr)
        .map_err(|e| Error::setup(BACKEND, "set up standard streams", e))?;
    let (stdin, stdout, stderr) = (plumbing.stdin, plumbing.stdout, plumbing.stderr);
    let keep = keep(config);
    let started = Instant::now();
    let joined = std::thread::scope(|scope| {
        scope
            .spawn(move || {
                let kept = drop_thread_caps(keep)?;
                let mut tracer = Tracer::new(policy);
                tracer.command(&config.program, &config.args).env_clear();
                for (k, v) in config.effective_env() {
                    tracer.env(k, v);
                }
                tracer.current_dir(config.effective_cwd());
                if !config.root_is_host() {
                    tracer.chroot(&config.root);
                }
                tracer.stdin(stdin).stdout(stdout).stderr(stderr);
                let traced = tracer.run().map_err(|e| trace_error(config, e));
                // The tracer consumed the stream descriptors; dropping it closes any it kept,
                // so the readers see end-of-file.
                drop(tracer);
                traced.map(|t| (t, kept))
            })
            .join()
    });
    let wall = started.elapsed();
    let captured = plumbing.readers.finish();
    let (traced, kept) = joined.map_err(|_| {
        Error::setup(BACKEND, "trace", io::Error::other("tracer thread panicked"))
    })??;
    let (stdout, stderr) =
        captured.map_err(|e| Error::setup(BACKEND, "read captured output", e))?;

    let mut notes = Vec::new();
    match traced.landlock {
        LandlockStatus::Enforced { abi } => {
            notes.push(format!("landlock backstop enforced (ABI {abi})"))
        }
        LandlockStatus::Unsupported => {
            notes.push("no landlock on this kernel: only the tracer enforced the policy".into())
        }
        LandlockStatus::NotApplied => notes.push("landlock not applied (collect-only)".into()),
    }
    if !traced.leftovers.is_empty() {
        notes.push(format!(
            "killed {} process(es) still running when the command exited",
            traced.leftovers.len()
        ));
    }
    Ok(Outcome {
        status: match traced.status {
            hutch_tracer::ExitStatus::Exited(c) => ExitStatus::Code(c),
            hutch_tracer::ExitStatus::Signaled(s) => ExitStatus::Signal(s),
        },
        stdout,
        stderr,
        violations: traced
            .violations
            .into_iter()
            .map(|v| Violation {
                pid: i32::try_from(v.pid).unwrap_or(-1),
                syscall: v.syscall.to_string(),
                path: PathBuf::from(v.path),
                resolved: v.resolved,
            })
            .collect(),
        network_denials: traced
            .network
            .into_iter()
            .map(|n| NetworkDenial {
                pid: i32::try_from(n.pid).unwrap_or(-1),
                syscall: n.syscall.to_string(),
                destination: n.destination,
            })
            .collect(),
        ownerships: traced
            .ownerships
            .into_iter()
            .map(|(path, uid, gid)| Ownership {
                path,
                uid: unchanged(uid),
                gid: unchanged(gid),
            })
            .collect(),
        modes: traced
            .modes
            .into_iter()
            .map(|(path, mode)| ModeChange { path, mode })
            .collect(),
        usage: Usage {
            wall,
            user_cpu: traced.usage.user,
            system_cpu: traced.usage.system,
            max_rss_kib: traced.usage.max_rss_kib,
        },
        capabilities_kept: kept,
        no_new_privs: true,
        notes,
        ..crate::run::blank(BACKEND)
    })
}
