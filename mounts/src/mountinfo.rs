//! Parsing `/proc/self/mountinfo` and the questions asked of it.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// One line of `/proc/self/mountinfo` (see `proc_pid_mountinfo(5)`).
///
/// Path fields are decoded from the kernel's octal escapes (`\040` is a space, `\134` a
/// backslash) and kept as bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountInfo {
    /// Unique id of the mount.
    pub mount_id: u64,
    /// Id of the parent mount (itself for the root of the namespace).
    pub parent_id: u64,
    /// `major:minor` of the filesystem's device.
    pub device: String,
    /// The directory of the filesystem that forms the root of this mount.
    pub root: PathBuf,
    /// Where the mount is, relative to the reading process's root.
    pub mount_point: PathBuf,
    /// Per-mount options (`rw,nosuid,relatime`).
    pub mount_options: String,
    /// Optional fields (`shared:1`, `master:2`, ...).
    pub optional: Vec<String>,
    /// Filesystem type (`ext4`, `tmpfs`, `proc`).
    pub fs_type: String,
    /// Filesystem-specific source (`/dev/sda1`, `tmpfs`).
    pub source: OsString,
    /// Per-superblock options.
    pub super_options: String,
}

impl MountInfo {
    /// True when the per-mount options say `ro`.
    pub fn is_read_only(&self) -> bool {
        self.mount_options.split(',').any(|o| o == "ro")
    }
}

/// Why mountinfo text could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MountInfoError {
    /// A line does not have the expected fields.
    #[error("malformed mountinfo line {line}: {reason}")]
    Malformed {
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        reason: &'static str,
    },
    /// The file could not be read.
    #[error("cannot read /proc/self/mountinfo: {0}")]
    Read(nix::errno::Errno),
}

/// Decodes the kernel's `\ooo` octal escapes (three octal digits) into bytes.
///
/// A backslash not followed by three octal digits is kept as is.
pub fn unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let b = field[i];
        if b == b'\\' && i + 4 <= field.len() {
            let digits = &field[i + 1..i + 4];
            if digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                let value = digits
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                if let Ok(byte) = u8::try_from(value) {
                    out.push(byte);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

/// Encodes the characters the kernel escapes in mountinfo (space, tab, newline, backslash).
pub fn escape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    for &b in field {
        match b {
            b' ' | b'\t' | b'\n' | b'\\' => out.extend_from_slice(format!("\\{b:03o}").as_bytes()),
            _ => out.push(b),
        }
    }
    out
}

fn path_field(field: &[u8]) -> PathBuf {
    PathBuf::from(OsString::from_vec(unescape(field)))
}

fn text(field: &[u8]) -> String {
    String::from_utf8_lossy(field).into_owned()
}

/// Parses the text of a mountinfo file. Empty lines are skipped.
///
/// ```
/// use hutch_mounts::parse_mountinfo;
/// let text = b"36 35 98:0 / /mnt/weird\\040system rw,noatime master:1 - ext3 /dev/root rw\n";
/// let mounts = parse_mountinfo(text).unwrap();
/// assert_eq!(mounts[0].mount_point, std::path::Path::new("/mnt/weird system"));
/// assert_eq!(mounts[0].optional, ["master:1"]);
/// ```
pub fn parse_mountinfo(text: &[u8]) -> Result<Vec<MountInfo>, MountInfoError> {
    let mut out = Vec::new();
    for (index, line) in text.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        out.push(parse_line(line, index + 1)?);
    }
    Ok(out)
}

fn parse_line(line: &[u8], number: usize) -> Result<MountInfo, MountInfoError> {
    let bad = |reason| MountInfoError::Malformed {
        line: number,
        reason,
    };
    let fields: Vec<&[u8]> = line
        .split(|&b| b == b' ')
        .filter(|f| !f.is_empty())
        .collect();
    let sep = fields
        .iter()
        .position(|f| *f == b"-")
        .ok_or_else(|| bad("no ' - ' separator"))?;
    if sep < 6 {
        return Err(bad("fewer than 6 fields before the separator"));
    }
    if fields.len() < sep + 3 {
        return Err(bad("fewer than 3 fields after the separator"));
    }
    let number_of = |field: &[u8], reason| {
        std::str::from_utf8(field)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| bad(reason))
    };
    Ok(MountInfo {
        mount_id: number_of(fields[0], "mount id is not a number")?,
        parent_id: number_of(fields[1], "parent id is not a number")?,
        device: text(fields[2]),
        root: path_field(fields[3]),
        mount_point: path_field(fields[4]),
        mount_options: text(fields[5]),
        optional: fields[6..sep].iter().map(|f| text(f)).collect(),
        fs_type: text(&unescape(fields[sep + 1])),
        source: OsString::from_vec(unescape(fields[sep + 2])),
        super_options: fields.get(sep + 3).map(|f| text(f)).unwrap_or_default(),
    })
}

