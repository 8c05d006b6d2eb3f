//! Real probes: can this process use user namespaces, ptrace, chroot?

use std::ffi::CStr;
use std::fmt;
use std::os::fd::{AsFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::signal::{kill, raise, Signal};
use nix::sys::stat::Mode;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{getegid, geteuid, pipe2, read, write};

use crate::sys;

/// Whether a backend can run here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Availability {
    /// It can.
    Available,
    /// It cannot, because of this (which probe failed and what the system said).
    Unavailable(String),
}

impl Availability {
    /// True for [`Availability::Available`].
    pub fn is_available(&self) -> bool {
        matches!(self, Availability::Available)
    }
}

impl fmt::Display for Availability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Availability::Available => f.write_str("available"),
            Availability::Unavailable(why) => write!(f, "unavailable: {why}"),
        }
    }
}

/// Reads a sysctl under `/proc/sys`, trimmed.
fn sysctl(path: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/sys/{path}"))
        .ok()
        .map(|s| s.trim().to_string())
}

/// Sysctls and LSM settings that forbid unprivileged user namespaces, as `name=value`.
fn userns_restrictions() -> Vec<String> {
    let mut out = Vec::new();
    for (path, bad) in [
        ("user/max_user_namespaces", "0"),
        ("kernel/unprivileged_userns_clone", "0"),
        ("kernel/apparmor_restrict_unprivileged_userns", "1"),
    ] {
        if let Some(value) = sysctl(path) {
            if value == bad {
                out.push(format!("{}={value}", path.replace('/', ".")));
            }
        }
    }
    out
}

/// The effective capability set of this process, from `/proc/self/status`.
pub(crate) fn effective_caps() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(0)
}

/// `CAP_SYS_CHROOT`.
const CAP_SYS_CHROOT: u32 = 18;
/// `CAP_SYS_ADMIN`.
const CAP_SYS_ADMIN: u32 = 21;

/// True when this process has `CAP_SYS_ADMIN` and `CAP_SYS_CHROOT` (in practice: root).
pub(crate) fn privileged() -> bool {
    let eff = effective_caps();
    eff & (1 << CAP_SYS_CHROOT) != 0 && eff & (1 << CAP_SYS_ADMIN) != 0
}

/// Probe for the chroot backend: needs `CAP_SYS_CHROOT` and `CAP_SYS_ADMIN`.
pub(crate) fn chroot() -> Availability {
    let eff = effective_caps();
    let missing: Vec<&str> = [
        (CAP_SYS_CHROOT, "CAP_SYS_CHROOT"),
        (CAP_SYS_ADMIN, "CAP_SYS_ADMIN"),
    ]
    .into_iter()
    .filter(|(bit, _)| eff & (1 << bit) == 0)
    .map(|(_, name)| name)
    .collect();
    if missing.is_empty() {
        Availability::Available
    } else {
        Availability::Unavailable(format!(
            "needs root: missing {} (euid {})",
            missing.join(" and "),
            geteuid()
        ))
    }
}

/// The steps of the user-namespace probe, in order.
const USERNS_STEPS: [&str; 6] = [
    "unshare(CLONE_NEWUSER)",
    "write /proc/self/setgroups",
    "write /proc/self/uid_map",
    "write /proc/self/gid_map",
    "unshare(CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWIPC|CLONE_NEWUTS)",
    "mount --make-rprivate / inside the namespace",
];

fn write_file(path: &CStr, data: &[u8]) -> Result<(), Errno> {
    let fd = open(path, OFlag::O_WRONLY | OFlag::O_CLOEXEC, Mode::empty())?;
    let n = write(&fd, data)?;
    if n == data.len() {
        Ok(())
    } else {
        Err(Errno::EIO)
    }
}

