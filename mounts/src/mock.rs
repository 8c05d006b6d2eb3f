//! [`RecordingSyscall`]: a [`Syscall`] that records calls instead of making them.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};

use crate::mountinfo::{parse_mountinfo, render_line, MountInfo};
use crate::syscall::{fmt_ms_flags, MountAttr, Syscall};

/// One recorded system call, with owned arguments.
///
/// Its `Display` is a C-like one-liner, also used in error messages:
/// `mount("tmpfs", "/tmp", "tmpfs", nosuid|nodev, "mode=0755")`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// `mount(2)`.
    Mount {
        /// Source, `None` for NULL.
        source: Option<PathBuf>,
        /// Target.
        target: PathBuf,
        /// Filesystem type, `None` for NULL.
        fstype: Option<String>,
        /// Flags.
        flags: MsFlags,
        /// Data, `None` for NULL.
        data: Option<String>,
    },
    /// `umount2(2)`.
    Umount2 {
        /// Target.
        target: PathBuf,
        /// Flags.
        flags: MntFlags,
    },
    /// `mount_setattr(2)`.
    MountSetattr {
        /// Path.
        path: PathBuf,
        /// `AT_RECURSIVE`.
        recursive: bool,
        /// Attributes set.
        set: MountAttr,
        /// Attributes cleared.
        clear: MountAttr,
    },
    /// `pivot_root(2)`.
    PivotRoot {
        /// New root.
        new_root: PathBuf,
        /// Where the old root goes.
        put_old: PathBuf,
    },
    /// `chdir(2)`.
    Chdir(PathBuf),
    /// Directory creation.
    Mkdir {
        /// Path.
        path: PathBuf,
        /// Exact mode.
        mode: u32,
    },
    /// Empty file creation.
    CreateFile {
        /// Path.
        path: PathBuf,
        /// Mode.
        mode: u32,
    },
    /// Symlink creation.
    Symlink {
        /// What the link points to.
        target: PathBuf,
        /// The link.
        link: PathBuf,
    },
    /// Directory removal.
    RemoveDir(PathBuf),
    /// File removal.
    RemoveFile(PathBuf),
    /// `statvfs(2)` (a query; not recorded, but failures can name it).
    MountFlags(PathBuf),
    /// Reading mountinfo (a query; not recorded, but failures can name it).
    MountInfo,
    /// `lstat(2)` for a file's identity (a query; not recorded, but failures can name it).
    FileId(PathBuf),
}

fn q(path: &Path) -> String {
    format!("{:?}", path.as_os_str())
}

fn opt(s: Option<String>) -> String {
    s.map_or_else(|| "NULL".to_string(), |s| format!("{s:?}"))
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Call::Mount {
                source,
                target,
                fstype,
                flags,
                data,
            } => write!(
                f,
                "mount({}, {}, {}, {}, {})",
                source.as_deref().map_or_else(|| "NULL".to_string(), q),
                q(target),
                opt(fstype.clone()),
                fmt_ms_flags(*flags),
                opt(data.clone())
            ),
            Call::Umount2 { target, flags } => {
                let flags = if flags.contains(MntFlags::MNT_DETACH) {
                    "detach"
                } else if flags.is_empty() {
                    "0"
                } else {
                    "other"
                };
                write!(f, "umount2({}, {flags})", q(target))
            }
            Call::MountSetattr {
                path,
                recursive,
                set,
                clear,
            } => write!(
                f,
                "mount_setattr({}, {}, set={:?}, clear={:?})",
                q(path),
                if *recursive { "recursive" } else { "single" },
                set,
                clear
            ),
            Call::PivotRoot { new_root, put_old } => {
                write!(f, "pivot_root({}, {})", q(new_root), q(put_old))
            }
            Call::Chdir(p) => write!(f, "chdir({})", q(p)),
            Call::Mkdir { path, mode } => write!(f, "mkdir({}, {mode:#o})", q(path)),
            Call::CreateFile { path, mode } => write!(f, "create_file({}, {mode:#o})", q(path)),
            Call::Symlink { target, link } => write!(f, "symlink({}, {})", q(target), q(link)),
            Call::RemoveDir(p) => write!(f, "rmdir({})", q(p)),
            Call::RemoveFile(p) => write!(f, "unlink({})", q(p)),
            Call::MountFlags(p) => write!(f, "statvfs({})", q(p)),
            Call::MountInfo => write!(f, "read(\"/proc/self/mountinfo\")"),
            Call::FileId(p) => write!(f, "lstat({})", q(p)),
        }
    }
}

