//! `hutch-backends`: one sandbox configuration, several backends, and an honest account of what
//! each achieved.
//!
//! * [`Config`] says what to run and how to confine it, built like `std::process::Command`.
//! * Backends ([`BackendKind`]): `userns` (namespaces; the kernel enforces the writable
//!   whitelist), `ptrace` (a tracer checks and reports every write), `chroot` (root only, no write
//!   policy). Each [`probe`](BackendKind::probe)s for real and says why it cannot run.
//! * Each backend declares its [`Capabilities`]; [`degrade`] adjusts a configuration to them and
//!   returns the changes as data; [`run`] refuses unsupported settings unless best effort is on.
//! * [`run`] picks a backend (`HUTCH_BACKEND` or `auto`: the strongest that can run here and
//!   supports the configuration) and returns an [`Outcome`]: exit status, captured output,
//!   violations, which backend ran, what it enforced, what was degraded, time and memory.
//!
//! * [`backends`] and [`plan`] answer `hutch backends` and `hutch plan` without running
//!   anything.
//! * The `ptrace` backend traces with either [`Engine`] of hutch-tracer
//!   ([`Config::tracer_engine`]; `Auto` by default, see [`Engine::resolve`]); the outcome
//!   says which one ran ([`Outcome::engine`]).
//!
//! | backend | needs | write policy | root dir | mounts | network isolated | hostname | collect-only, fake ownership |
//! |---|---|---|---|---|---|---|---|
//! | `userns` | user namespaces | kernel (read-only root, writable paths bound on top) | yes | yes | own netns, `lo` up | yes | no |
//! | `ptrace` | ptrace + seccomp | traced (violations reported; Landlock backstop) | root only (chroot) | no | socket/connect denied | no | yes |
//! | `chroot` | root | none (`all` only) | yes | yes | own netns, `lo` up | yes | no |
//!
//! In every backend the command keeps no capability (bounding set included; `ptrace` keeps
//! `CAP_SYS_CHROOT` for a root directory), runs with `no_new_privs`, and lives in a pid
//! namespace of its own, so it can neither undo its sandbox (remount, unmount, mount over,
//! `pivot_root`, `chroot` out) nor signal or trace hutch. The only exception: the `ptrace`
//! backend without root and without user namespaces shares hutch's pid namespace (the outcome's
//! notes say so).
//!
//! ```no_run
//! use hutch_backends::{run, Config, Stdio};
//! let mut config = Config::new("sh");
//! config
//!     .args(["-c", "echo built > /tmp/out/log; echo oops > /etc/x"])
//!     .writable_path("/tmp/out")
//!     .stdout(Stdio::Capture)
//!     .stderr(Stdio::Capture);
//! let outcome = run(&config)?;
//! println!("{} ran it ({} enforcement): {}", outcome.backend, outcome.enforcement, outcome.status);
//! # Ok::<(), hutch_backends::Error>(())
//! ```
#![deny(unsafe_code)]

mod backend;
mod capability;
mod caps;
mod chroot;
mod config;
mod error;
mod mount;
mod mountpoint;
mod outcome;
mod probe;
mod ptrace;
mod ptrace_wire;
mod report;
mod run;
mod stdio;
mod sys;
mod userns;

pub use backend::{
    degrade, select, select_with, BackendKind, Choice, Selection, BACKEND_ENV, VALID_NAMES,
};
pub use capability::{Capabilities, Degradation, Enforcement, Setting, Unsupported};
pub use config::{Config, ConfigError, Network, Stdio, Writable};
pub use error::Error;
pub use hutch_tracer::Engine;
pub use mount::Mount;
pub use outcome::{
    engine_name, ExitStatus, ModeChange, NetworkDenial, Outcome, Ownership, Usage, Violation,
};
pub use probe::Availability;
pub use report::{backends, plan, BackendReport, Plan};
pub use run::{run, run_with};
