//! The cases of the namespace test. Each runs single-threaded in its own mount namespace
//! (stage 2 of `namespace.rs`), with uid 0 (real root, or mapped root of a user namespace).

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use hutch_mounts::{
    apply_chroot_mounts, ops, path_is_mount_point, path_mounts_under, read_mountinfo, LinuxSyscall,
    MountError, MountPlan, MountSpec, PlanError, Syscall,
};
use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;

type Case = fn(&Path) -> Result<(), String>;

/// Cases that rely on [`MountPlan::apply`] to make `/` private: stage 2 does not do it for
/// them, so a missing `MS_PRIVATE` would show up as mounts propagated to stage 1.
pub const SELF_PRIVATE: &[&str] = &[
    "pivot_without_mount_setattr",
    "pivot_into_tempdir_root",
    "pivot_into_slash_root",
    "nested_userns_locks_readonly",
];

/// The cases, by name.
pub const CASES: &[(&str, Case)] = &[
    ("tmpfs_changes_st_dev", tmpfs_changes_st_dev),
    ("unmount_tree_nested", unmount_tree_nested),
    (
        "chroot_readonly_with_writable_path",
        chroot_readonly_with_writable_path,
    ),
    ("chroot_guard_cleans_up", chroot_guard_cleans_up),
    ("pivot_into_tempdir_root", pivot_into_tempdir_root),
    ("pivot_into_slash_root", pivot_into_slash_root),
    ("nested_userns_locks_readonly", nested_userns_locks_readonly),
    ("bad_specs_mount_nothing", bad_specs_mount_nothing),
    (
        "readonly_fallback_keeps_locked_flags",
        readonly_fallback_keeps_locked_flags,
    ),
    ("pivot_without_mount_setattr", pivot_without_mount_setattr),
];

const SYS: LinuxSyscall = LinuxSyscall;

fn ensure(cond: bool, what: impl std::fmt::Display) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(format!("check failed: {what}"))
    }
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn dev_of(p: &Path) -> Result<u64, String> {
    fs::metadata(p)
        .map(|m| m.dev())
        .map_err(|e| format!("stat {}: {e}", p.display()))
}

/// Writes a file and reports the errno on failure.
fn write(p: &Path) -> Result<(), i32> {
    fs::write(p, b"hutch").map_err(|e| e.raw_os_error().unwrap_or(-1))
}

fn expect_erofs(p: &Path) -> Result<(), String> {
    match write(p) {
        Err(libc::EROFS) => Ok(()),
        other => Err(format!(
            "write {}: expected EROFS, got {other:?}",
            p.display()
        )),
    }
}

fn expect_writable(p: &Path) -> Result<(), String> {
    write(p).map_err(|e| format!("write {}: errno {e}", p.display()))
}

fn mkdirs(base: &Path, dirs: &[&str]) -> Result<(), String> {
    for d in dirs {
        fs::create_dir_all(base.join(d)).map_err(err)?;
    }
    Ok(())
}

fn listing(p: &Path) -> Result<Vec<String>, String> {
    let mut names: Vec<String> = fs::read_dir(p)
        .map_err(|e| format!("read_dir {}: {e}", p.display()))?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()
        .map_err(err)?;
    names.sort();
    Ok(names)
}

fn tmpfs_changes_st_dev(dir: &Path) -> Result<(), String> {
    let t = dir.join("t");
    fs::create_dir(&t).map_err(err)?;
    let before = dev_of(&t)?;
    ensure(
        !path_is_mount_point(&t).map_err(err)?,
        "not a mount point yet",
    )?;
    ops::mount_tmpfs(&SYS, &t, Some(1 << 20), Some(0o700)).map_err(err)?;
    ensure(dev_of(&t)? != before, "tmpfs changes st_dev")?;
    ensure(path_is_mount_point(&t).map_err(err)?, "is a mount point")?;
    let mode = fs::metadata(&t).map_err(err)?.mode() & 0o7777;
    ensure(mode == 0o700, format!("tmpfs mode {mode:o}"))?;
    ops::unmount(&SYS, &t, false).map_err(err)?;
    ensure(dev_of(&t)? == before, "unmount restores st_dev")?;
    ensure(
        !path_is_mount_point(&t).map_err(err)?,
        "no longer a mount point",
    )
}