type Rule = (Box<dyn Fn(&Call) -> bool>, Errno);

/// A [`Syscall`] that records every mutating call and simulates a mount table.
///
/// * Mutating calls are appended to [`RecordingSyscall::calls`] (failed ones too: they were
///   attempted). Queries (`mount_flags`, `mountinfo`) are answered, not recorded.
/// * New mounts (not remounts or propagation changes) are added to a simulated mount table,
///   and `umount2` removes them (`MNT_DETACH` also removes the mounts below), so
///   [`RecordingSyscall::mountinfo`] reflects what the recorded calls would have mounted.
/// * [`RecordingSyscall::fail_when`] makes matching calls fail with an errno.
/// * `file_id` answers only what [`RecordingSyscall::with_file_id`] set, `ENOSYS` otherwise.
///
/// ```
/// use hutch_mounts::{ops, RecordingSyscall};
/// let sys = RecordingSyscall::new();
/// ops::mount_tmpfs(&sys, "/t".as_ref(), Some(1 << 20), Some(0o700)).unwrap();
/// assert_eq!(
///     sys.calls_text(),
///     [r#"mount("tmpfs", "/t", "tmpfs", nosuid|nodev, "size=1048576,mode=0700")"#]
/// );
/// ```
#[derive(Default)]
pub struct RecordingSyscall {
    calls: RefCell<Vec<Call>>,
    rules: RefCell<Vec<Rule>>,
    table: RefCell<Vec<MountInfo>>,
    flags: RefCell<HashMap<PathBuf, MsFlags>>,
    redirects: RefCell<Vec<(PathBuf, PathBuf)>>,
    ids: RefCell<HashMap<PathBuf, (u64, u64)>>,
    next_id: Cell<u64>,
}

impl fmt::Debug for RecordingSyscall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordingSyscall")
            .field("calls", &self.calls.borrow())
            .field("rules", &self.rules.borrow().len())
            .field("table", &self.table.borrow())
            .finish()
    }
}

impl RecordingSyscall {
    /// An empty recorder with an empty mount table.
    pub fn new() -> Self {
        Self {
            next_id: Cell::new(100),
            ..Self::default()
        }
    }

    /// Starts the simulated mount table from mountinfo text.
    ///
    /// # Panics
    /// When the text is not valid mountinfo (this is a test helper).
    pub fn with_mountinfo(self, text: &[u8]) -> Self {
        let parsed = parse_mountinfo(text).expect("valid mountinfo for the mock");
        *self.table.borrow_mut() = parsed;
        self
    }

    /// Makes `mount_flags(path)` answer `flags` (otherwise it answers no flags).
    pub fn with_mount_flags(self, path: impl Into<PathBuf>, flags: MsFlags) -> Self {
        self.flags.borrow_mut().insert(path.into(), flags);
        self
    }

    /// Simulates a symlink: a new mount whose target lies at or below `from` lands below `to`
    /// in the simulated table (the recorded call keeps the path it was given).
    pub fn with_redirect(self, from: impl Into<PathBuf>, to: impl Into<PathBuf>) -> Self {
        self.redirects.borrow_mut().push((from.into(), to.into()));
        self
    }

    /// Makes `file_id(path)` answer `id` (otherwise it answers `ENOSYS`: "cannot tell").
    pub fn with_file_id(self, path: impl Into<PathBuf>, id: (u64, u64)) -> Self {
        self.ids.borrow_mut().insert(path.into(), id);
        self
    }

    /// Makes every later call for which `pred` is true fail with `errno`.
    pub fn fail_when(&self, pred: impl Fn(&Call) -> bool + 'static, errno: Errno) {
        self.rules.borrow_mut().push((Box::new(pred), errno));
    }

    /// The calls recorded so far.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.borrow().clone()
    }

    /// The calls recorded so far, rendered one per string.
    pub fn calls_text(&self) -> Vec<String> {
        self.calls
            .borrow()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    /// Forgets the recorded calls (the simulated table stays).
    pub fn clear(&self) {
        self.calls.borrow_mut().clear();
    }

    /// The simulated mount points, in mounting order.
    pub fn mount_points(&self) -> Vec<PathBuf> {
        self.table
            .borrow()
            .iter()
            .map(|m| m.mount_point.clone())
            .collect()
    }

    fn check(&self, call: &Call) -> nix::Result<()> {
        match self.rules.borrow().iter().find(|(pred, _)| pred(call)) {
            Some((_, errno)) => Err(*errno),
            None => Ok(()),
        }
    }

    fn record(&self, call: Call) -> nix::Result<()> {
        let result = self.check(&call);
        self.calls.borrow_mut().push(call);
        result
    }
}

