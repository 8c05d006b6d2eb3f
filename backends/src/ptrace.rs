//! The ptrace backend: hutch-tracer checks every write syscall of the command's process tree
//! against the whitelist and reports violations. Root `/` unless hutch runs as root (then the
//! tracer chroots first).
//!
//! What the tracer enforces is best effort against a racing thread (see hutch-tracer's notes on
//! TOCTOU; Landlock backs most writes up). The command keeps the capabilities of the caller
//! (the tracer sets `no_new_privs` but does not drop capabilities); the outcome lists them.

use std::io;
use std::path::PathBuf;
use std::time::Instant;

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

/// Runs `config` (validated, supported by this backend) under the tracer.
pub(crate) fn run(config: &Config) -> Result<Outcome, Error> {
    let mut tracer = Tracer::new(policy(config)?);
    tracer.command(&config.program, &config.args).env_clear();
    for (k, v) in config.effective_env() {
        tracer.env(k, v);
    }
    tracer.current_dir(config.effective_cwd());
    if !config.root_is_host() {
        tracer.chroot(&config.root);
    }
    let plumbing = plumb(&config.stdin, &config.stdout, &config.stderr)
        .map_err(|e| Error::setup(BACKEND, "set up standard streams", e))?;
    tracer
        .stdin(plumbing.stdin)
        .stdout(plumbing.stdout)
        .stderr(plumbing.stderr);
    let started = Instant::now();
    let traced = tracer.run();
    let wall = started.elapsed();
    // The tracer consumed (and closed) the stream descriptors: the readers see end-of-file.
    drop(tracer);
    let captured = plumbing.readers.finish();
    let traced = traced.map_err(|e| trace_error(config, e))?;
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
        capabilities_kept: crate::caps::current_names(),
        no_new_privs: true,
        notes,
        ..crate::run::blank(BACKEND)
    })
}
