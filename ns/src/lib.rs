//! `hutch-ns`: Linux namespaces done right (the successor of chromite's `namespaces.py`).
//!
//! * [`unshare`], [`setns`], [`setns_path`] over a [`Namespaces`] bitflags type, with typed errors
//!   that name the namespace and the errno; [`UnsharePlan`] unshares kinds one by one as
//!   *required* or *best-effort* (skipped only on `EINVAL`/`ENOSYS`, and reported as skipped).
//! * User namespaces: [`UserMapping`] writes `setgroups` "deny", `uid_map`, `gid_map` in that
//!   order; [`enter_user_ns`] refuses a multi-threaded process instead of failing half-way.
//! * [`Sandbox`]: fork a single-threaded relay that unshares user/mount/pid/ipc/uts/net, maps the
//!   caller to root (or an id), makes `/` rprivate, sets the hostname, brings `lo` up; a
//!   pid-namespace init runs a setup closure, forks the command, reaps orphans, forwards
//!   signals, kills the namespace when the command ends and reports its status (a signal death
//!   is reported as that signal, never as 127).
//! * [`loopback_up`] (an ioctl, not `ip`), [`set_hostname`], [`set_domainname`],
//!   [`make_root`] (rprivate/rslave), [`mount_proc`].
//! * [`caps::drop_except`]: drop all capabilities but a keep-list, bounding set included, then
//!   `no_new_privs`.
//! * [`exit_status`]: wait status ⇄ shell-style code, and [`exit_like`] to mirror a child.
//!
//! ```no_run
//! use std::os::unix::process::CommandExt;
//! use hutch_ns::{caps, ExitStatus, Namespaces, Outcome, Sandbox};
//!
//! let mut child = Sandbox::new(Namespaces::USER | Namespaces::MOUNT | Namespaces::IPC
//!         | Namespaces::UTS | Namespaces::NET)
//!     .map_root()
//!     .hostname("sandbox")
//!     .loopback(true)
//!     .spawn(
//!         // pid 1, before the command: e.g. a mount plan ending in pivot_root.
//!         || Ok::<(), String>(()),
//!         // pid 2: drop capabilities, then exec; returning means exec failed.
//!         || {
//!             if let Err(e) = caps::drop_except(caps::CapSet::EMPTY) {
//!                 return std::io::Error::other(e.to_string());
//!             }
//!             std::process::Command::new("sh").args(["-c", "exit 7"]).exec()
//!         },
//!     )?;
//! match child.wait_forwarding()? {
//!     Outcome::Completed(status) => assert_eq!(status, ExitStatus::Exited(7)),
//!     Outcome::Failed(failure) => std::process::exit(failure.code()),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! All `unsafe` code is in one private `sys` module.

pub mod caps;
pub mod exit_status;
mod init;
mod kind;
mod mount;
mod net;
mod report;
mod sandbox;
mod sys;
mod unshare;
mod userns;

pub use exit_status::{exit_like, ExitStatus};
pub use init::FORWARDED;
pub use kind::Namespaces;
pub use mount::{make_root, mount_proc, MountError, Propagation};
pub use net::{loopback_up, set_domainname, set_hostname, NetError};
pub use report::{Failure, Stage};
pub use sandbox::{Child, Outcome, Sandbox, SpawnError, WaitError};
pub use unshare::{setns, setns_path, thread_count, unshare, NsError, UnsharePlan, Unshared};
pub use userns::{enter_user_ns, IdMap, SetGroups, Target, UserMapping, UserNsError};
