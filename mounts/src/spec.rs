//! Extra mount specifications: what to mount where, and the sandboxlib tuple parser.

use std::fmt;
use std::path::{Path, PathBuf};

use hutch_pathset::{normalize, NormalizeError};

/// What an extra mount is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountKind {
    /// A recursive bind of a host path (`read_only`: made read-only, recursively).
    Bind {
        /// The host path to bind.
        source: PathBuf,
        /// Read-only bind (`ro-bind`) rather than read-write (`bind`).
        read_only: bool,
    },
    /// A fresh tmpfs.
    Tmpfs {
        /// Size limit in bytes (`size=`); the kernel default (half of RAM) when `None`.
        size: Option<u64>,
        /// Mode of its root directory (`mode=`); 1777 is the kernel default.
        mode: Option<u32>,
    },
    /// A fresh procfs.
    Proc,
    /// A minimal `/dev` (see [`crate::ops::mount_dev`]).
    Dev,
}

/// One extra mount: a [`MountKind`] and its target, a path inside the new root.
///
/// Constructors never fail; [`MountSpec::check`] (run by plan validation, before anything is
/// mounted) reports bad values.
///
/// ```
/// use hutch_mounts::MountSpec;
/// let specs = [
///     MountSpec::ro_bind("/usr", "/usr"),
///     MountSpec::tmpfs_with("/tmp", Some(64 << 20), Some(0o1777)),
///     MountSpec::proc("/proc"),
/// ];
/// assert_eq!(specs[1].to_string(), "tmpfs /tmp size=67108864 mode=1777");
/// let parsed = MountSpec::from_sandboxlib(None, Some("/dev/shm"), Some("tmpfs"), None).unwrap();
/// assert_eq!(parsed, MountSpec::tmpfs("/dev/shm"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountSpec {
    kind: MountKind,
    target: PathBuf,
}

/// What is wrong with a mount specification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// The target is missing or empty.
    #[error("empty mount target")]
    EmptyTarget,
    /// The target cannot be normalised (`..` above the root, NUL byte).
    #[error("bad mount target: {0}")]
    BadTarget(NormalizeError),
    /// The target is the root itself.
    #[error("mount target is the root of the sandbox; use the plan's root instead")]
    TargetIsRoot,
    /// A bind mount without a source.
    #[error("bind mount needs a source")]
    MissingSource,
    /// A bind source that is not an absolute host path.
    #[error("bind source must be an absolute host path: {}", .0.display())]
    RelativeSource(PathBuf),
    /// An unknown filesystem type.
    #[error(
        "unknown mount type {0:?} (known: bind, proc, tmpfs, dev, or none with options \"bind\")"
    )]
    UnknownType(String),
    /// No type and no `bind` option.
    #[error("mount has no type and no \"bind\" option")]
    NoType,
    /// An option that this type of mount does not take.
    #[error("mount type {fstype} does not take option {option:?}")]
    OptionNotAccepted {
        /// The type.
        fstype: &'static str,
        /// The option.
        option: String,
    },
    /// An option with a bad value.
    #[error("bad value in option {option:?}: {reason}")]
    BadOption {
        /// The option.
        option: String,
        /// Why.
        reason: &'static str,
    },
}

impl MountSpec {
    /// Read-write recursive bind of host path `source` on `target` (bubblewrap `--bind`).
    pub fn bind(source: impl Into<PathBuf>, target: impl Into<PathBuf>) -> Self {
        Self::new(
            MountKind::Bind {
                source: source.into(),
                read_only: false,
            },
            target,
        )
    }

    /// Read-only recursive bind of host path `source` on `target` (bubblewrap `--ro-bind`).
    pub fn ro_bind(source: impl Into<PathBuf>, target: impl Into<PathBuf>) -> Self {
        Self::new(
            MountKind::Bind {
                source: source.into(),
                read_only: true,
            },
            target,
        )
    }

    /// A tmpfs with the kernel's default size and mode.
    pub fn tmpfs(target: impl Into<PathBuf>) -> Self {
        Self::tmpfs_with(target, None, None)
    }