fn unmount_tree_nested(dir: &Path) -> Result<(), String> {
    let a = dir.join("a");
    let x = dir.join("x");
    mkdirs(dir, &["a", "x"])?;
    let before = dev_of(&a)?;
    ops::mount_tmpfs(&SYS, &a, None, None).map_err(err)?;
    fs::create_dir(a.join("b")).map_err(err)?;
    ops::mount_tmpfs(&SYS, &a.join("b"), None, None).map_err(err)?;
    fs::create_dir(a.join("b/c")).map_err(err)?;
    ops::bind(&SYS, &x, &a.join("b/c"), true).map_err(err)?;
    // Stacked on the same mount point: unmounted twice by path, top first.
    ops::mount_tmpfs(&SYS, &a.join("b/c"), None, None).map_err(err)?;
    // A sibling whose name shares a prefix must survive.
    let ab = dir.join("ab");
    fs::create_dir(&ab).map_err(err)?;
    ops::mount_tmpfs(&SYS, &ab, None, None).map_err(err)?;
    let n = ops::unmount_tree(&SYS, &a).map_err(err)?;
    ensure(n == 4, format!("unmounted {n}, expected 4"))?;
    ensure(dev_of(&a)? == before, "st_dev restored")?;
    ensure(
        path_mounts_under(&a).map_err(err)?.is_empty(),
        "nothing left under a",
    )?;
    ensure(path_is_mount_point(&ab).map_err(err)?, "/ab untouched")?;
    ops::unmount(&SYS, &ab, false).map_err(err)
}

/// A root directory with /data/1, /data/other/f, /etc, /proc, /dev, /tmp.
fn make_root(dir: &Path) -> Result<PathBuf, String> {
    let root = dir.join("root");
    mkdirs(
        &root,
        &["data/1", "data/other", "etc", "proc", "dev", "tmp"],
    )?;
    fs::write(root.join("data/other/f"), b"old").map_err(err)?;
    fs::write(root.join("etc/passwd"), b"root:x:0:0::/:/bin/sh\n").map_err(err)?;
    Ok(root)
}

fn chroot_readonly_with_writable_path(dir: &Path) -> Result<(), String> {
    let root = make_root(dir)?;
    let mut plan = MountPlan::new(&root);
    plan.writable("/data/1");
    let guard = plan.apply_chroot(&SYS).map_err(err)?;
    expect_writable(&root.join("data/1/f"))?;
    expect_erofs(&root.join("etc/new"))?;
    expect_erofs(&root.join("data/new"))?; // next to the writable path, in its parent
    expect_erofs(&root.join("data/other/f"))?;
    expect_erofs(&root.join("new"))?;
    guard.release().map_err(err)?;
    ensure(
        path_mounts_under(&root).map_err(err)?.is_empty(),
        "all unmounted",
    )?;
    ensure(
        fs::read(root.join("data/1/f")).map_err(err)? == b"hutch",
        "write reached the host",
    )?;
    expect_writable(&root.join("new"))
}

fn chroot_guard_cleans_up(dir: &Path) -> Result<(), String> {
    let root = dir.join("root");
    mkdirs(&root, &["etc"])?;
    let host_file = dir.join("hostname");
    fs::write(&host_file, b"box\n").map_err(err)?;
    let before = listing(&root)?;
    let guard = apply_chroot_mounts(
        &SYS,
        &root,
        &[
            MountSpec::proc("/proc"),
            MountSpec::dev("/dev"),
            MountSpec::tmpfs("/run/user/0"),
            MountSpec::ro_bind(&host_file, "/etc/hostname"),
        ],
    )
    .map_err(err)?;
    ensure(
        guard.created()
            == [
                root.join("proc"),
                root.join("dev"),
                root.join("run"),
                root.join("run/user"),
                root.join("run/user/0"),
                root.join("etc/hostname"),
            ],
        format!("created {:?}", guard.created()),
    )?;
    ensure(root.join("proc/self/status").exists(), "proc mounted")?;
    ensure(root.join("dev/null").exists(), "dev mounted")?;
    ensure(
        fs::read(root.join("etc/hostname")).map_err(err)? == b"box\n",
        "file bind",
    )?;
    expect_erofs(&root.join("etc/hostname"))?;
    guard.release().map_err(err)?;
    ensure(
        path_mounts_under(&root).map_err(err)?.is_empty(),
        "all unmounted",
    )?;
    let after = listing(&root)?;
    ensure(
        after == before,
        format!("mount points removed: {before:?} -> {after:?}"),
    )
}

