//! The backends, what each supports, and the choice among them.

use std::fmt;
use std::str::FromStr;

use crate::capability::{Capabilities, Degradation, Enforcement, Setting, Unsupported};
use crate::config::Config;
use crate::error::Error;
use crate::probe::{self, Availability};

/// The environment variable that overrides automatic selection.
pub const BACKEND_ENV: &str = "HUTCH_BACKEND";

/// One way of running a sandboxed command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackendKind {
    /// `chroot` into the root directory; needs root; enforces no write policy.
    Chroot,
    /// User, mount, pid, ipc, uts (and net) namespaces; read-only root with writable paths bound
    /// on top: the kernel enforces the whitelist. Unprivileged.
    Userns,
    /// A ptrace + seccomp tracer checks every write syscall; violations are reported.
    Ptrace,
}

impl BackendKind {
    /// Every backend, strongest first: the order `auto` tries them in.
    ///
    /// `userns` first because the kernel enforces its policy and nothing the command does can
    /// race it; `ptrace` next because it enforces (and reports) a policy, but by checking paths
    /// a racing thread can change; `chroot` last because it enforces no write policy at all and
    /// needs root.
    pub const ALL: [BackendKind; 3] = [
        BackendKind::Userns,
        BackendKind::Ptrace,
        BackendKind::Chroot,
    ];

    /// The backend's name: `chroot`, `userns` or `ptrace`.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Chroot => "chroot",
            BackendKind::Userns => "userns",
            BackendKind::Ptrace => "ptrace",
        }
    }

    /// Probes, for real, whether the backend can run in this process.
    pub fn probe(self) -> Availability {
        match self {
            BackendKind::Chroot => probe::chroot(),
            BackendKind::Userns => probe::userns(),
            BackendKind::Ptrace => probe::ptrace(),
        }
    }

    /// What the backend supports when run by this process (privilege matters).
    pub fn capabilities(self) -> Capabilities {
        self.capabilities_for(probe::privileged())
    }

    /// What the backend supports, for a caller that is (`privileged`) or is not root.
    pub fn capabilities_for(self, privileged: bool) -> Capabilities {
        match self {
            BackendKind::Chroot => Capabilities {
                root_dir: true,
                writable_policy: false,
                mounts: true,
                network_isolated: true,
                hostname: true,
                collect_only: false,
                fake_ownership: false,
                tracer_engine: false,
                enforcement: Enforcement::None,
                notes: vec![
                    (Setting::TracerEngine, "nothing is traced in a chroot"),
                    (Setting::Writable, "a chroot enforces no write policy"),
                    (Setting::CollectOnly, "no tracer records writes in a chroot"),
                    (Setting::FakeOwnership, "no tracer intercepts chown in a chroot"),
                ],
            },
            BackendKind::Userns => Capabilities {
                root_dir: true,
                writable_policy: true,
                mounts: true,
                network_isolated: true,
                hostname: true,
                collect_only: false,
                fake_ownership: false,
                tracer_engine: false,
                enforcement: Enforcement::Kernel,
                notes: vec![
                    (
                        Setting::TracerEngine,
                        "the kernel enforces the policy; nothing is traced",
                    ),
                    (
                        Setting::CollectOnly,
                        "the kernel denies writes outside the whitelist; nothing records and allows them",
                    ),
                    (
                        Setting::FakeOwnership,
                        "only one uid is mapped in the user namespace; no tracer fakes chown",
                    ),
                ],
            },
            BackendKind::Ptrace => Capabilities {
                root_dir: privileged,
                writable_policy: true,
                mounts: false,
                network_isolated: true,
                hostname: false,
                collect_only: true,
                fake_ownership: true,
                tracer_engine: true,
                enforcement: Enforcement::Traced,
                notes: vec![
                    (
                        Setting::Root,
                        "the tracer can chroot only when run as root (CAP_SYS_CHROOT)",
                    ),
                    (Setting::Mounts, "the tracer runs in the host's mount namespace"),
                    (Setting::Hostname, "the tracer runs in the host's UTS namespace"),
                ],
            },
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The valid backend names for [`Choice`], for messages.
pub const VALID_NAMES: &str = "auto, chroot, userns, ptrace";

impl FromStr for BackendKind {
    type Err = Error;
    fn from_str(name: &str) -> Result<Self, Error> {
        BackendKind::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| Error::UnknownBackend {
                name: name.to_string(),
                valid: VALID_NAMES,
            })
    }
}

/// Which backend to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Choice {
    /// The strongest available backend that supports the configuration (see
    /// [`BackendKind::ALL`]).
    #[default]
    Auto,
    /// This one.
    Named(BackendKind),
}

