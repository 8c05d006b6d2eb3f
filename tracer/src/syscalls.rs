//! The x86_64 system calls the tracer judges, with where their paths are and how they resolve.

/// `AT_SYMLINK_NOFOLLOW`.
const NOFOLLOW: u64 = 0x100;
/// `AT_SYMLINK_FOLLOW` (linkat).
const FOLLOW: u64 = 0x400;
/// `AT_EMPTY_PATH`.
const EMPTY: u64 = 0x1000;

/// Whether the final component of a path is followed when it is a symlink.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Follow {
    /// Always followed.
    Yes,
    /// Never followed (the call acts on the link itself).
    No,
    /// Followed unless argument `.0` has `AT_SYMLINK_NOFOLLOW`.
    UnlessFlag(usize),
    /// Followed only if argument `.0` has `AT_SYMLINK_FOLLOW`.
    IfFlag(usize),
}

impl Follow {
    pub(crate) fn resolve(self, args: &[u64; 6]) -> bool {
        match self {
            Follow::Yes => true,
            Follow::No => false,
            Follow::UnlessFlag(i) => args[i] & NOFOLLOW == 0,
            Follow::IfFlag(i) => args[i] & FOLLOW != 0,
        }
    }
}

/// Where one judged path of a call comes from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target {
    /// A path argument, relative to a dirfd argument (or the cwd when `dirfd` is `None`).
    Path {
        dirfd: Option<usize>,
        path: usize,
        follow: Follow,
        /// Argument holding `AT_EMPTY_PATH`, which makes an empty path mean the dirfd itself.
        empty_flag: Option<usize>,
        /// A NULL path means the dirfd itself (utimensat).
        null_is_fd: bool,
    },
    /// A file descriptor argument, judged by what it refers to.
    Fd(usize),
}

/// How a call is decided beyond "is every target writable".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// A plain write: every target must be writable.
    Write,
    /// open/openat: a write only with write flags (argument index of the flags).
    Open(usize),
    /// openat2: flags in a `struct open_how` pointed to by argument 2.
    Openat2,
    /// mkdir family: an existing ancestor of a writable path answers EEXIST.
    Mkdir,
    /// chmod family (argument index of the mode).
    Chmod(usize),
    /// chown family (argument indexes of uid and gid).
    Chown(usize, usize),
    /// bind: judged only for AF_UNIX path sockets.
    Bind,
    /// connect: denied when the network is off.
    Connect,
    /// socket: non-AF_UNIX families denied when the network is off.
    Socket,
    /// chroot and pivot_root: once allowed, paths are resolved through `/proc/<tid>/root`.
    Root,
    /// mount: judged by its target, and by its source too for bind and move mounts.
    Mount,
}

/// One judged system call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spec {
    pub(crate) name: &'static str,
    pub(crate) class: Class,
    pub(crate) targets: [Option<Target>; 2],
}

const fn p(path: usize, follow: Follow) -> Option<Target> {
    Some(Target::Path {
        dirfd: None,
        path,
        follow,
        empty_flag: None,
        null_is_fd: false,
    })
}

const fn at(dirfd: usize, path: usize, follow: Follow) -> Option<Target> {
    Some(Target::Path {
        dirfd: Some(dirfd),
        path,
        follow,
        empty_flag: None,
        null_is_fd: false,
    })
}

const fn at_empty(dirfd: usize, path: usize, flags: usize) -> Option<Target> {
    Some(Target::Path {
        dirfd: Some(dirfd),
        path,
        follow: Follow::UnlessFlag(flags),
        empty_flag: Some(flags),
        null_is_fd: false,
    })
}

const fn fd(arg: usize) -> Option<Target> {
    Some(Target::Fd(arg))
}

const fn s(name: &'static str, class: Class, a: Option<Target>, b: Option<Target>) -> Spec {
    Spec {
        name,
        class,
        targets: [a, b],
    }
}

use Class::*;
use Follow::{No, Yes};

/// `setxattrat` / `removexattrat` (Linux 6.13), not yet in libc.
pub(crate) const SYS_SETXATTRAT: i64 = 463;
pub(crate) const SYS_REMOVEXATTRAT: i64 = 466;

