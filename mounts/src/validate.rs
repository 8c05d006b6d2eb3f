//! Plan validation: every check that can be made before anything is mounted, and the
//! resolved list of [`Step`]s that applying the plan performs.

use std::io;
use std::path::{Path, PathBuf};

use hutch_pathset::{components, invert, PathSet};
use nix::sys::statvfs::FsFlags;

use crate::plan::{MountPlan, PlanError, WritableStrategy};
use crate::spec::{MountKind, MountSpec};
use crate::step::{CreateBelow, NodeKind, Step, ValidatedPlan};

/// The two ways of applying a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyMode {
    /// [`MountPlan::apply`]: inside a private mount namespace (usually with a user namespace),
    /// build the root in a staging tmpfs and `pivot_root` into it. Never creates anything on
    /// the host.
    Namespace,
    /// [`MountPlan::apply_chroot`]: mount in place under the root directory (the caller then
    /// `chroot`s); missing mount points are created on the host and removed afterwards.
    Chroot,
}

impl ApplyMode {
    pub(crate) fn name(self) -> &'static str {
        match self {
            ApplyMode::Namespace => "the namespace path",
            ApplyMode::Chroot => "the chroot path",
        }
    }
}

/// What lies at a path inside the root, found without following symlinks.
enum Lookup {
    Found { is_dir: bool },
    Missing { first_missing: PathBuf },
    Symlink { at: PathBuf },
}

/// Walks `inside` (absolute, normalised) component by component under `base` with `lstat`.
fn lookup(base: &Path, inside: &Path) -> Lookup {
    let mut host = base.to_path_buf();
    let mut at = PathBuf::from("/");
    let mut is_dir = true;
    for name in components(inside).into_iter().flatten() {
        host.push(name);
        at.push(name);
        match std::fs::symlink_metadata(&host) {
            Ok(meta) if meta.file_type().is_symlink() => return Lookup::Symlink { at },
            Ok(meta) => is_dir = meta.is_dir(),
            Err(_) => return Lookup::Missing { first_missing: at },
        }
    }
    Lookup::Found { is_dir }
}

/// `inside` below `prefix`, component by component (`prefix` + `/a/b` = `prefix/a/b`).
pub(crate) fn under(prefix: &Path, inside: &Path) -> PathBuf {
    let mut out = prefix.to_path_buf();
    for name in components(inside).into_iter().flatten() {
        out.push(name);
    }
    out
}

fn io_invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.to_string())
}

/// An extra mount after the spec checks.
struct Resolved {
    spec: MountSpec,
    source_is_dir: bool,
}

pub(crate) fn validate(plan: &MountPlan, mode: ApplyMode) -> Result<ValidatedPlan, PlanError> {
    let root_err = |source| PlanError::Root {
        path: plan.root.clone(),
        source,
    };
    let root = std::fs::canonicalize(&plan.root).map_err(root_err)?;
    if !root.is_dir() {
        return Err(root_err(io::Error::from(io::ErrorKind::NotADirectory)));
    }
    let staging = if mode == ApplyMode::Namespace {
        let staging_err = |source| PlanError::Staging {
            path: plan.staging.clone(),
            source,
        };
        let staging = std::fs::canonicalize(&plan.staging).map_err(staging_err)?;
        if !staging.is_dir() {
            return Err(staging_err(io::Error::from(io::ErrorKind::NotADirectory)));
        }
        if staging == Path::new("/") {
            return Err(staging_err(io_invalid(
                "the staging directory must not be /",
            )));
        }
        staging
    } else {
        plan.staging.clone()
    };

    let resolved = resolve_specs(plan)?;

    let mut writable = PathSet::new();
    for entry in &plan.writable {
        writable
            .insert(entry)
            .map_err(|source| PlanError::BadWritable {
                path: entry.clone(),
                source,
            })?;
    }
    let read_only = plan.read_only && !writable.contains(Path::new("/"));
    if read_only {
        // Every entry must exist, even one covered by another (which is then not bound).
        for w in writable.members() {
            writable_kind(&root, &w)?;
        }
    }
    let writable = writable.minimized();
    let members = if read_only {
        writable.members()
    } else {
        Vec::new()
    };
    // Writable paths inside a tmpfs or dev of the plan (namespace path): bound from the host
    // right after that mount, as (index of the mount, step).
    let mut deferred: Vec<(usize, Step)> = Vec::new();
    let mut on_top = Vec::new();
    for w in &members {
        match check_writable(&root, w, plan.strategy, mode, &resolved)? {
            None => on_top.push(w.clone()),
            Some((index, create)) => deferred.push((
                index,
                Step::WritableInMount {
                    path: w.clone(),
                    host: under(&root, w),
                    create,
                },
            )),
        }
    }

    let mut steps = Vec::new();
    let mut skipped_symlinks = Vec::new();
    let mut middle = Vec::new();
    let mut needs_root_bind = mode == ApplyMode::Namespace;
    if read_only {
        match plan.strategy {
            WritableStrategy::BindOnTop => {
                needs_root_bind = true;
                middle.push(Step::ReadOnly { path: "/".into() });
                middle.extend(on_top.into_iter().map(|path| Step::Writable { path }));
            }
            WritableStrategy::Inverted => {
                let inversion = invert(&root, &writable)?;
                if inversion.readonly.iter().any(|p| p == Path::new("/")) {
                    needs_root_bind = true;
                    middle.push(Step::ReadOnly { path: "/".into() });
                } else {
                    middle.extend(
                        inversion
                            .readonly
                            .into_iter()
                            .map(|path| Step::ReadOnlyPath { path }),
                    );
                }
                skipped_symlinks = inversion.symlinks;
            }
        }
    }
    if mode == ApplyMode::Chroot && needs_root_bind && root == Path::new("/") {
        return Err(PlanError::ReadOnlySlashInPlace);
    }

    let in_mount: Vec<(usize, PathBuf)> = deferred
        .iter()
        .filter_map(|(index, step)| match step {
            Step::WritableInMount { path, .. } => Some((*index, path.clone())),
            _ => None,
        })
        .collect();
    let (creates, mounts) = mount_steps(&root, mode, &resolved, &in_mount)?;
    steps.extend(creates);
    if needs_root_bind {
        steps.push(Step::BindRoot { host: root.clone() });
    }
    steps.extend(middle);
    for (i, step) in mounts.into_iter().enumerate() {
        steps.push(step);
        steps.extend(
            deferred
                .iter()
                .filter(|(index, _)| *index == i)
                .map(|(_, step)| step.clone()),
        );
    }
    let expected_ids = steps.iter().map(|step| expected_id(&root, step)).collect();
    Ok(ValidatedPlan {
        mode,
        root,
        staging,
        steps,
        skipped_symlinks,
        expected_ids,
    })
}

