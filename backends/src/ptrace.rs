//! The ptrace backend.

use crate::backend::BackendKind;
use crate::config::Config;
use crate::error::Error;
use crate::outcome::Outcome;

pub(crate) fn run(_config: &Config) -> Result<Outcome, Error> {
    Err(Error::Unavailable {
        backend: BackendKind::Ptrace,
        reason: "not wired yet".into(),
    })
}
