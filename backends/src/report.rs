//! What the CLI shows without running anything: which backends run here (`hutch backends`)
//! and what a run would set up (`hutch plan`).

use std::fmt;

use hutch_mounts::MountPlan;
use hutch_tracer::Engine;

use crate::backend::{select, BackendKind, Choice};
use crate::capability::{Capabilities, Degradation, Enforcement};
use crate::config::{Config, Network};
use crate::error::Error;
use crate::outcome::engine_name;
use crate::probe::Availability;
use crate::userns::mount_spec;

/// One backend: can it run here, and what does it support.
#[derive(Debug, Clone)]
pub struct BackendReport {
    /// The backend.
    pub backend: BackendKind,
    /// Whether it can run here, or why not.
    pub availability: Availability,
    /// What it supports when run by this process.
    pub capabilities: Capabilities,
    /// For the backend that traces (`ptrace`): the engine [`Engine::Auto`] picks on this
    /// kernel ([`Engine::resolve`]). `None` for the others.
    pub tracer_engine: Option<Engine>,
}

/// Every backend, strongest first, probed for real.
pub fn backends() -> Vec<BackendReport> {
    BackendKind::ALL
        .into_iter()
        .map(|backend| BackendReport {
            backend,
            availability: backend.probe(),
            capabilities: backend.capabilities(),
            tracer_engine: (backend == BackendKind::Ptrace).then(|| Engine::Auto.resolve()),
        })
        .collect()
}

/// What [`run`](crate::run) would do with a configuration.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The backend that would run it.
    pub backend: BackendKind,
    /// How the write policy would be enforced.
    pub enforcement: Enforcement,
    /// What would be degraded.
    pub degradations: Vec<Degradation>,
    /// Backends passed over (with `auto`) and why.
    pub passed_over: Vec<(BackendKind, String)>,
    /// The tracer engine that would run (`ptrace` backend only; the setting resolved for this
    /// kernel).
    pub engine: Option<Engine>,
    /// The set-up steps, in order, one line each.
    pub steps: Vec<String>,
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "backend   {} (enforcement: {})",
            self.backend, self.enforcement
        )?;
        for (b, why) in &self.passed_over {
            writeln!(f, "skipped   {b}: {why}")?;
        }
        for d in &self.degradations {
            writeln!(f, "degraded  {d}")?;
        }
        for step in &self.steps {
            writeln!(f, "{step}")?;
        }
        Ok(())
    }
}

