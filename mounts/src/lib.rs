//! `hutch-mounts`: mount operations and mount plans for hutch sandboxes.
//!
//! * [`Syscall`] is the system-call layer: [`LinuxSyscall`] makes the calls,
//!   [`RecordingSyscall`] records them (and simulates a mount table) so that mount sequences
//!   are tested without root.
//! * [`ops`] holds the operations: bind, read-only remount that keeps the kernel-locked flags,
//!   recursive read-only through `mount_setattr` with a fallback, tmpfs, proc, a minimal
//!   `/dev`, propagation, `pivot_root`, unmount and [`ops::unmount_tree`].
//! * [`MountPlan`] describes the sandbox's filesystem (new root, read-only, writable paths
//!   bound on top, extra [`MountSpec`]s); it validates before anything is mounted, prints
//!   itself one step per line, and is applied either inside a mount namespace with
//!   `pivot_root` ([`MountPlan::apply`]) or in place for a chroot ([`MountPlan::apply_chroot`]).
//! * [`parse_mountinfo`] reads `/proc/self/mountinfo`.
//!
//! ```no_run
//! use hutch_mounts::{LinuxSyscall, MountPlan, MountSpec};
//!
//! // Inside a fresh user + mount namespace (see the hutch-ns crate):
//! let mut plan = MountPlan::new("/");
//! plan.writable("/home/me/build")
//!     .mount(MountSpec::tmpfs("/tmp"))
//!     .mount(MountSpec::proc("/proc"))
//!     .mount(MountSpec::dev("/dev"));
//! println!("{}", plan.validate()?);
//! plan.apply(&LinuxSyscall)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

mod apply;
mod mock;
mod mountinfo;
pub mod ops;
mod plan;
mod spec;
mod step;
mod sys;
mod syscall;
mod validate;

pub use apply::{apply_chroot_mounts, ChrootMounts, NEW_ROOT, OLD_ROOT};
pub use mock::{Call, RecordingSyscall};
pub use mountinfo::{
    escape, is_mount_point, mounts_under, parse_mountinfo, path_is_mount_point, path_mounts_under,
    read_mountinfo, unescape, MountInfo, MountInfoError,
};
pub use ops::MountError;
pub use plan::{MountPlan, PlanError, WritableStrategy, DEFAULT_STAGING};
pub use spec::{MountKind, MountSpec, SpecError};
pub use step::{CreateBelow, NodeKind, Step, ValidatedPlan};
pub use syscall::{fmt_ms_flags, LinuxSyscall, MountAttr, Syscall};
pub use validate::ApplyMode;
