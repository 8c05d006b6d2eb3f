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
//! # Decisions
//!
//! * **Mount points are never created on the host by [`MountPlan::apply`].** A missing mount
//!   point is a validation error ([`PlanError::MountPointMissing`]) unless it lies inside a
//!   tmpfs or dev that the plan mounted earlier, where it is created (inside the sandbox).
//!   [`MountPlan::apply_chroot`] (sandboxlib's chroot model) does create missing mount points
//!   in the root directory, records them, and its guard removes them after unmounting.
//! * **No symlinks in writable paths or mount targets.** Every component is checked with
//!   `lstat` under the root; a symlink is an error naming it, since following it during setup
//!   would resolve against the wrong root. Bind sources are host paths and are canonicalised.
//! * **Writable paths are bound on top of a read-only root**: the whole root is made read-only
//!   recursively, then each writable path is bound onto itself and only that mount is made
//!   read-write. Its ancestors stay read-only (no file can be created next to it), and other
//!   filesystems mounted below a writable path stay read-only unless listed too. A writable
//!   path on a read-only host mount is refused at validation rather than silently widened.
//!   A writable path inside a tmpfs or dev that the plan mounts (say `/tmp/build` with a tmpfs
//!   on `/tmp`) is bound from the host right after that mount ([`Step::WritableInMount`],
//!   namespace path only); one hidden by any other extra mount is an error
//!   ([`PlanError::WritableShadowed`]).
//! * **Remounting read-write afterwards.** The read-only flags set by a plan are not locked by
//!   the kernel in the user namespace that set them: a process keeping `CAP_SYS_ADMIN` there
//!   could `mount -o remount,rw`. The backend drops all capabilities (and sets
//!   `no_new_privs`); entering a nested user + mount namespace also locks every flag
//!   (`MNT_LOCK_READONLY`) and every mount (no unmounting to reveal what is below). Both
//!   the hole and the nested lock are checked by the `namespace` integration test.
//! * **Validation happens before any system call**; the checks are made on the host
//!   filesystem and mounts are made by path, so the root can change in between (a directory
//!   swapped for a symlink by someone who can write in the root). That is caught afterwards,
//!   before the sandbox runs: mountinfo is read back, every target must be a mount point, and
//!   a bind's target must show the very file validation saw at its source (`st_dev`,
//!   `st_ino`); otherwise [`MountError::Misplaced`] (fail closed). What remains is the window
//!   itself (a mount made on the wrong place exists until the namespace dies or the chroot
//!   guard undoes it); closing it needs `open_tree`/`move_mount` on descriptors opened with
//!   `openat2(RESOLVE_NO_SYMLINKS)`.
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
mod dev;
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