/// Checks made from inside a pivoted root: the sandbox as the command would see it.
fn check_sandbox_view(writable: &Path, beside: &Path) -> Result<(), String> {
    expect_writable(&writable.join("f"))?;
    expect_erofs(beside)?;
    // proc: a fresh instance of our PID namespace, where this process is PID 1.
    let status = fs::read_to_string("/proc/self/status").map_err(err)?;
    ensure(
        status.lines().any(|l| l == "Pid:\t1"),
        "fresh procfs of the new PID namespace",
    )?;
    // dev: device nodes work, pts is a devpts, shm is writable.
    let mut null = fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .map_err(err)?;
    null.write_all(b"discard").map_err(err)?;
    let mut zero = [1u8; 16];
    fs::File::open("/dev/zero")
        .and_then(|mut f| f.read_exact(&mut zero))
        .map_err(err)?;
    ensure(zero == [0u8; 16], "/dev/zero reads zeros")?;
    fs::File::open("/dev/urandom").map_err(err)?;
    ensure(
        fs::read_link("/dev/ptmx").map_err(err)? == Path::new("pts/ptmx"),
        "ptmx link",
    )?;
    ensure(
        fs::read_link("/dev/fd").map_err(err)? == Path::new("/proc/self/fd"),
        "fd link",
    )?;
    let table = read_mountinfo().map_err(err)?;
    let pts = table
        .iter()
        .find(|m| m.mount_point == Path::new("/dev/pts"));
    ensure(
        pts.is_some_and(|m| m.fs_type == "devpts"),
        "devpts on /dev/pts",
    )?;
    expect_writable(Path::new("/dev/shm/x"))?;
    ensure(
        !Path::new("/oldroot").exists() && !Path::new("/newroot").exists(),
        "no staging left",
    )?;
    ensure(
        table.iter().all(|m| !m.mount_point.starts_with("/oldroot")),
        "old root detached",
    )
}

fn pivot_into_tempdir_root(dir: &Path) -> Result<(), String> {
    let root = make_root(dir)?;
    fs::create_dir(dir.join("stage")).map_err(err)?;
    let extra = dir.join("extra");
    fs::create_dir(&extra).map_err(err)?;
    fs::write(extra.join("file"), b"x").map_err(err)?;
    fs::create_dir(root.join("tmp/keep")).map_err(err)?;
    fs::write(root.join("tmp/keep/marker"), b"host").map_err(err)?;
    let mut plan = MountPlan::new(&root);
    plan.writable("/data/1")
        .writable("/tmp/keep")
        .staging_dir(dir.join("stage"))
        .mount(MountSpec::proc("/proc"))
        .mount(MountSpec::dev("/dev"))
        .mount(MountSpec::tmpfs("/tmp"))
        .mount(MountSpec::ro_bind(&extra, "/tmp/extra"));
    plan.apply(&SYS).map_err(err)?;
    let top = listing(Path::new("/"))?;
    ensure(
        top == ["data", "dev", "etc", "proc", "tmp"],
        format!("root holds {top:?}"),
    )?;
    check_sandbox_view(Path::new("/data/1"), Path::new("/data/new"))?;
    expect_erofs(Path::new("/data/other/f"))?;
    expect_erofs(Path::new("/etc/passwd"))?;
    expect_erofs(Path::new("/new"))?;
    ensure(
        dev_of(Path::new("/tmp"))? != dev_of(Path::new("/"))?,
        "/tmp is its own tmpfs",
    )?;
    expect_writable(Path::new("/tmp/scratch"))?;
    // A writable path inside the tmpfs is the host's directory, bound after the tmpfs.
    ensure(
        fs::read("/tmp/keep/marker").map_err(err)? == b"host",
        "host dir in the tmpfs",
    )?;
    expect_writable(Path::new("/tmp/keep/f"))?;
    ensure(
        fs::read("/tmp/extra/file").map_err(err)? == b"x",
        "ro-bind content",
    )?;
    expect_erofs(Path::new("/tmp/extra/file"))?;
    // The read-only flag set by the plan is not locked: CAP_SYS_ADMIN could undo it. That is
    // why the backend drops capabilities (or nests a user namespace, next case).
    let rw = MsFlags::MS_REMOUNT | MsFlags::MS_BIND;
    nix::mount::mount(None::<&str>, "/", None::<&str>, rw, None::<&str>).map_err(err)?;
    expect_writable(Path::new("/new"))
}