/// Reads and parses `/proc/self/mountinfo`.
pub fn read_mountinfo() -> Result<Vec<MountInfo>, MountInfoError> {
    let bytes = std::fs::read("/proc/self/mountinfo").map_err(|e| {
        MountInfoError::Read(nix::errno::Errno::from_raw(
            e.raw_os_error().unwrap_or(libc::EIO),
        ))
    })?;
    parse_mountinfo(&bytes)
}

/// The mounts whose mount point is `path` or lies below it (component-wise: `/a/b` is not
/// below `/a/bc`), in the order of the table, which is the order of mounting.
pub fn mounts_under<'a>(table: &'a [MountInfo], path: &Path) -> Vec<&'a MountInfo> {
    table
        .iter()
        .filter(|m| m.mount_point.starts_with(path))
        .collect()
}

/// True when some mount of the table has exactly `path` as its mount point.
pub fn is_mount_point(table: &[MountInfo], path: &Path) -> bool {
    table.iter().any(|m| m.mount_point == path)
}

/// True when `path` is a mount point in the current mount namespace.
///
/// `path` is resolved with `realpath` first (so it must exist), as mountinfo holds resolved
/// paths.
pub fn path_is_mount_point(path: &Path) -> Result<bool, MountInfoError> {
    let real = real_path(path)?;
    Ok(is_mount_point(&read_mountinfo()?, &real))
}

/// The mounts at or below `path` in the current mount namespace, in mounting order.
pub fn path_mounts_under(path: &Path) -> Result<Vec<MountInfo>, MountInfoError> {
    let real = real_path(path)?;
    let table = read_mountinfo()?;
    Ok(mounts_under(&table, &real).into_iter().cloned().collect())
}

fn real_path(path: &Path) -> Result<PathBuf, MountInfoError> {
    std::fs::canonicalize(path).map_err(|e| {
        MountInfoError::Read(nix::errno::Errno::from_raw(
            e.raw_os_error().unwrap_or(libc::EIO),
        ))
    })
}

