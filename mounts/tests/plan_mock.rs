//! Plan-level sequences recorded by the mock: no root needed.

use std::fs;
use std::path::{Path, PathBuf};

use hutch_mounts::{
    apply_chroot_mounts, Call, MountError, MountPlan, MountSpec, PlanError, RecordingSyscall,
    SpecError, Step, WritableStrategy,
};
use nix::errno::Errno;

/// A root with /data/1, /data/10, /etc/passwd, /proc, /dev, /tmp, and a symlink /lib -> usr/lib.
fn rootfs() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    for d in ["data/1", "data/10", "etc", "proc", "dev", "tmp", "usr/lib"] {
        fs::create_dir_all(r.join(d)).unwrap();
    }
    fs::write(r.join("etc/passwd"), b"root:x:0:0::/:/bin/sh\n").unwrap();
    std::os::unix::fs::symlink("usr/lib", r.join("lib")).unwrap();
    dir
}

fn real(p: &Path) -> PathBuf {
    fs::canonicalize(p).unwrap()
}

fn replace_root(lines: Vec<String>, root: &Path) -> Vec<String> {
    let root = root.to_str().unwrap();
    lines.into_iter().map(|l| l.replace(root, "$R")).collect()
}

#[test]
fn namespace_sequence_for_a_representative_plan() {
    let dir = rootfs();
    let root = real(dir.path());
    let mut plan = MountPlan::new(&root);
    plan.writable("data/1")
        .mount(MountSpec::proc("/proc"))
        .mount(MountSpec::tmpfs_with("/tmp", Some(1 << 20), Some(0o1777)))
        .mount(MountSpec::ro_bind(root.join("etc"), "/tmp/etc"));
    let sys = RecordingSyscall::new();
    plan.apply(&sys).unwrap();
    let got = replace_root(sys.calls_text(), &root);
    let want = [
        r#"mount(NULL, "/", NULL, rec|private, NULL)"#,
        r#"mount("tmpfs", "/tmp", "tmpfs", nosuid|nodev, "mode=0755")"#,
        r#"mkdir("/tmp/newroot", 0o755)"#,
        r#"mkdir("/tmp/oldroot", 0o755)"#,
        r#"pivot_root("/tmp", "/tmp/oldroot")"#,
        r#"chdir("/")"#,
        r#"symlink("oldroot/proc", "/proc")"#,
        r#"mount("/oldroot$R", "/newroot", NULL, bind|rec, NULL)"#,
        r#"mount_setattr("/newroot", recursive, set=MountAttr(RDONLY), clear=MountAttr(0x0))"#,
        r#"mount("/newroot/data/1", "/newroot/data/1", NULL, bind|rec, NULL)"#,
        r#"mount_setattr("/newroot/data/1", single, set=MountAttr(0x0), clear=MountAttr(RDONLY))"#,
        r#"mount("proc", "/newroot/proc", "proc", nosuid|nodev|noexec, NULL)"#,
        r#"mount("tmpfs", "/newroot/tmp", "tmpfs", nosuid|nodev, "size=1048576,mode=1777")"#,
        r#"mkdir("/newroot/tmp/etc", 0o755)"#,
        r#"mount("/oldroot$R/etc", "/newroot/tmp/etc", NULL, bind|rec, NULL)"#,
        r#"mount_setattr("/newroot/tmp/etc", recursive, set=MountAttr(RDONLY), clear=MountAttr(0x0))"#,
        r#"umount2("/oldroot", detach)"#,
        r#"chdir("/newroot")"#,
        r#"pivot_root(".", ".")"#,
        r#"umount2(".", detach)"#,
        r#"chdir("/")"#,
    ];
    assert_eq!(got, want);
}

