//! `run`: validate, select, run on the chosen backend, assemble the outcome.

use crate::backend::{select, BackendKind, Choice};
use crate::config::Config;
use crate::error::Error;
use crate::outcome::{ExitStatus, Outcome, Usage};

/// An outcome for `backend` with nothing recorded yet; the backend fills in the rest.
pub(crate) fn blank(backend: BackendKind) -> Outcome {
    Outcome {
        backend,
        enforcement: backend.capabilities().enforcement,
        degradations: Vec::new(),
        passed_over: Vec::new(),
        status: ExitStatus::Code(0),
        stdout: None,
        stderr: None,
        violations: Vec::new(),
        network_denials: Vec::new(),
        ownerships: Vec::new(),
        modes: Vec::new(),
        usage: Usage::default(),
        capabilities_kept: Vec::new(),
        no_new_privs: false,
        notes: Vec::new(),
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
    let mut outcome = match backend {
        BackendKind::Chroot => crate::chroot::run(&selection.config)?,
        BackendKind::Userns => crate::userns::run(&selection.config)?,
        BackendKind::Ptrace => crate::ptrace::run(&selection.config)?,
    };
    outcome.degradations = selection.degradations;
    outcome.passed_over = selection.passed_over;
    Ok(outcome)
}