fn resolve_specs(plan: &MountPlan) -> Result<Vec<Resolved>, PlanError> {
    let mut out = Vec::with_capacity(plan.mounts.len());
    for (i, spec) in plan.mounts.iter().enumerate() {
        let index = i + 1;
        let target = spec.check().map_err(|reason| PlanError::BadSpec {
            index,
            spec: spec.to_string(),
            reason,
        })?;
        let (kind, source_is_dir) = match spec.kind() {
            MountKind::Bind { source, read_only } => {
                let missing = |e: io::Error| PlanError::SourceMissing {
                    index,
                    spec: spec.to_string(),
                    path: source.clone(),
                    source: e,
                };
                let canonical = std::fs::canonicalize(source).map_err(missing)?;
                let is_dir = canonical.is_dir();
                (
                    MountKind::Bind {
                        source: canonical,
                        read_only: *read_only,
                    },
                    is_dir,
                )
            }
            other => (other.clone(), true),
        };
        out.push(Resolved {
            spec: MountSpec::new(kind, target),
            source_is_dir,
        });
    }
    Ok(out)
}

/// The identity of what a bind step will show at its target: the host file it binds.
fn expected_id(root: &Path, step: &Step) -> Option<(u64, u64)> {
    let host = match step {
        Step::BindRoot { host } | Step::WritableInMount { host, .. } => host.clone(),
        Step::Writable { path } | Step::ReadOnlyPath { path } => under(root, path),
        Step::Mount { spec, .. } => match spec.kind() {
            MountKind::Bind { source, .. } => source.clone(),
            _ => return None,
        },
        Step::CreateOnHost { .. } | Step::ReadOnly { .. } => return None,
    };
    crate::syscall::file_id(&host).ok()
}

/// Whether the writable path `w` is a directory; an error when it is missing or goes through
/// a symlink.
fn writable_kind(root: &Path, w: &Path) -> Result<bool, PlanError> {
    match lookup(root, w) {
        Lookup::Missing { .. } => Err(PlanError::WritableMissing(w.to_path_buf())),
        Lookup::Symlink { at } => Err(PlanError::WritableThroughSymlink {
            path: w.to_path_buf(),
            at,
        }),
        Lookup::Found { is_dir } => Ok(is_dir),
    }
}