fn pivot_into_slash_root(dir: &Path) -> Result<(), String> {
    let w = dir.join("w");
    fs::create_dir(&w).map_err(err)?;
    fs::create_dir(dir.join("stage")).map_err(err)?;
    let mut plan = MountPlan::new("/");
    plan.writable(&w)
        .staging_dir(dir.join("stage"))
        .mount(MountSpec::proc("/proc"))
        .mount(MountSpec::dev("/dev"));
    plan.apply(&SYS).map_err(err)?;
    // The host's tree is visible, read-only; the case directory (ours) proves EROFS.
    ensure(Path::new("/usr").is_dir(), "host /usr visible")?;
    check_sandbox_view(&w, &dir.join("beside"))?;
    ensure(
        write(Path::new("/etc/hutch-mounts-test")).is_err(),
        "/etc not writable",
    )?;
    let root_entry = read_mountinfo()
        .map_err(err)?
        .into_iter()
        .find(|m| m.mount_point == Path::new("/"))
        .ok_or("no / in mountinfo")?;
    ensure(root_entry.is_read_only(), "/ is mounted read-only")
}

fn nested_userns_locks_readonly(dir: &Path) -> Result<(), String> {
    // Default staging directory (/tmp), with the new root below it.
    let root = make_root(dir)?;
    let mut plan = MountPlan::new(&root);
    plan.writable("/data/1").mount(MountSpec::proc("/proc"));
    plan.apply(&SYS).map_err(err)?;
    // Enter a nested user + mount namespace: the copies of the mounts get their flags locked.
    nest_userns()?;
    let rw = MsFlags::MS_REMOUNT | MsFlags::MS_BIND;
    let res = nix::mount::mount(None::<&str>, "/", None::<&str>, rw, None::<&str>);
    ensure(
        res == Err(Errno::EPERM),
        format!("remount rw of / gave {res:?}"),
    )?;
    let res = hutch_mounts::ops::make_writable(&SYS, Path::new("/"));
    ensure(
        res.is_err(),
        "mount_setattr cannot clear the locked read-only flag",
    )?;
    // Unmounting the writable bind to reveal what is below is refused too (locked mount).
    let res = nix::mount::umount2("/data/1", MntFlags::MNT_DETACH);
    ensure(
        res.is_err(),
        format!("umount of a locked mount gave {res:?}"),
    )?;
    expect_erofs(Path::new("/new"))?;
    expect_writable(Path::new("/data/1/f"))
}

fn bad_specs_mount_nothing(dir: &Path) -> Result<(), String> {
    let root = make_root(dir)?;
    fs::create_dir(dir.join("stage")).map_err(err)?;
    let before_table = read_mountinfo().map_err(err)?;
    let before_tree = listing(&root)?;
    let plans: Vec<(MountPlan, &str)> = vec![
        {
            let mut p = MountPlan::new(&root);
            p.mount(MountSpec::proc("/proc"))
                .mount(MountSpec::tmpfs(""));
            (p, "mount #2 (tmpfs ): empty mount target")
        },
        {
            let mut p = MountPlan::new(&root);
            p.writable("/data/2").mount(MountSpec::tmpfs("/tmp"));
            (
                p,
                "writable path does not exist under the new root: /data/2",
            )
        },
        {
            let spec = MountSpec::from_sandboxlib(None, Some("/x"), Some("ext4"), None);
            let e = spec.unwrap_err().to_string();
            ensure(e.starts_with("unknown mount type \"ext4\""), &e)?;
            let mut p = MountPlan::new(&root);
            p.mount(MountSpec::tmpfs("/tmp"))
                .mount(MountSpec::tmpfs("/run/x"));
            (
                p,
                "mount #2 (tmpfs /run/x): mount point /run does not exist",
            )
        },
    ];
    for (mut plan, want) in plans {
        plan.staging_dir(dir.join("stage"));
        let e = plan.apply(&SYS).expect_err("bad plan must fail");
        ensure(
            matches!(e, MountError::Plan(_)),
            format!("plan error, got {e}"),
        )?;
        ensure(
            e.to_string().starts_with(want),
            format!("{e:?} should start with {want:?}"),
        )?;
    }
    let mut p = MountPlan::new(&root);
    p.mount(MountSpec::proc("/newdir"))
        .mount(MountSpec::bind("/nonexistent", "/b"));
    let e = p.apply_chroot(&SYS).expect_err("bad chroot plan must fail");
    ensure(
        matches!(
            e,
            MountError::Plan(PlanError::SourceMissing { index: 2, .. })
        ),
        &e,
    )?;
    let after_table = read_mountinfo().map_err(err)?;
    ensure(after_table == before_table, "mount table unchanged")?;
    ensure(
        listing(&root)? == before_tree,
        "nothing created in the root",
    )
}

