//! Resolving a tracee's path the way the kernel will: relative to its cwd or a dirfd, within
//! its root, following symlinks except the final one when the call does not follow it, with
//! `/proc/self` meaning the tracee. A dangling final symlink that is followed resolves to where
//! the call would create its target.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use crate::sys;

/// The Linux limit on symlinks followed in one lookup.
const MAX_LINKS: u32 = 40;
/// `PATH_MAX`.
pub(crate) const PATH_MAX: usize = 4096;
const PAGE: u64 = 4096;
/// Size of the first read of a path.
const FIRST_READ: usize = 256;

/// What a path resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Resolved {
    /// A filesystem path (host view) and whether it exists.
    Path { path: PathBuf, exists: bool },
    /// Not a filesystem object: a pipe, socket or anonymous inode reached through
    /// `/proc/<pid>/fd/N`.
    NotFs,
}

/// Where a relative path starts.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Base {
    /// The tracee's cwd.
    Cwd,
    /// A directory file descriptor of the tracee.
    Fd(i32),
}

fn errno_of(err: &io::Error) -> Errno {
    err.raw_os_error().map_or(Errno::EIO, Errno::from_raw)
}

/// Reads a NUL-terminated string of the tracee at `addr`, at most `PATH_MAX` bytes, one page
/// at a time with `process_vm_readv`. A string without NUL within the bound is ENAMETOOLONG.
pub(crate) fn read_path(pid: i32, addr: u64, buf: &mut Vec<u8>) -> Result<(), Errno> {
    buf.clear();
    if addr == 0 {
        return Err(Errno::EFAULT);
    }
    let mut chunk = [0u8; PAGE as usize];
    let mut at = addr;
    while buf.len() < PATH_MAX {
        let page_left = (PAGE - at % PAGE) as usize;
        // Most paths are short: try a small first read, then whole pages.
        let first = if buf.is_empty() { FIRST_READ } else { PATH_MAX };
        let want = page_left.min(PATH_MAX - buf.len()).min(first);
        let got = sys::read_mem(pid, at, &mut chunk[..want])?;
        if got == 0 {
            return Err(Errno::EFAULT);
        }
        if let Some(nul) = chunk[..got].iter().position(|b| *b == 0) {
            buf.extend_from_slice(&chunk[..nul]);
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..got]);
        at += got as u64;
    }
    Err(Errno::ENAMETOOLONG)
}

/// Reads `len` bytes of the tracee at `addr` (a sockaddr, an `open_how`).
pub(crate) fn read_bytes(pid: i32, addr: u64, len: usize) -> Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; len];
    let got = sys::read_mem(pid, addr, &mut buf)?;
    buf.truncate(got);
    Ok(buf)
}

fn proc_link(tid: i32, what: &str) -> Result<PathBuf, Errno> {
    fs::read_link(format!("/proc/{tid}/{what}")).map_err(|e| errno_of(&e))
}

