//! Writable-path inversion: boundary cases and sandboxlib's observed table, done right.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use hutch_pathset::{invert, InvertError, InvertWarning, PathSet};

/// The tree of sandboxlib's notes: /r/{a/{c/h,g},b/i,f}.
fn tree() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    fs::create_dir_all(r.join("a/c")).unwrap();
    fs::write(r.join("a/c/h"), b"").unwrap();
    fs::write(r.join("a/g"), b"").unwrap();
    fs::create_dir_all(r.join("b")).unwrap();
    fs::write(r.join("b/i"), b"").unwrap();
    fs::write(r.join("f"), b"").unwrap();
    root
}

fn ro(root: &Path, writable: &[&str]) -> Vec<String> {
    let inv = invert(root, &PathSet::from_entries(writable).unwrap()).unwrap();
    inv.readonly
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect()
}

#[test]
fn empty_set_makes_the_root_read_only() {
    let t = tree();
    assert_eq!(ro(t.path(), &[]), ["/"]);
}

#[test]
fn root_in_the_set_makes_nothing_read_only() {
    let t = tree();
    assert!(ro(t.path(), &["/"]).is_empty());
    assert!(ro(t.path(), &["/", "/a"]).is_empty());
}

#[test]
fn a_member_directory_is_culled() {
    let t = tree();
    assert_eq!(ro(t.path(), &["/a"]), ["/b", "/f"]);
}

#[test]
fn ancestors_are_descended_into() {
    let t = tree();
    assert_eq!(ro(t.path(), &["/a/c"]), ["/a/g", "/b", "/f"]);
}

#[test]
fn files_can_be_members() {
    let t = tree();
    assert_eq!(ro(t.path(), &["/a/g"]), ["/a/c", "/b", "/f"]);
}

#[test]
fn spelling_of_members_does_not_matter() {
    let t = tree();
    for spelling in ["/a/", "//a", "/b/../a", "a", "./a"] {
        assert_eq!(ro(t.path(), &[spelling]), ["/b", "/f"], "{spelling}");
    }
}

#[test]
fn sibling_prefix_does_not_exempt_its_neighbour() {
    // sandboxlib treats /a as an ancestor of /ab and leaves /a writable.
    let root = tempfile::tempdir().unwrap();
    fs::create_dir_all(root.path().join("a/x")).unwrap();
    fs::create_dir_all(root.path().join("ab")).unwrap();
    assert_eq!(ro(root.path(), &["/ab"]), ["/a"]);
    assert_eq!(ro(root.path(), &["/a"]), ["/ab"]);

    let data = tempfile::tempdir().unwrap();
    fs::create_dir_all(data.path().join("data/1")).unwrap();
    fs::create_dir_all(data.path().join("data/10")).unwrap();
    assert_eq!(ro(data.path(), &["/data/10"]), ["/data/1"]);
}

#[test]
fn missing_members_are_reported_and_fail_closed() {
    let t = tree();
    let inv = invert(
        t.path(),
        &PathSet::from_entries(["/nonexistent/x"]).unwrap(),
    )
    .unwrap();
    assert_eq!(inv.readonly, vec![PathBuf::from("/")]);
    assert_eq!(
        inv.warnings,
        vec![InvertWarning::Missing(PathBuf::from("/nonexistent/x"))]
    );
}

#[test]
fn symlinks_are_reported_separately() {
    let t = tree();
    symlink("a/c", t.path().join("link")).unwrap();
    symlink("/nowhere", t.path().join("a/dangling")).unwrap();
    let inv = invert(t.path(), &PathSet::from_entries(["/a/c"]).unwrap()).unwrap();
    assert_eq!(
        inv.readonly,
        ["/a/g", "/b", "/f"].map(PathBuf::from).to_vec()
    );
    assert_eq!(
        inv.symlinks,
        ["/a/dangling", "/link"].map(PathBuf::from).to_vec()
    );
}

#[test]
fn a_symlink_member_is_kept_but_not_followed() {
    let t = tree();
    symlink("a/c", t.path().join("link")).unwrap();
    let inv = invert(t.path(), &PathSet::from_entries(["/link"]).unwrap()).unwrap();
    // The link itself is left alone; its target is not made writable through it.
    assert_eq!(inv.readonly, ["/a", "/b", "/f"].map(PathBuf::from).to_vec());
    assert!(inv.symlinks.is_empty());
}

#[test]
fn members_through_a_symlink_may_be_outside_the_root() {
    let t = tree();
    let outside = tempfile::tempdir().unwrap();
    symlink(outside.path(), t.path().join("escape")).unwrap();
    let inv = invert(t.path(), &PathSet::from_entries(["/escape/x"]).unwrap()).unwrap();
    assert_eq!(inv.readonly, vec![PathBuf::from("/")]);
    assert_eq!(
        inv.warnings,
        vec![InvertWarning::OutsideRoot(PathBuf::from("/escape/x"))]
    );
}

#[test]
fn non_utf8_names_are_walked_faithfully() {
    let root = tempfile::tempdir().unwrap();
    let odd = OsStr::from_bytes(b"d\xff");
    fs::create_dir_all(root.path().join(odd).join("keep")).unwrap();
    fs::write(root.path().join(odd).join("other"), b"").unwrap();
    let mut set = PathSet::new();
    set.insert(Path::new("/").join(odd).join("keep")).unwrap();
    let inv = invert(root.path(), &set).unwrap();
    assert_eq!(inv.readonly.len(), 1);
    assert_eq!(inv.readonly[0].as_os_str().as_bytes(), b"/d\xff/other");
}

#[test]
fn deep_members_yield_files_in_their_ancestors_one_by_one() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    fs::create_dir_all(r.join("data/1/sub/deep")).unwrap();
    fs::write(r.join("data/1/canary"), b"").unwrap();
    fs::create_dir_all(r.join("data/10")).unwrap();
    fs::create_dir_all(r.join("bin")).unwrap();
    fs::write(r.join("topfile"), b"").unwrap();
    assert_eq!(
        ro(r, &["/data/1/sub/deep"]),
        ["/bin", "/data/1/canary", "/data/10", "/topfile"]
    );
}

#[test]
fn a_missing_root_is_an_error() {
    let root = tempfile::tempdir().unwrap();
    let gone = root.path().join("gone");
    let err = invert(&gone, &PathSet::new()).unwrap_err();
    assert!(matches!(err, InvertError::Root { .. }));
    assert!(!gone.exists(), "nothing created");
    fs::write(&gone, b"").unwrap();
    assert!(matches!(
        invert(&gone, &PathSet::new()),
        Err(InvertError::Root { .. })
    ));
}
