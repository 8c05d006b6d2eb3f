//! Properties of recorded plan sequences over random trees and random writable sets.

use std::fs;
use std::path::{Path, PathBuf};

use hutch_mounts::{Call, MountPlan, MountSpec, RecordingSyscall};
use proptest::prelude::*;

const DIRS: [&str; 8] = ["a", "a/b", "a/b/c", "a/bc", "d", "d/e", "f", "f/g"];

/// Paths created by the namespace path: only the staging tmpfs's two directories and entries
/// below the new root.
fn created_paths(calls: &[Call]) -> Vec<PathBuf> {
    calls
        .iter()
        .filter_map(|c| match c {
            Call::Mkdir { path, .. } | Call::CreateFile { path, .. } => Some(path.clone()),
            Call::Symlink { link, .. } => Some(link.clone()),
            _ => None,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn namespace_sequences_stay_inside_the_new_root(
        present in proptest::collection::vec(any::<bool>(), DIRS.len()),
        writable in proptest::collection::vec(0..DIRS.len(), 0..4),
        tmpfs_under in proptest::option::of(0..DIRS.len()),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let root = fs::canonicalize(dir.path()).unwrap();
        for (d, keep) in DIRS.iter().zip(&present) {
            if *keep {
                fs::create_dir_all(root.join(d)).unwrap();
            }
        }
        let mut plan = MountPlan::new(&root);
        for w in &writable {
            plan.writable(DIRS[*w]);
        }
        let tmpfs = tmpfs_under.map(|t| Path::new("/").join(DIRS[t]));
        if let Some(t) = &tmpfs {
            plan.mount(MountSpec::tmpfs(t));
        }
        let sys = RecordingSyscall::new();
        let result = plan.apply(&sys);
        let calls = sys.calls();
        let texts: Vec<String> = calls.iter().map(ToString::to_string).collect();

        // The oracle, in the order validation checks.
        let mut members: Vec<PathBuf> = writable.iter().map(|w| Path::new("/").join(DIRS[*w])).collect();
        members.sort();
        members.dedup();
        let minimal: Vec<PathBuf> = members
            .iter()
            .filter(|m| !members.iter().any(|o| o != *m && m.starts_with(o)))
            .cloned()
            .collect();
        let host = |p: &Path| root.join(p.strip_prefix("/").unwrap());
        let expected = if members.iter().any(|m| !host(m).is_dir()) {
            Err("writable path does not exist")
        } else if minimal.iter().any(|m| Some(m) == tmpfs.as_ref()) {
            Err("is hidden by mount #1")
        } else if tmpfs.as_ref().is_some_and(|t| !host(t).is_dir()) {
            Err("mount point")
        } else {
            Ok(())
        };
        match (&result, expected) {
            (Err(e), Err(want)) => {
                prop_assert!(e.to_string().contains(want), "{} vs {}", e, want);
                prop_assert!(calls.is_empty(), "refused plans touch nothing: {:?}", texts);
                return Ok(());
            }
            (Ok(()), Ok(())) => {}
            (got, want) => prop_assert!(false, "got {:?}, expected {:?}", got, want),
        }

        for p in created_paths(&calls) {
            let staging = p == Path::new("/tmp/newroot") || p == Path::new("/tmp/oldroot") || p == Path::new("/proc");
            prop_assert!(staging || p.starts_with("/newroot"), "created outside the new root: {}", p.display());
        }
        let ro = texts
            .iter()
            .position(|t| t.starts_with("mount_setattr(\"/newroot\", recursive"))
            .expect("read-only step");
        let root_text = root.to_str().unwrap();
        let mut last = ro;
        for m in &minimal {
            let at = format!("/newroot{}", m.display());
            let in_tmpfs = tmpfs.as_ref().is_some_and(|t| m.starts_with(t));
            let source = if in_tmpfs {
                format!("/oldroot{root_text}{}", m.display())
            } else {
                at.clone()
            };
            let bind = format!("mount({source:?}, {at:?}, NULL, bind|rec, NULL)");
            let pos = texts.iter().position(|t| *t == bind);
            prop_assert!(pos.is_some(), "no bind for {}: {:?}", at, texts);
            let pos = pos.unwrap();
            // Parents first, after the read-only step; inside the tmpfs: after the tmpfs.
            prop_assert!(pos > last || in_tmpfs, "order of {}: {:?}", at, texts);
            if in_tmpfs {
                let t = format!("/newroot{}", tmpfs.as_ref().unwrap().display());
                let tpos = texts.iter().position(|x| x.starts_with(&format!("mount(\"tmpfs\", {t:?}")));
                prop_assert!(tpos.is_some_and(|tp| tp < pos), "bound before its tmpfs: {:?}", texts);
            } else {
                last = pos;
            }
            let clear = format!("mount_setattr({at:?}, single, set=MountAttr(0x0), clear=MountAttr(RDONLY))");
            prop_assert_eq!(texts.get(pos + 1), Some(&clear));
        }
        let binds = texts.iter().filter(|t| t.contains("bind|rec") && !t.contains("\"/newroot\", NULL")).count();
        prop_assert_eq!(binds, minimal.len(), "one bind per minimal member: {:?}", texts);
        prop_assert_eq!(texts.last().map(String::as_str), Some("chdir(\"/\")"));
    }
}
