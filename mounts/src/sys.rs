//! The only module with `unsafe`: raw system calls that nix does not wrap.
//!
//! nix 0.31 has no `mount_setattr(2)`, so it is called through `libc::syscall`.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;

/// `struct mount_attr` from `<linux/mount.h>` (version 0, 32 bytes).
#[repr(C)]
struct MountAttrRaw {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// `AT_RECURSIVE` from `<linux/fcntl.h>`.
const AT_RECURSIVE: libc::c_uint = 0x8000;

/// Calls `mount_setattr(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW [| AT_RECURSIVE], attr, size)`.
///
/// A final symlink is not followed, so the call acts on the mount that holds the symlink
/// itself rather than on whatever it points to.
pub(crate) fn mount_setattr(path: &Path, recursive: bool, set: u64, clear: u64) -> nix::Result<()> {
    let cpath = CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
    let attr = MountAttrRaw {
        attr_set: set,
        attr_clr: clear,
        propagation: 0,
        userns_fd: 0,
    };
    let mut flags = libc::AT_SYMLINK_NOFOLLOW as libc::c_uint;
    if recursive {
        flags |= AT_RECURSIVE;
    }
    // SAFETY: `cpath` is a NUL-terminated string and `attr` a properly initialised
    // `struct mount_attr`; both outlive the call, and the size passed is exactly the size of
    // the struct the pointer refers to. The kernel only reads from both pointers.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            cpath.as_ptr(),
            flags,
            &attr as *const MountAttrRaw,
            std::mem::size_of::<MountAttrRaw>(),
        )
    };
    Errno::result(ret).map(drop)
}
