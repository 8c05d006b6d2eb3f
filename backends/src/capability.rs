//! What each backend supports, and how a configuration is degraded to fit.

use std::fmt;

use crate::config::{Config, Network, Writable};
use crate::outcome::engine_name;
use hutch_tracer::Engine;

/// How the write policy of a run was enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enforcement {
    /// By the kernel (read-only mounts): nothing the command does can get around it.
    Kernel,
    /// By a tracer that checks each write syscall: best effort, see the ptrace backend's notes on
    /// races (TOCTOU).
    Traced,
    /// Not at all: every write the host allows is allowed.
    None,
}

impl fmt::Display for Enforcement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Enforcement::Kernel => "kernel",
            Enforcement::Traced => "traced",
            Enforcement::None => "none",
        })
    }
}

/// One setting of [`Config`] that a backend may not support.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Setting {
    /// The root directory, when it is not `/`.
    Root,
    /// The writable paths.
    Writable,
    /// Extra mounts.
    Mounts,
    /// Network isolation.
    Network,
    /// The hostname.
    Hostname,
    /// Collect-only.
    CollectOnly,
    /// Fake ownership.
    FakeOwnership,
    /// A tracer engine other than `auto`.
    TracerEngine,
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Setting::Root => "root",
            Setting::Writable => "writable",
            Setting::Mounts => "mounts",
            Setting::Network => "network",
            Setting::Hostname => "hostname",
            Setting::CollectOnly => "collect-only",
            Setting::FakeOwnership => "fake-ownership",
            Setting::TracerEngine => "tracer-engine",
        })
    }
}

/// A setting that was changed to fit a backend, as data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Degradation {
    /// Which setting.
    pub setting: Setting,
    /// What the caller asked for.
    pub asked: String,
    /// What the backend does instead.
    pub got: String,
    /// Why.
    pub why: String,
}

impl fmt::Display for Degradation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: asked {}, got {} ({})",
            self.setting, self.asked, self.got, self.why
        )
    }
}

/// A setting a backend cannot honour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    /// Which setting.
    pub setting: Setting,
    /// What the caller asked for.
    pub asked: String,
    /// Why the backend cannot do it.
    pub why: String,
    /// Whether [`degrade`](crate::degrade) can replace it with something the backend does. A
    /// root directory cannot be degraded: running somewhere else is a different program.
    pub degradable: bool,
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}: {}", self.setting, self.asked, self.why)
    }
}

/// What a backend supports, per setting. Streams, working directory and environment are
/// supported by every backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// A root directory other than `/`.
    pub root_dir: bool,
    /// `Writable::None` and `Writable::List` (a write policy).
    pub writable_policy: bool,
    /// Extra mounts.
    pub mounts: bool,
    /// `Network::Isolated`.
    pub network_isolated: bool,
    /// A hostname of its own.
    pub hostname: bool,
    /// Collect-only.
    pub collect_only: bool,
    /// Fake ownership.
    pub fake_ownership: bool,
    /// A choice of tracer engine (only a backend that traces has one).
    pub tracer_engine: bool,
    /// How the write policy is enforced.
    pub enforcement: Enforcement,
    /// Why each `false` above is false, by setting.
    pub notes: Vec<(Setting, &'static str)>,
}

impl Capabilities {
    fn why(&self, setting: Setting) -> String {
        self.notes
            .iter()
            .find(|(s, _)| *s == setting)
            .map_or("not supported by this backend", |(_, w)| w)
            .to_string()
    }

    /// Every setting of `config` this backend cannot honour.
    pub fn check(&self, config: &Config) -> Vec<Unsupported> {
        let mut out = Vec::new();
        let mut push = |setting, asked: String, degradable| {
            out.push(Unsupported {
                setting,
                asked,
                why: self.why(setting),
                degradable,
            })
        };
        if !self.root_dir && !config.root_is_host() {
            push(Setting::Root, config.root.display().to_string(), false);
        }
        if !self.writable_policy && config.writable != Writable::All {
            push(Setting::Writable, writable_name(&config.writable), true);
        }
        if !self.mounts && !config.mounts.is_empty() {
            let names: Vec<String> = config
                .mounts
                .iter()
                .map(|m| format!("{} {}", m.kind(), m.target().display()))
                .collect();
            push(Setting::Mounts, names.join(", "), true);
        }
        if !self.network_isolated && config.network == Network::Isolated {
            push(Setting::Network, "isolated".into(), true);
        }
        if let (false, Some(name)) = (self.hostname, &config.hostname) {
            push(Setting::Hostname, name.clone(), true);
        }
        if !self.collect_only && config.collect_only {
            push(Setting::CollectOnly, "on".into(), true);
        }
        if !self.fake_ownership && config.fake_ownership {
            push(Setting::FakeOwnership, "on".into(), true);
        }
        if !self.tracer_engine && config.tracer_engine != Engine::Auto {
            push(
                Setting::TracerEngine,
                engine_name(config.tracer_engine).into(),
                true,
            );
        }
        out
    }

    /// Adjusts `config` to what this backend supports; returns the new config and what changed.
    /// Settings that cannot be degraded (see [`Unsupported::degradable`]) are left as they are.
    pub fn degrade(&self, config: &Config) -> (Config, Vec<Degradation>) {
        let mut out = config.clone();
        let mut changes = Vec::new();
        for unsupported in self.check(config) {
            let got = match unsupported.setting {
                Setting::Root => continue,
                Setting::Writable => {
                    out.writable = Writable::All;
                    "all"
                }
                Setting::Mounts => {
                    out.mounts.clear();
                    "none"
                }
                Setting::Network => {
                    out.network = Network::Shared;
                    "shared"
                }
                Setting::Hostname => {
                    out.hostname = None;
                    "the host's"
                }
                Setting::CollectOnly => {
                    out.collect_only = false;
                    "off"
                }
                Setting::FakeOwnership => {
                    out.fake_ownership = false;
                    "off"
                }
                Setting::TracerEngine => {
                    out.tracer_engine = Engine::Auto;
                    "none"
                }
            };
            changes.push(Degradation {
                setting: unsupported.setting,
                asked: unsupported.asked,
                got: got.to_string(),
                why: unsupported.why,
            });
        }
        (out, changes)
    }
}

/// `all`, `none` or the list of paths, for messages.
pub(crate) fn writable_name(writable: &Writable) -> String {
    match writable {
        Writable::All => "all".into(),
        Writable::None => "none".into(),
        Writable::List(list) => {
            let names: Vec<String> = list.iter().map(|p| p.display().to_string()).collect();
            format!("[{}]", names.join(", "))
        }
    }
}
