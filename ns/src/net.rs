//! Network and UTS namespace helpers: bring `lo` up (an ioctl, not `ip`), set the hostname and
//! domain name.

use std::ffi::CStr;
use std::os::fd::AsFd;

use nix::errno::Errno;
use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};

use crate::sys;

/// Errors of the network and UTS helpers.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// Opening the control socket failed.
    #[error("socket for interface control: {0}")]
    Socket(nix::errno::Errno),
    /// Reading or setting interface flags failed.
    #[error("bring {name} up: {source}")]
    Link {
        /// Interface name.
        name: String,
        /// The ioctl's error.
        source: std::io::Error,
    },
    /// `sethostname(2)` failed.
    #[error("sethostname: {0}")]
    Hostname(nix::errno::Errno),
    /// `setdomainname(2)` failed.
    #[error("setdomainname: {0}")]
    Domainname(nix::errno::Errno),
    /// The name is longer than the kernel accepts (64 bytes).
    #[error("name longer than 64 bytes: {0:?}")]
    TooLong(String),
}

impl NetError {
    /// The kernel's error, if the failure was a system call.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            NetError::Socket(e) | NetError::Hostname(e) | NetError::Domainname(e) => Some(*e),
            NetError::Link { source, .. } => source.raw_os_error().map(Errno::from_raw),
            NetError::TooLong(_) => None,
        }
    }
}

const LOOPBACK: &CStr = c"lo";

/// Bring the interface `lo` of the current network namespace up (`IFF_UP`).
///
/// Needs `CAP_NET_ADMIN` over the namespace (the mapped root of a new user namespace has it).
pub fn loopback_up() -> Result<(), NetError> {
    let sock = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(NetError::Socket)?;
    let link = |source| NetError::Link {
        name: "lo".into(),
        source,
    };
    let flags = sys::link_flags(sock.as_fd(), LOOPBACK).map_err(link)?;
    let up = libc::IFF_UP as i16;
    if flags & up == 0 {
        sys::set_link_flags(sock.as_fd(), LOOPBACK, flags | up).map_err(link)?;
    }
    Ok(())
}

fn check_len(name: &str) -> Result<(), NetError> {
    if name.len() > 64 {
        return Err(NetError::TooLong(name.to_owned()));
    }
    Ok(())
}

/// Set the hostname of the current UTS namespace.
pub fn set_hostname(name: &str) -> Result<(), NetError> {
    check_len(name)?;
    nix::unistd::sethostname(name).map_err(NetError::Hostname)
}

/// Set the NIS domain name of the current UTS namespace.
pub fn set_domainname(name: &str) -> Result<(), NetError> {
    check_len(name)?;
    sys::setdomainname(name.as_bytes()).map_err(NetError::Domainname)
}