/// Checks one writable path. `Ok(Some(..))`: it lies inside a tmpfs or dev of the plan (the
/// namespace path only), and is to be bound from the host after that mount (its index).
fn check_writable(
    root: &Path,
    w: &Path,
    strategy: WritableStrategy,
    mode: ApplyMode,
    resolved: &[Resolved],
) -> Result<Option<(usize, CreateBelow)>, PlanError> {
    let is_dir = writable_kind(root, w)?;
    if strategy == WritableStrategy::BindOnTop {
        let host = under(root, w);
        let flags = nix::sys::statvfs::statvfs(&host).map(|s| s.flags());
        if flags.is_ok_and(|f| f.contains(FsFlags::ST_RDONLY)) {
            return Err(PlanError::WritableOnReadOnlyMount(w.to_path_buf()));
        }
    }
    let Some((i, r)) = resolved
        .iter()
        .enumerate()
        .rfind(|(_, r)| w.starts_with(r.spec.target()))
    else {
        return Ok(None);
    };
    let in_plan_fs = matches!(r.spec.kind(), MountKind::Tmpfs { .. } | MountKind::Dev);
    let bindable = mode == ApplyMode::Namespace && strategy == WritableStrategy::BindOnTop;
    if in_plan_fs && bindable && w != r.spec.target() {
        let kind = if is_dir {
            NodeKind::Dir
        } else {
            NodeKind::File
        };
        let below = r.spec.target().to_path_buf();
        return Ok(Some((i, CreateBelow { below, kind })));
    }
    Err(PlanError::WritableShadowed {
        path: w.to_path_buf(),
        index: i + 1,
        spec: r.spec.to_string(),
    })
}

/// The steps of the extra mounts, and (chroot path) the host mount points to create first.
///
/// `in_mount` lists the writable paths bound from the host right after extra mount `index`
/// ([`Step::WritableInMount`]): a later target below one of them lives on the host.
fn mount_steps(
    root: &Path,
    mode: ApplyMode,
    resolved: &[Resolved],
    in_mount: &[(usize, PathBuf)],
) -> Result<(Vec<Step>, Vec<Step>), PlanError> {
    let mut creates = Vec::new();
    let mut mounts = Vec::new();
    for (i, r) in resolved.iter().enumerate() {
        let index = i + 1;
        let target = r.spec.target();
        let needs_dir = r.source_is_dir;
        let kind = if needs_dir {
            NodeKind::Dir
        } else {
            NodeKind::File
        };
        // The latest earlier extra mount that covers this target decides where it lives,
        // unless a writable path bound from the host after it covers the target.
        let cover_index = (0..i)
            .rev()
            .find(|j| target.starts_with(resolved[*j].spec.target()));
        let cover = cover_index.map(|j| &resolved[j]);
        let host_writable = in_mount
            .iter()
            .filter(|(k, w)| *k < i && cover_index.is_none_or(|j| *k >= j) && target.starts_with(w))
            .map(|(_, w)| w)
            .max_by_key(|w| w.components().count());
        let (base, rest) = match cover.map(|c| (c.spec.kind(), c.spec.target())) {
            _ if host_writable.is_some() => {
                let w = host_writable.map_or(Path::new("/"), PathBuf::as_path);
                let rest = target.strip_prefix(w).unwrap_or(Path::new(""));
                (under(root, w), Path::new("/").join(rest))
            }
            Some((MountKind::Tmpfs { .. } | MountKind::Dev, at)) => {
                let create = (target != at).then(|| CreateBelow {
                    below: at.to_path_buf(),
                    kind,
                });
                mounts.push(Step::Mount {
                    spec: r.spec.clone(),
                    create,
                });
                continue;
            }
            Some((MountKind::Proc, _)) => {
                mounts.push(Step::Mount {
                    spec: r.spec.clone(),
                    create: None,
                });
                continue;
            }
            Some((MountKind::Bind { source, .. }, at)) => {
                let rest = target.strip_prefix(at).unwrap_or(Path::new(""));
                (source.clone(), Path::new("/").join(rest))
            }
            None => (root.to_path_buf(), target.to_path_buf()),
        };
        let in_bind = cover.is_some();
        let spec = r.spec.to_string();
        match lookup(&base, &rest) {
            Lookup::Found { is_dir } => {
                if is_dir != needs_dir {
                    let name = |d: bool| if d { "a directory" } else { "not a directory" };
                    return Err(PlanError::TargetKind {
                        index,
                        spec,
                        target: target.to_path_buf(),
                        found: name(is_dir),
                        expected: name(needs_dir),
                    });
                }
            }
            Lookup::Symlink { at } => {
                let at = if in_bind { target.to_path_buf() } else { at };
                return Err(PlanError::TargetThroughSymlink { index, spec, at });
            }
            Lookup::Missing { first_missing } => {
                if mode == ApplyMode::Namespace || in_bind {
                    let missing = if in_bind {
                        target.to_path_buf()
                    } else {
                        first_missing
                    };
                    return Err(PlanError::MountPointMissing {
                        index,
                        spec,
                        missing,
                    });
                }
                creates.push(Step::CreateOnHost {
                    path: target.to_path_buf(),
                    first_missing,
                    kind,
                });
            }
        }
        mounts.push(Step::Mount {
            spec: r.spec.clone(),
            create: None,
        });
    }
    Ok((creates, mounts))
}
