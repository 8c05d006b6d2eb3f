//! The [`Syscall`] trait: every operation the crate performs on the system, so that mount
//! sequences can be recorded by a mock ([`crate::RecordingSyscall`]) and checked without root.

use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use nix::sys::statvfs::FsFlags;

bitflags::bitflags! {
    /// Per-mount attributes of `mount_setattr(2)` (`MOUNT_ATTR_*` in `<linux/mount.h>`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct MountAttr: u64 {
        /// `MOUNT_ATTR_RDONLY`.
        const RDONLY = 0x0000_0001;
        /// `MOUNT_ATTR_NOSUID`.
        const NOSUID = 0x0000_0002;
        /// `MOUNT_ATTR_NODEV`.
        const NODEV = 0x0000_0004;
        /// `MOUNT_ATTR_NOEXEC`.
        const NOEXEC = 0x0000_0008;
        /// `MOUNT_ATTR_NODIRATIME`.
        const NODIRATIME = 0x0000_0080;
        /// `MOUNT_ATTR_NOSYMFOLLOW`.
        const NOSYMFOLLOW = 0x0020_0000;
    }
}

/// The system calls a mount plan needs.
///
/// [`LinuxSyscall`] performs them; [`crate::RecordingSyscall`] records them. Paths are used as
/// given (no prefix is added), and every method reports the raw errno; the callers in this
/// crate attach the call to the error.
pub trait Syscall {
    /// `mount(2)`.
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()>;
    /// `umount2(2)`.
    fn umount2(&self, target: &Path, flags: MntFlags) -> nix::Result<()>;
    /// `mount_setattr(2)` on `path` (final symlink not followed), recursive or not.
    fn mount_setattr(
        &self,
        path: &Path,
        recursive: bool,
        set: MountAttr,
        clear: MountAttr,
    ) -> nix::Result<()>;
    /// `pivot_root(2)`.
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> nix::Result<()>;
    /// `chdir(2)`.
    fn chdir(&self, path: &Path) -> nix::Result<()>;
    /// Creates a directory with exactly `mode` (the umask does not apply).
    fn mkdir(&self, path: &Path, mode: u32) -> nix::Result<()>;
    /// Creates an empty regular file that must not exist yet (a mount point for a file).
    fn create_file(&self, path: &Path, mode: u32) -> nix::Result<()>;
    /// Creates the symlink `link` pointing to `target`.
    fn symlink(&self, target: &Path, link: &Path) -> nix::Result<()>;
    /// Removes an empty directory.
    fn remove_dir(&self, path: &Path) -> nix::Result<()>;
    /// Removes a file.
    fn remove_file(&self, path: &Path) -> nix::Result<()>;
    /// The per-mount flags of the mount that holds `path`, from `statvfs(2)`, as `MS_*` flags:
    /// `MS_RDONLY`, `MS_NOSUID`, `MS_NODEV`, `MS_NOEXEC` and the atime flags.
    fn mount_flags(&self, path: &Path) -> nix::Result<MsFlags>;
    /// The raw bytes of `/proc/self/mountinfo`.
    fn mountinfo(&self) -> nix::Result<Vec<u8>>;
    /// `(st_dev, st_ino)` of `path` itself (`lstat`: a final symlink is not followed).
    /// `ENOSYS` means "cannot tell" and skips the identity checks that use it.
    fn file_id(&self, path: &Path) -> nix::Result<(u64, u64)>;
}

/// The real system calls, through nix and (for `mount_setattr`) libc.
#[derive(Debug, Clone, Copy, Default)]
pub struct LinuxSyscall;

fn errno_of(err: io::Error) -> Errno {
    Errno::from_raw(err.raw_os_error().unwrap_or(libc::EIO))
}

impl Syscall for LinuxSyscall {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()> {
        nix::mount::mount(source, target, fstype, flags, data)
    }

