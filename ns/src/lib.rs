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
//! # Guarantees and limits of [`Sandbox`]
//!
//! * The status is the command's own: exit code N is `Exited(N)`, death by signal N is
//!   `Signaled(N)` (shell code 128 + N); sandbox failures are a separate [`Failure`] with its
//!   [`Stage`] and errno (exec `ENOENT` → 127, other exec errors → 126, the rest → 125). Only the
//!   relay and the init write the status pipe; the init is non-dumpable.
//! * When the command ends, everything else in its pid namespace is killed before `wait`
//!   returns; killing the relay (or, with `die_with_parent`, the caller process's death) ends
//!   the whole tree.
//! * Not forwarded: job-control signals (SIGTSTP/SIGCONT/SIGWINCH); a command stopped by the
//!   terminal is not reported as stopped.
//! * The relay watches the caller process through a pidfd; only on kernels without
//!   `pidfd_open` (< 5.3) does it fall back to `PR_SET_PDEATHSIG`, which fires when the *thread*
//!   that called `spawn` exits.
//! * The caller must not have `SIGCHLD` set to `SIG_IGN` (the kernel would reap the relay itself).
//! * All requested namespaces are required; for best-effort kinds use [`UnsharePlan`], and
//!   [`Sandbox::probe`] to find out what this machine allows.
//! * Only single-range id maps of the caller's own ids (what an unprivileged process may write);
//!   multi-range maps through `newuidmap` are not provided.
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
