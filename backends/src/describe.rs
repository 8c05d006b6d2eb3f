//! `describe`: what `run` would set up for a configuration, without running anything.

use std::fmt;

use hutch_pathset::{invert, Inversion};

use crate::backend::{select, BackendKind, Choice};
use crate::capability::{Degradation, Enforcement};
use crate::config::Config;
use crate::error::Error;

/// What a run of a configuration would set up: the backend chosen and why, what was degraded,
/// and the backend's own plan (mounts, inversion, tracer policy).
#[derive(Debug, Clone)]
pub struct Plan {
    /// The backend that would run the command.
    pub backend: BackendKind,
    /// How the write policy would be enforced.
    pub enforcement: Enforcement,
    /// Backends passed over (with `auto`) and why.
    pub passed_over: Vec<(BackendKind, String)>,
    /// Settings that would be degraded.
    pub degradations: Vec<Degradation>,
    /// The mount plan, one step a line (userns and chroot).
    pub mounts: Option<String>,
    /// The sandboxlib-compatible inverted plan: the read-only mounts that would keep exactly
    /// the writable paths writable (when there is a writable list and a readable root).
    pub inversion: Option<Inversion>,
    /// The tracer's write policy and interception (ptrace).
    pub tracer: Option<String>,
    /// The command line.
    pub command: Vec<String>,
}

/// Describes what [`run_with`](crate::run_with) would do with `config` and `choice`: validates
/// the configuration, probes and selects the backend for real, and builds its plan. Nothing is
/// mounted, created or run.
pub fn describe(config: &Config, choice: Choice) -> Result<Plan, Error> {
    config.validate()?;
    let selection = select(config, choice)?;
    let config = &selection.config;
    let backend = selection.backend;
    let root = std::fs::canonicalize(config.get_root()).map_err(|e| {
        Error::setup(
            backend,
            format!("resolve root {}", config.get_root().display()),
            e,
        )
    })?;
    let writable = config.writable_set()?;
    let mounts = match backend {
        BackendKind::Userns => Some(crate::userns::plan(config, &root)?.to_string()),
        BackendKind::Chroot => Some(
            config
                .normalized_mounts()?
                .iter()
                .map(|m| match m.source() {
                    Some(src) => format!(
                        "{} {} -> {}\n",
                        m.kind(),
                        src.display(),
                        root.join(m.target().strip_prefix("/").unwrap_or(m.target()))
                            .display()
                    ),
                    None => format!(
                        "{} {}\n",
                        m.kind(),
                        root.join(m.target().strip_prefix("/").unwrap_or(m.target()))
                            .display()
                    ),
                })
                .collect(),
        ),
        BackendKind::Ptrace => None,
    };
    let inversion = match &writable {
        Some(set) if backend != BackendKind::Ptrace => Some(invert(&root, set).map_err(|e| {
            Error::setup(
                backend,
                "invert the writable paths",
                std::io::Error::other(e.to_string()),
            )
        })?),
        _ => None,
    };
    let tracer = (backend == BackendKind::Ptrace).then(|| tracer_policy(config, writable.as_ref()));
    Ok(Plan {
        backend,
        enforcement: backend.capabilities().enforcement,
        passed_over: selection.passed_over,
        degradations: selection.degradations,
        mounts,
        inversion,
        tracer,
        command: std::iter::once(config.get_program())
            .chain(config.get_args().iter().map(|a| a.as_os_str()))
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
    })
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "backend: {} ({} enforcement)",
            self.backend, self.enforcement
        )?;
        for (kind, why) in &self.passed_over {
            writeln!(f, "  passed over {kind}: {why}")?;
        }
        for d in &self.degradations {
            writeln!(f, "degraded {d}")?;
        }
        if let Some(mounts) = &self.mounts {
            writeln!(f, "mounts:")?;
            for line in mounts.lines() {
                writeln!(f, "  {line}")?;
            }
        }
        if let Some(inv) = &self.inversion {
            writeln!(
                f,
                "inverted plan (sandboxlib-compatible): {} read-only, {} symlinks left alone",
                inv.readonly.len(),
                inv.symlinks.len()
            )?;
            for path in &inv.readonly {
                writeln!(f, "  read-only {}", path.display())?;
            }
            for path in &inv.symlinks {
                writeln!(f, "  symlink   {}", path.display())?;
            }
            for w in &inv.warnings {
                writeln!(f, "  warning: {w}")?;
            }
        }
        if let Some(tracer) = &self.tracer {
            writeln!(f, "tracer:")?;
            for line in tracer.lines() {
                writeln!(f, "  {line}")?;
            }
        }
        writeln!(f, "command: {}", self.command.join(" "))
    }
}

/// The ptrace backend's policy, one item a line.
fn tracer_policy(config: &Config, writable: Option<&hutch_pathset::PathSet>) -> String {
    let mut out = String::new();
    match writable {
        None => out.push_str("writable: everything\n"),
        Some(set) if set.is_empty() => out.push_str("writable: nothing\n"),
        Some(set) => {
            for member in set.members() {
                out.push_str(&format!("writable: {}\n", member.display()));
            }
        }
    }
    let on_off = |b: bool| if b { "on" } else { "off" };
    out.push_str(&format!(
        "collect-only: {}\nfake ownership: {}\nnetwork: {}\nlandlock backstop: {}\n",
        on_off(config.get_collect_only()),
        on_off(config.get_fake_ownership()),
        match config.get_network() {
            crate::config::Network::Shared => "shared",
            crate::config::Network::Isolated => "denied (socket other than unix, connect)",
        },
        if config.get_collect_only() {
            "off (collect-only)"
        } else {
            "on where the kernel has it"
        },
    ));
    out
}
