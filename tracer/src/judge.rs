//! Deciding one intercepted call: read it, resolve its paths, allow, deny or fake it. Shared
//! by both engines; the engine only delivers the call and applies the verdict.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use hutch_pathset::PathSet;
use nix::errno::Errno;

use crate::command::Tracer;
use crate::error::TraceError;
use crate::filter::{AUDIT_ARCH_X86_64, OPEN_WRITE_FLAGS};
use crate::net::{self, Addr};
use crate::outcome::{NetworkViolation, Observer, Violation};
use crate::resolve::{self, Base, Resolved};
use crate::sandbox;
use crate::syscalls::{self, Class, Follow, Spec, Target, AT_EMPTY_PATH};

/// What to do with an intercepted call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Run it.
    Allow,
    /// Do not run it; it returns this value (`-errno` for an error).
    Skip(i64),
}

/// What a run records.
#[derive(Default)]
pub(crate) struct Records {
    pub(crate) violations: Vec<Violation>,
    pub(crate) ownerships: Vec<(PathBuf, u32, u32)>,
    pub(crate) modes: Vec<(PathBuf, u32)>,
    pub(crate) network: Vec<NetworkViolation>,
    pub(crate) leftovers: Vec<u32>,
}

/// The policy of one run, what it recorded, and the observer.
pub(crate) struct Judge<'s> {
    writable: PathSet,
    implicit: PathSet,
    collect_only: bool,
    network: bool,
    fake_ownership: bool,
    /// The chroot of the whole run, if any.
    fixed_root: Option<PathBuf>,
    /// Set once a chroot or pivot_root was allowed: roots are then read per call.
    root_may_differ: bool,
    pub(crate) observer: Option<&'s mut dyn Observer>,
    pub(crate) records: Records,
    /// An observer hook failed: the engine must abort the run.
    pub(crate) failed: Option<TraceError>,
    buf: Vec<u8>,
}

fn err(errno: Errno) -> Verdict {
    Verdict::Skip(-i64::from(errno as i32))
}

/// `RESOLVE_IN_ROOT` of openat2.
const RESOLVE_IN_ROOT: u64 = 0x10;

/// One judged path: as passed, and resolved.
struct Judged {
    passed: OsString,
    resolved: Resolved,
}