impl Syscall for RecordingSyscall {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()> {
        self.record(Call::Mount {
            source: source.map(Path::to_path_buf),
            target: target.to_path_buf(),
            fstype: fstype.map(str::to_string),
            flags,
            data: data.map(str::to_string),
        })?;
        let changes_only = MsFlags::MS_REMOUNT
            | MsFlags::MS_PRIVATE
            | MsFlags::MS_SLAVE
            | MsFlags::MS_SHARED
            | MsFlags::MS_UNBINDABLE;
        if !flags.intersects(changes_only) {
            let id = self.next_id.get();
            self.next_id.set(id + 1);
            let ro = flags.contains(MsFlags::MS_RDONLY);
            let mut landed = target.to_path_buf();
            for (from, to) in self.redirects.borrow().iter() {
                if let Ok(rest) = target.strip_prefix(from) {
                    landed = to.join(rest);
                }
            }
            self.table.borrow_mut().push(MountInfo {
                mount_id: id,
                parent_id: 0,
                device: "0:0".into(),
                root: "/".into(),
                mount_point: landed,
                mount_options: if ro { "ro" } else { "rw" }.into(),
                optional: Vec::new(),
                fs_type: fstype.unwrap_or("bind").into(),
                source: source.map_or_else(|| "none".into(), |s| s.as_os_str().to_os_string()),
                super_options: "rw".into(),
            });
        }
        Ok(())
    }

    fn umount2(&self, target: &Path, flags: MntFlags) -> nix::Result<()> {
        self.record(Call::Umount2 {
            target: target.to_path_buf(),
            flags,
        })?;
        let mut table = self.table.borrow_mut();
        let Some(pos) = table.iter().rposition(|m| m.mount_point == target) else {
            // Not simulated (for example "." after a pivot): accept.
            return Ok(());
        };
        let below = |m: &MountInfo| m.mount_point.starts_with(target) && m.mount_point != target;
        if flags.contains(MntFlags::MNT_DETACH) {
            let mut index = 0;
            table.retain(|m| {
                let keep = !(index == pos || (index > pos && below(m)));
                index += 1;
                keep
            });
        } else if table[pos + 1..].iter().any(below) {
            return Err(Errno::EBUSY);
        } else {
            table.remove(pos);
        }
        Ok(())
    }

    fn mount_setattr(
        &self,
        path: &Path,
        recursive: bool,
        set: MountAttr,
        clear: MountAttr,
    ) -> nix::Result<()> {
        self.record(Call::MountSetattr {
            path: path.to_path_buf(),
            recursive,
            set,
            clear,
        })
    }

    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> nix::Result<()> {
        self.record(Call::PivotRoot {
            new_root: new_root.to_path_buf(),
            put_old: put_old.to_path_buf(),
        })
    }

    fn chdir(&self, path: &Path) -> nix::Result<()> {
        self.record(Call::Chdir(path.to_path_buf()))
    }

    fn mkdir(&self, path: &Path, mode: u32) -> nix::Result<()> {
        self.record(Call::Mkdir {
            path: path.to_path_buf(),
            mode,
        })
    }

    fn create_file(&self, path: &Path, mode: u32) -> nix::Result<()> {
        self.record(Call::CreateFile {
            path: path.to_path_buf(),
            mode,
        })
    }

    fn symlink(&self, target: &Path, link: &Path) -> nix::Result<()> {
        self.record(Call::Symlink {
            target: target.to_path_buf(),
            link: link.to_path_buf(),
        })
    }

    fn remove_dir(&self, path: &Path) -> nix::Result<()> {
        self.record(Call::RemoveDir(path.to_path_buf()))
    }

    fn remove_file(&self, path: &Path) -> nix::Result<()> {
        self.record(Call::RemoveFile(path.to_path_buf()))
    }

    fn mount_flags(&self, path: &Path) -> nix::Result<MsFlags> {
        self.check(&Call::MountFlags(path.to_path_buf()))?;
        Ok(self
            .flags
            .borrow()
            .get(path)
            .copied()
            .unwrap_or(MsFlags::empty()))
    }

    fn file_id(&self, path: &Path) -> nix::Result<(u64, u64)> {
        self.ids.borrow().get(path).copied().ok_or(Errno::ENOSYS)
    }

    fn mountinfo(&self) -> nix::Result<Vec<u8>> {
        self.check(&Call::MountInfo)?;
        Ok(self.table.borrow().iter().flat_map(render_line).collect())
    }
}
