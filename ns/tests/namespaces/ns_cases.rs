//! Cases about the namespaces themselves: unshare/setns, user maps, net, uts, mounts, caps.

#[allow(unused_imports)]
use crate::cases::*;

pub(crate) fn unshare_and_setns_basics() {
    let host = gethostname().unwrap();
    let orig = fs::File::open("/proc/self/ns/uts").unwrap();
    let ino = || fs::metadata("/proc/self/ns/uts").map(|m| std::os::unix::fs::MetadataExt::ino(&m));
    let before = ino().unwrap();
    if !is_root() {
        // Without a user namespace nobody may not unshare: a typed error naming the kind.
        let err = unshare(Namespaces::UTS).unwrap_err();
        assert_eq!(
            err,
            NsError::Unshare {
                ns: Namespaces::UTS,
                errno: Errno::EPERM
            }
        );
        assert!(err.to_string().starts_with("unshare uts: EPERM"), "{err}");
        assert_eq!(ino().unwrap(), before, "a failed unshare changed nothing");
        if let Err(e) = unshare(Namespaces::USER | Namespaces::UTS) {
            skip(&format!("unprivileged user namespaces refused: {e}"));
        }
    } else {
        unshare(Namespaces::UTS).unwrap();
    }
    assert_ne!(ino().unwrap(), before, "new uts namespace");
    nix::unistd::sethostname("hutch-basics").unwrap();
    assert_eq!(gethostname().unwrap(), "hutch-basics");
    // Wrong kind: the kernel says EINVAL and the error names the kind we asked for.
    let err = setns(&orig, Namespaces::NET).unwrap_err();
    assert_eq!(
        err,
        NsError::Setns {
            ns: Namespaces::NET,
            errno: Errno::EINVAL
        }
    );
    if is_root() {
        setns(&orig, Namespaces::UTS).unwrap();
        assert_eq!(ino().unwrap(), before);
        assert_eq!(gethostname().unwrap(), host);
        // By path too, into the namespace of another process (the runner, our parent).
        let parent = format!("/proc/{}/ns/uts", nix::unistd::getppid());
        unshare(Namespaces::UTS).unwrap();
        nix::unistd::sethostname("hutch-basics-2").unwrap();
        hutch_ns::setns_path(Path::new(&parent), Namespaces::UTS).unwrap();
        assert_eq!(gethostname().unwrap(), host);
    } else {
        // Joining the host's uts namespace needs CAP_SYS_ADMIN over the host's user namespace.
        let err = setns(&orig, Namespaces::UTS).unwrap_err();
        assert_eq!(
            err,
            NsError::Setns {
                ns: Namespaces::UTS,
                errno: Errno::EPERM
            }
        );
    }
    let err = hutch_ns::setns_path(Path::new("/nonexistent/ns"), Namespaces::NET).unwrap_err();
    assert!(
        matches!(
            err,
            NsError::Open {
                errno: Errno::ENOENT,
                ..
            }
        ),
        "{err}"
    );
}

pub(crate) fn user_map_files() {
    let (uid, gid) = (geteuid().as_raw() as u64, getegid().as_raw() as u64);
    if let Err(e) = enter_user_ns(&UserMapping::root()) {
        if is_root() {
            panic!("{e}");
        }
        skip(&format!("unprivileged user namespaces refused: {e}"));
    }
    assert_eq!(map_fields("/proc/self/uid_map"), [0, uid, 1]);
    assert_eq!(map_fields("/proc/self/gid_map"), [0, gid, 1]);
    assert_eq!(
        fs::read_to_string("/proc/self/setgroups").unwrap().trim(),
        "deny"
    );
    assert_eq!(getuid().as_raw(), 0);
    // A chosen id, in a nested namespace: inside ids map onto our current (root) ids.
    enter_user_ns(&UserMapping::current_to(1234, 4321)).unwrap();
    assert_eq!(map_fields("/proc/self/uid_map"), [1234, 0, 1]);
    assert_eq!(map_fields("/proc/self/gid_map"), [4321, 0, 1]);
    assert_eq!(getuid().as_raw(), 1234);
    assert_eq!(nix::unistd::getgid().as_raw(), 4321);
}

