//! A minimal `/dev` (see [`mount_dev`]).

use std::path::Path;

use nix::mount::MsFlags;

use crate::mock::Call;
use crate::ops::{bind, mkdir, mount, or_detach, sys_err, MountError};
use crate::syscall::Syscall;

/// The device nodes [`mount_dev`] binds from the host's `/dev`.
pub const DEV_NODES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// The symlinks [`mount_dev`] creates: (link name, target).
pub const DEV_SYMLINKS: [(&str, &str); 5] = [
    ("ptmx", "pts/ptmx"),
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
];

/// Builds a minimal `/dev` on `target`: a tmpfs (mode 0755, `nosuid`) holding empty files on
/// which `null`, `zero`, `full`, `random`, `urandom` and `tty` are bind-mounted from
/// `host_dev`, a `shm` directory (mode 1777), a fresh `devpts` instance on `pts`
/// (`newinstance,ptmxmode=0666,mode=620`) and the usual symlinks (`ptmx`, `fd`, `stdin`,
/// `stdout`, `stderr`). Works in a user namespace (like bubblewrap's `--dev`). On failure the
/// tmpfs is detached again.
pub fn mount_dev<S: Syscall + ?Sized>(
    sys: &S,
    target: &Path,
    host_dev: &Path,
) -> Result<(), MountError> {
    mount(
        sys,
        Some(Path::new("tmpfs")),
        target,
        Some("tmpfs"),
        MsFlags::MS_NOSUID,
        Some("mode=0755"),
    )?;
    or_detach(sys, target, populate(sys, target, host_dev))
}

/// Fills the tmpfs of [`mount_dev`].
fn populate<S: Syscall + ?Sized>(
    sys: &S,
    target: &Path,
    host_dev: &Path,
) -> Result<(), MountError> {
    for name in DEV_NODES {
        let node = target.join(name);
        sys.create_file(&node, 0o666)
            .map_err(sys_err(Call::CreateFile {
                path: node.clone(),
                mode: 0o666,
            }))?;
        bind(sys, &host_dev.join(name), &node, false)?;
    }
    mkdir(sys, &target.join("shm"), 0o1777)?;
    let pts = target.join("pts");
    mkdir(sys, &pts, 0o755)?;
    mount(
        sys,
        Some(Path::new("devpts")),
        &pts,
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=620"),
    )?;
    for (name, to) in DEV_SYMLINKS {
        let link = target.join(name);
        sys.symlink(Path::new(to), &link)
            .map_err(sys_err(Call::Symlink {
                target: to.into(),
                link,
            }))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RecordingSyscall;
    use nix::errno::Errno;

    #[test]
    fn dev_sequence() {
        let sys = RecordingSyscall::new();
        mount_dev(&sys, Path::new("/n/dev"), Path::new("/o/dev")).unwrap();
        let calls = sys.calls_text();
        assert_eq!(
            calls[0],
            r#"mount("tmpfs", "/n/dev", "tmpfs", nosuid, "mode=0755")"#
        );
        assert_eq!(calls[1], r#"create_file("/n/dev/null", 0o666)"#);
        assert_eq!(
            calls[2],
            r#"mount("/o/dev/null", "/n/dev/null", NULL, bind, NULL)"#
        );
        assert_eq!(calls[13], r#"mkdir("/n/dev/shm", 0o1777)"#);
        assert_eq!(
            calls[15],
            r#"mount("devpts", "/n/dev/pts", "devpts", nosuid|noexec, "newinstance,ptmxmode=0666,mode=620")"#
        );
        assert_eq!(calls[16], r#"symlink("pts/ptmx", "/n/dev/ptmx")"#);
        assert_eq!(calls.len(), 21);
    }

    #[test]
    fn failure_detaches_the_tmpfs() {
        let sys = RecordingSyscall::new();
        sys.fail_when(
            |c| matches!(c, Call::Mount { fstype: Some(t), .. } if t == "devpts"),
            Errno::EPERM,
        );
        let err = mount_dev(&sys, Path::new("/n/dev"), Path::new("/o/dev")).unwrap_err();
        assert_eq!(err.errno(), Some(Errno::EPERM));
        assert_eq!(
            sys.calls_text().last().unwrap(),
            r#"umount2("/n/dev", detach)"#
        );
        assert!(sys.mount_points().is_empty());
    }
}