/// Validates `config`, selects the backend and describes what a run would set up, without
/// creating or mounting anything.
pub fn plan(config: &Config, choice: Choice) -> Result<Plan, Error> {
    config.validate()?;
    let selection = select(config, choice)?;
    let c = &selection.config;
    let mut steps = Vec::new();
    let isolated = c.network == Network::Isolated;
    let mut engine = None;
    match selection.backend {
        BackendKind::Userns | BackendKind::Chroot => {
            let userns = selection.backend == BackendKind::Userns;
            let mut ns = vec![
                if userns {
                    "user (caller -> 0), mount"
                } else {
                    "mount"
                },
                "pid",
            ];
            if userns {
                ns.extend(["ipc", "uts"]);
            } else if c.hostname.is_some() {
                ns.push("uts");
            }
            if isolated {
                ns.push("net (lo up)");
            }
            steps.push(format!("{:9} {}", "unshare", ns.join(", ")));
            if let Some(name) = &c.hostname {
                steps.push(format!("{:9} {name}", "hostname"));
            }
            let mut mounts = MountPlan::new(&c.root);
            match c.writable_set()? {
                Some(set) if userns => {
                    mounts.read_only(true).writable_set(&set);
                }
                _ => {
                    mounts.read_only(false);
                }
            }
            mounts.mounts(c.normalized_mounts()?.iter().map(mount_spec));
            let validated = if userns {
                mounts.validate()
            } else {
                mounts.validate_chroot()
            };
            let text = match validated {
                Ok(v) => v.to_string(),
                Err(_) => mounts.to_string(),
            };
            steps.extend(text.lines().map(str::to_string));
            if let (true, Some(set)) = (userns, c.writable_set()?) {
                inversion_steps(&c.root, &set, &mut steps)?;
            }
            if !userns {
                steps.push(format!("{:9} {}", "chroot", c.root.display()));
            }
            steps.push(format!("{:9} {}", "chdir", c.effective_cwd().display()));
            steps.push(format!(
                "{:9} all capabilities (bounding set included); no_new_privs",
                "drop"
            ));
        }
        BackendKind::Ptrace => {
            let writable = crate::capability::writable_name(&c.writable);
            let resolved = c.tracer_engine.resolve();
            engine = Some(resolved);
            steps.push(format!(
                "{:9} {} ({})",
                "engine",
                engine_name(resolved),
                if c.tracer_engine == Engine::Auto {
                    "auto's pick on this kernel"
                } else {
                    "asked"
                }
            ));
            steps.push(format!(
                "{:9} {}",
                "trace",
                if resolved == Engine::Notify {
                    "seccomp filter + user notifications; a keeper process holds the tree"
                } else {
                    "seccomp filter + ptrace of the whole process tree"
                }
            ));
            steps.extend(
                hutch_tracer::filter_summary(!isolated)
                    .lines()
                    .map(|l| format!("  {l}")),
            );
            steps.push(format!("{:9} {writable}", "writable"));
            steps.push(format!(
                "{:9} {}",
                "network",
                if isolated {
                    "socket/connect denied"
                } else {
                    "shared"
                }
            ));
            if c.collect_only {
                steps.push(format!(
                    "{:9} violations recorded, writes allowed",
                    "collect"
                ));
            }
            if c.fake_ownership {
                steps.push(format!("{:9} chown faked and recorded", "ownership"));
            }
            if !c.root_is_host() {
                steps.push(format!("{:9} {}", "chroot", c.root.display()));
            }
            steps.push(format!("{:9} {}", "chdir", c.effective_cwd().display()));
            steps.push(format!(
                "{:9} all capabilities{}; no_new_privs; landlock backstop",
                "drop",
                if c.root_is_host() {
                    ""
                } else {
                    " but CAP_SYS_CHROOT"
                }
            ));
        }
    }
    let mut argv = vec![c.program.to_string_lossy().into_owned()];
    argv.extend(c.args.iter().map(|a| a.to_string_lossy().into_owned()));
    steps.push(format!("{:9} {}", "exec", argv.join(" ")));
    Ok(Plan {
        backend: selection.backend,
        enforcement: selection.backend.capabilities().enforcement,
        degradations: selection.degradations,
        passed_over: selection.passed_over,
        engine,
        steps,
    })
}

/// The sandboxlib-compatible alternative to bind-on-top: the read-only mounts that keep exactly
/// the writable paths writable (their ancestors stay writable, which is why it is not the default).
fn inversion_steps(
    root: &std::path::Path,
    set: &hutch_pathset::PathSet,
    steps: &mut Vec<String>,
) -> Result<(), Error> {
    let inv = hutch_pathset::invert(root, set).map_err(|e| {
        Error::setup(
            BackendKind::Userns,
            "invert the writable paths",
            std::io::Error::other(e.to_string()),
        )
    })?;
    steps.push(format!(
        "{:9} sandboxlib-compatible alternative: {} read-only, {} symlinks left alone",
        "inverted",
        inv.readonly.len(),
        inv.symlinks.len()
    ));
    steps.extend(
        inv.readonly
            .iter()
            .map(|p| format!("  read-only {}", p.display())),
    );
    steps.extend(
        inv.symlinks
            .iter()
            .map(|p| format!("  symlink   {}", p.display())),
    );
    steps.extend(inv.warnings.iter().map(|w| format!("  warning   {w}")));
    Ok(())
}
