//! Dropping capabilities: everything but a keep-list, from the effective, permitted, inheritable,
//! ambient and bounding sets, then `no_new_privs`.

use std::fmt;

use nix::errno::Errno;

use crate::sys;

macro_rules! capabilities {
    ($($name:ident = $n:expr, $text:literal;)*) => {
        /// A Linux capability (`CAP_*`).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum Capability {
            $(#[doc = concat!("`", $text, "`")] $name = $n,)*
        }

        impl Capability {
            /// Every capability this crate knows, in number order.
            pub const ALL: &'static [Capability] = &[$(Capability::$name,)*];

            /// The kernel name, e.g. `CAP_SYS_ADMIN`.
            pub fn name(self) -> &'static str {
                match self { $(Capability::$name => $text,)* }
            }
        }
    };
}

capabilities! {
    Chown = 0, "CAP_CHOWN";
    DacOverride = 1, "CAP_DAC_OVERRIDE";
    DacReadSearch = 2, "CAP_DAC_READ_SEARCH";
    Fowner = 3, "CAP_FOWNER";
    Fsetid = 4, "CAP_FSETID";
    Kill = 5, "CAP_KILL";
    Setgid = 6, "CAP_SETGID";
    Setuid = 7, "CAP_SETUID";
    Setpcap = 8, "CAP_SETPCAP";
    LinuxImmutable = 9, "CAP_LINUX_IMMUTABLE";
    NetBindService = 10, "CAP_NET_BIND_SERVICE";
    NetBroadcast = 11, "CAP_NET_BROADCAST";
    NetAdmin = 12, "CAP_NET_ADMIN";
    NetRaw = 13, "CAP_NET_RAW";
    IpcLock = 14, "CAP_IPC_LOCK";
    IpcOwner = 15, "CAP_IPC_OWNER";
    SysModule = 16, "CAP_SYS_MODULE";
    SysRawio = 17, "CAP_SYS_RAWIO";
    SysChroot = 18, "CAP_SYS_CHROOT";
    SysPtrace = 19, "CAP_SYS_PTRACE";
    SysPacct = 20, "CAP_SYS_PACCT";
    SysAdmin = 21, "CAP_SYS_ADMIN";
    SysBoot = 22, "CAP_SYS_BOOT";
    SysNice = 23, "CAP_SYS_NICE";
    SysResource = 24, "CAP_SYS_RESOURCE";
    SysTime = 25, "CAP_SYS_TIME";
    SysTtyConfig = 26, "CAP_SYS_TTY_CONFIG";
    Mknod = 27, "CAP_MKNOD";
    Lease = 28, "CAP_LEASE";
    AuditWrite = 29, "CAP_AUDIT_WRITE";
    AuditControl = 30, "CAP_AUDIT_CONTROL";
    Setfcap = 31, "CAP_SETFCAP";
    MacOverride = 32, "CAP_MAC_OVERRIDE";
    MacAdmin = 33, "CAP_MAC_ADMIN";
    Syslog = 34, "CAP_SYSLOG";
    WakeAlarm = 35, "CAP_WAKE_ALARM";
    BlockSuspend = 36, "CAP_BLOCK_SUSPEND";
    AuditRead = 37, "CAP_AUDIT_READ";
    Perfmon = 38, "CAP_PERFMON";
    Bpf = 39, "CAP_BPF";
    CheckpointRestore = 40, "CAP_CHECKPOINT_RESTORE";
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of capabilities as the kernel's 64-bit mask (bit n = capability number n; bits of
/// capabilities newer than [`Capability`] are kept as raw bits).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CapSet(pub u64);

impl CapSet {
    /// The empty set.
    pub const EMPTY: CapSet = CapSet(0);

    /// A set of the given capabilities.
    pub fn of(caps: &[Capability]) -> Self {
        caps.iter().fold(Self::EMPTY, |s, c| s.with(*c))
    }

    /// This set plus `cap`.
    pub fn with(self, cap: Capability) -> Self {
        CapSet(self.0 | (1 << cap as u8))
    }

    /// Whether `cap` is in the set.
    pub fn contains(self, cap: Capability) -> bool {
        self.0 & (1 << cap as u8) != 0
    }

    /// Whether capability number `n` is in the set.
    pub fn contains_raw(self, n: u32) -> bool {
        n < 64 && self.0 & (1 << n) != 0
    }

    /// The named capabilities in the set.
    pub fn iter(self) -> impl Iterator<Item = Capability> {
        Capability::ALL
            .iter()
            .copied()
            .filter(move |c| self.contains(*c))
    }

    /// `true` if empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// Errors of [`drop_except`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CapsError {
    /// Reading or setting capability state failed.
    #[error("{op}: {errno}")]
    Syscall {
        /// The failing operation.
        op: &'static str,
        /// The kernel's error.
        errno: Errno,
    },
    /// Dropping a capability from the bounding set failed (needs `CAP_SETPCAP`).
    #[error("drop {cap} from the bounding set: {errno}")]
    Bounding {
        /// Capability number.
        cap: u32,
        /// The kernel's error.
        errno: Errno,
    },
    /// After dropping, the thread still holds a capability outside the keep-list.
    #[error("capability {cap} still present after dropping")]
    Residue {
        /// Capability number.
        cap: u32,
    },
}

fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(63)
}