pub(crate) fn user_map_written_for_another_process() {
    // The parent-writes-the-map mode (Target::Pid): a child unshares its user namespace and
    // waits; we write its maps, then it prints what it sees.
    let (uid, gid) = (geteuid().as_raw() as u64, getegid().as_raw() as u64);
    let own = fs::read_link("/proc/self/ns/user").unwrap();
    let spawned = Command::new("unshare")
        .args([
            "--user",
            "sh",
            "-c",
            "read go; cat /proc/self/uid_map /proc/self/gid_map; id -u",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => skip(&format!("no unshare(1): {e}")),
    };
    let pid = Pid::from_raw(child.id() as i32);
    let ns = format!("/proc/{pid}/ns/user");
    // unshare(1) execs sh in the same process once its namespace exists.
    while fs::read_link(&ns).map(|l| l == own).unwrap_or(true) {
        if let Ok(Some(st)) = child.try_wait() {
            skip(&format!("unshare --user failed here: {st}"));
        }
        std::thread::yield_now();
    }
    // Root may write several ranges for another process; nobody only its own id.
    let mut mapping = UserMapping::current_to(0, 0);
    if is_root() {
        let extra = hutch_ns::IdMap {
            inside: 1,
            outside: 100_000,
            count: 1000,
        };
        mapping.uid.push(extra);
        mapping.gid.push(extra);
    }
    mapping.write(Target::Pid(pid)).unwrap();
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<u64> = text
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    let want: Vec<u64> = if is_root() {
        vec![0, uid, 1, 1, 100_000, 1000, 0, gid, 1, 1, 100_000, 1000, 0]
    } else {
        vec![0, uid, 1, 0, gid, 1, 0]
    };
    assert_eq!(fields, want, "{text}");
}

pub(crate) fn loopback_up_and_alone() {
    let check = |want_up: bool| {
        move || -> io::Error {
            let names: Vec<String> = nix::net::if_::if_nameindex()
                .unwrap()
                .iter()
                .map(|i| i.name().to_string_lossy().into_owned())
                .collect();
            let up = nix::ifaddrs::getifaddrs().unwrap().any(|a| {
                a.interface_name == "lo" && a.flags.contains(nix::net::if_::InterfaceFlags::IFF_UP)
            });
            // Bind and connect over 127.0.0.1 (a down `lo` makes the connect fail).
            let talk = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| std::net::TcpStream::connect(l.local_addr()?))
                .is_ok();
            if names != ["lo"] || up != want_up || talk != want_up {
                eprintln!("interfaces {names:?}, lo up {up}, 127.0.0.1 usable {talk}");
                exit(1)
            }
            exit(0)
        }
    };
    let out = run(&base(Namespaces::NET).loopback(true), check(true));
    assert_eq!(out, Outcome::Completed(ExitStatus::Exited(0)));
    let out = run(&base(Namespaces::NET), check(false));
    assert_eq!(out, Outcome::Completed(ExitStatus::Exited(0)));
}

pub(crate) fn hostname_inside_only() {
    let host = gethostname().unwrap();
    let inside = format!("hutch-{}", std::process::id());
    let want = inside.clone();
    let sb = base(Namespaces::empty())
        .hostname(&inside)
        .domainname("hutch.test");
    let out = run(&sb, move || -> io::Error {
        let name = gethostname().unwrap();
        let dom = fs::read_to_string("/proc/sys/kernel/domainname").unwrap();
        if name != want.as_str() || dom.trim() != "hutch.test" {
            eprintln!("hostname {name:?}, domain {dom:?}");
            exit(1)
        }
        exit(0)
    });
    assert_eq!(out, Outcome::Completed(ExitStatus::Exited(0)));
    assert_eq!(gethostname().unwrap(), host);
    assert_ne!(host.to_string_lossy(), inside);
    // Without a uts namespace a hostname is refused before anything is created.
    let err = Sandbox::new(Namespaces::MOUNT)
        .hostname("x")
        .spawn(no_setup, sh("true".into()));
    assert!(matches!(err, Err(SpawnError::Config(_))), "{err:?}");
}

