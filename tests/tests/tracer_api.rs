//! The library API in-process: observer hooks (and their errors), command-not-found vs not
//! executable, exact environment, cwd, stdio, Landlock status. Under both engines: every
//! tracer comes from the harness's `tracer`, which sets the test's engine, and every outcome
//! must name it.

use hutch_pathset::PathSet;
use hutch_tests::both_engines;
use hutch_tests::tracer_harness::{current_engine, tracer};
use hutch_tracer::{
    ExitStatus, LandlockStatus, Observer, ObserverError, Policy, TraceError, TraceOutcome,
    Violation,
};
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;

const PROBE: &str = env!("CARGO_BIN_EXE_hutch-probe");

#[derive(Default)]
struct Recorder {
    initialized: Vec<u32>,
    violations: Vec<Violation>,
    died: Vec<u32>,
    fail_on_violation: bool,
    fail_on_init: bool,
}

impl Observer for Recorder {
    fn child_initialized(&mut self, pid: u32) -> Result<(), ObserverError> {
        self.initialized.push(pid);
        if self.fail_on_init {
            return Err("init hook failed".into());
        }
        Ok(())
    }
    fn child_died_unexpectedly(&mut self, pid: u32) -> Result<(), ObserverError> {
        self.died.push(pid);
        Ok(())
    }
    fn violation(&mut self, v: &Violation) -> Result<(), ObserverError> {
        self.violations.push(v.clone());
        if self.fail_on_violation {
            return Err("violation hook failed".into());
        }
        Ok(())
    }
}

fn policy(dir: &std::path::Path) -> Policy {
    Policy::new(PathSet::from_entries([dir.join("in")]).unwrap())
}

/// `run`'s outcome, checked to come from the engine the test asked for.
fn ran(result: Result<TraceOutcome, TraceError>) -> TraceOutcome {
    let engine = current_engine();
    let outcome = result.unwrap_or_else(|e| panic!("the run failed on {engine:?}: {e}"));
    assert_eq!(outcome.engine, engine, "another engine ran");
    outcome
}

fn tree() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    fs::create_dir(root.join("in")).unwrap();
    fs::create_dir(root.join("out")).unwrap();
    (dir, root)
}

both_engines!(observer_sees_init_and_violations);
fn observer_sees_init_and_violations() {
    let (_dir, root) = tree();
    let mut rec = Recorder::default();
    let out = root.join("out/x");
    let outcome = ran(tracer(policy(&root))
        .command(PROBE, ["openat", "wronly|creat", out.to_str().unwrap()])
        .stdout(hutch_tracer::Stdio::Null)
        .observer(&mut rec)
        .run());
    assert_eq!(outcome.status, ExitStatus::Exited(0));
    assert_eq!(rec.initialized.len(), 1);
    assert_eq!(rec.violations, outcome.violations);
    assert_eq!(outcome.violations.len(), 1);
    assert_eq!(outcome.violations[0].pid, rec.initialized[0]);
    assert_eq!(outcome.violations[0].resolved, out);
    assert!(matches!(
        outcome.landlock,
        LandlockStatus::Enforced { .. } | LandlockStatus::Unsupported
    ));
    assert!(outcome.usage.max_rss_kib > 0);
}

both_engines!(failing_violation_hook_aborts_and_kills_the_tree);
fn failing_violation_hook_aborts_and_kills_the_tree() {
    let (_dir, root) = tree();
    let mut rec = Recorder {
        fail_on_violation: true,
        ..Recorder::default()
    };
    let out = root.join("out/x");
    let late = root.join("in/late");
    // The first write is denied and the hook fails: the run is aborted before the second.
    let err = tracer(policy(&root))
        .command(
            PROBE,
            [
                "seq",
                "openat",
                "wronly|creat",
                out.to_str().unwrap(),
                "--",
                "openat",
                "wronly|creat",
                late.to_str().unwrap(),
            ],
        )
        .stdout(hutch_tracer::Stdio::Null)
        .observer(&mut rec)
        .run()
        .unwrap_err();
    assert!(matches!(err, TraceError::Observer(_)), "{err}");
    assert!(!out.exists());
    assert!(!late.exists(), "the tree went on after the hook failed");
}

both_engines!(failing_init_hook_runs_nothing);
fn failing_init_hook_runs_nothing() {
    let (_dir, root) = tree();
    let mut rec = Recorder {
        fail_on_init: true,
        ..Recorder::default()
    };
    let inside = root.join("in/x");
    let err = tracer(policy(&root))
        .command(PROBE, ["openat", "wronly|creat", inside.to_str().unwrap()])
        .observer(&mut rec)
        .run()
        .unwrap_err();
    assert!(matches!(err, TraceError::Observer(_)), "{err}");
    assert!(
        !inside.exists(),
        "the command ran although the init hook failed"
    );
}

both_engines!(not_found_and_not_executable_are_distinct);
fn not_found_and_not_executable_are_distinct() {
    let (_dir, root) = tree();
    let err = tracer(policy(&root))
        .command("hutch-no-such-command", [""; 0])
        .run()
        .unwrap_err();
    assert!(matches!(err, TraceError::NotFound(_)), "{err}");
    let err = tracer(policy(&root))
        .command(root.join("missing"), [""; 0])
        .run()
        .unwrap_err();
    assert!(matches!(err, TraceError::NotFound(_)), "{err}");
    let script = root.join("noexec");
    fs::write(&script, "#!/bin/sh\n").unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o644)).unwrap();
    let err = tracer(policy(&root))
        .command(&script, [""; 0])
        .run()
        .unwrap_err();
    assert!(matches!(err, TraceError::NotExecutable(..)), "{err}");
}

