//! The ptrace backend's result, owned, and its encoding for the trip from the tracer process
//! (inside a pid namespace) back to hutch.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;
use std::time::Duration;

use hutch_tracer::{Engine, LandlockStatus, TraceError, TraceOutcome};

use crate::outcome::{ExitStatus, ModeChange, NetworkDenial, Ownership, Usage, Violation};

/// What a traced run produced, without borrowed data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Traced {
    pub status: ExitStatus,
    pub violations: Vec<Violation>,
    pub network: Vec<NetworkDenial>,
    pub ownerships: Vec<Ownership>,
    pub modes: Vec<ModeChange>,
    pub leftovers: u32,
    /// `None`: not applied (collect-only); `Some(0)`: unsupported; `Some(abi)`: enforced.
    pub landlock: Option<u32>,
    pub usage: Usage,
    /// The engine that ran.
    pub engine: Engine,
}

/// Why the tracer could not give a result, without borrowed data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failed {
    NotFound,
    NotExecutable(i32),
    Setup(String, i32),
    Other(String),
}

impl From<TraceError> for Failed {
    fn from(e: TraceError) -> Failed {
        match e {
            TraceError::NotFound(_) => Failed::NotFound,
            TraceError::NotExecutable(_, errno) => Failed::NotExecutable(errno as i32),
            TraceError::Setup { stage, errno } => Failed::Setup(stage.to_string(), errno as i32),
            other => Failed::Other(other.to_string()),
        }
    }
}

fn unchanged(id: u32) -> Option<u32> {
    (id != u32::MAX).then_some(id)
}

impl From<TraceOutcome> for Traced {
    fn from(t: TraceOutcome) -> Traced {
        Traced {
            status: match t.status {
                hutch_tracer::ExitStatus::Exited(c) => ExitStatus::Code(c),
                hutch_tracer::ExitStatus::Signaled(s) => ExitStatus::Signal(s),
            },
            violations: t
                .violations
                .into_iter()
                .map(|v| Violation {
                    pid: i32::try_from(v.pid).unwrap_or(-1),
                    syscall: v.syscall.to_string(),
                    path: PathBuf::from(v.path),
                    resolved: v.resolved,
                })
                .collect(),
            network: t
                .network
                .into_iter()
                .map(|n| NetworkDenial {
                    pid: i32::try_from(n.pid).unwrap_or(-1),
                    syscall: n.syscall.to_string(),
                    destination: n.destination,
                })
                .collect(),
            ownerships: t
                .ownerships
                .into_iter()
                .map(|(path, uid, gid)| Ownership {
                    path,
                    uid: unchanged(uid),
                    gid: unchanged(gid),
                })
                .collect(),
            modes: t
                .modes
                .into_iter()
                .map(|(path, mode)| ModeChange { path, mode })
                .collect(),
            leftovers: u32::try_from(t.leftovers.len()).unwrap_or(u32::MAX),
            landlock: match t.landlock {
                LandlockStatus::Enforced { abi } => Some(abi),
                LandlockStatus::Unsupported => Some(0),
                LandlockStatus::NotApplied => None,
            },
            usage: Usage {
                wall: Duration::ZERO,
                user_cpu: t.usage.user,
                system_cpu: t.usage.system,
                max_rss_kib: t.usage.max_rss_kib,
            },
            engine: t.engine,
        }
    }
}

/// The wire number of an engine.
fn engine_code(engine: Engine) -> u32 {
    match engine {
        Engine::Auto => 0,
        Engine::Ptrace => 1,
        Engine::Notify => 2,
    }
}

/// The engine of a wire number; `None` for an unknown one.
fn engine_of(code: u32) -> Option<Engine> {
    Some(match code {
        0 => Engine::Auto,
        1 => Engine::Ptrace,
        2 => Engine::Notify,
        _ => return None,
    })
}

/// Appends length-prefixed fields.
struct Writer(Vec<u8>);

impl Writer {
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i32(&mut self, v: i32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.u32(u32::try_from(b.len()).unwrap_or(u32::MAX));
        self.0.extend_from_slice(b);
    }
    fn path(&mut self, p: &std::path::Path) {
        self.bytes(p.as_os_str().as_bytes());
    }
    fn count(&mut self, n: usize) {
        self.u32(u32::try_from(n).unwrap_or(u32::MAX));
    }
}

