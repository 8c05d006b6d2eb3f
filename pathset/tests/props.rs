//! Property tests over random trees and random writable sets.
//!
//! Checked for every case: soundness (no yielded path overlaps a member), coverage (every entry
//! that is neither within a member nor an ancestor of one is yielded or lies below a yielded
//! path), minimality (no yielded path lies below another), sortedness, normalisation invariance,
//! and agreement with a naive O(n·|W|) reference written here.

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use hutch_pathset::{invert, Inversion, InvertWarning, PathSet};
use proptest::prelude::*;

/// Names chosen to share prefixes (`a`/`ab`, `1`/`10`) and to include a non-UTF-8 byte.
fn name() -> impl Strategy<Value = OsString> {
    prop_oneof![
        Just(OsString::from("a")),
        Just(OsString::from("ab")),
        Just(OsString::from("b")),
        Just(OsString::from("1")),
        Just(OsString::from("10")),
        Just(OsStr::from_bytes(b"x\xff").to_os_string()),
    ]
}

fn rel_path() -> impl Strategy<Value = PathBuf> {
    prop::collection::vec(name(), 1..5).prop_map(|names| names.iter().collect())
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Dir,
    File,
    Link,
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![4 => Just(Kind::Dir), 3 => Just(Kind::File), 1 => Just(Kind::Link)]
}

/// Creates the entries that fit (a path below a file or link is skipped).
fn build(root: &Path, entries: &[(PathBuf, Kind)]) {
    for (rel, kind) in entries {
        let host = root.join(rel);
        let parent_ok = rel.ancestors().skip(1).all(|anc| {
            let p = root.join(anc);
            match fs::symlink_metadata(&p) {
                Ok(m) => m.is_dir(),
                Err(_) => fs::create_dir(&p).is_ok(),
            }
        });
        if !parent_ok || fs::symlink_metadata(&host).is_ok() {
            continue;
        }
        match kind {
            Kind::Dir => fs::create_dir(&host).unwrap(),
            Kind::File => fs::write(&host, b"").unwrap(),
            Kind::Link => symlink("a", &host).unwrap(),
        }
    }
}

/// Every entry of the tree as a sandbox path, with whether it is a symlink.
fn listing(root: &Path) -> Vec<(PathBuf, bool)> {
    walkdir::WalkDir::new(root)
        .min_depth(1)
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            let rel = e.path().strip_prefix(root).unwrap();
            (Path::new("/").join(rel), e.path_is_symlink())
        })
        .collect()
}

fn below(p: &Path, anc: &Path) -> bool {
    p != anc && p.starts_with(anc)
}

/// The naive reference: O(n·|W|) over the whole listing, component-wise via `Path::starts_with`.
fn reference(root: &Path, members: &[PathBuf]) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let entries = listing(root);
    let kinds: std::collections::HashMap<_, _> = entries.iter().cloned().collect();
    // Members that exist without going through a symlink.
    let live: Vec<&PathBuf> = members
        .iter()
        .filter(|m| {
            m.as_path() == Path::new("/")
                || (kinds.contains_key(*m)
                    && m.ancestors()
                        .skip(1)
                        .all(|a| !kinds.get(a).copied().unwrap_or(false)))
        })
        .collect();
    if live.iter().any(|m| m.as_path() == Path::new("/")) {
        return (vec![], vec![]);
    }
    if live.is_empty() {
        return (vec![PathBuf::from("/")], vec![]);
    }
    let within = |p: &Path| live.iter().any(|m| p.starts_with(m));
    let ancestor = |p: &Path| live.iter().any(|m| below(m, p));
    let (mut ro, mut links) = (vec![], vec![]);
    for (path, is_link) in &entries {
        let parent = path.parent().unwrap();
        let parent_descended = parent == Path::new("/") || ancestor(parent);
        // A symlink is never an ancestor of a live member: those go through no symlink.
        if !within(path) && !ancestor(path) && parent_descended {
            if *is_link {
                links.push(path.clone());
            } else {
                ro.push(path.clone());
            }
        }
    }
    ro.sort();
    links.sort();
    (ro, links)
}

