//! The namespace kinds as a bitflags type.

use std::fmt;

use nix::sched::CloneFlags;

bitflags::bitflags! {
    /// A set of Linux namespace kinds (the `CLONE_NEW*` flags).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct Namespaces: libc::c_int {
        /// Mount namespace (`CLONE_NEWNS`).
        const MOUNT = libc::CLONE_NEWNS;
        /// Hostname and domain name (`CLONE_NEWUTS`).
        const UTS = libc::CLONE_NEWUTS;
        /// System V IPC and POSIX message queues (`CLONE_NEWIPC`).
        const IPC = libc::CLONE_NEWIPC;
        /// Network devices, addresses, ports (`CLONE_NEWNET`).
        const NET = libc::CLONE_NEWNET;
        /// Process ids (`CLONE_NEWPID`); applies to children created afterwards.
        const PID = libc::CLONE_NEWPID;
        /// User and group ids, capabilities (`CLONE_NEWUSER`).
        const USER = libc::CLONE_NEWUSER;
        /// Cgroup root directory (`CLONE_NEWCGROUP`).
        const CGROUP = libc::CLONE_NEWCGROUP;
        /// Boot and monotonic clocks (`CLONE_NEWTIME`); applies to children created afterwards.
        const TIME = libc::CLONE_NEWTIME;
    }
}

/// Order in which [`crate::UnsharePlan`] unshares kinds one by one: the user namespace first
/// (so it owns all the others), then the order chromite uses, then time.
pub(crate) const ORDER: [Namespaces; 8] = [
    Namespaces::USER,
    Namespaces::MOUNT,
    Namespaces::UTS,
    Namespaces::IPC,
    Namespaces::NET,
    Namespaces::PID,
    Namespaces::CGROUP,
    Namespaces::TIME,
];

impl Namespaces {
    /// The flags as nix `CloneFlags` (time has no nix constant and is carried as raw bits).
    pub fn clone_flags(self) -> CloneFlags {
        CloneFlags::from_bits_retain(self.bits())
    }

    /// The file name under `/proc/<pid>/ns/` of a single kind (`None` for an empty or multi set).
    pub fn proc_name(self) -> Option<&'static str> {
        Some(match self {
            Self::MOUNT => "mnt",
            Self::UTS => "uts",
            Self::IPC => "ipc",
            Self::NET => "net",
            Self::PID => "pid",
            Self::USER => "user",
            Self::CGROUP => "cgroup",
            Self::TIME => "time",
            _ => return None,
        })
    }
}

impl fmt::Display for Namespaces {
    /// Lower-case kind names joined by `+`, e.g. `user+mnt`; `none` for the empty set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        let mut first = true;
        for kind in ORDER {
            if self.contains(kind) {
                if !first {
                    f.write_str("+")?;
                }
                first = false;
                f.write_str(kind.proc_name().unwrap_or("?"))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_kinds_in_order() {
        assert_eq!((Namespaces::PID | Namespaces::USER).to_string(), "user+pid");
        assert_eq!(Namespaces::empty().to_string(), "none");
        assert_eq!(Namespaces::MOUNT.proc_name(), Some("mnt"));
        assert_eq!((Namespaces::MOUNT | Namespaces::UTS).proc_name(), None);
    }

    #[test]
    fn order_covers_every_kind_once() {
        let mut all = Namespaces::empty();
        for k in ORDER {
            assert!(!all.contains(k));
            all |= k;
        }
        assert_eq!(all, Namespaces::all());
    }
}
