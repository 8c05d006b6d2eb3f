//! Applying a validated plan: the namespace path ([`MountPlan::apply`]) and the chroot path
//! ([`MountPlan::apply_chroot`], [`ChrootMounts`]).

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::MsFlags;

use crate::mock::Call;
use crate::mountinfo::{is_mount_point, parse_mountinfo};
use crate::ops::{self, sys_err, MountError};
use crate::plan::{MountPlan, PlanError};
use crate::spec::{MountKind, MountSpec};
use crate::step::{NodeKind, Step, ValidatedPlan};
use crate::syscall::Syscall;
use crate::validate::{under, validate, ApplyMode};

/// Where the new root is assembled, below the staging tmpfs (after the first pivot, `/newroot`).
pub const NEW_ROOT: &str = "newroot";
/// Where the host root is kept during assembly (after the first pivot, `/oldroot`).
pub const OLD_ROOT: &str = "oldroot";

impl MountPlan {
    /// Validates the plan for [`MountPlan::apply`] (the namespace path): nothing is mounted or
    /// created, and every error names the bad spec or path.
    pub fn validate(&self) -> Result<ValidatedPlan, PlanError> {
        validate(self, ApplyMode::Namespace)
    }

    /// Validates the plan for [`MountPlan::apply_chroot`].
    pub fn validate_chroot(&self) -> Result<ValidatedPlan, PlanError> {
        validate(self, ApplyMode::Chroot)
    }

    /// Validates, then builds the new root and pivots into it (see [`ValidatedPlan::apply`]).
    pub fn apply<S: Syscall + ?Sized>(&self, sys: &S) -> Result<(), MountError> {
        self.validate()?.apply(sys)
    }

    /// Validates, then mounts in place under the root directory (see
    /// [`ValidatedPlan::apply_chroot`]).
    pub fn apply_chroot<'s, S: Syscall + ?Sized>(
        &self,
        sys: &'s S,
    ) -> Result<ChrootMounts<'s, S>, MountError> {
        self.validate_chroot()?.apply_chroot(sys)
    }
}

/// Mounts `mounts` under `root` in place for a chroot sandbox, leaving the root writable.
///
/// Shorthand for a [`MountPlan`] with `read_only(false)` applied with
/// [`MountPlan::apply_chroot`]: missing mount points are created on the host and removed by
/// the returned guard, which unmounts everything in reverse order.
pub fn apply_chroot_mounts<'s, S: Syscall + ?Sized>(
    sys: &'s S,
    root: &Path,
    mounts: &[MountSpec],
) -> Result<ChrootMounts<'s, S>, MountError> {
    MountPlan::new(root)
        .read_only(false)
        .mounts(mounts.iter().cloned())
        .apply_chroot(sys)
}

/// Runs steps with in-root paths under `new_root` and host paths under `host`.
struct Exec<'a, S: ?Sized> {
    sys: &'a S,
    new_root: PathBuf,
    host: PathBuf,
}

