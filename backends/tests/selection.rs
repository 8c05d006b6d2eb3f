//! Auto-selection, the `HUTCH_BACKEND` override, and degradation as data (sandboxlib's
//! `test_executor_for_platform`, `test_sandboxlib_backend_env_var*`,
//! `test_degrade_config_for_capabilities`, fixed: an unknown name is an error, not a warning,
//! and the override never leaks into other tests because it is set only in a child process).

mod common;

use common::*;
use hutch_backends::{
    degrade, engine_name, run, select_with, Availability, BackendKind, Choice, Config, Engine,
    Error, Mount, Network, Setting, Writable,
};

fn all_available(_: BackendKind) -> Availability {
    Availability::Available
}

fn only(kinds: &'static [BackendKind]) -> impl Fn(BackendKind) -> Availability {
    move |k| {
        if kinds.contains(&k) {
            Availability::Available
        } else {
            Availability::Unavailable(format!("{k} disabled by the test"))
        }
    }
}

#[test]
fn auto_prefers_userns_then_ptrace_then_chroot() {
    let mut c = cmd("true", &[]);
    c.writable(Writable::All);
    let pick = |probe: &dyn Fn(BackendKind) -> Availability| {
        select_with(&c, Choice::Auto, probe).unwrap().backend
    };
    assert_eq!(pick(&all_available), BackendKind::Userns);
    assert_eq!(
        pick(&only(&[BackendKind::Ptrace, BackendKind::Chroot])),
        BackendKind::Ptrace
    );
    assert_eq!(pick(&only(&[BackendKind::Chroot])), BackendKind::Chroot);
    let sel = select_with(&c, Choice::Auto, only(&[BackendKind::Chroot])).unwrap();
    assert_eq!(sel.passed_over.len(), 2);
    assert!(sel.passed_over[0].1.contains("disabled by the test"));
}

#[test]
fn auto_skips_backends_that_do_not_support_the_config() {
    // collect-only: only the tracer can record writes and allow them.
    let mut c = cmd("true", &[]);
    c.collect_only(true);
    let sel = select_with(&c, Choice::Auto, all_available).unwrap();
    assert_eq!(sel.backend, BackendKind::Ptrace);
    assert!(sel.degradations.is_empty());
    assert_eq!(sel.passed_over[0].0, BackendKind::Userns);
    assert!(
        sel.passed_over[0].1.contains("collect-only"),
        "{:?}",
        sel.passed_over
    );

    // A write policy with only chroot available: refused, unless best effort.
    let mut c = cmd("true", &[]);
    c.writable(Writable::None);
    match select_with(&c, Choice::Auto, only(&[BackendKind::Chroot])) {
        Err(Error::NoBackend { reasons }) => {
            assert!(reasons.contains("userns: userns disabled"), "{reasons}");
            assert!(
                reasons.contains("chroot: does not support writable=none"),
                "{reasons}"
            );
        }
        other => panic!("expected NoBackend, got {other:?}"),
    }
    c.best_effort(true);
    let sel = select_with(&c, Choice::Auto, only(&[BackendKind::Chroot])).unwrap();
    assert_eq!(sel.backend, BackendKind::Chroot);
    assert_eq!(sel.degradations.len(), 1);
    assert_eq!(sel.degradations[0].setting, Setting::Writable);
    assert_eq!(
        (
            sel.degradations[0].asked.as_str(),
            sel.degradations[0].got.as_str()
        ),
        ("none", "all")
    );
    assert_eq!(sel.config.get_writable(), &Writable::All);
}

