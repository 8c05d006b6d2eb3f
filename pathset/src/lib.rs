//! `hutch-pathset`: the path logic every hutch backend shares.
//!
//! * [`normalize`] turns a whitelist entry (absolute, or relative to the sandbox root) into a
//!   clean absolute path, lexically and on bytes; an entry that climbs above the root is an error.
//! * [`PathSet`] holds normalised paths and answers component-wise questions: `/a/b` never covers
//!   `/a/bc`, `/data/10` never covers `/data/1`. [`PathSet::contains`] is allocation-free and
//!   O(depth): it is the tracer's per-syscall check.
//! * [`invert`] computes the minimal list of paths to make read-only so that exactly the members
//!   of a set stay writable (the "writable-path inversion" of sandboxlib's linux-user-chroot
//!   backend, done component-wise).
//!
//! Paths are handled as bytes (`OsStr`); nothing is converted lossily to UTF-8.
//!
//! ```
//! use hutch_pathset::PathSet;
//! use std::path::Path;
//!
//! let set = PathSet::from_entries(["/data/10", "build/out/"]).unwrap();
//! assert!(set.contains(Path::new("/data/10/x.o")));
//! assert!(!set.contains(Path::new("/data/1")));
//! assert!(set.contains(Path::new("/build/out")));
//! assert!(set.is_ancestor_of_member(Path::new("/build")));
//! ```
#![forbid(unsafe_code)]

mod invert;
mod normalize;
mod set;

pub use invert::{invert, Inversion, InvertError, InvertWarning};
pub use normalize::{components, normalize, NormalizeError};
pub use set::PathSet;