both_engines!(exact_environment_cwd_and_stdio);
fn exact_environment_cwd_and_stdio() {
    let (_dir, root) = tree();
    let (r, w) = nix::unistd::pipe().unwrap();
    let outcome = ran(tracer(policy(&root))
        .command("/bin/sh", ["-c", "env; pwd"])
        .env_clear()
        .env("A", "1")
        .current_dir(root.join("in"))
        .stdout(w)
        .run());
    assert_eq!(outcome.status, ExitStatus::Exited(0));
    let mut text = String::new();
    fs::File::from(r).read_to_string(&mut text).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let pwd = lines.pop().unwrap();
    assert_eq!(pwd, root.join("in").to_str().unwrap());
    // sh itself adds PWD (and maybe SHLVL, _): the tracer adds nothing.
    assert!(lines.contains(&"A=1"), "{lines:?}");
    assert!(lines.iter().all(|l| l.starts_with("A=")
        || l.starts_with("PWD=")
        || l.starts_with("SHLVL=")
        || l.starts_with("_=")));
}

both_engines!(exact_environment_reaches_execve);
fn exact_environment_reaches_execve() {
    let (_dir, root) = tree();
    let (r, w) = nix::unistd::pipe().unwrap();
    let env = "/usr/bin/env";
    let outcome = ran(tracer(policy(&root))
        .command(env, [""; 0])
        .env_clear()
        .env("A", "1")
        .env("B", "2")
        .stdout(w)
        .run());
    assert_eq!(outcome.status, ExitStatus::Exited(0));
    let mut text = String::new();
    fs::File::from(r).read_to_string(&mut text).unwrap();
    assert_eq!(text, "A=1\nB=2\n");
}

both_engines!(death_by_signal_is_reported_to_the_observer);
fn death_by_signal_is_reported_to_the_observer() {
    let (_dir, root) = tree();
    let mut rec = Recorder::default();
    let outcome = ran(tracer(policy(&root))
        .command(PROBE, ["signal", "9"])
        .observer(&mut rec)
        .run());
    assert_eq!(outcome.status, ExitStatus::Signaled(9));
    assert_eq!(rec.died, rec.initialized);
    let mut quiet = Recorder::default();
    ran(tracer(policy(&root))
        .command(PROBE, ["exit", "3"])
        .observer(&mut quiet)
        .run());
    assert!(quiet.died.is_empty());
}

/// Puts `src` at `dst`: a hard link where possible. A copy holds a writable descriptor for a
/// moment, and a fork in another test thread (a tracer's child or keeper, before it execs or
/// closes its descriptors) can inherit it, so exec'ing the copy could fail with ETXTBSY.
fn place(src: &str, dst: &std::path::Path) {
    // Link the file itself, not a symlink to it (ld-linux-x86-64.so.2 is one).
    let src = fs::canonicalize(src).unwrap();
    if fs::hard_link(&src, dst).is_err() {
        fs::copy(src, dst).unwrap();
    }
}

both_engines!(chroot_runs_inside_and_judges_paths_in_its_root);
fn chroot_runs_inside_and_judges_paths_in_its_root() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipping: chroot needs root");
        return;
    }
    let (_dir, root) = tree();
    // A minimal root: the probe and the libraries it links.
    for lib in [
        "/lib/x86_64-linux-gnu/libgcc_s.so.1",
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/lib64/ld-linux-x86-64.so.2",
    ] {
        let dst = root.join(lib.trim_start_matches('/'));
        fs::create_dir_all(dst.parent().unwrap()).unwrap();
        place(lib, &dst);
    }
    place(PROBE, &root.join("probe"));
    let (r, w) = nix::unistd::pipe().unwrap();
    let outcome = ran(tracer(Policy::new(PathSet::from_entries(["/in"]).unwrap()))
        .chroot(&root)
        .command(
            "/probe",
            [
                "seq",
                "openat",
                "wronly|creat",
                "/in/x",
                "--",
                "openat",
                "wronly|creat",
                "/out/x",
            ],
        )
        .stdout(w)
        .run());
    assert_eq!(outcome.status, ExitStatus::Exited(0));
    let mut text = String::new();
    fs::File::from(r).read_to_string(&mut text).unwrap();
    assert_eq!(text, "result=ok\nresult=errno:13\n");
    assert!(root.join("in/x").exists());
    assert!(!root.join("out/x").exists());
    assert_eq!(outcome.violations.len(), 1);
    assert_eq!(outcome.violations[0].path, "/out/x");
    assert_eq!(
        outcome.violations[0].resolved,
        root.join("out/x"),
        "host view"
    );
}

both_engines!(a_real_compile_and_make_run_without_false_positives);
fn a_real_compile_and_make_run_without_false_positives() {
    let (_dir, root) = tree();
    if std::process::Command::new("gcc")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipping: no gcc");
        return;
    }
    let script = "printf 'int main(void){return 0;}\\n' > c.c && gcc -o c c.c && ./c \
        && printf 'all:\\n\\techo made > made.txt\\n' > Makefile && make -s >/dev/null \
        && mkdir -p a/b && ln -s made.txt lnk && mv lnk a/b/ && chmod +x c && rm -rf a c.c \
        && echo done > /dev/stderr";
    let policy = Policy::new(PathSet::from_entries([root.join("in"), "/tmp".into()]).unwrap());
    let outcome = ran(tracer(policy)
        .command("/bin/sh", ["-c", script])
        .current_dir(root.join("in"))
        .stderr(hutch_tracer::Stdio::Null)
        .run());
    assert_eq!(outcome.status, ExitStatus::Exited(0), "{outcome:?}");
    assert!(outcome.violations.is_empty(), "{:?}", outcome.violations);
    assert_eq!(
        fs::read_to_string(root.join("in/made.txt")).unwrap(),
        "made\n"
    );
}
