//! Mount operations over a [`Syscall`]: bind, read-only, tmpfs, proc, dev, propagation,
//! pivot, unmount and `unmount_tree`.
//!
//! Every function takes the system-call layer as its first argument, so the same code runs on
//! the real system ([`crate::LinuxSyscall`]) and in the recorder ([`crate::RecordingSyscall`]).

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};

use crate::mock::Call;
use crate::mountinfo::{mounts_under, parse_mountinfo, MountInfoError};
use crate::plan::PlanError;
use crate::syscall::{MountAttr, Syscall};

/// Why a mount operation, or the application of a plan, failed.
#[derive(Debug, thiserror::Error)]
pub enum MountError {
    /// A system call failed; `call` shows it with its arguments.
    #[error("{call} failed: {errno}")]
    Sys {
        /// The call, rendered like `mount("tmpfs", "/tmp", "tmpfs", nosuid|nodev, NULL)`.
        call: String,
        /// The error.
        errno: Errno,
    },
    /// The plan did not validate; nothing was mounted.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The mount table could not be read or parsed.
    #[error(transparent)]
    MountInfo(#[from] MountInfoError),
    /// A writable path still refuses writes after its read-write bind (its filesystem is
    /// read-only underneath, or the read-only flag is locked).
    #[error("writable path {} is still read-only after its read-write bind", .0.display())]
    StillReadOnly(PathBuf),
    /// A mount did not land on its target: a path component changed between validation and
    /// mounting (for example a directory replaced by a symlink). Fail closed.
    #[error("mount on {} is not where it was meant to be (the root changed during setup?)", .0.display())]
    Misplaced(PathBuf),
    /// The plan was validated for one way of applying it and used for the other.
    #[error("the plan was validated for {validated}, not for {used}")]
    WrongMode {
        /// The mode it was validated for.
        validated: &'static str,
        /// The mode it was used for.
        used: &'static str,
    },
}

impl MountError {
    /// The errno of a failed system call, if that is what this error is.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            MountError::Sys { errno, .. } => Some(*errno),
            _ => None,
        }
    }
}

pub(crate) fn sys_err(call: Call) -> impl FnOnce(Errno) -> MountError {
    move |errno| MountError::Sys {
        call: call.to_string(),
        errno,
    }
}

/// `mount(2)` with the failure named.
pub fn mount<S: Syscall + ?Sized>(
    sys: &S,
    source: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<(), MountError> {
    sys.mount(source, target, fstype, flags, data)
        .map_err(sys_err(Call::Mount {
            source: source.map(Path::to_path_buf),
            target: target.to_path_buf(),
            fstype: fstype.map(str::to_string),
            flags,
            data: data.map(str::to_string),
        }))
}

/// Bind-mounts `source` on `target`; `recursive` also binds the mounts below `source`.
///
/// Use `recursive` unless you mean to hide submounts: a non-recursive bind shows the
/// directories that submounts cover (and is refused in a user namespace when those submounts
/// are locked).
pub fn bind<S: Syscall + ?Sized>(
    sys: &S,
    source: &Path,
    target: &Path,
    recursive: bool,
) -> Result<(), MountError> {
    let mut flags = MsFlags::MS_BIND;
    if recursive {
        flags |= MsFlags::MS_REC;
    }
    mount(sys, Some(source), target, None, flags, None)
}

/// The locked flags of the mount at `path`, to repeat on a remount.
fn kept_flags<S: Syscall + ?Sized>(sys: &S, path: &Path) -> Result<MsFlags, MountError> {
    sys.mount_flags(path)
        .map_err(sys_err(Call::MountFlags(path.to_path_buf())))
}

/// Remounts the single mount at `path` read-only, repeating its current `nosuid`, `nodev`,
/// `noexec` and atime flags.
///
/// In a user namespace the kernel locks those flags on mounts inherited from the parent
/// namespace, and `MS_REMOUNT` without them fails with `EPERM` (the flag inheritance used by
/// hakoniwa and moby). The flags are read with `statvfs`.
pub fn remount_readonly<S: Syscall + ?Sized>(sys: &S, path: &Path) -> Result<(), MountError> {
    let kept = kept_flags(sys, path)?;
    let flags = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY | kept;
    mount(sys, None, path, None, flags, None)
}

/// Whether a `mount_setattr` failure means "use the old remount path": `ENOSYS` (kernel
/// before 5.12) and `EPERM` (what container seccomp profiles answer for unknown system calls;
/// a genuine permission problem then shows up again in the remount's own error).
fn falls_back(errno: Errno) -> bool {
    matches!(errno, Errno::ENOSYS | Errno::EPERM)
}

/// How [`make_readonly`] did its work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadOnlyMethod {
    /// One `mount_setattr(2)` call.
    MountSetattr,
    /// `mount_setattr` is missing (`ENOSYS` or `EPERM`): this many mounts were remounted one
    /// by one.
    Remount(usize),
}