/// Reads what [`Writer`] wrote; `None` on truncated input.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn i32(&mut self) -> Option<i32> {
        Some(i32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn bytes(&mut self) -> Option<Vec<u8>> {
        let n = usize::try_from(self.u32()?).ok()?;
        Some(self.take(n)?.to_vec())
    }
    fn string(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?).ok()
    }
    fn path(&mut self) -> Option<PathBuf> {
        Some(PathBuf::from(OsString::from_vec(self.bytes()?)))
    }
    fn list<T>(&mut self, mut item: impl FnMut(&mut Self) -> Option<T>) -> Option<Vec<T>> {
        let n = self.u32()?;
        (0..n).map(|_| item(self)).collect()
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Encodes a result.
pub(crate) fn encode(result: &Result<Traced, Failed>) -> Vec<u8> {
    let mut w = Writer(Vec::new());
    match result {
        Ok(t) => {
            w.u32(0);
            match t.status {
                ExitStatus::Code(c) => {
                    w.u32(0);
                    w.i32(c);
                }
                ExitStatus::Signal(s) => {
                    w.u32(1);
                    w.i32(s);
                }
            }
            w.count(t.violations.len());
            for v in &t.violations {
                w.i32(v.pid);
                w.bytes(v.syscall.as_bytes());
                w.path(&v.path);
                w.path(&v.resolved);
            }
            w.count(t.network.len());
            for n in &t.network {
                w.i32(n.pid);
                w.bytes(n.syscall.as_bytes());
                w.bytes(n.destination.as_bytes());
            }
            w.count(t.ownerships.len());
            for o in &t.ownerships {
                w.path(&o.path);
                w.u32(o.uid.unwrap_or(u32::MAX));
                w.u32(o.gid.unwrap_or(u32::MAX));
            }
            w.count(t.modes.len());
            for m in &t.modes {
                w.path(&m.path);
                w.u32(m.mode);
            }
            w.u32(t.leftovers);
            w.u32(t.landlock.map_or(u32::MAX, |abi| abi));
            w.u64(micros(t.usage.user_cpu));
            w.u64(micros(t.usage.system_cpu));
            w.u64(t.usage.max_rss_kib);
            w.u32(engine_code(t.engine));
        }
        Err(Failed::NotFound) => w.u32(1),
        Err(Failed::NotExecutable(errno)) => {
            w.u32(2);
            w.i32(*errno);
        }
        Err(Failed::Setup(stage, errno)) => {
            w.u32(3);
            w.bytes(stage.as_bytes());
            w.i32(*errno);
        }
        Err(Failed::Other(message)) => {
            w.u32(4);
            w.bytes(message.as_bytes());
        }
    }
    w.0
}

/// Decodes what [`encode`] wrote; `None` when the input is truncated or malformed.
pub(crate) fn decode(bytes: &[u8]) -> Option<Result<Traced, Failed>> {
    let mut r = Reader(bytes);
    let result = match r.u32()? {
        0 => {
            let status = match (r.u32()?, r.i32()?) {
                (0, c) => ExitStatus::Code(c),
                (_, s) => ExitStatus::Signal(s),
            };
            let violations = r.list(|r| {
                Some(Violation {
                    pid: r.i32()?,
                    syscall: r.string()?,
                    path: r.path()?,
                    resolved: r.path()?,
                })
            })?;
            let network = r.list(|r| {
                Some(NetworkDenial {
                    pid: r.i32()?,
                    syscall: r.string()?,
                    destination: r.string()?,
                })
            })?;
            let ownerships = r.list(|r| {
                Some(Ownership {
                    path: r.path()?,
                    uid: unchanged(r.u32()?),
                    gid: unchanged(r.u32()?),
                })
            })?;
            let modes = r.list(|r| {
                Some(ModeChange {
                    path: r.path()?,
                    mode: r.u32()?,
                })
            })?;
            let leftovers = r.u32()?;
            let landlock = Some(r.u32()?).filter(|abi| *abi != u32::MAX);
            let usage = Usage {
                wall: Duration::ZERO,
                user_cpu: Duration::from_micros(r.u64()?),
                system_cpu: Duration::from_micros(r.u64()?),
                max_rss_kib: r.u64()?,
            };
            let engine = engine_of(r.u32()?)?;
            Ok(Traced {
                status,
                violations,
                network,
                ownerships,
                modes,
                leftovers,
                landlock,
                usage,
                engine,
            })
        }
        1 => Err(Failed::NotFound),
        2 => Err(Failed::NotExecutable(r.i32()?)),
        3 => Err(Failed::Setup(r.string()?, r.i32()?)),
        4 => Err(Failed::Other(r.string()?)),
        _ => return None,
    };
    r.0.is_empty().then_some(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let traced = Traced {
            status: ExitStatus::Signal(9),
            violations: vec![Violation {
                pid: 3,
                syscall: "openat".into(),
                path: PathBuf::from(OsString::from_vec(b"../\xffx".to_vec())),
                resolved: "/tmp/\u{e9}".into(),
            }],
            network: vec![NetworkDenial {
                pid: 4,
                syscall: "connect".into(),
                destination: "127.0.0.1:9".into(),
            }],
            ownerships: vec![Ownership {
                path: "/w/f".into(),
                uid: Some(42),
                gid: None,
            }],
            modes: vec![ModeChange {
                path: "/w/f".into(),
                mode: 0o640,
            }],
            leftovers: 2,
            landlock: Some(6),
            usage: Usage {
                wall: Duration::ZERO,
                user_cpu: Duration::from_micros(1234),
                system_cpu: Duration::from_micros(5),
                max_rss_kib: 777,
            },
            engine: Engine::Notify,
        };
        for result in [
            Ok(traced.clone()),
            Ok(Traced {
                landlock: None,
                engine: Engine::Ptrace,
                ..traced
            }),
            Err(Failed::NotFound),
            Err(Failed::NotExecutable(13)),
            Err(Failed::Setup("chroot".into(), 1)),
            Err(Failed::Other("boom".into())),
        ] {
            let bytes = encode(&result);
            assert_eq!(decode(&bytes), Some(result));
            assert_eq!(decode(&bytes[..bytes.len() - 1]), None);
        }
    }
}