pub(crate) fn mount_inside_absent_on_host() {
    // Make our own view of `/` shared, so that without the sandbox's rprivate a mount made
    // inside would propagate back here (the host's `/` may already be private).
    if is_root() {
        unshare(Namespaces::MOUNT).unwrap();
    } else if let Err(e) = enter_user_ns(&UserMapping::root()) {
        skip(&format!("unprivileged user namespaces refused: {e}"));
    } else {
        unshare(Namespaces::MOUNT).unwrap();
    }
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SHARED,
        None::<&str>,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().to_owned();
    let t2 = target.clone();
    let command = move || -> io::Error {
        if !mounted_here(&t2) || fs::write(t2.join("inside"), "x").is_err() {
            eprintln!("tmpfs not mounted inside");
            exit(1)
        }
        exit(0)
    };
    let sb = Sandbox::new(Namespaces::MOUNT);
    let sb = if is_root() { sb } else { sb.map_root() };
    let out = sb
        .spawn(tmpfs_on(&target), command)
        .unwrap()
        .wait()
        .unwrap();
    assert_eq!(out, Outcome::Completed(ExitStatus::Exited(0)));
    assert!(!mounted_here(&target), "the sandbox's mount leaked out");
    assert!(!target.join("inside").exists());
    // The same with rslave propagation.
    let sb = sb.propagation(hutch_ns::Propagation::Slave);
    let out = sb
        .spawn(tmpfs_on(&target), || -> io::Error { exit(0) })
        .unwrap()
        .wait()
        .unwrap();
    assert_eq!(out, Outcome::Completed(ExitStatus::Exited(0)));
    assert!(
        !mounted_here(&target),
        "the sandbox's mount leaked out (rslave)"
    );
}

/// A setup closure that mounts a tmpfs on `target`.
fn tmpfs_on(target: &Path) -> impl FnOnce() -> Result<(), String> {
    let target = target.to_owned();
    move || {
        mount(
            Some("tmpfs"),
            &target,
            Some("tmpfs"),
            MsFlags::empty(),
            None::<&str>,
        )
        .map_err(|e| format!("mount tmpfs: {e}"))
    }
}

/// Whether `target` is a mount point in this process's mount namespace.
fn mounted_here(target: &Path) -> bool {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let target = target.to_str().unwrap();
    info.lines().any(|l| l.split(' ').nth(4) == Some(target))
}

pub(crate) fn best_effort_skips_unsupported() {
    if !is_root() {
        // EPERM is not "unsupported": best-effort still fails.
        let err = UnsharePlan::new()
            .best_effort(Namespaces::UTS)
            .run()
            .unwrap_err();
        assert_eq!(
            err,
            NsError::Unshare {
                ns: Namespaces::UTS,
                errno: Errno::EPERM
            }
        );
        if let Err(e) = enter_user_ns(&UserMapping::root()) {
            skip(&format!("unprivileged user namespaces refused: {e}"));
        }
    }
    // After one unshare(CLONE_NEWPID) without a fork, the kernel answers EINVAL to another:
    // this kernel does not support a second one, which is what best-effort must tolerate.
    unshare(Namespaces::PID).unwrap();
    let done = UnsharePlan::new()
        .require(Namespaces::UTS)
        .best_effort(Namespaces::PID | Namespaces::CGROUP)
        .run()
        .unwrap();
    assert_eq!(done.done, Namespaces::UTS | Namespaces::CGROUP);
    assert_eq!(done.skipped, vec![(Namespaces::PID, Errno::EINVAL)]);
    assert_eq!(done.skipped_set(), Namespaces::PID);
    // Required: the same answer is an error.
    let err = UnsharePlan::new()
        .require(Namespaces::PID)
        .run()
        .unwrap_err();
    assert_eq!(
        err,
        NsError::Unshare {
            ns: Namespaces::PID,
            errno: Errno::EINVAL
        }
    );
}

