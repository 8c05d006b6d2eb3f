//! `run`: validate, select, run on the chosen backend, assemble the outcome.

use crate::backend::{select, select_with, BackendKind, Choice};
use crate::config::Config;
use crate::error::Error;
use crate::outcome::{ExitStatus, Outcome, Usage};
use crate::probe::Availability;

/// An outcome for `backend` with nothing recorded yet; the backend fills in the rest.
pub(crate) fn blank(backend: BackendKind) -> Outcome {
    Outcome {
        backend,
        engine: None,
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
    // A named backend is not probed up front: the run itself is the probe (the probe costs a
    // fork and an unshare, about a third of a userns run's start-up). Only when the run fails
    // to set up does the real probe say whether the backend cannot run here, and why.
    let selection = match choice {
        Choice::Named(_) => select_with(config, choice, |_| Availability::Available)?,
        Choice::Auto => select(config, choice)?,
    };
    let backend = selection.backend;
    // Block the forwarded signals before any reader thread starts, so that they inherit the
    // mask and the waiting thread alone collects the signals.
    // The ptrace backend waits by reading a pipe, so it leaves the signals alone: SIGTERM ends
    // hutch and the traced tree dies with it.
    let _mask = (config.forward_signals && backend != BackendKind::Ptrace).then(ForwardMask::block);
    let ran = match backend {
        BackendKind::Chroot => crate::chroot::run(&selection.config),
        BackendKind::Userns => crate::userns::run(&selection.config),
        BackendKind::Ptrace => crate::ptrace::run(&selection.config),
    };
    let mut outcome = match ran {
        Err(err @ Error::Setup { .. }) if matches!(choice, Choice::Named(_)) => {
            return Err(match backend.probe() {
                Availability::Unavailable(reason) => Error::Unavailable { backend, reason },
                Availability::Available => err,
            });
        }
        other => other?,
    };
    outcome.degradations = selection.degradations;
    outcome.passed_over = selection.passed_over;
    Ok(outcome)
}

/// The calling thread's signal mask with the forwarded signals and `SIGCHLD` blocked, restored
/// on drop.
struct ForwardMask(Option<nix::sys::signal::SigSet>);

impl ForwardMask {
    fn block() -> ForwardMask {
        use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow, Signal};
        let mut set = SigSet::empty();
        for sig in hutch_ns::FORWARDED {
            set.add(sig);
        }
        set.add(Signal::SIGCHLD);
        let mut old = SigSet::empty();
        let saved = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut old))
            .ok()
            .map(|()| old);
        ForwardMask(saved)
    }
}

impl Drop for ForwardMask {
    fn drop(&mut self) {
        if let Some(old) = &self.0 {
            let _ = nix::sys::signal::pthread_sigmask(
                nix::sys::signal::SigmaskHow::SIG_SETMASK,
                Some(old),
                None,
            );
        }
    }
}
