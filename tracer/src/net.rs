//! Decoding socket addresses read from a tracee.

use std::ffi::OsString;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::unix::ffi::OsStringExt;

/// A decoded socket address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Addr {
    /// `AF_UNIX` with a filesystem path.
    UnixPath(OsString),
    /// `AF_UNIX` abstract or unnamed.
    UnixOther(String),
    /// Any other family, formatted (`ip:port`, `[ip6]:port`, `family N`).
    Other(String),
}

impl Addr {
    /// The destination as recorded in a network violation.
    pub(crate) fn display(&self) -> String {
        match self {
            Addr::UnixPath(p) => p.to_string_lossy().into_owned(),
            Addr::UnixOther(s) | Addr::Other(s) => s.clone(),
        }
    }
}

/// Decodes the raw bytes of a `sockaddr`.
pub(crate) fn decode(raw: &[u8]) -> Addr {
    if raw.len() < 2 {
        return Addr::Other("invalid".into());
    }
    let family = i32::from(u16::from_ne_bytes([raw[0], raw[1]]));
    let port = |raw: &[u8]| {
        raw.get(2..4)
            .map_or(0, |p| u16::from_be_bytes([p[0], p[1]]))
    };
    match family {
        libc::AF_UNIX => {
            let path = &raw[2..];
            match path.first() {
                None => Addr::UnixOther("unnamed".into()),
                Some(0) => {
                    let name = String::from_utf8_lossy(&path[1..]);
                    Addr::UnixOther(format!("@{}", name.trim_end_matches('\0')))
                }
                Some(_) => {
                    let end = path.iter().position(|b| *b == 0).unwrap_or(path.len());
                    Addr::UnixPath(OsString::from_vec(path[..end].to_vec()))
                }
            }
        }
        libc::AF_INET if raw.len() >= 8 => {
            let ip = Ipv4Addr::new(raw[4], raw[5], raw[6], raw[7]);
            Addr::Other(format!("{ip}:{}", port(raw)))
        }
        libc::AF_INET6 if raw.len() >= 24 => {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&raw[8..24]);
            Addr::Other(format!("[{}]:{}", Ipv6Addr::from(octets), port(raw)))
        }
        other => Addr::Other(format!("family {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_families() {
        let mut v4 = vec![0u8; 16];
        v4[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
        v4[2..4].copy_from_slice(&8080u16.to_be_bytes());
        v4[4..8].copy_from_slice(&[127, 0, 0, 1]);
        assert_eq!(decode(&v4).display(), "127.0.0.1:8080");
        let mut v6 = vec![0u8; 28];
        v6[..2].copy_from_slice(&(libc::AF_INET6 as u16).to_ne_bytes());
        v6[2..4].copy_from_slice(&53u16.to_be_bytes());
        v6[23] = 1;
        assert_eq!(decode(&v6).display(), "[::1]:53");
        let mut unix = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        unix.extend_from_slice(b"/run/x.sock\0\0\0");
        assert_eq!(decode(&unix), Addr::UnixPath("/run/x.sock".into()));
        let mut abs = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        abs.extend_from_slice(b"\0name");
        assert_eq!(decode(&abs).display(), "@name");
    }
}