    /// A tmpfs with a size in bytes and a mode.
    pub fn tmpfs_with(target: impl Into<PathBuf>, size: Option<u64>, mode: Option<u32>) -> Self {
        Self::new(MountKind::Tmpfs { size, mode }, target)
    }

    /// A fresh procfs.
    pub fn proc(target: impl Into<PathBuf>) -> Self {
        Self::new(MountKind::Proc, target)
    }

    /// A minimal `/dev`.
    pub fn dev(target: impl Into<PathBuf>) -> Self {
        Self::new(MountKind::Dev, target)
    }

    /// A spec from its parts.
    pub fn new(kind: MountKind, target: impl Into<PathBuf>) -> Self {
        MountSpec {
            kind,
            target: target.into(),
        }
    }

    /// What is mounted.
    pub fn kind(&self) -> &MountKind {
        &self.kind
    }

    /// The target as given (a path inside the new root).
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Checks the spec and returns its normalised target (absolute, inside the new root).
    ///
    /// Does not touch the filesystem: whether the source and the mount point exist is checked
    /// by plan validation.
    pub fn check(&self) -> Result<PathBuf, SpecError> {
        if self.target.as_os_str().is_empty() {
            return Err(SpecError::EmptyTarget);
        }
        let target = normalize(&self.target).map_err(SpecError::BadTarget)?;
        if target == Path::new("/") {
            return Err(SpecError::TargetIsRoot);
        }
        match &self.kind {
            MountKind::Bind { source, .. } => {
                if source.as_os_str().is_empty() {
                    return Err(SpecError::MissingSource);
                }
                if !source.is_absolute() {
                    return Err(SpecError::RelativeSource(source.clone()));
                }
            }
            MountKind::Tmpfs { size, mode } => {
                if *size == Some(0) {
                    return Err(SpecError::BadOption {
                        option: "size=0".into(),
                        reason: "a tmpfs size must be positive",
                    });
                }
                if let Some(mode) = mode {
                    if *mode > 0o7777 {
                        return Err(SpecError::BadOption {
                            option: format!("mode={mode:o}"),
                            reason: "a mode has at most 4 octal digits",
                        });
                    }
                }
            }
            MountKind::Proc | MountKind::Dev => {}
        }
        Ok(target)
    }

    /// Parses a sandboxlib `extra_mounts` entry `(source, target, type[, options])`.
    ///
    /// `None` and `""` mean the same thing. Accepted forms:
    ///
    /// | type | options | result |
    /// |---|---|---|
    /// | `proc` | none (or `defaults`) | [`MountKind::Proc`] |
    /// | `tmpfs` | `size=N[k|m|g]`, `mode=OCTAL`, `nosuid`, `nodev`, `defaults` | [`MountKind::Tmpfs`] |
    /// | `dev`, `devtmpfs` | none | [`MountKind::Dev`] |
    /// | `bind`, or none/`none` with option `bind`/`rbind` | `bind`, `rbind`, `ro`, `rw`, `defaults` | [`MountKind::Bind`] from `source` |
    ///
    /// sandboxlib's linux-user-chroot form `(None, T, None, "remount,ro")` (make `T` read-only)
    /// is not accepted: express it with the plan's read-only root and writable paths.
    ///
    /// The source of proc, tmpfs and dev is a label and is ignored. Errors: empty target,
    /// unknown type, an option the type does not take, a bad option value, a bind without
    /// source.
    pub fn from_sandboxlib(
        source: Option<&str>,
        target: Option<&str>,
        fstype: Option<&str>,
        options: Option<&str>,
    ) -> Result<Self, SpecError> {
        let target = target
            .filter(|t| !t.is_empty())
            .ok_or(SpecError::EmptyTarget)?;
        let options: Vec<&str> = options
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .collect();
        let fstype = fstype.unwrap_or("").trim();
        let spec = match fstype {
            "proc" => {
                reject_unless(&options, "proc", &["defaults"])?;
                MountSpec::proc(target)
            }
            "dev" | "devtmpfs" => {
                reject_unless(&options, "dev", &["defaults"])?;
                MountSpec::dev(target)
            }
            "tmpfs" => parse_tmpfs(target, &options)?,
            "bind" => parse_bind(source, target, &options)?,
            "" | "none" => {
                if options.iter().any(|o| *o == "bind" || *o == "rbind") {
                    parse_bind(source, target, &options)?
                } else {
                    return Err(SpecError::NoType);
                }
            }
            other => return Err(SpecError::UnknownType(other.to_string())),
        };
        spec.check()?;
        Ok(spec)
    }
}