impl<S: Syscall + ?Sized> Exec<'_, S> {
    fn inside(&self, p: &Path) -> PathBuf {
        under(&self.new_root, p)
    }

    fn host(&self, p: &Path) -> PathBuf {
        under(&self.host, p)
    }

    /// Runs one step and returns the mount point it mounted on, if any.
    fn step(
        &self,
        step: &Step,
        created: &mut Vec<(PathBuf, NodeKind)>,
    ) -> Result<Option<PathBuf>, MountError> {
        let sys = self.sys;
        match step {
            Step::CreateOnHost {
                path,
                first_missing,
                kind,
            } => {
                self.create_chain(first_missing, path, *kind, created)?;
                Ok(None)
            }
            Step::BindRoot { host } => {
                let target = self.new_root.clone();
                ops::bind(sys, &self.host(host), &target, true)?;
                Ok(Some(target))
            }
            Step::ReadOnly { path } => {
                ops::make_readonly(sys, &self.inside(path), true)?;
                Ok(None)
            }
            Step::Writable { path } => {
                let at = self.inside(path);
                self.bind_writable(&at, &at, path)?;
                Ok(Some(at))
            }
            Step::WritableInMount { path, host, create } => {
                self.create_inside(&create.below, path, create.kind)?;
                let at = self.inside(path);
                self.bind_writable(&self.host(host), &at, path)?;
                Ok(Some(at))
            }
            Step::ReadOnlyPath { path } => {
                let at = self.inside(path);
                ops::bind(sys, &at, &at, true)?;
                ops::or_detach(sys, &at, ops::make_readonly(sys, &at, true).map(drop))?;
                Ok(Some(at))
            }
            Step::Mount { spec, create } => {
                let at = self.inside(spec.target());
                if let Some(create) = create {
                    self.create_inside(&create.below, spec.target(), create.kind)?;
                }
                match spec.kind() {
                    MountKind::Bind { source, read_only } => {
                        ops::bind(sys, &self.host(source), &at, true)?;
                        if *read_only {
                            let ro = ops::make_readonly(sys, &at, true).map(drop);
                            ops::or_detach(sys, &at, ro)?;
                        }
                    }
                    MountKind::Tmpfs { size, mode } => ops::mount_tmpfs(sys, &at, *size, *mode)?,
                    MountKind::Proc => ops::mount_proc(sys, &at)?,
                    MountKind::Dev => ops::mount_dev(sys, &at, &self.host(Path::new("/dev")))?,
                }
                Ok(Some(at))
            }
        }
    }

    /// Binds `source` on `at` recursively and makes that one mount read-write; `path` (inside
    /// the root) names it in the error if it stays read-only.
    fn bind_writable(&self, source: &Path, at: &Path, path: &Path) -> Result<(), MountError> {
        ops::bind(self.sys, source, at, true)?;
        let made_writable = ops::make_writable(self.sys, at).and_then(|()| {
            let flags = self
                .sys
                .mount_flags(at)
                .map_err(sys_err(Call::MountFlags(at.to_path_buf())))?;
            if flags.contains(MsFlags::MS_RDONLY) {
                return Err(MountError::StillReadOnly(path.to_path_buf()));
            }
            Ok(())
        });
        ops::or_detach(self.sys, at, made_writable)
    }

    /// Creates `path` and its missing parents inside a mount made by the plan (nothing is
    /// recorded: the mount goes away with the sandbox).
    fn create_inside(&self, below: &Path, path: &Path, kind: NodeKind) -> Result<(), MountError> {
        let mut chain: Vec<&Path> = path.ancestors().take_while(|p| *p != below).collect();
        chain.reverse();
        for (i, p) in chain.iter().enumerate() {
            let last = i + 1 == chain.len();
            self.create_one(&self.inside(p), if last { kind } else { NodeKind::Dir })?;
        }
        Ok(())
    }

    /// Creates the in-root components from `first_missing` down to `path` on the host,
    /// recording those it created.
    fn create_chain(
        &self,
        first_missing: &Path,
        path: &Path,
        kind: NodeKind,
        created: &mut Vec<(PathBuf, NodeKind)>,
    ) -> Result<(), MountError> {
        let mut chain: Vec<&Path> = path
            .ancestors()
            .take_while(|p| p.starts_with(first_missing))
            .collect();
        chain.reverse();
        for (i, p) in chain.iter().enumerate() {
            let node = if i + 1 == chain.len() {
                kind
            } else {
                NodeKind::Dir
            };
            let at = self.inside(p);
            if self.create_one(&at, node)? {
                created.push((at, node));
            }
        }
        Ok(())
    }

    /// Creates one node; `Ok(false)` when a directory was already there.
    fn create_one(&self, at: &Path, kind: NodeKind) -> Result<bool, MountError> {
        let result = match kind {
            NodeKind::Dir => self.sys.mkdir(at, 0o755),
            NodeKind::File => self.sys.create_file(at, 0o644),
        };
        match result {
            Ok(()) => Ok(true),
            Err(Errno::EEXIST) => Ok(false),
            Err(errno) => Err(sys_err(match kind {
                NodeKind::Dir => Call::Mkdir {
                    path: at.to_path_buf(),
                    mode: 0o755,
                },
                NodeKind::File => Call::CreateFile {
                    path: at.to_path_buf(),
                    mode: 0o644,
                },
            })(errno)),
        }
    }
}