/// Makes the mount at `path` read-only, and with `recursive` every mount below it too.
///
/// Uses `mount_setattr(MOUNT_ATTR_RDONLY[, AT_RECURSIVE])`; when the kernel lacks it
/// (`ENOSYS`, or `EPERM` from a seccomp filter), falls back to [`remount_readonly`] on each mount under `path`, in mounting
/// order, as listed by mountinfo.
pub fn make_readonly<S: Syscall + ?Sized>(
    sys: &S,
    path: &Path,
    recursive: bool,
) -> Result<ReadOnlyMethod, MountError> {
    match sys.mount_setattr(path, recursive, MountAttr::RDONLY, MountAttr::empty()) {
        Ok(()) => return Ok(ReadOnlyMethod::MountSetattr),
        Err(errno) if falls_back(errno) => {}
        Err(errno) => {
            return Err(sys_err(Call::MountSetattr {
                path: path.to_path_buf(),
                recursive,
                set: MountAttr::RDONLY,
                clear: MountAttr::empty(),
            })(errno))
        }
    }
    if !recursive {
        remount_readonly(sys, path)?;
        return Ok(ReadOnlyMethod::Remount(1));
    }
    let points = mount_points_under(sys, path)?;
    if points.is_empty() {
        // Not a mount point itself: still make the mount holding it read-only.
        remount_readonly(sys, path)?;
        return Ok(ReadOnlyMethod::Remount(1));
    }
    for point in &points {
        remount_readonly(sys, point)?;
    }
    Ok(ReadOnlyMethod::Remount(points.len()))
}

/// The mount points at or below `path`, in mounting order, from the mountinfo of `sys`.
fn mount_points_under<S: Syscall + ?Sized>(
    sys: &S,
    path: &Path,
) -> Result<Vec<PathBuf>, MountError> {
    let text = sys.mountinfo().map_err(sys_err(Call::MountInfo))?;
    let table = parse_mountinfo(&text)?;
    Ok(mounts_under(&table, path)
        .into_iter()
        .map(|m| m.mount_point.clone())
        .collect())
}

/// Clears the read-only flag of the single mount at `path` (not of the mounts below it).
///
/// Uses `mount_setattr`, falling back to a remount that repeats the locked flags. Fails with
/// `EPERM` when the read-only flag is locked (inherited from a more privileged namespace).
pub fn make_writable<S: Syscall + ?Sized>(sys: &S, path: &Path) -> Result<(), MountError> {
    match sys.mount_setattr(path, false, MountAttr::empty(), MountAttr::RDONLY) {
        Ok(()) => Ok(()),
        Err(errno) if falls_back(errno) => {
            let kept = kept_flags(sys, path)? - MsFlags::MS_RDONLY;
            let flags = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | kept;
            mount(sys, None, path, None, flags, None)
        }
        Err(errno) => Err(sys_err(Call::MountSetattr {
            path: path.to_path_buf(),
            recursive: false,
            set: MountAttr::empty(),
            clear: MountAttr::RDONLY,
        })(errno)),
    }
}

/// Mounts a fresh tmpfs (`nosuid,nodev`) on `target`, with an optional size in bytes and mode.
pub fn mount_tmpfs<S: Syscall + ?Sized>(
    sys: &S,
    target: &Path,
    size: Option<u64>,
    mode: Option<u32>,
) -> Result<(), MountError> {
    let data = tmpfs_data(size, mode);
    mount(
        sys,
        Some(Path::new("tmpfs")),
        target,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        data.as_deref(),
    )
}