#[test]
fn named_backend_unavailable_or_unsupported() {
    let c = cmd("true", &[]);
    match select_with(&c, Choice::Named(BackendKind::Userns), only(&[])) {
        Err(e @ Error::Unavailable { .. }) => {
            assert!(e.to_string().contains("userns disabled by the test"), "{e}");
            assert_eq!(e.exit_code(), 125);
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    let mut c = cmd("true", &[]);
    c.hostname("box");
    match select_with(&c, Choice::Named(BackendKind::Ptrace), all_available) {
        Err(e @ Error::Unsupported { .. }) => assert!(e.to_string().contains("hostname=box")),
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

#[test]
fn root_directory_is_never_degraded() {
    let caps = BackendKind::Ptrace.capabilities_for(false);
    let mut c = cmd("true", &[]);
    c.root("/usr").best_effort(true);
    let unsupported = caps.check(&c);
    assert_eq!(unsupported.len(), 1);
    assert_eq!(unsupported[0].setting, Setting::Root);
    assert!(!unsupported[0].degradable);
    let (degraded, changes) = caps.degrade(&c);
    assert!(changes.is_empty());
    assert_eq!(degraded.get_root(), std::path::Path::new("/usr"));
    assert!(BackendKind::Ptrace
        .capabilities_for(true)
        .check(&c)
        .is_empty());
}

#[test]
fn a_tracer_engine_choice_selects_the_tracing_backend_or_is_degraded() {
    let mut c = cmd("true", &[]);
    c.tracer_engine(Engine::Ptrace);
    let sel = select_with(&c, Choice::Auto, all_available).unwrap();
    assert_eq!(sel.backend, BackendKind::Ptrace);
    assert!(
        sel.passed_over[0].1.contains("tracer-engine"),
        "{:?}",
        sel.passed_over
    );
    // Named without best effort, a backend that traces nothing refuses the setting.
    match select_with(&c, Choice::Named(BackendKind::Userns), all_available) {
        Err(Error::Unsupported { .. }) => {}
        other => panic!("expected a refusal, got {other:?}"),
    }
    let (d, changes) = BackendKind::Userns.capabilities_for(false).degrade(&c);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].setting, Setting::TracerEngine);
    assert_eq!(changes[0].asked, engine_name(Engine::Ptrace));
    assert_eq!(d.get_tracer_engine(), Engine::Auto);
    // `auto` asks for nothing: every backend takes it.
    c.tracer_engine(Engine::Auto);
    for b in BackendKind::ALL {
        assert!(b.capabilities_for(true).check(&c).is_empty(), "{b}");
    }
}

#[test]
fn degrade_config_for_capabilities() {
    let mut c = cmd("true", &[]);
    c.network(Network::Isolated)
        .writable(Writable::List(vec!["/tmp".into()]))
        .mount(Mount::Tmpfs {
            target: "/tmp".into(),
        })
        .hostname("box")
        .collect_only(true)
        .fake_ownership(true);

    let chroot = BackendKind::Chroot.capabilities_for(true);
    let (d, changes) = chroot.degrade(&c);
    let settings: Vec<Setting> = changes.iter().map(|x| x.setting).collect();
    assert_eq!(
        settings,
        [
            Setting::Writable,
            Setting::CollectOnly,
            Setting::FakeOwnership
        ]
    );
    assert_eq!(d.get_writable(), &Writable::All);
    assert_eq!(
        d.get_network(),
        Network::Isolated,
        "chroot isolates the network"
    );
    assert!(!d.get_collect_only() && !d.get_fake_ownership());
    assert_eq!(changes[0].asked, "[/tmp]");
    assert!(changes[0].why.contains("no write policy"));

    let userns = BackendKind::Userns.capabilities_for(false);
    let (d, changes) = userns.degrade(&c);
    let settings: Vec<Setting> = changes.iter().map(|x| x.setting).collect();
    assert_eq!(settings, [Setting::CollectOnly, Setting::FakeOwnership]);
    assert_eq!(d.get_writable(), c.get_writable());
    assert_eq!(d.get_mounts(), c.get_mounts());

    let ptrace = BackendKind::Ptrace.capabilities_for(false);
    let (d, changes) = ptrace.degrade(&c);
    let settings: Vec<Setting> = changes.iter().map(|x| x.setting).collect();
    assert_eq!(settings, [Setting::Mounts, Setting::Hostname]);
    assert!(d.get_mounts().is_empty());
    assert_eq!(d.get_hostname(), None);
    assert!(d.get_collect_only() && d.get_fake_ownership());

    // A config every backend supports is not changed.
    let plain = cmd("true", &[]);
    for b in BackendKind::ALL {
        let (_, changes) = degrade(b, &plain);
        assert!(changes.is_empty(), "{b}: {changes:?}");
    }
}

#[test]
fn best_effort_run_reports_degradations() {
    for b in available() {
        let mut c = sh("hostname", &[]);
        c.hostname("hutchbox").collect_only(true);
        if b.capabilities().hostname && b.capabilities().collect_only {
            continue;
        }
        match hutch_backends::run_with(&c, Choice::Named(b)) {
            Err(Error::Unsupported { .. }) => {}
            other => panic!("{b}: expected a refusal, got {other:?}"),
        }
        c.best_effort(true);
        let o = run_on(b, &c);
        assert!(!o.degradations.is_empty(), "{b}");
        if b.capabilities().hostname {
            assert_eq!(out(&o), "hutchbox\n", "{b}");
        } else {
            assert!(o
                .degradations
                .iter()
                .any(|d| d.setting == Setting::Hostname));
            assert_ne!(out(&o), "hutchbox\n", "{b}");
        }
    }
}

#[test]
fn unknown_backend_name_lists_the_valid_ones() {
    let e = "bogus".parse::<Choice>().unwrap_err();
    assert_eq!(
        e.to_string(),
        "unknown backend \"bogus\" (valid: auto, chroot, userns, ptrace)"
    );
    assert_eq!("auto".parse::<Choice>().unwrap(), Choice::Auto);
    assert_eq!(
        "ptrace".parse::<Choice>().unwrap(),
        Choice::Named(BackendKind::Ptrace)
    );
}

/// Child role of [`override_variable`]: runs with `HUTCH_BACKEND` as set by the parent.
fn override_child(expect: &str) {
    let c = cmd("true", &[]);
    match (expect, run(&c)) {
        ("error", Err(e @ Error::UnknownBackend { .. })) => {
            assert!(e
                .to_string()
                .contains("valid: auto, chroot, userns, ptrace"));
        }
        (name, Ok(o)) => assert_eq!(o.backend.name(), name),
        (name, other) => panic!("expected {name}, got {other:?}"),
    }
}

#[test]
fn override_variable() {
    if let Ok(expect) = std::env::var("HUTCH_TEST_EXPECT") {
        return override_child(&expect);
    }
    let auto = select_with(&cmd("true", &[]), Choice::Auto, BackendKind::probe)
        .map(|s| s.backend.name())
        .unwrap_or("error");
    let mut cases: Vec<(&str, &str)> = vec![("bogus", "error"), ("", auto), ("auto", auto)];
    for b in available() {
        cases.push((b.name(), b.name()));
    }
    for (value, expect) in cases {
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "override_variable",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("HUTCH_BACKEND", value)
            .env("HUTCH_TEST_EXPECT", expect)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "HUTCH_BACKEND={value:?} should give {expect}"
        );
    }
}

#[test]
fn auto_runs_here() {
    let c = cmd("true", &[]);
    let sel = select_with(&c, Choice::Auto, BackendKind::probe);
    let first = available().first().copied();
    match (sel, first) {
        (Ok(sel), Some(first)) => {
            assert_eq!(sel.backend, first);
            let o = hutch_backends::run_with(&c, Choice::Auto).unwrap();
            assert_eq!(o.backend, first);
            assert!(o.status.success());
        }
        (Err(Error::NoBackend { .. }), None) => eprintln!("no backend can run here"),
        (other, first) => panic!("selection {other:?} disagrees with availability {first:?}"),
    }
}

#[test]
fn config_validation_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing-root");
    let mut c = Config::new("true");
    c.root(&missing);
    match run(&c) {
        Err(e @ Error::Config(_)) => assert_eq!(e.exit_code(), 125),
        other => panic!("expected a config error, got {other:?}"),
    }
    assert!(!missing.exists());
    let mut c = Config::new("");
    assert!(matches!(
        hutch_backends::run_with(c.env_clear(), Choice::Auto),
        Err(Error::Config(_))
    ));
    let mut c = Config::new("true");
    c.writable_path("/a/../../etc");
    assert!(matches!(
        hutch_backends::run_with(&c, Choice::Auto),
        Err(Error::Config(_))
    ));
    let mut c = Config::new("true");
    c.stdin(hutch_backends::Stdio::Capture);
    assert!(matches!(
        hutch_backends::run_with(&c, Choice::Auto),
        Err(Error::Config(_))
    ));
}

