//! The status pipe between the sandbox processes and the outer [`crate::Child`]: small
//! length-prefixed records, each written with one `write(2)` below `PIPE_BUF` so that writers
//! never interleave.

use std::fmt;
use std::os::fd::OwnedFd;

use nix::errno::Errno;

use crate::exit_status::ExitStatus;

/// Where the sandbox failed before the command's own code ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Stage {
    /// `unshare(2)` of the requested namespaces.
    Unshare,
    /// Writing `setgroups`/`uid_map`/`gid_map`.
    UserMap,
    /// Making `/` private or slave.
    Propagation,
    /// Setting the hostname or domain name.
    Hostname,
    /// Bringing `lo` up.
    Loopback,
    /// Forking the pid-namespace init or the command.
    Fork,
    /// Mounting the fresh `/proc`.
    Proc,
    /// The caller's setup closure.
    Setup,
    /// The caller's command closure returned (its exec failed).
    Exec,
    /// The pid-namespace init ended without reporting the command's status.
    Init,
    /// The sandbox configuration was refused before anything ran ([`crate::Sandbox::probe`]).
    Config,
}

impl Stage {
    const ALL: [Stage; 11] = [
        Stage::Unshare,
        Stage::UserMap,
        Stage::Propagation,
        Stage::Hostname,
        Stage::Loopback,
        Stage::Fork,
        Stage::Proc,
        Stage::Setup,
        Stage::Exec,
        Stage::Init,
        Stage::Config,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Stage::Unshare => "unshare",
            Stage::UserMap => "user map",
            Stage::Propagation => "mount propagation",
            Stage::Hostname => "hostname",
            Stage::Loopback => "loopback",
            Stage::Fork => "fork",
            Stage::Proc => "proc",
            Stage::Setup => "setup",
            Stage::Exec => "exec",
            Stage::Init => "init",
            Stage::Config => "config",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure of the sandbox before (or instead of) running the command.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{stage}: {message}")]
pub struct Failure {
    /// Which step failed.
    pub stage: Stage,
    /// The kernel's error, when the failure was a system call (e.g. `ENOENT` for exec).
    pub errno: Option<Errno>,
    /// Human-readable detail, e.g. `exec failed: ENOENT: No such file or directory`.
    pub message: String,
}

impl Failure {
    /// Shell convention: a failed exec is 127 for "not found" (`ENOENT`, `ENOTDIR`) and 126
    /// otherwise ("found but not executable"); any other sandbox failure is 125.
    pub fn code(&self) -> i32 {
        match (self.stage, self.errno) {
            (Stage::Exec, Some(Errno::ENOENT | Errno::ENOTDIR)) => 127,
            (Stage::Exec, _) => 126,
            _ => 125,
        }
    }
}

/// One message on the status pipe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Record {
    Status(ExitStatus),
    Failed(Failure),
}

const MAX_MESSAGE: usize = 2048;

impl Record {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut body = Vec::new();
        match self {
            Record::Status(ExitStatus::Exited(c)) => {
                body.push(b'E');
                body.extend_from_slice(&c.to_le_bytes());
            }
            Record::Status(ExitStatus::Signaled(s)) => {
                body.push(b'S');
                body.extend_from_slice(&s.to_le_bytes());
            }
            Record::Failed(f) => {
                body.push(b'F');
                let stage = Stage::ALL.iter().position(|s| *s == f.stage).unwrap_or(0);
                body.push(stage as u8);
                body.extend_from_slice(&f.errno.map_or(0, |e| e as i32).to_le_bytes());
                let mut end = f.message.len().min(MAX_MESSAGE);
                while !f.message.is_char_boundary(end) {
                    end -= 1;
                }
                body.extend_from_slice(&f.message.as_bytes()[..end]);
            }
        }
        let mut out = (body.len() as u16).to_le_bytes().to_vec();
        out.extend_from_slice(&body);
        out
    }

    /// Decode every complete record in `buf` (a truncated tail is ignored).
    pub(crate) fn decode_all(mut buf: &[u8]) -> Vec<Record> {
        let mut out = Vec::new();
        while buf.len() >= 2 {
            let len = u16::from_le_bytes([buf[0], buf[1]]) as usize;
            let Some(body) = buf.get(2..2 + len) else {
                break;
            };
            buf = &buf[2 + len..];
            let int = |b: &[u8]| {
                b.get(..4)
                    .map(|v| i32::from_le_bytes([v[0], v[1], v[2], v[3]]))
            };
            let rec = match body.split_first() {
                Some((b'E', rest)) => int(rest).map(|c| Record::Status(ExitStatus::Exited(c))),
                Some((b'S', rest)) => int(rest).map(|s| Record::Status(ExitStatus::Signaled(s))),
                Some((b'F', rest)) if rest.len() >= 5 => {
                    let stage = Stage::ALL
                        .get(rest[0] as usize)
                        .copied()
                        .unwrap_or(Stage::Init);
                    let errno = int(&rest[1..]).filter(|e| *e != 0).map(Errno::from_raw);
                    let message = String::from_utf8_lossy(&rest[5..]).into_owned();
                    Some(Record::Failed(Failure {
                        stage,
                        errno,
                        message,
                    }))
                }
                _ => None,
            };
            out.extend(rec);
        }
        out
    }

    /// Write the record with one `write(2)`; errors are ignored (the reader then reports a
    /// missing status).
    pub(crate) fn send(&self, fd: &OwnedFd) {
        let _ = nix::unistd::write(fd, &self.encode());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_truncation() {
        let recs = [
            Record::Failed(Failure {
                stage: Stage::Exec,
                errno: Some(Errno::ENOENT),
                message: "exec failed: ENOENT".into(),
            }),
            Record::Status(ExitStatus::Exited(127)),
            Record::Status(ExitStatus::Signaled(15)),
            Record::Failed(Failure {
                stage: Stage::Setup,
                errno: None,
                message: "é".repeat(3000),
            }),
        ];
        let mut buf: Vec<u8> = recs.iter().flat_map(Record::encode).collect();
        let got = Record::decode_all(&buf);
        assert_eq!(&got[..3], &recs[..3]);
        let Record::Failed(f) = &got[3] else {
            panic!("{got:?}")
        };
        assert!(f.message.len() <= MAX_MESSAGE && f.message.starts_with('é'));
        buf.truncate(buf.len() - 1);
        assert_eq!(Record::decode_all(&buf).len(), 3);
    }

    #[test]
    fn failure_codes() {
        let f = |stage, errno| Failure {
            stage,
            errno,
            message: String::new(),
        };
        assert_eq!(f(Stage::Exec, Some(Errno::ENOENT)).code(), 127);
        assert_eq!(f(Stage::Exec, Some(Errno::EACCES)).code(), 126);
        assert_eq!(f(Stage::Setup, None).code(), 125);
        assert_eq!(f(Stage::Setup, None).to_string(), "setup: ");
    }
}
