//! Lexical normalisation of whitelist entries.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// Why a whitelist entry could not be normalised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NormalizeError {
    /// The entry was the empty string.
    #[error("empty path")]
    Empty,
    /// The entry has more `..` than it has components to climb out of.
    #[error("path climbs above the sandbox root: {}", .0.display())]
    ClimbsAboveRoot(PathBuf),
    /// The entry contains a NUL byte, which no path can hold.
    #[error("path contains a NUL byte: {}", .0.display())]
    NulByte(PathBuf),
}

/// Normalises a whitelist entry into an absolute path inside the sandbox.
///
/// Lexical rules: repeated `/` collapse, `.` components vanish, a trailing `/` is dropped, `..`
/// removes the previous component. A relative entry is relative to the sandbox root, so `data/1`
/// and `/data/1` are the same entry. An entry whose `..` climbs above the root is an error, never
/// silently clamped. This is for whitelist entries only: a path that a traced program passes
/// must be resolved on the filesystem (`a/link/..` is not `a`).
///
/// ```
/// use hutch_pathset::normalize;
/// use std::path::Path;
/// assert_eq!(normalize(Path::new("a//b/./c/../")).unwrap(), Path::new("/a/b"));
/// assert!(normalize(Path::new("/a/../../etc")).is_err());
/// ```
pub fn normalize(entry: &Path) -> Result<PathBuf, NormalizeError> {
    let bytes = entry.as_os_str().as_bytes();
    if bytes.is_empty() {
        return Err(NormalizeError::Empty);
    }
    if bytes.contains(&0) {
        return Err(NormalizeError::NulByte(entry.to_path_buf()));
    }
    let mut parts: Vec<&OsStr> = Vec::new();
    for component in entry.components() {
        match component {
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return Err(NormalizeError::ClimbsAboveRoot(entry.to_path_buf()));
                }
            }
            Component::Normal(name) => parts.push(name),
        }
    }
    let mut out = PathBuf::from("/");
    out.extend(parts);
    Ok(out)
}

/// The names of an absolute, normalised path, root first, without allocating.
///
/// Returns `None` when the path is not absolute or holds a `..`, so a caller that cannot
/// interpret the path fails closed instead of guessing. `.` and repeated `/` are skipped, as the
/// kernel does. The tracer uses it after it has resolved a tracee's path on the filesystem.
///
/// ```
/// use hutch_pathset::components;
/// use std::path::Path;
/// let names: Vec<_> = components(Path::new("/a//b/./c")).unwrap().collect();
/// assert_eq!(names, ["a", "b", "c"]);
/// assert!(components(Path::new("a/b")).is_none());
/// assert!(components(Path::new("/a/../b")).is_none());
/// ```
pub fn components(path: &Path) -> Option<impl Iterator<Item = &OsStr> + '_> {
    let bytes = path.as_os_str().as_bytes();
    if bytes.first() != Some(&b'/') || names(bytes).any(|name| name == b"..") {
        return None;
    }
    Some(names(bytes).map(OsStr::from_bytes))
}

/// Splits path bytes into names, skipping empty and `.` components. `..` is yielded as is.
pub(crate) fn names(bytes: &[u8]) -> impl Iterator<Item = &[u8]> + '_ {
    bytes
        .split(|&b| b == b'/')
        .filter(|name| !name.is_empty() && *name != b".")
}