pub(crate) fn tmpfs_data(size: Option<u64>, mode: Option<u32>) -> Option<String> {
    let mut opts = Vec::new();
    if let Some(size) = size {
        opts.push(format!("size={size}"));
    }
    if let Some(mode) = mode {
        opts.push(format!("mode={mode:04o}"));
    }
    (!opts.is_empty()).then(|| opts.join(","))
}

/// Mounts a fresh procfs (`nosuid,nodev,noexec`) on `target`.
///
/// In a user namespace this needs a PID namespace owned by it (the caller must be a member
/// of a PID namespace created after the user namespace) and a fully visible procfs somewhere
/// in the mount namespace (the kernel's `mount_too_revealing` check).
pub fn mount_proc<S: Syscall + ?Sized>(sys: &S, target: &Path) -> Result<(), MountError> {
    mount(
        sys,
        Some(Path::new("proc")),
        target,
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None,
    )
}

pub use crate::dev::{mount_dev, DEV_NODES, DEV_SYMLINKS};

pub(crate) fn mkdir<S: Syscall + ?Sized>(
    sys: &S,
    path: &Path,
    mode: u32,
) -> Result<(), MountError> {
    sys.mkdir(path, mode).map_err(sys_err(Call::Mkdir {
        path: path.to_path_buf(),
        mode,
    }))
}

/// Mount propagation types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    /// `MS_PRIVATE`: no events in or out.
    Private,
    /// `MS_SLAVE`: events come in from the master, none go out.
    Slave,
    /// `MS_SHARED`: events go both ways within the peer group.
    Shared,
    /// `MS_UNBINDABLE`: private, and cannot be bind-mounted.
    Unbindable,
}

/// Changes the propagation of the mount at `path` (and below it with `recursive`).
pub fn set_propagation<S: Syscall + ?Sized>(
    sys: &S,
    path: &Path,
    propagation: Propagation,
    recursive: bool,
) -> Result<(), MountError> {
    let mut flags = match propagation {
        Propagation::Private => MsFlags::MS_PRIVATE,
        Propagation::Slave => MsFlags::MS_SLAVE,
        Propagation::Shared => MsFlags::MS_SHARED,
        Propagation::Unbindable => MsFlags::MS_UNBINDABLE,
    };
    if recursive {
        flags |= MsFlags::MS_REC;
    }
    mount(sys, None, path, None, flags, None)
}

/// Makes `new_root` (a mount point) the root of the mount namespace and detaches the old
/// root: `chdir(new_root)`, `pivot_root(".", ".")`, `umount2(".", MNT_DETACH)`, `chdir("/")`.
pub fn pivot_into<S: Syscall + ?Sized>(sys: &S, new_root: &Path) -> Result<(), MountError> {
    chdir(sys, new_root)?;
    let dot = Path::new(".");
    sys.pivot_root(dot, dot).map_err(sys_err(Call::PivotRoot {
        new_root: dot.into(),
        put_old: dot.into(),
    }))?;
    unmount(sys, dot, true)?;
    chdir(sys, Path::new("/"))
}

pub(crate) fn chdir<S: Syscall + ?Sized>(sys: &S, path: &Path) -> Result<(), MountError> {
    sys.chdir(path)
        .map_err(sys_err(Call::Chdir(path.to_path_buf())))
}

/// Passes `result` through; when it is an error, first detaches the mount just made at `at`
/// (the caller's own, on top), so that a half-done operation leaves nothing mounted.
pub(crate) fn or_detach<S: Syscall + ?Sized>(
    sys: &S,
    at: &Path,
    result: Result<(), MountError>,
) -> Result<(), MountError> {
    if result.is_err() {
        let _ = unmount(sys, at, true);
    }
    result
}

/// Unmounts the top mount at `path`; `detach` (`MNT_DETACH`) also detaches the mounts below it.
pub fn unmount<S: Syscall + ?Sized>(sys: &S, path: &Path, detach: bool) -> Result<(), MountError> {
    let flags = if detach {
        MntFlags::MNT_DETACH
    } else {
        MntFlags::empty()
    };
    sys.umount2(path, flags).map_err(sys_err(Call::Umount2 {
        target: path.to_path_buf(),
        flags,
    }))
}

