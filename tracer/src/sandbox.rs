//! The Landlock backstop: a ruleset that handles every write right of the kernel's ABI and
//! grants them beneath the writable paths only, and (ABI 6) scopes signals to the sandbox.
//! Built in the parent; the child enforces it.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use landlock::{
    AccessFs, BitFlags, PathBeneath, PathFd, Ruleset, RulesetAttr, RulesetCreatedAttr, Scope, ABI,
};

use crate::error::TraceError;

/// Paths every run may write: terminals and the null-like devices.
pub(crate) const IMPLICIT_WRITABLE: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/tty",
    "/dev/ptmx",
    "/dev/pts",
];

/// The nearest existing path at or above `path`: Landlock rules need an existing file, and a
/// writable directory the build creates later must stay creatable (the tracer still enforces
/// the exact set).
fn existing_ancestor(path: &Path) -> Option<(PathBuf, bool)> {
    let mut cur = path.to_path_buf();
    loop {
        if let Ok(meta) = std::fs::metadata(&cur) {
            return Some((cur, meta.is_dir()));
        }
        if !cur.pop() {
            return None;
        }
    }
}

/// Builds the ruleset for `writable` (host view). Returns `None` when the kernel has no
/// Landlock (`abi == 0`).
pub(crate) fn ruleset(abi: u32, writable: &[PathBuf]) -> Result<Option<OwnedFd>, TraceError> {
    if abi == 0 {
        return Ok(None);
    }
    let abi = ABI::from(i32::try_from(abi).unwrap_or(i32::MAX));
    let write: BitFlags<AccessFs> = AccessFs::from_write(abi);
    let file: BitFlags<AccessFs> = write & AccessFs::from_file(abi);
    let err = |e: &dyn std::fmt::Display| TraceError::Landlock(e.to_string());
    let mut created = Ruleset::default()
        .handle_access(write)
        .map_err(|e| err(&e))?
        // ABI 6: no signal to a process outside the sandbox (best effort below).
        .scope(Scope::Signal)
        .map_err(|e| err(&e))?
        .create()
        .map_err(|e| err(&e))?;
    let implicit = IMPLICIT_WRITABLE.iter().map(PathBuf::from);
    for path in writable.iter().cloned().chain(implicit) {
        let Some((existing, is_dir)) = existing_ancestor(&path) else {
            continue;
        };
        let fd = PathFd::new(&existing).map_err(|e| err(&e))?;
        let access = if is_dir { write } else { file };
        created = created
            .add_rule(PathBeneath::new(fd, access))
            .map_err(|e| err(&e))?;
    }
    Ok(created.into())
}