/// Renders a mount table entry back as a mountinfo line (used by the mock).
pub(crate) fn render_line(m: &MountInfo) -> Vec<u8> {
    let mut line = Vec::new();
    line.extend_from_slice(format!("{} {} {} ", m.mount_id, m.parent_id, m.device).as_bytes());
    line.extend(escape(m.root.as_os_str().as_bytes()));
    line.push(b' ');
    line.extend(escape(m.mount_point.as_os_str().as_bytes()));
    line.extend_from_slice(format!(" {}", m.mount_options).as_bytes());
    for o in &m.optional {
        line.extend_from_slice(format!(" {o}").as_bytes());
    }
    line.extend_from_slice(format!(" - {} ", m.fs_type).as_bytes());
    line.extend(escape(m.source.as_bytes()));
    line.extend_from_slice(format!(" {}\n", m.super_options).as_bytes());
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The chromite `IterateMountPointsTests` fixture, in mountinfo form.
    const SAMPLE: &[u8] = b"\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro
23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
24 22 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
25 22 0:5 / /dev rw,nosuid,relatime shared:2 - devtmpfs udev rw,size=10240k
26 25 0:23 / /dev/pts rw,nosuid,noexec,relatime shared:3 - devpts devpts rw,gid=5,mode=620
40 22 0:40 / /mnt/weird\\040system ro,relatime - tmpfs we\\134ird rw
41 22 0:41 /sub /mnt/a\\011b\\012c rw - fuse.sshfs host:/x rw
";

    #[test]
    fn parses_all_lines_and_decodes_octal() {
        let t = parse_mountinfo(SAMPLE).unwrap();
        assert_eq!(t.len(), 7);
        assert_eq!(t[0].mount_point, Path::new("/"));
        assert_eq!(t[0].optional, ["shared:1"]);
        assert_eq!(t[4].parent_id, 25);
        assert_eq!(t[5].mount_point, Path::new("/mnt/weird system"));
        assert_eq!(t[5].source, OsString::from("we\\ird"));
        assert!(t[5].is_read_only());
        assert!(!t[4].is_read_only());
        assert!(t[5].optional.is_empty());
        assert_eq!(t[6].mount_point, Path::new("/mnt/a\tb\nc"));
        assert_eq!(t[6].root, Path::new("/sub"));
        assert_eq!(t[6].fs_type, "fuse.sshfs");
        assert_eq!(t[3].super_options, "rw,size=10240k");
    }

    #[test]
    fn escape_round_trips() {
        let t = parse_mountinfo(SAMPLE).unwrap();
        let again: Vec<u8> = t.iter().flat_map(render_line).collect();
        assert_eq!(parse_mountinfo(&again).unwrap(), t);
        assert_eq!(unescape(b"a\\040b\\1"), b"a b\\1");
        assert_eq!(unescape(b"\\777x"), b"\\777x", "values above 255 are kept");
        assert_eq!(unescape(b"end\\"), b"end\\");
    }

    proptest::proptest! {
        #[test]
        fn unescape_inverts_escape(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            proptest::prop_assert_eq!(unescape(&escape(&bytes)), bytes.clone());
            let escaped = escape(&bytes);
            proptest::prop_assert!(!escaped.iter().any(|b| matches!(b, b' ' | b'\t' | b'\n')));
        }

        #[test]
        fn rendered_lines_parse_back(
            chars in proptest::collection::vec(
                proptest::sample::select(vec!['a', 'z', ' ', '\\', '\t', '\n', '/', '0']),
                0..24,
            )
        ) {
            let point = format!("/{}", chars.into_iter().collect::<String>());
            let m = MountInfo {
                mount_id: 7,
                parent_id: 1,
                device: "0:9".into(),
                root: "/".into(),
                mount_point: PathBuf::from(&point),
                mount_options: "rw".into(),
                optional: vec!["shared:3".into()],
                fs_type: "tmpfs".into(),
                source: OsString::from(&point),
                super_options: "rw".into(),
            };
            let parsed = parse_mountinfo(&render_line(&m)).unwrap();
            proptest::prop_assert_eq!(parsed, vec![m]);
        }
    }

    #[test]
    fn malformed_lines_are_errors() {
        let e = parse_mountinfo(b"1 2 3\n").unwrap_err();
        assert_eq!(
            e,
            MountInfoError::Malformed {
                line: 1,
                reason: "no ' - ' separator"
            }
        );
        assert!(parse_mountinfo(b"x 1 0:1 / / rw - ext4 a rw\n").is_err());
        assert!(parse_mountinfo(b"1 1 0:1 / / rw -\n").is_err());
        assert!(parse_mountinfo(b"\n\n").unwrap().is_empty());
    }

    #[test]
    fn under_is_component_wise() {
        let t = parse_mountinfo(SAMPLE).unwrap();
        let under: Vec<_> = mounts_under(&t, Path::new("/dev"))
            .iter()
            .map(|m| m.mount_point.clone())
            .collect();
        assert_eq!(under, [PathBuf::from("/dev"), PathBuf::from("/dev/pts")]);
        assert!(mounts_under(&t, Path::new("/de")).is_empty());
        assert!(is_mount_point(&t, Path::new("/mnt/weird system")));
        assert!(!is_mount_point(&t, Path::new("/mnt")));
        assert_eq!(mounts_under(&t, Path::new("/")).len(), 7);
    }

    #[test]
    fn real_mountinfo_has_root() {
        let t = read_mountinfo().unwrap();
        assert!(!t.is_empty());
        assert!(path_is_mount_point(Path::new("/proc")).unwrap());
        assert!(!path_mounts_under(Path::new("/proc")).unwrap().is_empty());
    }
}
