//! Shared helpers for hutch's criterion benchmarks and peer comparisons.
//!
//! ```
//! let dir = tempfile::tempdir().unwrap();
//! let tree = hutch_benches::generate_tree(dir.path(), 500).unwrap();
//! assert!(tree.entries >= 500);
//! assert!(!tree.leaf_dirs.is_empty());
//! ```
#![forbid(unsafe_code)]

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A generated directory tree.
#[derive(Debug, Clone)]
pub struct Tree {
    /// Number of entries created below the root (directories and files).
    pub entries: usize,
    /// The deepest directories, as sandbox paths (`/d3/d7/d1`), in creation order.
    pub leaf_dirs: Vec<PathBuf>,
}

/// Creates a deterministic tree of at least `entries` entries under `root`: three levels of ten
/// directories, files spread evenly over the leaf directories, a few symlinks.
pub fn generate_tree(root: &Path, entries: usize) -> io::Result<Tree> {
    let mut leaf_dirs = Vec::new();
    let mut count = 0;
    for a in 0..10 {
        for b in 0..10 {
            for c in 0..10 {
                let rel = PathBuf::from(format!("d{a}/d{b}/d{c}"));
                std::fs::create_dir_all(root.join(&rel))?;
                leaf_dirs.push(Path::new("/").join(rel));
            }
        }
    }
    count += 10 + 100 + 1000;
    let per_leaf = entries.saturating_sub(count).div_ceil(leaf_dirs.len());
    for (i, leaf) in leaf_dirs.iter().enumerate() {
        let dir = root.join(leaf.strip_prefix("/").unwrap_or(leaf));
        for f in 0..per_leaf {
            let path = dir.join(format!("f{f}"));
            if f == 0 && i % 100 == 0 {
                std::os::unix::fs::symlink("f1", &path)?;
            } else {
                std::fs::write(path, b"")?;
            }
            count += 1;
        }
    }
    Ok(Tree {
        entries: count,
        leaf_dirs,
    })
}

/// Picks `n` leaf directories spread evenly over the tree.
pub fn spread(tree: &Tree, n: usize) -> Vec<PathBuf> {
    let step = (tree.leaf_dirs.len() / n.max(1)).max(1);
    tree.leaf_dirs
        .iter()
        .step_by(step)
        .take(n)
        .cloned()
        .collect()
}

/// The median of some durations (the lower middle one for an even count).
pub fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples
        .get(samples.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or_default()
}
