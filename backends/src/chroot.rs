//! The chroot backend: root only; a private mount namespace, extra mounts, `chroot`, all
//! capabilities dropped, `exec`.
//!
//! Mounts are made inside a mount namespace private to the command, so none is visible on the
//! host and the kernel tears them all down when the namespace's last process exits. Mount points
//! that hutch had to create under the root directory are removed again, in reverse order, after
//! the run.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::signal::Signal;
use nix::unistd::{chdir, chroot, sethostname, Pid};

use crate::backend::BackendKind;
use crate::config::{Config, ConfigError, Mount, Network};
use crate::error::Error;
use crate::mountpoint::{self, Created};
use crate::outcome::{ExitStatus, Outcome};
use crate::stdio::plumb;
use crate::sys;

/// Errors from the pre-exec hook carry `step * STEP_BASE + errno` so the parent can say which
/// step failed (std only passes an errno number back from the child).
const STEP_BASE: i32 = 4096;

/// One operation of the hook, prepared before the fork.
#[derive(Debug)]
enum Op {
    Mount {
        source: Option<PathBuf>,
        target: PathBuf,
        fstype: Option<&'static str>,
        flags: MsFlags,
        data: Option<&'static str>,
        what: String,
    },
    CreateFile(PathBuf),
    Mkdir(PathBuf),
    Symlink {
        target: &'static str,
        link: PathBuf,
    },
}

impl Op {
    fn describe(&self) -> String {
        match self {
            Op::Mount { what, .. } => what.clone(),
            Op::CreateFile(p) => format!("create {}", p.display()),
            Op::Mkdir(p) => format!("mkdir {}", p.display()),
            Op::Symlink { link, .. } => format!("symlink {}", link.display()),
        }
    }

    fn apply(&self) -> Result<(), Errno> {
        match self {
            Op::Mount {
                source,
                target,
                fstype,
                flags,
                data,
                ..
            } => mount(source.as_deref(), target.as_path(), *fstype, *flags, *data),
            Op::CreateFile(path) => nix::fcntl::open(
                path.as_path(),
                nix::fcntl::OFlag::O_CREAT
                    | nix::fcntl::OFlag::O_WRONLY
                    | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::from_bits_truncate(0o644),
            )
            .map(drop),
            Op::Mkdir(path) => nix::unistd::mkdir(
                path.as_path(),
                nix::sys::stat::Mode::from_bits_truncate(0o755),
            ),
            Op::Symlink { target, link } => {
                nix::unistd::symlinkat(*target, nix::fcntl::AT_FDCWD, link.as_path())
            }
        }
    }
}

fn bind(source: &Path, target: &Path, recursive: bool) -> Op {
    let mut flags = MsFlags::MS_BIND;
    if recursive {
        flags |= MsFlags::MS_REC;
    }
    Op::Mount {
        source: Some(source.to_path_buf()),
        target: target.to_path_buf(),
        fstype: None,
        flags,
        data: None,
        what: format!("bind {} on {}", source.display(), target.display()),
    }
}

/// The operations that set up `mounts` under the host directory `root`.
fn mount_ops(root: &Path, mounts: &[Mount]) -> Vec<Op> {
    let mut ops = Vec::new();
    for m in mounts {
        let target = mountpoint::host_path(root, m.target());
        match m {
            Mount::Bind { source, .. } => ops.push(bind(source, &target, true)),
            Mount::RoBind { source, .. } => {
                ops.push(bind(source, &target, true));
                ops.push(Op::Mount {
                    source: None,
                    target: target.clone(),
                    fstype: None,
                    flags: MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
                    data: None,
                    what: format!("remount {} read-only", target.display()),
                });
            }
            Mount::Tmpfs { .. } => ops.push(Op::Mount {
                source: Some("tmpfs".into()),
                target: target.clone(),
                fstype: Some("tmpfs"),
                flags: MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
                data: Some("mode=0755"),
                what: format!("tmpfs on {}", target.display()),
            }),
            Mount::Proc { .. } => ops.push(Op::Mount {
                source: Some("proc".into()),
                target: target.clone(),
                fstype: Some("proc"),
                flags: MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
                data: None,
                what: format!("proc on {}", target.display()),
            }),
            Mount::Dev { .. } => {
                ops.push(Op::Mount {
                    source: Some("tmpfs".into()),
                    target: target.clone(),
                    fstype: Some("tmpfs"),
                    flags: MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
                    data: Some("mode=0755"),
                    what: format!("tmpfs on {}", target.display()),
                });
                for node in ["null", "zero", "full", "random", "urandom", "tty"] {
                    let path = target.join(node);
                    ops.push(Op::CreateFile(path.clone()));
                    ops.push(bind(&Path::new("/dev").join(node), &path, false));
                }
                for dir in ["shm", "pts"] {
                    ops.push(Op::Mkdir(target.join(dir)));
                }
                for (link, to) in [
                    ("fd", "/proc/self/fd"),
                    ("stdin", "/proc/self/fd/0"),
                    ("stdout", "/proc/self/fd/1"),
                    ("stderr", "/proc/self/fd/2"),
                    ("ptmx", "pts/ptmx"),
                ] {
                    ops.push(Op::Symlink {
                        target: to,
                        link: target.join(link),
                    });
                }
            }
        }
    }
    ops
}

