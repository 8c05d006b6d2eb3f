//! Component-wise queries of `PathSet`.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use hutch_pathset::PathSet;

fn set(entries: &[&str]) -> PathSet {
    PathSet::from_entries(entries).unwrap()
}

fn p(s: &str) -> &Path {
    Path::new(s)
}

#[test]
fn empty_set_contains_nothing() {
    let s = PathSet::new();
    assert!(s.is_empty());
    assert!(!s.contains(p("/")));
    assert!(!s.contains(p("/a")));
    assert!(!s.is_ancestor_of_member(p("/")));
}

#[test]
fn member_and_paths_below_are_contained() {
    let s = set(&["/a/b"]);
    assert!(s.contains(p("/a/b")));
    assert!(s.contains(p("/a/b/c/d")));
    assert!(!s.contains(p("/a")));
    assert!(!s.contains(p("/")));
}

#[test]
fn sibling_prefixes_are_never_covered() {
    let s = set(&["/data/10", "/a/b"]);
    assert!(!s.contains(p("/data/1")));
    assert!(!s.contains(p("/data/1/x")));
    assert!(!s.contains(p("/data/100")));
    assert!(!s.contains(p("/a/bc")));
    assert!(!s.contains(p("/a/b.old")));
    assert!(s.contains(p("/data/10/x")));
}

#[test]
fn root_member_contains_everything() {
    let s = set(&["/"]);
    assert!(s.contains(p("/")));
    assert!(s.contains(p("/etc/passwd")));
}

#[test]
fn queries_fail_closed_on_unnormalised_paths() {
    let s = set(&["/tmp"]);
    assert!(!s.contains(p("tmp/x")), "relative");
    assert!(!s.contains(p("/tmp/../etc")), "dotdot");
    // `.` and doubled slashes are what the kernel ignores too.
    assert!(s.contains(p("/tmp/./x")));
    assert!(s.contains(p("//tmp//x")));
}

#[test]
fn ancestors_of_members() {
    let s = set(&["/a/b/c"]);
    assert!(s.is_ancestor_of_member(p("/")));
    assert!(s.is_ancestor_of_member(p("/a")));
    assert!(s.is_ancestor_of_member(p("/a/b")));
    assert!(!s.is_ancestor_of_member(p("/a/b/c")), "strictly above");
    assert!(!s.is_ancestor_of_member(p("/a/bc")));
    assert!(!s.is_ancestor_of_member(p("/x")));
}

#[test]
fn members_are_sorted_and_normalised() {
    let s = set(&["b/", "/a//c", "/a", "/b/./"]);
    assert_eq!(s.len(), 3);
    assert_eq!(
        s.members(),
        ["/a", "/a/c", "/b"].map(PathBuf::from).to_vec()
    );
}

#[test]
fn insert_reports_duplicates() {
    let mut s = PathSet::new();
    assert!(s.insert("/x").unwrap());
    assert!(!s.insert("/x/").unwrap());
    assert!(s.insert("/x/y").unwrap());
    assert!(s.insert("../x").is_err());
    assert_eq!(s.len(), 2);
}

#[test]
fn minimize_drops_covered_members() {
    let mut s = set(&["/a", "/a/b", "/a/b/c", "/ab", "/c/d", "/c/d/e"]);
    s.minimize();
    assert_eq!(
        s.members(),
        ["/a", "/ab", "/c/d"].map(PathBuf::from).to_vec()
    );
    assert!(s.contains(p("/a/b/c")));
    let mut root = set(&["/", "/x"]);
    root.minimize();
    assert_eq!(root.members(), vec![PathBuf::from("/")]);
}

#[test]
fn non_utf8_members() {
    let name = OsStr::from_bytes(b"/d\xff");
    let mut s = PathSet::new();
    s.insert(Path::new(name)).unwrap();
    assert!(s.contains(&Path::new(name).join("x")));
    assert!(!s.contains(Path::new(OsStr::from_bytes(b"/d\xfe"))));
    assert!(!s.contains(Path::new(OsStr::from_bytes(b"/d"))));
    assert_eq!(s.members()[0].as_os_str().as_bytes(), b"/d\xff");
}

#[test]
fn many_members_with_shared_prefixes() {
    let entries: Vec<String> = (0..1000).map(|i| format!("/data/{i}")).collect();
    let s = PathSet::from_entries(&entries).unwrap();
    for i in 0..1000 {
        assert!(s.contains(&Path::new("/data").join(i.to_string()).join("f")));
    }
    assert!(!s.contains(p("/data/1000")));
    assert!(!s.contains(p("/data/01")));
}