#[test]
fn namespace_sequence_for_slash_root_with_dev() {
    let dir = tempfile::tempdir().unwrap();
    let w = real(dir.path());
    let mut plan = MountPlan::new("/");
    plan.writable(&w).mount(MountSpec::dev("/dev"));
    let sys = RecordingSyscall::new();
    plan.apply(&sys).unwrap();
    let got = replace_root(sys.calls_text(), &w);
    assert_eq!(
        got[7],
        r#"mount("/oldroot", "/newroot", NULL, bind|rec, NULL)"#
    );
    assert_eq!(
        got[8],
        r#"mount_setattr("/newroot", recursive, set=MountAttr(RDONLY), clear=MountAttr(0x0))"#
    );
    assert_eq!(
        got[9],
        r#"mount("/newroot$R", "/newroot$R", NULL, bind|rec, NULL)"#
    );
    assert_eq!(
        got[11],
        r#"mount("tmpfs", "/newroot/dev", "tmpfs", nosuid, "mode=0755")"#
    );
    assert_eq!(
        got[13],
        r#"mount("/oldroot/dev/null", "/newroot/dev/null", NULL, bind, NULL)"#
    );
    assert_eq!(got[got.len() - 5], r#"umount2("/oldroot", detach)"#);
}

#[test]
fn readonly_falls_back_to_remounts_without_mount_setattr() {
    let dir = rootfs();
    let root = real(dir.path());
    let sys = RecordingSyscall::new().with_mount_flags(
        "/newroot",
        nix::mount::MsFlags::MS_NOSUID | nix::mount::MsFlags::MS_RDONLY,
    );
    sys.fail_when(|c| matches!(c, Call::MountSetattr { .. }), Errno::ENOSYS);
    let mut plan = MountPlan::new(&root);
    plan.writable("/data/1");
    plan.apply(&sys).unwrap();
    let got = replace_root(sys.calls_text(), &root);
    // The mock's table holds the staging tmpfs and /newroot: only /newroot is under it.
    assert_eq!(
        got[8..13],
        [
            r#"mount_setattr("/newroot", recursive, set=MountAttr(RDONLY), clear=MountAttr(0x0))"#,
            r#"mount(NULL, "/newroot", NULL, remount|bind|ro|nosuid, NULL)"#,
            r#"mount("/newroot/data/1", "/newroot/data/1", NULL, bind|rec, NULL)"#,
            r#"mount_setattr("/newroot/data/1", single, set=MountAttr(0x0), clear=MountAttr(RDONLY))"#,
            r#"mount(NULL, "/newroot/data/1", NULL, remount|bind, NULL)"#,
        ]
    );
}

#[test]
fn writable_path_inside_a_plan_tmpfs_is_bound_from_the_host_after_it() {
    let dir = rootfs();
    let root = real(dir.path());
    fs::create_dir(root.join("tmp/keep")).unwrap();
    let mut plan = MountPlan::new(&root);
    plan.writable("/tmp/keep")
        .mount(MountSpec::tmpfs("/tmp"))
        .mount(MountSpec::proc("/proc"));
    let sys = RecordingSyscall::new();
    plan.apply(&sys).unwrap();
    let got = replace_root(sys.calls_text(), &root);
    assert_eq!(
        got[9..14],
        [
            r#"mount("tmpfs", "/newroot/tmp", "tmpfs", nosuid|nodev, NULL)"#,
            r#"mkdir("/newroot/tmp/keep", 0o755)"#,
            r#"mount("/oldroot$R/tmp/keep", "/newroot/tmp/keep", NULL, bind|rec, NULL)"#,
            r#"mount_setattr("/newroot/tmp/keep", single, set=MountAttr(0x0), clear=MountAttr(RDONLY))"#,
            r#"mount("proc", "/newroot/proc", "proc", nosuid|nodev|noexec, NULL)"#,
        ]
    );
    // A later mount below that writable path lives on the host: its mount point must exist
    // there, it is not created through the writable bind.
    let mut below = plan.clone();
    below.mount(MountSpec::tmpfs("/tmp/keep/missing"));
    assert!(matches!(
        below.validate(),
        Err(PlanError::MountPointMissing { index: 3, .. })
    ));
    fs::create_dir(root.join("tmp/keep/sub")).unwrap();
    let mut below = plan.clone();
    below.mount(MountSpec::tmpfs("/tmp/keep/sub"));
    let steps = below.validate().unwrap().steps().to_vec();
    assert!(matches!(
        steps.last(),
        Some(Step::Mount { create: None, .. })
    ));
    // In place (chroot path) the tmpfs would hide the host directory: refused.
    assert!(matches!(
        plan.validate_chroot(),
        Err(PlanError::WritableShadowed { index: 1, .. })
    ));
}

#[test]
fn still_read_only_writable_path_is_an_error() {
    let dir = rootfs();
    let root = real(dir.path());
    let sys =
        RecordingSyscall::new().with_mount_flags("/newroot/data/1", nix::mount::MsFlags::MS_RDONLY);
    let mut plan = MountPlan::new(&root);
    plan.writable("/data/1");
    let err = plan.apply(&sys).unwrap_err();
    assert!(
        matches!(err, MountError::StillReadOnly(ref p) if p == Path::new("/data/1")),
        "{err}"
    );
}

#[test]
fn inverted_strategy_binds_each_readonly_path() {
    let dir = rootfs();
    let root = real(dir.path());
    let mut plan = MountPlan::new(&root);
    plan.writable("/data/1")
        .strategy(WritableStrategy::Inverted);
    let valid = plan.validate().unwrap();
    assert_eq!(valid.skipped_symlinks(), [PathBuf::from("/lib")]);
    let paths: Vec<_> = valid
        .steps()
        .iter()
        .filter_map(|s| match s {
            Step::ReadOnlyPath { path } => Some(path.to_str().unwrap().to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(paths, ["/data/10", "/dev", "/etc", "/proc", "/tmp", "/usr"]);
    let sys = RecordingSyscall::new();
    valid.apply(&sys).unwrap();
    let got = sys.calls_text();
    assert_eq!(
        got[8],
        r#"mount("/newroot/data/10", "/newroot/data/10", NULL, bind|rec, NULL)"#
    );
    assert_eq!(
        got[9],
        r#"mount_setattr("/newroot/data/10", recursive, set=MountAttr(RDONLY), clear=MountAttr(0x0))"#
    );
    assert!(!got
        .iter()
        .any(|c| c.contains(r#"mount_setattr("/newroot","#)));
}

#[test]
fn validated_plan_prints_one_line_per_step() {
    let dir = rootfs();
    let root = real(dir.path());
    let mut plan = MountPlan::new(&root);
    plan.writable("/data/1/")
        .mount(MountSpec::tmpfs("/tmp"))
        .mount(MountSpec::tmpfs("/tmp/x/y"));
    let text = plan.validate().unwrap().to_string();
    let want = format!(
        "staging   tmpfs on /tmp (private to the mount namespace)\n\
         root      {} -> / (recursive bind)\n\
         read-only / (recursive)\n\
         writable  /data/1 (read-write bind on top)\n\
         mount     tmpfs /tmp\n\
         mount     tmpfs /tmp/x/y (mount point created)\n\
         pivot     into the new root, old root detached\n",
        root.display()
    );
    assert_eq!(text, want);
}

/// Every validation failure must leave the recorder untouched.
fn rejected(plan: &MountPlan) -> PlanError {
    let sys = RecordingSyscall::new();
    let err = match plan.apply(&sys) {
        Err(MountError::Plan(e)) => e,
        other => panic!("expected a plan error, got {other:?}"),
    };
    assert!(
        sys.calls().is_empty(),
        "nothing may be mounted: {:?}",
        sys.calls()
    );
    let sys = RecordingSyscall::new();
    assert!(plan.apply_chroot(&sys).is_err());
    assert!(
        sys.calls().is_empty(),
        "nothing may be created: {:?}",
        sys.calls()
    );
    err
}

#[test]
fn bad_specs_fail_before_anything_is_mounted() {
    let dir = rootfs();
    let root = real(dir.path());
    let base = || {
        let mut p = MountPlan::new(&root);
        p.mount(MountSpec::proc("/proc"));
        p
    };

    let err = rejected(base().mount(MountSpec::tmpfs("")));
    assert!(matches!(
        err,
        PlanError::BadSpec {
            index: 2,
            reason: SpecError::EmptyTarget,
            ..
        }
    ));
    assert_eq!(err.to_string(), "mount #2 (tmpfs ): empty mount target");

    let err = rejected(base().mount(MountSpec::bind("/nonexistent-hutch", "/x")));
    assert_eq!(
        err.to_string(),
        "mount #2 (bind /nonexistent-hutch -> /x): source /nonexistent-hutch: No such file or directory (os error 2)"
    );

    let err = rejected(base().writable("/data/2"));
    assert_eq!(
        err.to_string(),
        "writable path does not exist under the new root: /data/2"
    );

    let err = rejected(base().writable("/lib/x"));
    assert!(
        matches!(err, PlanError::WritableThroughSymlink { ref at, .. } if at == Path::new("/lib"))
    );

    let err = rejected(base().writable("/tmp").mount(MountSpec::tmpfs("/tmp")));
    assert!(
        matches!(err, PlanError::WritableShadowed { index: 2, .. }),
        "{err}"
    );

    let err = rejected(base().mount(MountSpec::tmpfs("/lib/tmp")));
    assert!(
        matches!(err, PlanError::TargetThroughSymlink { index: 2, .. }),
        "{err}"
    );

    let err = rejected(base().mount(MountSpec::tmpfs("/etc/passwd")));
    assert!(matches!(err, PlanError::TargetKind { .. }), "{err}");

    let err = rejected(base().mount(MountSpec::bind("/etc/hostname", "/etc")));
    assert!(matches!(err, PlanError::TargetKind { .. }), "{err}");

    let err = rejected(MountPlan::new(root.join("missing")).mount(MountSpec::proc("/proc")));
    assert!(matches!(err, PlanError::Root { .. }), "{err}");

    let err = rejected(base().writable("/../x"));
    assert!(matches!(err, PlanError::BadWritable { .. }), "{err}");
}

#[test]
fn namespace_path_never_creates_mount_points_on_the_host() {
    let dir = rootfs();
    let root = real(dir.path());
    let mut plan = MountPlan::new(&root);
    plan.mount(MountSpec::tmpfs("/run/user"));
    let err = plan.validate().unwrap_err();
    assert_eq!(
        err.to_string(),
        "mount #1 (tmpfs /run/user): mount point /run does not exist in the new root; it is not \
         created on the host (create it in the root, or mount a tmpfs on a parent first)"
    );
    // Under a tmpfs the plan mounted first, the mount point is created inside the sandbox.
    let mut plan = MountPlan::new(&root);
    plan.mount(MountSpec::tmpfs("/tmp"))
        .mount(MountSpec::tmpfs("/tmp/run/user"));
    let steps = plan.validate().unwrap().steps().to_vec();
    assert!(matches!(
        steps.last(),
        Some(Step::Mount {
            create: Some(_),
            ..
        })
    ));
    // Inside a bind, the host source decides, and nothing is created there either.
    let mut plan = MountPlan::new(&root);
    plan.mount(MountSpec::bind(root.join("data"), "/tmp"))
        .mount(MountSpec::tmpfs("/tmp/nothing"));
    assert!(matches!(
        plan.validate(),
        Err(PlanError::MountPointMissing { index: 2, .. })
    ));
}

#[test]
fn chroot_path_creates_and_removes_mount_points_in_reverse() {
    let dir = rootfs();
    let root = real(dir.path());
    let sys = RecordingSyscall::new();
    let guard = apply_chroot_mounts(
        &sys,
        &root,
        &[
            MountSpec::proc("/proc"),
            MountSpec::tmpfs("/run/user/1"),
            MountSpec::bind("/etc/hostname", "/run/user/1/hostname"),
        ],
    )
    .unwrap();
    assert_eq!(
        guard.created(),
        [
            root.join("run"),
            root.join("run/user"),
            root.join("run/user/1")
        ]
    );
    drop(guard);
    let got = replace_root(sys.calls_text(), &root);
    assert_eq!(
        got,
        [
            r#"mkdir("$R/run", 0o755)"#,
            r#"mkdir("$R/run/user", 0o755)"#,
            r#"mkdir("$R/run/user/1", 0o755)"#,
            r#"mount("proc", "$R/proc", "proc", nosuid|nodev|noexec, NULL)"#,
            r#"mount("tmpfs", "$R/run/user/1", "tmpfs", nosuid|nodev, NULL)"#,
            r#"create_file("$R/run/user/1/hostname", 0o644)"#,
            r#"mount("/etc/hostname", "$R/run/user/1/hostname", NULL, bind|rec, NULL)"#,
            r#"umount2("$R/run/user/1/hostname", detach)"#,
            r#"umount2("$R/run/user/1", detach)"#,
            r#"umount2("$R/proc", detach)"#,
            r#"rmdir("$R/run/user/1")"#,
            r#"rmdir("$R/run/user")"#,
            r#"rmdir("$R/run")"#,
        ]
    );
    assert!(sys.mount_points().is_empty());
}

#[test]
fn chroot_path_with_read_only_root_and_failure_midway_undoes_everything() {
    let dir = rootfs();
    let root = real(dir.path());
    let sys = RecordingSyscall::new();
    sys.fail_when(
        |c| matches!(c, Call::Mount { fstype: Some(t), .. } if t == "proc"),
        Errno::EPERM,
    );
    let mut plan = MountPlan::new(&root);
    plan.writable("/data/1")
        .mount(MountSpec::tmpfs("/newdir"))
        .mount(MountSpec::proc("/proc"));
    let err = plan.apply_chroot(&sys).unwrap_err();
    assert_eq!(err.errno(), Some(Errno::EPERM));
    let got = replace_root(sys.calls_text(), &root);
    assert_eq!(
        got,
        [
            r#"mkdir("$R/newdir", 0o755)"#,
            r#"mount("$R", "$R", NULL, bind|rec, NULL)"#,
            r#"mount_setattr("$R", recursive, set=MountAttr(RDONLY), clear=MountAttr(0x0))"#,
            r#"mount("$R/data/1", "$R/data/1", NULL, bind|rec, NULL)"#,
            r#"mount_setattr("$R/data/1", single, set=MountAttr(0x0), clear=MountAttr(RDONLY))"#,
            r#"mount("tmpfs", "$R/newdir", "tmpfs", nosuid|nodev, NULL)"#,
            r#"mount("proc", "$R/proc", "proc", nosuid|nodev|noexec, NULL)"#,
            r#"umount2("$R/newdir", detach)"#,
            r#"umount2("$R/data/1", detach)"#,
            r#"umount2("$R", detach)"#,
            r#"rmdir("$R/newdir")"#,
        ]
    );
    assert!(sys.mount_points().is_empty());
}

#[test]
fn read_only_slash_is_refused_in_place() {
    let mut plan = MountPlan::new("/");
    plan.mount(MountSpec::tmpfs("/tmp"));
    assert!(matches!(
        plan.validate_chroot(),
        Err(PlanError::ReadOnlySlashInPlace)
    ));
    plan.read_only(false);
    let v = plan.validate_chroot().unwrap();
    assert_eq!(v.steps().len(), 1);
    assert!(matches!(
        v.apply(&RecordingSyscall::new()),
        Err(MountError::WrongMode { .. })
    ));
}

#[test]
fn half_done_step_is_detached_before_the_guard_undoes_the_rest() {
    let dir = rootfs();
    let root = real(dir.path());
    let sys = RecordingSyscall::new();
    sys.fail_when(
        |c| matches!(c, Call::MountSetattr { path, .. } if path.ends_with("etc")),
        Errno::EINVAL,
    );
    let specs = [
        MountSpec::tmpfs("/tmp"),
        MountSpec::ro_bind(root.join("data"), "/etc"),
    ];
    let err = apply_chroot_mounts(&sys, &root, &specs).unwrap_err();
    assert_eq!(err.errno(), Some(Errno::EINVAL));
    let got = replace_root(sys.calls_text(), &root);
    assert_eq!(
        got,
        [
            r#"mount("tmpfs", "$R/tmp", "tmpfs", nosuid|nodev, NULL)"#,
            r#"mount("$R/data", "$R/etc", NULL, bind|rec, NULL)"#,
            r#"mount_setattr("$R/etc", recursive, set=MountAttr(RDONLY), clear=MountAttr(0x0))"#,
            r#"umount2("$R/etc", detach)"#,
            r#"umount2("$R/tmp", detach)"#,
        ]
    );
    assert!(sys.mount_points().is_empty());
}

#[test]
fn a_mount_sent_elsewhere_by_a_swapped_symlink_fails_closed() {
    let dir = rootfs();
    let root = real(dir.path());
    let mut plan = MountPlan::new(&root);
    plan.writable("/data/1").mount(MountSpec::proc("/proc"));
    // /data became a symlink to /etc after validation: the bind lands on /etc/1.
    let sys = RecordingSyscall::new().with_redirect("/newroot/data", "/newroot/etc");
    let err = plan.apply(&sys).unwrap_err();
    assert!(
        matches!(err, MountError::Misplaced(ref p) if p == Path::new("/newroot/data/1")),
        "{err}"
    );
    assert!(
        !sys.calls_text()
            .iter()
            .any(|c| c.starts_with("pivot_root(\".\"")),
        "no final pivot"
    );

    let sys = RecordingSyscall::new().with_redirect(root.join("proc"), root.join("etc"));
    let err = plan.apply_chroot(&sys).unwrap_err();
    assert!(
        matches!(err, MountError::Misplaced(ref p) if *p == root.join("proc")),
        "{err}"
    );
    assert!(sys.mount_points().is_empty(), "{:?}", sys.mount_points());
}

#[test]
fn a_bind_showing_another_file_than_validated_fails_closed() {
    use std::os::unix::fs::MetadataExt;
    let dir = rootfs();
    let root = real(dir.path());
    let meta = fs::metadata(root.join("data/1")).unwrap();
    let host_id = (meta.dev(), meta.ino());
    let mut plan = MountPlan::new(&root);
    plan.writable("/data/1");
    let valid = plan.validate().unwrap();
    // The same file at the target: accepted.
    let sys = RecordingSyscall::new().with_file_id("/newroot/data/1", host_id);
    valid.apply(&sys).unwrap();
    // A source swapped for a symlink after validation: the target shows something else.
    let sys = RecordingSyscall::new().with_file_id("/newroot/data/1", (host_id.0, host_id.1 + 1));
    let err = valid.apply(&sys).unwrap_err();
    assert!(
        matches!(err, MountError::Misplaced(ref p) if p == Path::new("/newroot/data/1")),
        "{err}"
    );
}