/// Enters a nested user + mount namespace mapping the current ids to themselves: the kernel
/// locks the flags of every mount copied into it.
fn nest_userns() -> Result<(), String> {
    let uid = nix::unistd::getuid();
    let gid = nix::unistd::getgid();
    nix::sched::unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS).map_err(err)?;
    fs::write("/proc/self/setgroups", "deny").map_err(err)?;
    fs::write("/proc/self/uid_map", format!("0 {uid} 1")).map_err(err)?;
    fs::write("/proc/self/gid_map", format!("0 {gid} 1")).map_err(err)
}

fn readonly_fallback_keeps_locked_flags(dir: &Path) -> Result<(), String> {
    let t = dir.join("t");
    fs::create_dir(&t).map_err(err)?;
    let locked = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let tmpfs = Some("tmpfs");
    nix::mount::mount(tmpfs, &t, tmpfs, locked, None::<&str>).map_err(err)?;
    fs::create_dir(t.join("sub")).map_err(err)?;
    let sub_flags = MsFlags::MS_NOSUID | MsFlags::MS_NOATIME;
    nix::mount::mount(tmpfs, &t.join("sub"), tmpfs, sub_flags, None::<&str>).map_err(err)?;
    nest_userns()?;
    // A plain read-only remount drops the locked flags: the kernel refuses it.
    let naive = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY;
    let res = nix::mount::mount(None::<&str>, &t, None::<&str>, naive, None::<&str>);
    ensure(
        res == Err(Errno::EPERM),
        format!("naive remount gave {res:?}"),
    )?;
    // The fallback walks the submounts and repeats each one's flags.
    let how = ops::make_readonly(&crate::fallback::NoSetattr, &t, true).map_err(err)?;
    ensure(how == ops::ReadOnlyMethod::Remount(2), format!("{how:?}"))?;
    expect_erofs(&t.join("f"))?;
    expect_erofs(&t.join("sub/f"))?;
    let flags = SYS.mount_flags(&t.join("sub")).map_err(err)?;
    ensure(
        flags.contains(MsFlags::MS_NOATIME | MsFlags::MS_NOSUID),
        format!("{flags:?}"),
    )
}

/// The whole namespace path on the remount fallback (kernels without `mount_setattr`).
fn pivot_without_mount_setattr(dir: &Path) -> Result<(), String> {
    let root = make_root(dir)?;
    fs::create_dir(dir.join("stage")).map_err(err)?;
    let extra = dir.join("extra");
    fs::create_dir(&extra).map_err(err)?;
    let mut plan = MountPlan::new(&root);
    plan.writable("/data/1")
        .staging_dir(dir.join("stage"))
        .mount(MountSpec::tmpfs("/tmp"))
        .mount(MountSpec::ro_bind(&extra, "/tmp/extra"));
    plan.apply(&crate::fallback::NoSetattr).map_err(err)?;
    expect_writable(Path::new("/data/1/f"))?;
    expect_erofs(Path::new("/data/new"))?;
    expect_erofs(Path::new("/etc/passwd"))?;
    expect_erofs(Path::new("/tmp/extra/f"))?;
    expect_writable(Path::new("/tmp/f"))
}