/// The `(effective, permitted, inheritable)` sets of the calling thread.
pub fn current() -> Result<(CapSet, CapSet, CapSet), CapsError> {
    let raw = sys::capget().map_err(|errno| CapsError::Syscall {
        op: "capget",
        errno,
    })?;
    Ok((
        CapSet(raw.effective),
        CapSet(raw.permitted),
        CapSet(raw.inheritable),
    ))
}

/// Drop every capability not in `keep`: from the bounding set (`PR_CAPBSET_DROP`), the ambient
/// set (cleared), and the effective, permitted and inheritable sets; then set `no_new_privs`.
/// Returns the capabilities actually kept (effective afterwards: `keep` ∩ what was permitted).
///
/// Fails closed: any capability that cannot be dropped is an error, and the result is verified
/// with `capget` and `PR_CAPBSET_READ`. Dropping from the bounding set needs `CAP_SETPCAP`, which
/// the root of a fresh user namespace has; an unprivileged process outside one gets
/// [`CapsError::Bounding`] unless its bounding set is already within `keep`.
pub fn drop_except(keep: CapSet) -> Result<CapSet, CapsError> {
    let sc = |op| move |errno| CapsError::Syscall { op, errno };
    let before = sys::capget().map_err(sc("capget"))?;
    let last = last_cap().min(63);
    for cap in 0..=last {
        if keep.contains_raw(cap) {
            continue;
        }
        match sys::capbset_read(cap) {
            Ok(false) => {}
            Ok(true) => {
                sys::capbset_drop(cap).map_err(|errno| CapsError::Bounding { cap, errno })?
            }
            // The kernel does not know this capability: nothing to drop.
            Err(Errno::EINVAL) => break,
            Err(errno) => {
                return Err(CapsError::Syscall {
                    op: "PR_CAPBSET_READ",
                    errno,
                })
            }
        }
    }
    match sys::ambient_clear_all() {
        // EINVAL: a kernel without ambient capabilities has none to clear.
        Ok(()) | Err(Errno::EINVAL) => {}
        Err(errno) => {
            return Err(CapsError::Syscall {
                op: "PR_CAP_AMBIENT_CLEAR_ALL",
                errno,
            })
        }
    }
    let kept = keep.0 & before.permitted;
    let want = sys::RawCaps {
        effective: kept,
        permitted: kept,
        inheritable: kept,
    };
    sys::capset(want).map_err(sc("capset"))?;
    nix::sys::prctl::set_no_new_privs().map_err(sc("PR_SET_NO_NEW_PRIVS"))?;

    let after = sys::capget().map_err(sc("capget"))?;
    for cap in 0..=last {
        if keep.contains_raw(cap) {
            continue;
        }
        let bit = 1u64 << cap;
        let held = (after.effective | after.permitted | after.inheritable) & bit != 0;
        let bounded = matches!(sys::capbset_read(cap), Ok(true));
        let ambient = matches!(sys::ambient_is_set(cap), Ok(true));
        if held || bounded || ambient {
            return Err(CapsError::Residue { cap });
        }
    }
    Ok(CapSet(after.effective))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_numbers_and_names() {
        assert_eq!(Capability::ALL.len(), 41);
        for (i, c) in Capability::ALL.iter().enumerate() {
            assert_eq!(*c as usize, i);
        }
        assert_eq!(Capability::SysAdmin.name(), "CAP_SYS_ADMIN");
        assert_eq!(Capability::NetBindService as u8, 10);
    }

    #[test]
    fn set_operations() {
        let s = CapSet::of(&[Capability::Chown, Capability::NetRaw]);
        assert_eq!(s.0, 1 | (1 << 13));
        assert!(s.contains(Capability::NetRaw));
        assert!(!s.contains(Capability::Kill));
        assert!(!s.contains_raw(64));
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            vec![Capability::Chown, Capability::NetRaw]
        );
    }
}