fn run(root: &Path, members: &[PathBuf]) -> Inversion {
    invert(root, &PathSet::from_entries(members).unwrap()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn inversion_properties(
        entries in prop::collection::vec((rel_path(), kind()), 0..40),
        members in prop::collection::vec(rel_path(), 0..4),
        root_member in prop::bool::weighted(0.05),
    ) {
        let dir = tempfile::tempdir().unwrap();
        build(dir.path(), &entries);
        let mut members: Vec<PathBuf> = members.iter().map(|m| Path::new("/").join(m)).collect();
        if root_member {
            members.push(PathBuf::from("/"));
        }
        let inv = run(dir.path(), &members);
        let set = PathSet::from_entries(&members).unwrap();
        let live: Vec<PathBuf> = set
            .members()
            .into_iter()
            .filter(|m| {
                !inv.warnings.iter().any(|w| match w {
                    InvertWarning::Missing(p) | InvertWarning::OutsideRoot(p) => p == m,
                })
            })
            .collect();

        // Soundness: nothing yielded equals, contains or lies within a live member.
        for y in inv.readonly.iter().chain(&inv.symlinks) {
            for m in &live {
                prop_assert!(!y.starts_with(m) && !m.starts_with(y), "{y:?} overlaps {m:?}");
            }
        }
        // Minimality and order.
        let all: Vec<&PathBuf> = inv.readonly.iter().chain(&inv.symlinks).collect();
        for a in &all {
            for b in &all {
                prop_assert!(!below(a, b), "{a:?} lies below {b:?}");
            }
        }
        prop_assert!(inv.readonly.windows(2).all(|w| w[0] < w[1]));
        prop_assert!(inv.symlinks.windows(2).all(|w| w[0] < w[1]));
        // Coverage.
        if !live.iter().any(|m| m == Path::new("/")) {
            for (path, _) in listing(dir.path()) {
                let protected = live.iter().any(|m| path.starts_with(m) || below(m, &path));
                if !protected {
                    prop_assert!(
                        all.iter().any(|y| path.starts_with(y)),
                        "{path:?} is neither protected nor read-only"
                    );
                }
            }
        }
        // Agreement with the naive reference.
        let (ro, links) = reference(dir.path(), &set.members());
        prop_assert_eq!(&inv.readonly, &ro);
        prop_assert_eq!(&inv.symlinks, &links);
    }

    #[test]
    fn spelling_does_not_change_the_inversion(
        entries in prop::collection::vec((rel_path(), kind()), 0..30),
        members in prop::collection::vec(rel_path(), 1..4),
        style in 0usize..5,
    ) {
        let dir = tempfile::tempdir().unwrap();
        build(dir.path(), &entries);
        let plain: Vec<PathBuf> = members.iter().map(|m| Path::new("/").join(m)).collect();
        let respelled: Vec<PathBuf> = members
            .iter()
            .map(|m| {
                let mut bytes = Vec::new();
                match style {
                    0 => { bytes.extend_from_slice(m.as_os_str().as_bytes()); bytes.push(b'/'); }
                    1 => { bytes.extend_from_slice(b"//"); bytes.extend_from_slice(m.as_os_str().as_bytes()); }
                    2 => { bytes.extend_from_slice(b"/zz/../"); bytes.extend_from_slice(m.as_os_str().as_bytes()); }
                    3 => { bytes.extend_from_slice(b"./"); bytes.extend_from_slice(m.as_os_str().as_bytes()); }
                    _ => { bytes.extend_from_slice(m.as_os_str().as_bytes()); bytes.extend_from_slice(b"/./"); }
                }
                PathBuf::from(OsStr::from_bytes(&bytes))
            })
            .collect();
        prop_assert_eq!(run(dir.path(), &plain), run(dir.path(), &respelled));
    }

    #[test]
    fn contains_agrees_with_component_wise_starts_with(
        members in prop::collection::vec(rel_path(), 0..6),
        probe in rel_path(),
    ) {
        let members: Vec<PathBuf> = members.iter().map(|m| Path::new("/").join(m)).collect();
        let set = PathSet::from_entries(&members).unwrap();
        let probe = Path::new("/").join(probe);
        prop_assert_eq!(set.contains(&probe), members.iter().any(|m| probe.starts_with(m)));
        prop_assert_eq!(
            set.is_ancestor_of_member(&probe),
            members.iter().any(|m| below(m, &probe))
        );
        let unique: BTreeSet<&PathBuf> = members.iter().collect();
        prop_assert_eq!(set.len(), unique.len());
        let mut minimal = set.clone();
        minimal.minimize();
        for m in minimal.members() {
            prop_assert!(!minimal.members().iter().any(|o| below(&m, o)));
        }
        prop_assert_eq!(minimal.contains(&probe), set.contains(&probe));
    }
}
