//! User namespace id maps: `setgroups`, `uid_map`, `gid_map`, written in that order.

use std::fmt::Write as _;
use std::path::PathBuf;

use nix::errno::Errno;
use nix::unistd::{getegid, geteuid, Pid};

use crate::kind::Namespaces;
use crate::unshare::{require_single_thread, unshare, NsError};

/// Errors of the user-map helpers.
#[derive(Debug, thiserror::Error)]
pub enum UserNsError {
    /// Writing one of the map files failed.
    #[error("write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The error of the write.
        source: std::io::Error,
    },
    /// A map has no entry.
    #[error("empty {0} map")]
    EmptyMap(&'static str),
    /// Unsharing the user namespace failed (or the process is multi-threaded).
    #[error(transparent)]
    Ns(#[from] NsError),
}

impl UserNsError {
    /// The kernel's error, if the failure was a system call.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            UserNsError::Write { source, .. } => source.raw_os_error().map(Errno::from_raw),
            UserNsError::EmptyMap(_) => None,
            UserNsError::Ns(e) => e.errno(),
        }
    }
}

/// One line of a `uid_map`/`gid_map`: `count` ids starting at `outside` (in the parent
/// namespace) appear as `inside..inside+count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IdMap {
    /// First id inside the namespace.
    pub inside: u32,
    /// First id in the parent namespace.
    pub outside: u32,
    /// Number of ids.
    pub count: u32,
}

/// What to write to `/proc/<pid>/setgroups` before the gid map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum SetGroups {
    /// `deny`: required for an unprivileged gid map (the default).
    #[default]
    Deny,
    /// Leave `allow` (only a privileged writer may then write the gid map).
    Allow,
}

/// The uid and gid maps of a user namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserMapping {
    /// Lines of `uid_map`.
    pub uid: Vec<IdMap>,
    /// Lines of `gid_map`.
    pub gid: Vec<IdMap>,
    /// `setgroups` policy.
    pub setgroups: SetGroups,
}

/// Whose map files to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The calling process (`/proc/self`).
    SelfProcess,
    /// Another process, e.g. a child that just unshared (`/proc/<pid>`).
    Pid(Pid),
}

impl UserMapping {
    /// Map the caller's *current* effective uid/gid to `uid`/`gid` inside (one id each).
    ///
    /// Build it **before** unsharing: afterwards `geteuid()` reports the overflow id.
    pub fn current_to(uid: u32, gid: u32) -> Self {
        Self {
            uid: vec![IdMap {
                inside: uid,
                outside: geteuid().as_raw(),
                count: 1,
            }],
            gid: vec![IdMap {
                inside: gid,
                outside: getegid().as_raw(),
                count: 1,
            }],
            setgroups: SetGroups::Deny,
        }
    }

    /// Map the caller's current effective uid/gid to root inside.
    pub fn root() -> Self {
        Self::current_to(0, 0)
    }

    /// The text of a map file.
    pub fn render(maps: &[IdMap]) -> String {
        let mut s = String::new();
        for m in maps {
            let _ = writeln!(s, "{} {} {}", m.inside, m.outside, m.count);
        }
        s
    }

    /// Write `setgroups` ("deny", unless [`SetGroups::Allow`]), then `uid_map`, then `gid_map`.
    ///
    /// Each file is written with a single `write(2)`, as the kernel requires.
    pub fn write(&self, target: Target) -> Result<(), UserNsError> {
        if self.uid.is_empty() {
            return Err(UserNsError::EmptyMap("uid"));
        }
        if self.gid.is_empty() {
            return Err(UserNsError::EmptyMap("gid"));
        }
        let dir = match target {
            Target::SelfProcess => PathBuf::from("/proc/self"),
            Target::Pid(pid) => PathBuf::from(format!("/proc/{pid}")),
        };
        let put = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(|source| UserNsError::Write { path, source })
        };
        if self.setgroups == SetGroups::Deny {
            put("setgroups", "deny")?;
        }
        put("uid_map", &Self::render(&self.uid))?;
        put("gid_map", &Self::render(&self.gid))
    }
}

/// Unshare a user namespace and map the caller into it with `mapping`.
///
/// The process must be single-threaded (the kernel refuses `unshare(CLONE_NEWUSER)` otherwise);
/// a multi-threaded caller gets [`NsError::MultiThreaded`] and nothing changes. Fork a child first
/// (or use [`crate::Sandbox`], which does).
pub fn enter_user_ns(mapping: &UserMapping) -> Result<(), UserNsError> {
    require_single_thread()?;
    unshare(Namespaces::USER)?;
    mapping.write(Target::SelfProcess)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_one_line_per_range() {
        let maps = [
            IdMap {
                inside: 0,
                outside: 1000,
                count: 1,
            },
            IdMap {
                inside: 1,
                outside: 100000,
                count: 65536,
            },
        ];
        assert_eq!(UserMapping::render(&maps), "0 1000 1\n1 100000 65536\n");
    }

    #[test]
    fn current_to_uses_effective_ids() {
        let m = UserMapping::current_to(7, 8);
        assert_eq!(
            m.uid[0],
            IdMap {
                inside: 7,
                outside: geteuid().as_raw(),
                count: 1
            }
        );
        assert_eq!(m.gid[0].inside, 8);
        assert_eq!(m.setgroups, SetGroups::Deny);
    }

    #[test]
    fn empty_map_is_an_error() {
        let m = UserMapping {
            uid: vec![],
            gid: vec![],
            setgroups: SetGroups::Deny,
        };
        assert!(matches!(
            m.write(Target::SelfProcess),
            Err(UserNsError::EmptyMap("uid"))
        ));
    }

    #[test]
    fn multi_threaded_process_is_refused() {
        // The test harness runs tests in threads, so this process has more than one.
        let t = std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_millis(200)));
        let err = enter_user_ns(&UserMapping::root()).unwrap_err();
        assert!(
            matches!(err, UserNsError::Ns(NsError::MultiThreaded { .. })),
            "{err}"
        );
        t.join().unwrap();
    }
}