fn reject_unless(
    options: &[&str],
    fstype: &'static str,
    allowed: &[&str],
) -> Result<(), SpecError> {
    match options.iter().find(|o| !allowed.contains(o)) {
        Some(option) => Err(SpecError::OptionNotAccepted {
            fstype,
            option: option.to_string(),
        }),
        None => Ok(()),
    }
}

fn parse_bind(
    source: Option<&str>,
    target: &str,
    options: &[&str],
) -> Result<MountSpec, SpecError> {
    reject_unless(options, "bind", &["bind", "rbind", "ro", "rw", "defaults"])?;
    let source = source
        .filter(|s| !s.is_empty() && *s != "none")
        .ok_or(SpecError::MissingSource)?;
    let read_only = options.iter().rev().find(|o| **o == "ro" || **o == "rw") == Some(&"ro");
    Ok(if read_only {
        MountSpec::ro_bind(source, target)
    } else {
        MountSpec::bind(source, target)
    })
}

fn parse_tmpfs(target: &str, options: &[&str]) -> Result<MountSpec, SpecError> {
    let mut size = None;
    let mut mode = None;
    for option in options {
        if let Some(value) = option.strip_prefix("size=") {
            size = Some(parse_size(value).ok_or_else(|| SpecError::BadOption {
                option: option.to_string(),
                reason: "expected a number of bytes with an optional k, m or g suffix",
            })?);
        } else if let Some(value) = option.strip_prefix("mode=") {
            mode = Some(
                u32::from_str_radix(value, 8)
                    .ok()
                    .filter(|m| *m <= 0o7777)
                    .ok_or_else(|| SpecError::BadOption {
                        option: option.to_string(),
                        reason: "expected an octal mode of at most 4 digits",
                    })?,
            );
        } else if !["nosuid", "nodev", "defaults"].contains(option) {
            return Err(SpecError::OptionNotAccepted {
                fstype: "tmpfs",
                option: option.to_string(),
            });
        }
    }
    Ok(MountSpec::tmpfs_with(target, size, mode))
}