    fn umount2(&self, target: &Path, flags: MntFlags) -> nix::Result<()> {
        nix::mount::umount2(target, flags)
    }

    fn mount_setattr(
        &self,
        path: &Path,
        recursive: bool,
        set: MountAttr,
        clear: MountAttr,
    ) -> nix::Result<()> {
        crate::sys::mount_setattr(path, recursive, set.bits(), clear.bits())
    }

    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> nix::Result<()> {
        nix::unistd::pivot_root(new_root, put_old)
    }

    fn chdir(&self, path: &Path) -> nix::Result<()> {
        nix::unistd::chdir(path)
    }

    fn mkdir(&self, path: &Path, mode: u32) -> nix::Result<()> {
        std::fs::create_dir(path).map_err(errno_of)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(errno_of)
    }

    fn create_file(&self, path: &Path, mode: u32) -> nix::Result<()> {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
            .map(drop)
            .map_err(errno_of)
    }

    fn symlink(&self, target: &Path, link: &Path) -> nix::Result<()> {
        std::os::unix::fs::symlink(target, link).map_err(errno_of)
    }

    fn remove_dir(&self, path: &Path) -> nix::Result<()> {
        std::fs::remove_dir(path).map_err(errno_of)
    }

    fn remove_file(&self, path: &Path) -> nix::Result<()> {
        std::fs::remove_file(path).map_err(errno_of)
    }

    fn mount_flags(&self, path: &Path) -> nix::Result<MsFlags> {
        let fs = nix::sys::statvfs::statvfs(path)?.flags();
        Ok(ms_flags_of(fs))
    }

    fn mountinfo(&self) -> nix::Result<Vec<u8>> {
        std::fs::read("/proc/self/mountinfo").map_err(errno_of)
    }

    fn file_id(&self, path: &Path) -> nix::Result<(u64, u64)> {
        file_id(path).map_err(errno_of)
    }
}

/// `(st_dev, st_ino)` of `path` itself, without following a final symlink.
pub(crate) fn file_id(path: &Path) -> io::Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path).map(|m| (m.dev(), m.ino()))
}

/// Translates `statvfs` flags into the `MS_*` flags a remount must repeat.
pub(crate) fn ms_flags_of(fs: FsFlags) -> MsFlags {
    let pairs = [
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ];
    pairs
        .iter()
        .filter(|(st, _)| fs.contains(*st))
        .fold(MsFlags::empty(), |acc, (_, ms)| acc | *ms)
}

/// A short, readable rendering of `MS_*` flags (`bind|rec`), `0` when empty.
pub fn fmt_ms_flags(flags: MsFlags) -> String {
    let names = [
        (MsFlags::MS_REMOUNT, "remount"),
        (MsFlags::MS_BIND, "bind"),
        (MsFlags::MS_REC, "rec"),
        (MsFlags::MS_PRIVATE, "private"),
        (MsFlags::MS_SLAVE, "slave"),
        (MsFlags::MS_SHARED, "shared"),
        (MsFlags::MS_UNBINDABLE, "unbindable"),
        (MsFlags::MS_RDONLY, "ro"),
        (MsFlags::MS_NOSUID, "nosuid"),
        (MsFlags::MS_NODEV, "nodev"),
        (MsFlags::MS_NOEXEC, "noexec"),
        (MsFlags::MS_NOATIME, "noatime"),
        (MsFlags::MS_NODIRATIME, "nodiratime"),
        (MsFlags::MS_RELATIME, "relatime"),
        (MsFlags::MS_STRICTATIME, "strictatime"),
    ];
    let mut rest = flags;
    let mut out: Vec<String> = Vec::new();
    for (flag, name) in names {
        if rest.contains(flag) {
            out.push(name.to_string());
            rest.remove(flag);
        }
    }
    if !rest.is_empty() {
        out.push(format!("{:#x}", rest.bits()));
    }
    if out.is_empty() {
        "0".to_string()
    } else {
        out.join("|")
    }
}