impl FromStr for Choice {
    type Err = Error;
    fn from_str(name: &str) -> Result<Self, Error> {
        match name {
            "auto" => Ok(Choice::Auto),
            other => Ok(Choice::Named(other.parse()?)),
        }
    }
}

impl Choice {
    /// The choice made by `HUTCH_BACKEND`: `Auto` when unset or empty, an error listing the valid
    /// names when unknown.
    pub fn from_env() -> Result<Choice, Error> {
        match std::env::var_os(BACKEND_ENV) {
            None => Ok(Choice::Auto),
            Some(value) if value.is_empty() => Ok(Choice::Auto),
            Some(value) => value.to_string_lossy().parse(),
        }
    }
}

/// The backend chosen for a configuration, with the configuration adjusted to it.
#[derive(Debug, Clone)]
pub struct Selection {
    /// The backend.
    pub backend: BackendKind,
    /// The configuration it will run (degraded when best effort allowed it).
    pub config: Config,
    /// What was degraded.
    pub degradations: Vec<Degradation>,
    /// Backends tried before this one (with `auto`) and why each was passed over.
    pub passed_over: Vec<(BackendKind, String)>,
}

fn unsupported_list(list: &[Unsupported]) -> String {
    let items: Vec<String> = list.iter().map(ToString::to_string).collect();
    items.join("; ")
}

/// Picks the backend for `config` (see [`Choice`]) and degrades the configuration to it when
/// `config` allows best effort. Probes each candidate for real.
pub fn select(config: &Config, choice: Choice) -> Result<Selection, Error> {
    select_with(config, choice, BackendKind::probe)
}

/// [`select`] with a given probe, so that selection logic can be tested for any machine.
pub fn select_with(
    config: &Config,
    choice: Choice,
    probe: impl Fn(BackendKind) -> Availability,
) -> Result<Selection, Error> {
    let privileged = probe::privileged();
    match choice {
        Choice::Named(backend) => {
            if let Availability::Unavailable(reason) = probe(backend) {
                return Err(Error::Unavailable { backend, reason });
            }
            let caps = backend.capabilities_for(privileged);
            let unsupported = caps.check(config);
            if !unsupported.is_empty()
                && (!config.best_effort || unsupported.iter().any(|u| !u.degradable))
            {
                return Err(Error::Unsupported {
                    backend,
                    settings: unsupported_list(&unsupported),
                });
            }
            let (config, degradations) = caps.degrade(config);
            Ok(Selection {
                backend,
                config,
                degradations,
                passed_over: Vec::new(),
            })
        }
        Choice::Auto => {
            let mut passed_over = Vec::new();
            let mut fallback = None;
            for backend in BackendKind::ALL {
                if let Availability::Unavailable(reason) = probe(backend) {
                    passed_over.push((backend, reason));
                    continue;
                }
                let caps = backend.capabilities_for(privileged);
                let unsupported = caps.check(config);
                if unsupported.is_empty() {
                    return Ok(Selection {
                        backend,
                        config: config.clone(),
                        degradations: Vec::new(),
                        passed_over,
                    });
                }
                if fallback.is_none()
                    && config.best_effort
                    && unsupported.iter().all(|u| u.degradable)
                {
                    fallback = Some(backend);
                }
                passed_over.push((
                    backend,
                    format!("does not support {}", unsupported_list(&unsupported)),
                ));
            }
            match fallback {
                Some(backend) => {
                    let (config, degradations) =
                        backend.capabilities_for(privileged).degrade(config);
                    passed_over.retain(|(b, _)| *b != backend);
                    Ok(Selection {
                        backend,
                        config,
                        degradations,
                        passed_over,
                    })
                }
                None => Err(Error::NoBackend {
                    reasons: passed_over
                        .iter()
                        .map(|(b, why)| format!("{b}: {why}"))
                        .collect::<Vec<_>>()
                        .join("; "),
                }),
            }
        }
    }
}

/// Adjusts `config` to what `backend` supports here; returns the new configuration and what
/// changed, as data. A root directory a backend cannot use is left as is (see
/// [`Unsupported::degradable`]); [`run`](crate::run) refuses it even with best effort.
pub fn degrade(backend: BackendKind, config: &Config) -> (Config, Vec<Degradation>) {
    backend.capabilities().degrade(config)
}