/// Every call the filter sends to the tracer, by x86_64 number. `socket` and `connect` are
/// only sent when the network is off.
pub(crate) static TABLE: &[(i64, Spec)] = &[
    (libc::SYS_open, s("open", Open(1), p(0, Yes), None)),
    (libc::SYS_openat, s("openat", Open(2), at(0, 1, Yes), None)),
    (
        libc::SYS_openat2,
        s("openat2", Openat2, at(0, 1, Yes), None),
    ),
    (libc::SYS_creat, s("creat", Write, p(0, Yes), None)),
    (libc::SYS_truncate, s("truncate", Write, p(0, Yes), None)),
    (libc::SYS_mkdir, s("mkdir", Mkdir, p(0, No), None)),
    (libc::SYS_mkdirat, s("mkdirat", Mkdir, at(0, 1, No), None)),
    (libc::SYS_mknod, s("mknod", Write, p(0, No), None)),
    (libc::SYS_mknodat, s("mknodat", Write, at(0, 1, No), None)),
    (libc::SYS_unlink, s("unlink", Write, p(0, No), None)),
    (libc::SYS_unlinkat, s("unlinkat", Write, at(0, 1, No), None)),
    (libc::SYS_rmdir, s("rmdir", Write, p(0, No), None)),
    (libc::SYS_rename, s("rename", Write, p(0, No), p(1, No))),
    (
        libc::SYS_renameat,
        s("renameat", Write, at(0, 1, No), at(2, 3, No)),
    ),
    (
        libc::SYS_renameat2,
        s("renameat2", Write, at(0, 1, No), at(2, 3, No)),
    ),
    (libc::SYS_link, s("link", Write, p(0, No), p(1, No))),
    (
        libc::SYS_linkat,
        s(
            "linkat",
            Write,
            Some(Target::Path {
                dirfd: Some(0),
                path: 1,
                follow: Follow::IfFlag(4),
                empty_flag: Some(4),
                null_is_fd: false,
            }),
            at(2, 3, No),
        ),
    ),
    (libc::SYS_symlink, s("symlink", Write, p(1, No), None)),
    (
        libc::SYS_symlinkat,
        s("symlinkat", Write, at(1, 2, No), None),
    ),
    (libc::SYS_chmod, s("chmod", Chmod(1), p(0, Yes), None)),
    (libc::SYS_fchmod, s("fchmod", Chmod(1), fd(0), None)),
    (
        libc::SYS_fchmodat,
        s("fchmodat", Chmod(2), at(0, 1, Yes), None),
    ),
    (
        libc::SYS_fchmodat2,
        s("fchmodat2", Chmod(2), at_empty(0, 1, 3), None),
    ),
    (libc::SYS_chown, s("chown", Chown(1, 2), p(0, Yes), None)),
    (libc::SYS_lchown, s("lchown", Chown(1, 2), p(0, No), None)),
    (libc::SYS_fchown, s("fchown", Chown(1, 2), fd(0), None)),
    (
        libc::SYS_fchownat,
        s("fchownat", Chown(2, 3), at_empty(0, 1, 4), None),
    ),
    (libc::SYS_utime, s("utime", Write, p(0, Yes), None)),
    (libc::SYS_utimes, s("utimes", Write, p(0, Yes), None)),
    (
        libc::SYS_futimesat,
        s("futimesat", Write, at(0, 1, Yes), None),
    ),
    (
        libc::SYS_utimensat,
        s(
            "utimensat",
            Write,
            Some(Target::Path {
                dirfd: Some(0),
                path: 1,
                follow: Follow::UnlessFlag(3),
                empty_flag: Some(3),
                null_is_fd: true,
            }),
            None,
        ),
    ),
    (libc::SYS_setxattr, s("setxattr", Write, p(0, Yes), None)),
    (libc::SYS_lsetxattr, s("lsetxattr", Write, p(0, No), None)),
    (libc::SYS_fsetxattr, s("fsetxattr", Write, fd(0), None)),
    (
        libc::SYS_removexattr,
        s("removexattr", Write, p(0, Yes), None),
    ),
    (
        libc::SYS_lremovexattr,
        s("lremovexattr", Write, p(0, No), None),
    ),
    (
        libc::SYS_fremovexattr,
        s("fremovexattr", Write, fd(0), None),
    ),
    (
        SYS_SETXATTRAT,
        s("setxattrat", Write, at_empty(0, 1, 2), None),
    ),
    (
        SYS_REMOVEXATTRAT,
        s("removexattrat", Write, at_empty(0, 1, 2), None),
    ),
    (libc::SYS_bind, s("bind", Bind, None, None)),
    (libc::SYS_mount, s("mount", Mount, p(1, Yes), None)),
    (libc::SYS_umount2, s("umount2", Write, p(0, Yes), None)),
    (
        libc::SYS_pivot_root,
        s("pivot_root", Root, p(0, Yes), p(1, Yes)),
    ),
    (libc::SYS_chroot, s("chroot", Root, p(0, Yes), None)),
    (libc::SYS_connect, s("connect", Connect, None, None)),
    (libc::SYS_socket, s("socket", Socket, None, None)),
];

/// The spec of call `nr`, if the tracer judges it.
pub(crate) fn spec(nr: u64) -> Option<&'static Spec> {
    TABLE
        .iter()
        .find(|(n, _)| *n as u64 == nr)
        .map(|(_, spec)| spec)
}

/// The empty-path flag value.
pub(crate) const AT_EMPTY_PATH: u64 = EMPTY;