impl<'s> Judge<'s> {
    /// The judge of `tracer`'s policy, with `writable` in the host's view.
    pub(crate) fn new(tracer: &'s mut Tracer<'_>, writable: PathSet) -> Judge<'s> {
        let root = tracer.chroot.clone();
        let mut implicit = PathSet::new();
        for dev in sandbox::IMPLICIT_WRITABLE {
            let path = match &root {
                Some(root) => root.join(dev.trim_start_matches('/')),
                None => PathBuf::from(dev),
            };
            let _ = implicit.insert(path);
        }
        let policy = &tracer.policy;
        Judge {
            writable,
            implicit,
            collect_only: policy.collect_only,
            network: policy.network,
            fake_ownership: policy.fake_ownership,
            root_may_differ: root.is_some(),
            fixed_root: root,
            observer: match tracer.observer.as_mut() {
                Some(o) => Some(&mut **o),
                None => None,
            },
            records: Records::default(),
            failed: None,
            buf: Vec::with_capacity(resolve::PATH_MAX),
        }
    }

    /// Decides call `nr` of ABI `arch` made by thread `pid` with `args`. Only known x86_64
    /// calls reach the tracer; anything else fails closed with ENOSYS.
    pub(crate) fn decide(&mut self, pid: i32, arch: u32, nr: u64, args: &[u64; 6]) -> Verdict {
        match syscalls::spec(nr) {
            Some(spec) if arch == AUDIT_ARCH_X86_64 => self.judge(pid, spec, args),
            _ => err(Errno::ENOSYS),
        }
    }

    /// Records a violation and tells the observer; an observer error is kept in `failed`.
    fn violation(&mut self, violation: Violation) {
        let hook = self.observer.as_mut().map(|o| o.violation(&violation));
        self.records.violations.push(violation);
        if let Some(Err(e)) = hook {
            self.failed.get_or_insert(TraceError::Observer(e));
        }
    }

    fn writable(&self, resolved: &Resolved) -> bool {
        match resolved {
            Resolved::NotFs => true,
            Resolved::Path { path, .. } => {
                self.writable.contains(path) || self.implicit.contains(path)
            }
        }
    }

    fn root(&self, pid: i32) -> Result<PathBuf, Errno> {
        match (&self.fixed_root, self.root_may_differ) {
            (_, true) => resolve::root_of(pid),
            (Some(root), false) => Ok(root.clone()),
            (None, false) => Ok(PathBuf::from("/")),
        }
    }

    /// Reads and resolves one target. `follow` overrides the spec's rule when given.
    fn target(
        &mut self,
        pid: i32,
        target: &Target,
        args: &[u64; 6],
        follow: Option<bool>,
        root: &Path,
    ) -> Result<Judged, Errno> {
        let fd_form = |fd: u64| {
            resolve::resolve_fd(pid, fd as i32).map(|resolved| Judged {
                passed: OsString::new(),
                resolved,
            })
        };
        match *target {
            Target::Fd(i) => fd_form(args[i]),
            Target::Path {
                dirfd,
                path,
                follow: rule,
                empty_flag,
                null_is_fd,
            } => {
                let dirfd = dirfd.map_or(libc::AT_FDCWD, |i| args[i] as i32);
                if null_is_fd && args[path] == 0 {
                    return fd_form(dirfd as u64);
                }
                resolve::read_path(pid, args[path], &mut self.buf)?;
                if self.buf.is_empty() && empty_flag.is_some_and(|i| args[i] & AT_EMPTY_PATH != 0) {
                    return fd_form(dirfd as u64);
                }
                let base = if dirfd == libc::AT_FDCWD {
                    Base::Cwd
                } else {
                    Base::Fd(dirfd)
                };
                let follow = follow.unwrap_or_else(|| rule.resolve(args));
                let resolved = resolve::resolve(pid, base, &self.buf, follow, root)?;
                Ok(Judged {
                    passed: OsString::from_vec(self.buf.clone()),
                    resolved,
                })
            }
        }
    }

    fn judge(&mut self, pid: i32, spec: &Spec, args: &[u64; 6]) -> Verdict {
        match spec.class {
            Class::Socket => return self.socket(pid, args),
            Class::Connect => return self.connect(pid, args),
            Class::Bind => return self.bind(pid, spec, args),
            _ => {}
        }
        let mut root = match self.root(pid) {
            Ok(root) => root,
            Err(e) => return err(e),
        };
        // open/openat/openat2: the flags decide whether this is a write and how it resolves.
        let mut open_flags = None;
        match spec.class {
            Class::Open(i) => open_flags = Some(args[i]),
            Class::Openat2 => {
                let how = match resolve::read_bytes(pid, args[2], 24) {
                    Ok(how) if how.len() == 24 => how,
                    Ok(_) => return err(Errno::EFAULT),
                    Err(e) => return err(e),
                };
                let word =
                    |i: usize| u64::from_ne_bytes(how[i..i + 8].try_into().unwrap_or([0; 8]));
                open_flags = Some(word(0));
                if word(16) & RESOLVE_IN_ROOT != 0 {
                    // Absolute paths and `..` stay inside the dirfd: resolve with it as root.
                    match resolve::resolve_fd(pid, args[0] as i32) {
                        Ok(Resolved::Path { path, .. }) => root = path,
                        Ok(Resolved::NotFs) => return err(Errno::ENOTDIR),
                        Err(e) => return err(e),
                    }
                }
            }
            _ => {}
        }
        let mut follow = None;
        if let Some(flags) = open_flags {
            // With O_PATH the kernel drops every flag but O_DIRECTORY/O_NOFOLLOW/O_CLOEXEC
            // (open, openat) or refuses the call (openat2): nothing can be written.
            if flags & u64::from(OPEN_WRITE_FLAGS) == 0 || flags & libc::O_PATH as u64 != 0 {
                return Verdict::Allow;
            }
            let creat_excl = (libc::O_CREAT | libc::O_EXCL) as u64;
            if flags & libc::O_NOFOLLOW as u64 != 0 || flags & creat_excl == creat_excl {
                follow = Some(false);
            }
        }
        let mut judged = Vec::with_capacity(2);
        let mut targets = spec.targets;
        // A bind or move mount makes its source reachable at the target: judge both.
        if spec.class == Class::Mount && args[3] & (libc::MS_BIND | libc::MS_MOVE) != 0 {
            targets[1] = Some(Target::Path {
                dirfd: None,
                path: 0,
                follow: Follow::Yes,
                empty_flag: None,
                null_is_fd: false,
            });
        }
        for target in targets.iter().flatten() {
            match self.target(pid, target, args, follow, &root) {
                Ok(j) => judged.push(j),
                Err(e) => return err(e),
            }
        }
        let denied = judged.iter().position(|j| !self.writable(&j.resolved));
        let Some(first_denied) = denied else {
            return self.allowed(spec, args, &judged);
        };
        let j = &judged[first_denied];
        let Resolved::Path { path, exists } = &j.resolved else {
            return Verdict::Allow;
        };
        // catbox's useful quirks: no violation where the kernel would fail anyway.
        let quirk = match (spec.class, open_flags) {
            (_, Some(flags)) => {
                let creates = flags & (libc::O_CREAT as u64 | 0o2000_0000) != 0;
                (!creates && !exists).then_some(Errno::ENOENT)
            }
            (Class::Mkdir, None) => {
                (*exists && self.writable.is_ancestor_of_member(path)).then_some(Errno::EEXIST)
            }
            _ => None,
        };
        if let Some(errno) = quirk {
            return if self.collect_only {
                Verdict::Allow
            } else {
                err(errno)
            };
        }
        let violation = Violation {
            pid: pid as u32,
            syscall: spec.name,
            path: j.passed.clone(),
            resolved: path.clone(),
        };
        self.violation(violation);
        if self.collect_only {
            Verdict::Allow
        } else {
            err(Errno::EACCES)
        }
    }

    /// Every target is writable: record and fake what the policy asks for.
    fn allowed(&mut self, spec: &Spec, args: &[u64; 6], judged: &[Judged]) -> Verdict {
        let path = || match judged.first().map(|j| &j.resolved) {
            Some(Resolved::Path { path, .. }) => Some(path.clone()),
            _ => None,
        };
        match spec.class {
            Class::Chmod(mode) if self.fake_ownership => {
                if let Some(path) = path() {
                    self.records
                        .modes
                        .push((path, (args[mode] & 0o7777) as u32));
                }
                Verdict::Allow
            }
            Class::Chown(uid, gid) if self.fake_ownership => {
                if let Some(path) = path() {
                    self.records
                        .ownerships
                        .push((path, args[uid] as u32, args[gid] as u32));
                }
                Verdict::Skip(0)
            }
            Class::Root => {
                self.root_may_differ = true;
                Verdict::Allow
            }
            _ => Verdict::Allow,
        }
    }

    fn net_violation(&mut self, pid: i32, syscall: &'static str, destination: String) -> Verdict {
        self.records.network.push(NetworkViolation {
            pid: pid as u32,
            syscall,
            destination,
        });
        if self.collect_only {
            Verdict::Allow
        } else {
            err(Errno::EACCES)
        }
    }

    fn socket(&mut self, pid: i32, args: &[u64; 6]) -> Verdict {
        if self.network || args[0] == libc::AF_UNIX as u64 {
            return Verdict::Allow;
        }
        self.net_violation(pid, "socket", format!("family {}", args[0] as i32))
    }

    fn connect(&mut self, pid: i32, args: &[u64; 6]) -> Verdict {
        if self.network {
            return Verdict::Allow;
        }
        let len = usize::try_from(args[2]).unwrap_or(0).min(128);
        match resolve::read_bytes(pid, args[1], len) {
            Ok(raw) => self.net_violation(pid, "connect", net::decode(&raw).display()),
            Err(e) => err(e),
        }
    }

    /// bind: only an `AF_UNIX` path socket writes to the filesystem.
    fn bind(&mut self, pid: i32, spec: &Spec, args: &[u64; 6]) -> Verdict {
        let len = usize::try_from(args[2]).unwrap_or(0).min(128);
        let raw = match resolve::read_bytes(pid, args[1], len) {
            Ok(raw) => raw,
            Err(e) => return err(e),
        };
        let Addr::UnixPath(path) = net::decode(&raw) else {
            return Verdict::Allow;
        };
        let root = match self.root(pid) {
            Ok(root) => root,
            Err(e) => return err(e),
        };
        let bytes = path.clone().into_vec();
        let resolved = match resolve::resolve(pid, Base::Cwd, &bytes, false, &root) {
            Ok(r) => r,
            Err(e) => return err(e),
        };
        if self.writable(&resolved) {
            return Verdict::Allow;
        }
        let Resolved::Path { path: resolved, .. } = resolved else {
            return Verdict::Allow;
        };
        self.violation(Violation {
            pid: pid as u32,
            syscall: spec.name,
            path,
            resolved,
        });
        if self.collect_only {
            Verdict::Allow
        } else {
            err(Errno::EACCES)
        }
    }
}