/// Runs the user-namespace steps in a forked child; returns the failed step and errno.
fn userns_steps() -> Result<Option<(usize, Errno)>, Errno> {
    let uid_map = format!("0 {} 1\n", geteuid());
    let gid_map = format!("0 {} 1\n", getegid());
    let (rd, wr): (OwnedFd, OwnedFd) = pipe2(OFlag::O_CLOEXEC)?;
    let status = sys::fork_and_wait(move || {
        let steps: [&dyn Fn() -> Result<(), Errno>; 6] = [
            &|| unshare(CloneFlags::CLONE_NEWUSER),
            &|| write_file(c"/proc/self/setgroups", b"deny"),
            &|| write_file(c"/proc/self/uid_map", uid_map.as_bytes()),
            &|| write_file(c"/proc/self/gid_map", gid_map.as_bytes()),
            &|| {
                unshare(
                    CloneFlags::CLONE_NEWNS
                        | CloneFlags::CLONE_NEWPID
                        | CloneFlags::CLONE_NEWIPC
                        | CloneFlags::CLONE_NEWUTS,
                )
            },
            &make_private,
        ];
        for (i, step) in steps.iter().enumerate() {
            if let Err(errno) = step() {
                let errno = i32::to_le_bytes(errno as i32);
                let msg = [i as u8, errno[0], errno[1]];
                let _ = write(wr.as_fd(), &msg);
                return 1;
            }
        }
        0
    })?;
    let mut buf = [0u8; 3];
    let n = read(&rd, &mut buf).unwrap_or(0);
    match status {
        WaitStatus::Exited(_, 0) => Ok(None),
        _ if n == 3 => Ok(Some((
            usize::from(buf[0]),
            Errno::from_raw(i32::from(u16::from_le_bytes([buf[1], buf[2]]))),
        ))),
        _ => Err(Errno::ECHILD),
    }
}

/// `mount --make-rprivate /`.
pub(crate) fn make_private() -> Result<(), Errno> {
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
}

/// Probe for the userns backend: actually creates the namespaces in a forked child.
pub(crate) fn userns() -> Availability {
    match userns_steps() {
        Ok(None) => Availability::Available,
        Ok(Some((step, errno))) => {
            let mut why = format!(
                "{} failed: {}",
                USERNS_STEPS.get(step).copied().unwrap_or("probe"),
                errno.desc()
            );
            let restrictions = userns_restrictions();
            if !restrictions.is_empty() {
                why.push_str(&format!("; restricted by {}", restrictions.join(", ")));
            }
            Availability::Unavailable(why)
        }
        Err(errno) => Availability::Unavailable(format!("probe could not fork: {}", errno.desc())),
    }
}

/// Probe for the ptrace backend: yama, seccomp, and a real `PTRACE_TRACEME` in a forked child.
pub(crate) fn ptrace() -> Availability {
    if sysctl("kernel/yama/ptrace_scope").as_deref() == Some("3") {
        return Availability::Unavailable(
            "ptrace is disabled: kernel.yama.ptrace_scope=3".to_string(),
        );
    }
    match sysctl("kernel/seccomp/actions_avail") {
        None => {
            return Availability::Unavailable(
                "seccomp is not available (no /proc/sys/kernel/seccomp)".to_string(),
            )
        }
        Some(actions) if !actions.split_whitespace().any(|a| a == "trace") => {
            return Availability::Unavailable(format!(
                "seccomp has no trace action (actions_avail: {actions})"
            ))
        }
        Some(_) => {}
    }
    let status = sys::fork_and_wait(|| {
        if let Err(errno) = nix::sys::ptrace::traceme() {
            return u8::try_from(errno as i32).unwrap_or(255);
        }
        let _ = raise(Signal::SIGSTOP);
        0
    });
    match status {
        Ok(WaitStatus::Stopped(pid, _)) => {
            let _ = kill(pid, Signal::SIGKILL);
            let _ = waitpid(pid, None);
            Availability::Available
        }
        Ok(WaitStatus::Exited(_, code)) => Availability::Unavailable(format!(
            "ptrace(PTRACE_TRACEME) failed: {}{}",
            Errno::from_raw(code).desc(),
            match sysctl("kernel/yama/ptrace_scope").as_deref() {
                Some(scope @ ("1" | "2")) => format!("; kernel.yama.ptrace_scope={scope}"),
                _ => String::new(),
            }
        )),
        Ok(other) => Availability::Unavailable(format!("ptrace probe ended with {other:?}")),
        Err(errno) => Availability::Unavailable(format!("probe could not fork: {}", errno.desc())),
    }
}