/// Parses `123`, `64k`, `64M`, `1g` into bytes.
fn parse_size(value: &str) -> Option<u64> {
    let (digits, shift) = match value.char_indices().last()? {
        (i, 'k' | 'K') => (&value[..i], 10),
        (i, 'm' | 'M') => (&value[..i], 20),
        (i, 'g' | 'G') => (&value[..i], 30),
        _ => (value, 0),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(1u64 << shift)
}

impl fmt::Display for MountSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let target = self.target.display();
        match &self.kind {
            MountKind::Bind { source, read_only } => {
                let name = if *read_only { "ro-bind" } else { "bind" };
                write!(f, "{name} {} -> {target}", source.display())
            }
            MountKind::Tmpfs { size, mode } => {
                write!(f, "tmpfs {target}")?;
                if let Some(size) = size {
                    write!(f, " size={size}")?;
                }
                if let Some(mode) = mode {
                    write!(f, " mode={mode:o}")?;
                }
                Ok(())
            }
            MountKind::Proc => write!(f, "proc {target}"),
            MountKind::Dev => write!(f, "dev {target}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(
        s: Option<&str>,
        t: Option<&str>,
        ty: Option<&str>,
        o: Option<&str>,
    ) -> Result<MountSpec, SpecError> {
        MountSpec::from_sandboxlib(s, t, ty, o)
    }

    #[test]
    fn sandboxlib_forms() {
        assert_eq!(
            parse(None, Some("/proc"), Some("proc"), None),
            Ok(MountSpec::proc("/proc"))
        );
        assert_eq!(
            parse(Some("none"), Some("/proc"), Some("proc"), Some("")),
            Ok(MountSpec::proc("/proc"))
        );
        assert_eq!(
            parse(
                Some("tmpfs"),
                Some("/tmp"),
                Some("tmpfs"),
                Some("size=64m,mode=1777,nosuid")
            ),
            Ok(MountSpec::tmpfs_with("/tmp", Some(64 << 20), Some(0o1777)))
        );
        assert_eq!(
            parse(Some("/src"), Some("/dst"), Some("none"), Some("bind")),
            Ok(MountSpec::bind("/src", "/dst"))
        );
        assert_eq!(
            parse(Some("/src"), Some("dst"), None, Some("rbind,ro")),
            Ok(MountSpec::ro_bind("/src", "dst"))
        );
        assert_eq!(
            parse(Some("/src"), Some("/dst"), Some("bind"), Some("ro,rw")),
            Ok(MountSpec::bind("/src", "/dst"))
        );
        assert_eq!(
            parse(None, Some("/dev"), Some("dev"), None),
            Ok(MountSpec::dev("/dev"))
        );
    }

    #[test]
    fn sandboxlib_errors() {
        // test_invalid_mount_specs: ('proc', None, 'tmpfs') and ('proc', 'tmpfs') (no type).
        assert_eq!(
            parse(Some("proc"), None, Some("tmpfs"), None),
            Err(SpecError::EmptyTarget)
        );
        assert_eq!(
            parse(Some("proc"), Some(""), Some("tmpfs"), None),
            Err(SpecError::EmptyTarget)
        );
        assert_eq!(
            parse(Some("proc"), Some("tmpfs"), None, None),
            Err(SpecError::NoType)
        );
        assert_eq!(
            parse(None, Some("/x"), Some("ext4"), None),
            Err(SpecError::UnknownType("ext4".into()))
        );
        assert_eq!(
            parse(None, Some("/proc"), Some("proc"), Some("size=1")),
            Err(SpecError::OptionNotAccepted {
                fstype: "proc",
                option: "size=1".into()
            })
        );
        assert_eq!(
            parse(None, Some("/t"), Some("tmpfs"), Some("bind")),
            Err(SpecError::OptionNotAccepted {
                fstype: "tmpfs",
                option: "bind".into()
            })
        );
        assert_eq!(
            parse(Some("/a"), Some("/t"), Some("none"), Some("bind,size=1")),
            Err(SpecError::OptionNotAccepted {
                fstype: "bind",
                option: "size=1".into()
            })
        );
        assert!(matches!(
            parse(None, Some("/t"), Some("tmpfs"), Some("size=12q")),
            Err(SpecError::BadOption { .. })
        ));
        assert!(matches!(
            parse(None, Some("/t"), Some("tmpfs"), Some("mode=99")),
            Err(SpecError::BadOption { .. })
        ));
        assert_eq!(
            parse(None, Some("/t"), Some("bind"), None),
            Err(SpecError::MissingSource)
        );
        assert_eq!(
            parse(Some("rel"), Some("/t"), Some("bind"), None),
            Err(SpecError::RelativeSource("rel".into()))
        );
        assert_eq!(
            parse(None, Some("/.."), Some("proc"), None)
                .unwrap_err()
                .to_string(),
            "bad mount target: path climbs above the sandbox root: /.."
        );
        assert_eq!(
            parse(None, Some("/a/.."), Some("proc"), None),
            Err(SpecError::TargetIsRoot)
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10"), Some(10));
        assert_eq!(parse_size("2K"), Some(2048));
        assert_eq!(parse_size("1g"), Some(1 << 30));
        assert_eq!(parse_size("m"), None);
        assert_eq!(parse_size("-1"), None);
        assert_eq!(parse_size("99999999999999999g"), None);
    }

    #[test]
    fn display() {
        assert_eq!(MountSpec::bind("/a", "/b").to_string(), "bind /a -> /b");
        assert_eq!(MountSpec::ro_bind("/a", "b").to_string(), "ro-bind /a -> b");
        assert_eq!(MountSpec::dev("/dev").to_string(), "dev /dev");
    }
}