pub(crate) fn caps_drop_except() {
    if !is_root() {
        // Outside a user namespace nobody cannot shrink the bounding set: fail closed.
        let err = caps::drop_except(CapSet::EMPTY).unwrap_err();
        assert!(
            matches!(
                err,
                caps::CapsError::Bounding {
                    errno: Errno::EPERM,
                    ..
                }
            ),
            "{err}"
        );
    }
    let keep = CapSet::of(&[Capability::NetBindService]);
    let out = run(&base(Namespaces::empty()), move || -> io::Error {
        let before = caps::current().unwrap();
        if !before.0.contains(Capability::SysAdmin) {
            eprintln!("the sandbox's root lacks CAP_SYS_ADMIN: {before:?}");
            exit(4)
        }
        let kept = match caps::drop_except(keep) {
            Ok(k) => k,
            Err(e) => {
                eprintln!("drop_except: {e}");
                exit(2)
            }
        };
        let after = caps::current().unwrap();
        let want = (keep, keep, keep);
        if after != want {
            eprintln!("after: {after:?}");
            exit(5)
        }
        let fields: Vec<String> = [
            "CapEff",
            "CapPrm",
            "CapInh",
            "CapBnd",
            "CapAmb",
            "NoNewPrivs",
        ]
        .iter()
        .map(|f| status_field(f))
        .collect();
        let want = ["0000000000000400", "0000000000000400", "0000000000000400"];
        if kept != keep || fields[..2] != want[..2] || fields[3] != want[2] {
            eprintln!("kept {kept:?}, status {fields:?}");
            exit(1)
        }
        if fields[2] != "0000000000000400" || fields[4] != "0000000000000000" || fields[5] != "1" {
            eprintln!("status {fields:?}");
            exit(1)
        }
        // Without CAP_SETPCAP any further bounding-set drop is refused: fail closed.
        match caps::drop_except(CapSet::EMPTY) {
            Err(caps::CapsError::Bounding {
                cap: 10,
                errno: Errno::EPERM,
            }) => exit(0),
            other => {
                eprintln!("second drop: {other:?}");
                exit(3)
            }
        }
    });
    assert_eq!(out, Outcome::Completed(ExitStatus::Exited(0)));
    // Keep nothing: every set is empty afterwards.
    let out = run(&base(Namespaces::empty()), || -> io::Error {
        let kept = caps::drop_except(CapSet::EMPTY);
        let fields: Vec<String> = ["CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb"]
            .iter()
            .map(|f| status_field(f))
            .collect();
        if !matches!(kept, Ok(k) if k.is_empty()) || fields.iter().any(|f| f != "0000000000000000")
        {
            eprintln!("kept {kept:?}, status {fields:?}");
            exit(1)
        }
        exit(0)
    });
    assert_eq!(out, Outcome::Completed(ExitStatus::Exited(0)));
}

pub(crate) fn namespaces_differ_from_host() {
    let kinds = [
        ("mnt", Namespaces::MOUNT),
        ("uts", Namespaces::UTS),
        ("ipc", Namespaces::IPC),
        ("net", Namespaces::NET),
        ("pid", Namespaces::PID),
        ("user", Namespaces::USER),
        ("cgroup", Namespaces::CGROUP),
    ];
    let link = |k: &str| fs::read_link(format!("/proc/self/ns/{k}")).unwrap();
    let host: Vec<_> = kinds.iter().map(|(k, _)| link(k)).collect();
    let sb = base(Namespaces::NET | Namespaces::CGROUP);
    let want = sb.namespaces();
    let out = run(&sb, move || -> io::Error {
        let mut bad = Vec::new();
        for ((name, kind), host) in kinds.iter().zip(&host) {
            if (link(name) != *host) != want.contains(*kind) {
                bad.push(*name);
            }
        }
        // chromite's cgroup test: every line of /proc/self/cgroup is at the namespace root.
        let cg = fs::read_to_string("/proc/self/cgroup").unwrap();
        if !bad.is_empty() || !cg.lines().all(|l| l.ends_with(":/")) {
            eprintln!("wrong namespaces: {bad:?}; cgroup {cg:?}");
            exit(1)
        }
        exit(0)
    });
    assert_eq!(out, Outcome::Completed(ExitStatus::Exited(0)));
}
