//! Every normalisation rule and its boundary cases.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use hutch_pathset::{components, normalize, NormalizeError};

fn norm(s: &str) -> PathBuf {
    normalize(Path::new(s)).unwrap()
}

#[test]
fn absolute_and_relative_entries_agree() {
    assert_eq!(norm("/data/1"), Path::new("/data/1"));
    assert_eq!(norm("data/1"), Path::new("/data/1"));
    assert_eq!(norm("./data/1"), Path::new("/data/1"));
}

#[test]
fn repeated_slashes_collapse() {
    assert_eq!(norm("//data///1"), Path::new("/data/1"));
}

#[test]
fn dot_components_vanish() {
    assert_eq!(norm("/data/./1/."), Path::new("/data/1"));
    assert_eq!(norm("."), Path::new("/"));
}

#[test]
fn trailing_slash_is_dropped() {
    assert_eq!(norm("/data/1/"), Path::new("/data/1"));
    assert_eq!(norm("/"), Path::new("/"));
}

#[test]
fn dotdot_removes_the_previous_component() {
    assert_eq!(norm("/data/b/../a"), Path::new("/data/a"));
    assert_eq!(norm("a/.."), Path::new("/"));
}

#[test]
fn climbing_above_the_root_is_an_error() {
    for entry in ["..", "/..", "/../etc", "a/../../b", "./../x"] {
        assert_eq!(
            normalize(Path::new(entry)),
            Err(NormalizeError::ClimbsAboveRoot(PathBuf::from(entry))),
            "{entry}"
        );
    }
}

#[test]
fn empty_and_nul_are_errors() {
    assert_eq!(normalize(Path::new("")), Err(NormalizeError::Empty));
    let with_nul = Path::new(OsStr::from_bytes(b"/a\0b"));
    assert!(matches!(
        normalize(with_nul),
        Err(NormalizeError::NulByte(_))
    ));
}

#[test]
fn non_utf8_names_survive_byte_for_byte() {
    let raw = OsStr::from_bytes(b"/d\xff/x\xfe/");
    let out = normalize(Path::new(raw)).unwrap();
    assert_eq!(out.as_os_str().as_bytes(), b"/d\xff/x\xfe");
}

#[test]
fn error_messages_name_the_entry() {
    let err = normalize(Path::new("/../etc")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "path climbs above the sandbox root: /../etc"
    );
}

#[test]
fn components_reject_relative_and_dotdot_paths() {
    assert!(components(Path::new("a")).is_none());
    assert!(components(Path::new("")).is_none());
    assert!(components(Path::new("/a/../b")).is_none());
    let names: Vec<&OsStr> = components(Path::new("/")).unwrap().collect();
    assert!(names.is_empty());
}
