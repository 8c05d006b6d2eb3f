//! `run`: validate, select, run on the chosen backend, assemble the outcome.

use std::time::Duration;

use crate::backend::{select, BackendKind, Choice};
use crate::config::Config;
use crate::error::Error;
use crate::outcome::{ExitStatus, ModeChange, Outcome, Ownership, Usage, Violation};
use crate::sys::ChildUsage;

/// What a backend's run returns; [`run_with`] adds what selection decided.
#[derive(Debug)]
pub(crate) struct RawRun {
    pub status: ExitStatus,
    pub stdout: Option<Vec<u8>>,
    pub stderr: Option<Vec<u8>>,
    pub violations: Vec<Violation>,
    pub ownerships: Vec<Ownership>,
    pub modes: Vec<ModeChange>,
    pub usage: Usage,
    pub capabilities_kept: Vec<String>,
    pub no_new_privs: bool,
    pub notes: Vec<String>,
}

impl Default for RawRun {
    fn default() -> Self {
        RawRun {
            status: ExitStatus::Code(0),
            stdout: None,
            stderr: None,
            violations: Vec::new(),
            ownerships: Vec::new(),
            modes: Vec::new(),
            usage: Usage::default(),
            capabilities_kept: Vec::new(),
            no_new_privs: false,
            notes: Vec::new(),
        }
    }
}

pub(crate) fn usage(wall: Duration, child: ChildUsage) -> Usage {
    Usage {
        wall,
        user_cpu: child.user,
        system_cpu: child.system,
        max_rss_kib: child.max_rss_kib,
    }
}

/// Runs `config` on the backend chosen by `HUTCH_BACKEND` (or `auto` when unset).
///
/// Refuses settings the backend does not support unless [`Config::best_effort`] is on; then
/// the outcome lists what was degraded.
pub fn run(config: &Config) -> Result<Outcome, Error> {
    run_with(config, Choice::from_env()?)
}

/// Runs `config` on the backend given by `choice`.
pub fn run_with(config: &Config, choice: Choice) -> Result<Outcome, Error> {
    config.validate()?;
    let selection = select(config, choice)?;
    let backend = selection.backend;
    let raw = match backend {
        BackendKind::Chroot => crate::chroot::run(&selection.config)?,
        BackendKind::Userns => crate::userns::run(&selection.config)?,
        BackendKind::Ptrace => crate::ptrace::run(&selection.config)?,
    };
    Ok(Outcome {
        backend,
        enforcement: backend.capabilities().enforcement,
        degradations: selection.degradations,
        status: raw.status,
        stdout: raw.stdout,
        stderr: raw.stderr,
        violations: raw.violations,
        ownerships: raw.ownerships,
        modes: raw.modes,
        usage: raw.usage,
        capabilities_kept: raw.capabilities_kept,
        no_new_privs: raw.no_new_privs,
        notes: raw.notes,
    })
}