#[test]
fn command_not_found_and_not_executable() {
    for b in available() {
        let c = cmd("hutch-no-such-program", &[]);
        match hutch_backends::run_with(&c, Choice::Named(b)) {
            Err(e @ Error::CommandNotFound { .. }) => assert_eq!(e.exit_code(), 127),
            other => panic!("{b}: expected not found, got {other:?}"),
        }
        let c = cmd("/etc", &[]);
        match hutch_backends::run_with(&c, Choice::Named(b)) {
            Err(e @ Error::CommandNotExecutable { .. }) => assert_eq!(e.exit_code(), 126),
            other => panic!("{b}: expected not executable, got {other:?}"),
        }
    }
}

/// Child role of [`userns_probe_names_the_sysctl`]: runs where `user.max_user_namespaces=0`.
fn restricted_child() {
    match BackendKind::Userns.probe() {
        Availability::Unavailable(why) => {
            assert!(why.contains("unshare(CLONE_NEWUSER) failed"), "{why}");
            assert!(why.contains("user.max_user_namespaces=0"), "{why}");
        }
        Availability::Available => panic!("userns probe passed with max_user_namespaces=0"),
    }
    let sel = hutch_backends::select(&cmd("true", &[]), Choice::Auto).unwrap();
    assert_ne!(sel.backend, BackendKind::Userns);
    assert_eq!(sel.passed_over[0].0, BackendKind::Userns);
    assert!(sel.passed_over[0].1.contains("max_user_namespaces"));
    match hutch_backends::run_with(&cmd("true", &[]), Choice::Named(BackendKind::Userns)) {
        Err(e @ Error::Unavailable { .. }) => {
            assert!(e.to_string().contains("max_user_namespaces"))
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[test]
fn userns_probe_names_the_sysctl() {
    if std::env::var_os("HUTCH_TEST_RESTRICTED").is_some() {
        return restricted_child();
    }
    if !BackendKind::Userns.probe().is_available() {
        eprintln!("user namespaces are unavailable here: cannot build the restricted namespace");
        return;
    }
    // A user namespace of our own where we may lower the limit for its descendants only.
    let exe = std::env::current_exe().unwrap();
    let status = std::process::Command::new("unshare")
        .args(["-Ur", "sh", "-c", "echo 0 > /proc/sys/user/max_user_namespaces && exec setpriv --bounding-set=-all --inh-caps=-all \"$0\" --exact userns_probe_names_the_sysctl --nocapture"])
        .arg(exe)
        .env("HUTCH_TEST_RESTRICTED", "1")
        .status()
        .expect("unshare (util-linux)");
    assert!(status.success());
}

#[test]
fn backends_report_and_plan() {
    let reports = hutch_backends::backends();
    assert_eq!(
        reports.iter().map(|r| r.backend).collect::<Vec<_>>(),
        BackendKind::ALL
    );
    for r in &reports {
        assert_eq!(
            r.availability.is_available(),
            available().contains(&r.backend)
        );
        let engine = (r.backend == BackendKind::Ptrace).then(|| Engine::Auto.resolve());
        assert_eq!(r.tracer_engine, engine, "{}", r.backend);
        assert_ne!(r.tracer_engine, Some(Engine::Auto), "auto resolves");
    }
    let dir = tempfile::tempdir().unwrap();
    for b in available() {
        let mut c = cmd("make", &["all"]);
        c.writable(Writable::List(vec![dir.path().to_path_buf()]))
            .best_effort(true);
        let p = hutch_backends::plan(&c, Choice::Named(b)).unwrap();
        let text = p.to_string();
        assert!(text.starts_with(&format!("backend   {b}")), "{text}");
        assert!(text.ends_with("exec      make all\n"), "{text}");
        match b {
            BackendKind::Userns => {
                assert!(text.contains("read-only"), "{text}");
                assert!(text.contains(dir.path().to_str().unwrap()), "{text}");
            }
            BackendKind::Chroot => assert!(text.contains("degraded  writable"), "{text}"),
            BackendKind::Ptrace => {
                assert!(text.contains("trace"), "{text}");
                let auto = Engine::Auto.resolve();
                assert_eq!(p.engine, Some(auto));
                assert!(
                    text.contains(&format!(
                        "engine    {} (auto's pick on this kernel)\n",
                        engine_name(auto)
                    )),
                    "{text}"
                );
                for asked in [Engine::Ptrace, Engine::Notify] {
                    c.tracer_engine(asked);
                    let p = hutch_backends::plan(&c, Choice::Named(b)).unwrap();
                    assert_eq!(p.engine, Some(asked));
                    let text = p.to_string();
                    let line = format!("engine    {} (asked)\n", engine_name(asked));
                    assert!(text.contains(&line), "{text}");
                }
            }
        }
        if b != BackendKind::Ptrace {
            assert_eq!(p.engine, None, "{b} does not trace");
        }
    }
    // Planning creates nothing and checks the config.
    let mut c = cmd("true", &[]);
    c.root(dir.path().join("missing"));
    assert!(matches!(
        hutch_backends::plan(&c, Choice::Auto),
        Err(Error::Config(_))
    ));
    assert!(!dir.path().join("missing").exists());
}