/// Unmounts every mount at or below `path`, in reverse order of mounting (reverse mountinfo
/// order, not reverse-sorted paths, so `mount /z /foo; mount /foo/bar` style stacks unwind
/// correctly). `path` must be a resolved absolute path, as mountinfo holds resolved paths.
/// Returns how many mounts were unmounted.
pub fn unmount_tree<S: Syscall + ?Sized>(sys: &S, path: &Path) -> Result<usize, MountError> {
    let points = mount_points_under(sys, path)?;
    for point in points.iter().rev() {
        unmount(sys, point, false)?;
    }
    Ok(points.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RecordingSyscall;

    #[test]
    fn readonly_prefers_mount_setattr() {
        let sys = RecordingSyscall::new();
        let how = make_readonly(&sys, Path::new("/r"), true).unwrap();
        assert_eq!(how, ReadOnlyMethod::MountSetattr);
        assert_eq!(
            sys.calls_text(),
            [r#"mount_setattr("/r", recursive, set=MountAttr(RDONLY), clear=MountAttr(0x0))"#]
        );
    }

    #[test]
    fn readonly_falls_back_to_remount_with_locked_flags() {
        let sys = RecordingSyscall::new()
            .with_mountinfo(
                b"1 0 0:1 / / rw - ext4 a rw\n\
                  2 1 0:2 / /r rw,nosuid - ext4 b rw\n\
                  3 2 0:3 / /r/proc rw - proc proc rw\n\
                  4 1 0:4 / /rx rw - tmpfs t rw\n",
            )
            .with_mount_flags("/r", MsFlags::MS_NOSUID | MsFlags::MS_NODEV)
            .with_mount_flags(
                "/r/proc",
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | MsFlags::MS_RELATIME,
            );
        sys.fail_when(|c| matches!(c, Call::MountSetattr { .. }), Errno::ENOSYS);
        let how = make_readonly(&sys, Path::new("/r"), true).unwrap();
        assert_eq!(how, ReadOnlyMethod::Remount(2));
        assert_eq!(
            sys.calls_text()[1..],
            [
                r#"mount(NULL, "/r", NULL, remount|bind|ro|nosuid|nodev, NULL)"#,
                r#"mount(NULL, "/r/proc", NULL, remount|bind|ro|nosuid|nodev|noexec|relatime, NULL)"#,
            ]
        );
    }

    #[test]
    fn other_setattr_errors_are_reported_with_the_call() {
        let sys = RecordingSyscall::new();
        sys.fail_when(|c| matches!(c, Call::MountSetattr { .. }), Errno::EINVAL);
        let err = make_writable(&sys, Path::new("/w")).unwrap_err();
        assert_eq!(err.errno(), Some(Errno::EINVAL));
        assert!(
            err.to_string().starts_with("mount_setattr(\"/w\", single"),
            "{err}"
        );
    }

    #[test]
    fn unmount_tree_goes_in_reverse_mount_order() {
        let sys = RecordingSyscall::new();
        mount_tmpfs(&sys, Path::new("/z"), None, None).unwrap();
        bind(&sys, Path::new("/z"), Path::new("/foo"), false).unwrap();
        mount_tmpfs(&sys, Path::new("/foo/bar"), None, None).unwrap();
        mount_tmpfs(&sys, Path::new("/foobar"), None, None).unwrap();
        sys.clear();
        assert_eq!(unmount_tree(&sys, Path::new("/foo")).unwrap(), 2);
        assert_eq!(
            sys.calls_text(),
            [r#"umount2("/foo/bar", 0)"#, r#"umount2("/foo", 0)"#]
        );
        assert_eq!(
            sys.mount_points(),
            [PathBuf::from("/z"), PathBuf::from("/foobar")]
        );
    }

    #[test]
    fn pivot_sequence() {
        let sys = RecordingSyscall::new();
        pivot_into(&sys, Path::new("/newroot")).unwrap();
        assert_eq!(
            sys.calls_text(),
            [
                r#"chdir("/newroot")"#,
                r#"pivot_root(".", ".")"#,
                r#"umount2(".", detach)"#,
                r#"chdir("/")"#
            ]
        );
    }
}
