//! A [`Syscall`] for the fallback paths: the real calls, but no `mount_setattr`.

use std::path::Path;

use hutch_mounts::{LinuxSyscall, MountAttr, Syscall};
use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};

const SYS: LinuxSyscall = LinuxSyscall;

/// The real system calls, except that `mount_setattr` answers `ENOSYS` as on kernels < 5.12.
pub struct NoSetattr;

impl Syscall for NoSetattr {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()> {
        SYS.mount(source, target, fstype, flags, data)
    }
    fn umount2(&self, target: &Path, flags: MntFlags) -> nix::Result<()> {
        SYS.umount2(target, flags)
    }
    fn mount_setattr(&self, _: &Path, _: bool, _: MountAttr, _: MountAttr) -> nix::Result<()> {
        Err(Errno::ENOSYS)
    }
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> nix::Result<()> {
        SYS.pivot_root(new_root, put_old)
    }
    fn chdir(&self, path: &Path) -> nix::Result<()> {
        SYS.chdir(path)
    }
    fn mkdir(&self, path: &Path, mode: u32) -> nix::Result<()> {
        SYS.mkdir(path, mode)
    }
    fn create_file(&self, path: &Path, mode: u32) -> nix::Result<()> {
        SYS.create_file(path, mode)
    }
    fn symlink(&self, target: &Path, link: &Path) -> nix::Result<()> {
        SYS.symlink(target, link)
    }
    fn remove_dir(&self, path: &Path) -> nix::Result<()> {
        SYS.remove_dir(path)
    }
    fn remove_file(&self, path: &Path) -> nix::Result<()> {
        SYS.remove_file(path)
    }
    fn mount_flags(&self, path: &Path) -> nix::Result<MsFlags> {
        SYS.mount_flags(path)
    }
    fn mountinfo(&self) -> nix::Result<Vec<u8>> {
        SYS.mountinfo()
    }
    fn file_id(&self, path: &Path) -> nix::Result<(u64, u64)> {
        SYS.file_id(path)
    }
}