impl ValidatedPlan {
    /// Builds the new root and pivots into it. For a sandbox in its own mount namespace.
    ///
    /// Preconditions: the caller is in a mount namespace of its own (usually with a user
    /// namespace that maps it to root); the `ns` crate has made `/` recursively private (this
    /// is repeated here, harmlessly). The process must be single-threaded if it goes on to
    /// create more namespaces.
    ///
    /// Sequence (as bubblewrap does it):
    /// 1. `/` is made recursively private, so nothing propagates to the host;
    /// 2. a tmpfs is mounted on the staging directory, `newroot` and `oldroot` are created in
    ///    it, and `pivot_root` makes it the root with the host's root at `/oldroot`;
    /// 3. a symlink `/proc -> oldroot/proc` in the staging root keeps `/proc/self/mountinfo`
    ///    readable (the host's procfs must be mounted on `/proc`);
    /// 4. the steps run with the host at `/oldroot` and the new root at `/newroot`: the root is
    ///    bound recursively, made read-only, writable paths are bound on top and made
    ///    read-write, extra mounts follow; mount points are never created on the host (the
    ///    validation refused missing ones, except inside a tmpfs or dev the plan mounted);
    /// 5. mountinfo is read back to check that every mount landed on its target (a component
    ///    swapped for a symlink after validation would send a mount elsewhere):
    ///    [`MountError::Misplaced`] otherwise;
    /// 6. `/oldroot` is detached and `pivot_root(".", ".")` in `/newroot` plus a detach of the
    ///    old root leaves the new root as `/`, with the current directory `/`.
    ///
    /// On error the namespace is left half-built; the caller must not run the sandboxed
    /// command (fail closed) and the namespace disappears with its last process.
    ///
    /// What keeps the root read-only afterwards: the read-only flag set here is not locked
    /// (the kernel locks only flags inherited from a more privileged mount namespace), so a
    /// process with `CAP_SYS_ADMIN` in the owning user namespace could remount it read-write.
    /// The backend must therefore drop `CAP_SYS_ADMIN` (all capabilities) and set
    /// `no_new_privs` before running the command, or enter a nested user and mount namespace,
    /// whose copy of every mount has its read-only flag locked (`MNT_LOCK_READONLY`); the
    /// integration tests check both the hole and the nested-namespace lock.
    pub fn apply<S: Syscall + ?Sized>(&self, sys: &S) -> Result<(), MountError> {
        if self.mode != ApplyMode::Namespace {
            return Err(MountError::WrongMode {
                validated: self.mode.name(),
                used: ApplyMode::Namespace.name(),
            });
        }
        let slash = Path::new("/");
        ops::set_propagation(sys, slash, ops::Propagation::Private, true)?;
        let staging = &self.staging;
        ops::mount(
            sys,
            Some(Path::new("tmpfs")),
            staging,
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some("mode=0755"),
        )?;
        ops::mkdir(sys, &staging.join(NEW_ROOT), 0o755)?;
        ops::mkdir(sys, &staging.join(OLD_ROOT), 0o755)?;
        let put_old = staging.join(OLD_ROOT);
        sys.pivot_root(staging, &put_old)
            .map_err(sys_err(Call::PivotRoot {
                new_root: staging.clone(),
                put_old: put_old.clone(),
            }))?;
        ops::chdir(sys, slash)?;
        // mountinfo is read during setup (read-only fallback, final check); the host's procfs
        // is now below /oldroot, so /proc in the staging root points there.
        let proc_link = slash.join("proc");
        let proc_target = Path::new(OLD_ROOT).join("proc");
        sys.symlink(&proc_target, &proc_link)
            .map_err(sys_err(Call::Symlink {
                target: proc_target.clone(),
                link: proc_link.clone(),
            }))?;
        let exec = Exec {
            sys,
            new_root: slash.join(NEW_ROOT),
            host: slash.join(OLD_ROOT),
        };
        let mut created = Vec::new();
        let mut mounted = Vec::new();
        for (step, id) in self.steps.iter().zip(&self.expected_ids) {
            if let Some(at) = exec.step(step, &mut created)? {
                mounted.push((at, *id));
            }
        }
        verify_mount_points(sys, &mounted)?;
        ops::unmount(sys, &exec.host, true)?;
        ops::pivot_into(sys, &exec.new_root)
    }