/// The thread group of `tid` (`tid` itself when it is gone).
pub(crate) fn tgid_of(tid: i32) -> i32 {
    fs::read_to_string(format!("/proc/{tid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Tgid:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(tid)
}

/// The tracee's root directory (host view).
pub(crate) fn root_of(tid: i32) -> Result<PathBuf, Errno> {
    proc_link(tid, "root")
}

/// What file descriptor `fd` of `tid` refers to (`AT_FDCWD` means the cwd).
pub(crate) fn resolve_fd(tid: i32, fd: i32) -> Result<Resolved, Errno> {
    let link = if fd == libc::AT_FDCWD {
        proc_link(tid, "cwd")?
    } else {
        proc_link(tid, &format!("fd/{fd}")).map_err(|e| {
            if e == Errno::ENOENT {
                Errno::EBADF
            } else {
                e
            }
        })?
    };
    Ok(if link.is_absolute() {
        Resolved::Path {
            path: link,
            exists: true,
        }
    } else {
        Resolved::NotFs
    })
}

fn push_components(queue: &mut VecDeque<OsString>, path: &[u8], front: bool) {
    let parts: Vec<OsString> = path
        .split(|b| *b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .map(|c| OsString::from_vec(c.to_vec()))
        .collect();
    if front {
        for part in parts.into_iter().rev() {
            queue.push_front(part);
        }
    } else {
        queue.extend(parts);
    }
}

/// Resolves `path` as passed by thread `tid`. `root` is the tracee's root (host view).
pub(crate) fn resolve(
    tid: i32,
    base: Base,
    path: &[u8],
    follow: bool,
    root: &Path,
) -> Result<Resolved, Errno> {
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    // A trailing slash makes the kernel follow the final component.
    let follow = follow || path.ends_with(b"/");
    let mut cur = if path[0] == b'/' {
        root.to_path_buf()
    } else {
        match base {
            Base::Cwd => proc_link(tid, "cwd")?,
            Base::Fd(fd) => match resolve_fd(tid, fd)? {
                Resolved::Path { path, .. } => path,
                Resolved::NotFs => return Err(Errno::ENOTDIR),
            },
        }
    };
    let mut queue = VecDeque::new();
    push_components(&mut queue, path, false);
    let mut links = 0u32;
    while let Some(name) = queue.pop_front() {
        let last = queue.is_empty();
        if name.as_bytes() == b".." {
            if cur != root {
                cur.pop();
            }
            continue;
        }
        // `/proc/self` and `/proc/thread-self` mean the tracee, not the tracer.
        let in_proc = cur
            .strip_prefix(root)
            .is_ok_and(|rel| rel == Path::new("proc"));
        if in_proc && (name == "self" || name == "thread-self") && (!last || follow) {
            let tgid = tgid_of(tid);
            let target = if name == "self" {
                format!("{tgid}")
            } else {
                format!("{tgid}/task/{tid}")
            };
            push_components(&mut queue, target.as_bytes(), true);
            links += 1;
            continue;
        }
        let next = cur.join(&name);
        let meta = match fs::symlink_metadata(&next) {
            Ok(meta) => meta,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                if last {
                    return Ok(Resolved::Path {
                        path: next,
                        exists: false,
                    });
                }
                // A missing directory in the middle: the kernel answers ENOENT.
                return Err(Errno::ENOENT);
            }
            Err(e) => return Err(errno_of(&e)),
        };
        if last && !follow {
            return Ok(Resolved::Path {
                path: next,
                exists: true,
            });
        }
        if meta.file_type().is_symlink() {
            links += 1;
            if links > MAX_LINKS {
                return Err(Errno::ELOOP);
            }
            let target = fs::read_link(&next).map_err(|e| errno_of(&e))?;
            let target = target.as_os_str().as_bytes();
            if target.first() == Some(&b'/') {
                cur = root.to_path_buf();
            } else if next.starts_with(root.join("proc"))
                && !target.contains(&b'/')
                && target.contains(&b':')
            {
                // A magic link to a pipe, socket or anonymous inode.
                return if last {
                    Ok(Resolved::NotFs)
                } else {
                    Err(Errno::ENOTDIR)
                };
            }
            push_components(&mut queue, target, true);
            continue;
        }
        if !last && !meta.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        cur = next;
    }
    Ok(Resolved::Path {
        path: cur,
        exists: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn me() -> i32 {
        std::process::id() as i32
    }

    fn res(path: &Path, follow: bool) -> Resolved {
        resolve(
            me(),
            Base::Cwd,
            path.as_os_str().as_bytes(),
            follow,
            Path::new("/"),
        )
        .unwrap()
    }

    #[test]
    fn symlinks_dotdot_and_dangling() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().canonicalize().unwrap();
        fs::create_dir(d.join("w")).unwrap();
        fs::create_dir(d.join("outside")).unwrap();
        symlink(d.join("outside/x"), d.join("w/dangling")).unwrap();
        symlink("../w", d.join("w/up")).unwrap();
        fs::write(d.join("w/f"), b"").unwrap();
        // Dangling final symlink, followed: where it would create.
        assert_eq!(
            res(&d.join("w/dangling"), true),
            Resolved::Path {
                path: d.join("outside/x"),
                exists: false
            }
        );
        // Not followed: the link itself.
        assert_eq!(
            res(&d.join("w/dangling"), false),
            Resolved::Path {
                path: d.join("w/dangling"),
                exists: true
            }
        );
        // `..` after a symlink is taken from the link's target.
        assert_eq!(
            res(&d.join("w/up/f"), true),
            Resolved::Path {
                path: d.join("w/f"),
                exists: true
            }
        );
        assert_eq!(
            res(&d.join("w/./missing"), true),
            Resolved::Path {
                path: d.join("w/missing"),
                exists: false
            }
        );
        let missing_dir = resolve(
            me(),
            Base::Cwd,
            d.join("nope/x").as_os_str().as_bytes(),
            true,
            Path::new("/"),
        );
        assert_eq!(missing_dir, Err(Errno::ENOENT));
        let through_file = resolve(
            me(),
            Base::Cwd,
            d.join("w/f/x").as_os_str().as_bytes(),
            true,
            Path::new("/"),
        );
        assert_eq!(through_file, Err(Errno::ENOTDIR));
    }

    #[test]
    fn proc_self_is_the_tracee() {
        let cwd = std::env::current_dir().unwrap();
        let got = res(Path::new("/proc/self/cwd/x-hutch-none"), true);
        assert_eq!(
            got,
            Resolved::Path {
                path: cwd.join("x-hutch-none"),
                exists: false
            }
        );
    }

    #[test]
    fn reads_paths_across_pages() {
        let mut long = vec![b'a'; 5000];
        long.push(0);
        let mut buf = Vec::new();
        assert_eq!(
            read_path(me(), long.as_ptr() as u64, &mut buf),
            Err(Errno::ENAMETOOLONG)
        );
        let mut ok = vec![b'b'; 4000];
        ok.push(0);
        read_path(me(), ok.as_ptr() as u64, &mut buf).unwrap();
        assert_eq!(buf.len(), 4000);
        assert_eq!(read_path(me(), 0, &mut buf), Err(Errno::EFAULT));
    }
}