/// Runs `config` (validated, supported by this backend) in a chroot.
pub(crate) fn run(config: &Config) -> Result<Outcome, Error> {
    let backend = BackendKind::Chroot;
    let root = std::fs::canonicalize(&config.root).map_err(|e| {
        Error::setup(
            backend,
            format!("resolve root {}", config.root.display()),
            e,
        )
    })?;
    let mounts = config.normalized_mounts()?;
    let cwd = config.effective_cwd();
    let last_cap = last_cap();

    // Mount points are created on the host (under the root directory) before the fork; they are
    // removed again after the run.
    let created: Created =
        mountpoint::create_all(&root, &mounts, !config.root_is_host()).map_err(|(target, e)| {
            Error::Config(ConfigError::Mount(format!(
                "mount point {}: {e}",
                target.display()
            )))
        })?;
    let result = (|| {
        let ops = mount_ops(&root, &mounts);
        let names: Vec<String> = ops.iter().map(Op::describe).collect();
        let mut unshare_flags = CloneFlags::CLONE_NEWNS;
        if config.network == Network::Isolated {
            unshare_flags |= CloneFlags::CLONE_NEWNET;
        }
        if config.hostname.is_some() {
            unshare_flags |= CloneFlags::CLONE_NEWUTS;
        }
        let hostname = config.hostname.clone();
        let isolated = config.network == Network::Isolated;
        let root_in_hook = root.clone();
        let cwd_in_hook = cwd.clone();

        let plumbing = plumb(&config.stdin, &config.stdout, &config.stderr)
            .map_err(|e| Error::setup(backend, "set up standard streams", e))?;
        let mut command = Command::new(&config.program);
        command
            .args(&config.args)
            .env_clear()
            .envs(config.effective_env())
            .stdin(plumbing.stdin)
            .stdout(plumbing.stdout)
            .stderr(plumbing.stderr);
        sys::pre_exec(&mut command, move || {
            let fail = |step: usize, e: Errno| {
                let step = i32::try_from(step).unwrap_or(0);
                io::Error::from_raw_os_error(step.saturating_mul(STEP_BASE) + e as i32)
            };
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(|e| fail(1, e))?;
            unshare(unshare_flags).map_err(|e| fail(2, e))?;
            crate::probe::make_private().map_err(|e| fail(3, e))?;
            if isolated {
                sys::loopback_up().map_err(|e| fail(4, e))?;
            }
            if let Some(name) = &hostname {
                sethostname(name).map_err(|e| fail(5, e))?;
            }
            for (i, op) in ops.iter().enumerate() {
                op.apply().map_err(|e| fail(FIRST_OP + i, e))?;
            }
            chroot(root_in_hook.as_path()).map_err(|e| fail(6, e))?;
            chdir(cwd_in_hook.as_path()).map_err(|e| fail(7, e))?;
            sys::drop_all_capabilities(last_cap).map_err(|e| fail(8, e))?;
            nix::sys::prctl::set_no_new_privs().map_err(|e| fail(9, e))?;
            Ok(())
        });
        let started = Instant::now();
        let spawned = command.spawn();
        // Our copies of the stream descriptors live in `command`: close them so that readers see
        // end-of-file when the command is done.
        drop(command);
        let child = match spawned {
            Ok(child) => child,
            Err(e) => {
                let _ = plumbing.readers.finish();
                return Err(spawn_error(&config.program, e, &names, &cwd));
            }
        };
        let pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
        let waited = sys::wait4(pid);
        let wall = started.elapsed();
        let (stdout, stderr) = plumbing
            .readers
            .finish()
            .map_err(|e| Error::setup(backend, "read captured output", e))?;
        let (status, usage) =
            waited.map_err(|e| Error::setup(backend, "wait for the command", e.into()))?;
        Ok(Outcome {
            status: ExitStatus::from_raw(status),
            stdout,
            stderr,
            usage: crate::run::usage(wall, usage),
            capabilities_kept: Vec::new(),
            no_new_privs: true,
            ..crate::run::blank(backend)
        })
    })();
    created.remove();
    result
}

/// Index of the first mount operation in the hook's step numbering.
const FIRST_OP: usize = 16;

fn spawn_error(program: &OsString, e: io::Error, ops: &[String], cwd: &Path) -> Error {
    let Some(raw) = e.raw_os_error().filter(|r| *r >= STEP_BASE) else {
        return Error::exec(program, e);
    };
    let step = usize::try_from(raw / STEP_BASE).unwrap_or(0);
    let errno = io::Error::from_raw_os_error(raw % STEP_BASE);
    let name = match step {
        1 => "set the parent-death signal".to_string(),
        2 => "unshare namespaces".to_string(),
        3 => "make the mount namespace private".to_string(),
        4 => "bring up the loopback interface".to_string(),
        5 => "set the hostname".to_string(),
        6 => "chroot".to_string(),
        7 => format!("chdir to {}", cwd.display()),
        8 => "drop capabilities".to_string(),
        9 => "set no_new_privs".to_string(),
        n => ops
            .get(n.wrapping_sub(FIRST_OP))
            .cloned()
            .unwrap_or_else(|| format!("step {n}")),
    };
    Error::setup(BackendKind::Chroot, name, errno)
}

/// The highest capability number this kernel knows.
pub(crate) fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(63)
}