    /// Mounts in place under the root directory, for a chroot sandbox, and returns a guard
    /// that undoes it.
    ///
    /// Run it in a private mount namespace (`unshare(CLONE_NEWNS)` and `/` made recursively
    /// private) so that nothing propagates to the host's other mounts; the guard still cleans
    /// up for callers that cannot. Missing mount points are created on the host (recorded);
    /// on error everything done so far is undone before the error is returned. Bind sources
    /// are resolved after the root's own read-only bind, so a source inside the root is seen
    /// read-only. A read-only root of `/` is refused ([`PlanError::ReadOnlySlashInPlace`]),
    /// and so is a writable path hidden by an extra mount (the host directory could not be
    /// reached any more to bind it).
    pub fn apply_chroot<'s, S: Syscall + ?Sized>(
        &self,
        sys: &'s S,
    ) -> Result<ChrootMounts<'s, S>, MountError> {
        if self.mode != ApplyMode::Chroot {
            return Err(MountError::WrongMode {
                validated: self.mode.name(),
                used: ApplyMode::Chroot.name(),
            });
        }
        let exec = Exec {
            sys,
            new_root: self.root.clone(),
            host: PathBuf::from("/"),
        };
        let mut guard = ChrootMounts {
            sys,
            mounted: Vec::new(),
            created: Vec::new(),
        };
        let mut ids = Vec::new();
        for (step, id) in self.steps.iter().zip(&self.expected_ids) {
            if let Some(at) = exec.step(step, &mut guard.created)? {
                guard.mounted.push(at.clone());
                ids.push((at, *id));
            }
        }
        verify_mount_points(sys, &ids)?;
        Ok(guard)
    }
}

/// Checks that every mount landed where it was meant to: each target is a mount point in
/// mountinfo, and a bind's target shows the very file or directory (`st_dev`, `st_ino`) that
/// validation saw at its source. Mounts are made by path, so if a component of the root or
/// of a source was swapped for a symlink between validation and mounting, the mount lands
/// elsewhere or shows something else, and this fails (closed) instead of running the sandbox
/// with a wrong view.
fn verify_mount_points<S: Syscall + ?Sized>(
    sys: &S,
    targets: &[(PathBuf, Option<(u64, u64)>)],
) -> Result<(), MountError> {
    let text = sys.mountinfo().map_err(sys_err(Call::MountInfo))?;
    let table = parse_mountinfo(&text)?;
    for (at, id) in targets {
        if !is_mount_point(&table, at) {
            return Err(MountError::Misplaced(at.clone()));
        }
        if let Some(want) = id {
            match sys.file_id(at) {
                Ok(got) if got != *want => return Err(MountError::Misplaced(at.clone())),
                Ok(_) | Err(Errno::ENOSYS) => {}
                Err(errno) => return Err(sys_err(Call::FileId(at.clone()))(errno)),
            }
        }
    }
    Ok(())
}

/// Undoes [`ValidatedPlan::apply_chroot`]: on drop (or [`ChrootMounts::release`]) every
/// mount it made is detached in reverse order (`MNT_DETACH` of the top mount at each target,
/// which also removes the submounts a recursive bind copied, and nothing that was there
/// before), then the mount points it created are removed, in reverse order.
#[must_use = "dropping the guard unmounts everything at once"]
pub struct ChrootMounts<'s, S: Syscall + ?Sized> {
    sys: &'s S,
    mounted: Vec<PathBuf>,
    created: Vec<(PathBuf, NodeKind)>,
}

impl<S: Syscall + ?Sized> std::fmt::Debug for ChrootMounts<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChrootMounts")
            .field("mounted", &self.mounted)
            .field("created", &self.created)
            .finish()
    }
}

impl<S: Syscall + ?Sized> ChrootMounts<'_, S> {
    /// The host paths mounted on, in mounting order.
    pub fn mounted(&self) -> &[PathBuf] {
        &self.mounted
    }

    /// The host paths created as mount points, in creation order.
    pub fn created(&self) -> Vec<PathBuf> {
        self.created.iter().map(|(p, _)| p.clone()).collect()
    }

    /// Undoes everything now and reports the first failure (the rest is still attempted).
    pub fn release(mut self) -> Result<(), MountError> {
        self.undo()
    }

    fn undo(&mut self) -> Result<(), MountError> {
        let mut first = None;
        for point in self.mounted.drain(..).rev() {
            if let Err(e) = ops::unmount(self.sys, &point, true) {
                first.get_or_insert(e);
            }
        }
        for (path, kind) in self.created.drain(..).rev() {
            let result = match kind {
                NodeKind::Dir => self
                    .sys
                    .remove_dir(&path)
                    .map_err(sys_err(Call::RemoveDir(path.clone()))),
                NodeKind::File => self
                    .sys
                    .remove_file(&path)
                    .map_err(sys_err(Call::RemoveFile(path.clone()))),
            };
            if let Err(e) = result {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

impl<S: Syscall + ?Sized> Drop for ChrootMounts<'_, S> {
    fn drop(&mut self) {
        let _ = self.undo();
    }
}
