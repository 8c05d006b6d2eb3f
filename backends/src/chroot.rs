//! The chroot backend: root only; the command is chrooted into the root directory, with the
//! extra mounts set up under it, all capabilities dropped (bounding set included) and
//! `no_new_privs` set. It enforces no write policy.
//!
//! The run uses hutch-ns without a user namespace: a mount namespace private to the run (so no
//! mount is visible on the host), a pid namespace (so the command cannot see, signal or trace
//! hutch or any other host process), and uts/net namespaces when a hostname or an isolated
//! network is asked for. The pid-1 init applies hutch-mounts' chroot plan and keeps its guard:
//! when the command has ended and the rest of the namespace is killed, the init drops it, which
//! detaches the extra mounts in reverse order of mounting (the namespace is private, so none of
//! them is ever visible on the host). Mount points that hutch had to create under the root
//! directory are removed again, in reverse order, after the run.

use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::Instant;

use hutch_mounts::{LinuxSyscall, MountPlan};
use hutch_ns::{caps, Namespaces, Sandbox};

use crate::backend::BackendKind;
use crate::config::{Config, ConfigError, Network};
use crate::error::Error;
use crate::mountpoint;
use crate::outcome::Outcome;
use crate::userns::{command, finish, mount_spec, rusage_children, SETUP_PREFIX};

const BACKEND: BackendKind = BackendKind::Chroot;

/// Runs `config` (validated, supported by this backend) in a chroot.
pub(crate) fn run(config: &Config) -> Result<Outcome, Error> {
    mountpoint::around(config, BACKEND, run_created)
}

fn run_created(config: &Config, root: &Path) -> Result<Outcome, Error> {
    let mut plan = MountPlan::new(root);
    plan.read_only(false)
        .mounts(config.normalized_mounts()?.iter().map(mount_spec));
    let plan = plan
        .validate_chroot()
        .map_err(|e| Error::Config(ConfigError::Plan(e.to_string())))?;

    let mut namespaces = Namespaces::MOUNT | Namespaces::PID;
    let isolated = config.network == Network::Isolated;
    if isolated {
        namespaces |= Namespaces::NET;
    }
    if config.hostname.is_some() {
        namespaces |= Namespaces::UTS;
    }
    let mut sandbox = Sandbox::new(namespaces)
        .loopback(isolated)
        .foreground(false);
    if let Some(name) = &config.hostname {
        sandbox = sandbox.hostname(name);
    }

    let (mut command, readers) = command(config, BACKEND)?;
    let cwd = config.effective_cwd();
    let root_dir = root.to_path_buf();

    let before = rusage_children();
    let started = Instant::now();
    let spawned = sandbox.spawn(
        // The init keeps the guard until the command and the rest of the namespace are gone,
        // then drops it: the extra mounts are detached in reverse order of mounting.
        || plan.apply_chroot(&LinuxSyscall),
        move || {
            let step = |what: &str, e: &dyn std::fmt::Display| {
                io::Error::other(format!("{SETUP_PREFIX}{what}: {e}"))
            };
            if let Err(e) = nix::unistd::chroot(root_dir.as_path()) {
                return step("chroot", &e);
            }
            if let Err(e) = std::env::set_current_dir(&cwd) {
                return step(&format!("chdir {}", cwd.display()), &e);
            }
            if let Err(e) = caps::drop_except(caps::CapSet::EMPTY) {
                return step("drop capabilities", &e);
            }
            command.exec()
        },
    );
    finish(BACKEND, config, spawned, readers, before, started)
}
