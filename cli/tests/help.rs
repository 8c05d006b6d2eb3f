//! `--help` for every subcommand, with examples, and `hutch help SUBCOMMAND` says the same.
mod common;
use common::*;

#[test]
fn every_subcommand_has_help_with_an_example() {
    for sub in ["run", "plan", "backends"] {
        let r = output(hutch().args([sub, "--help"]));
        assert_eq!(r.code, 0, "{sub}: {r:?}");
        assert!(r.stdout.contains("Examples:"), "{sub}: {}", r.stdout);
        assert!(
            r.stdout.contains(&format!("hutch {sub}")),
            "{sub}: {}",
            r.stdout
        );
        let same = output(hutch().args(["help", sub]));
        assert_eq!(same.stdout, r.stdout, "hutch help {sub}");
    }
    let r = output(hutch().args(["run", "--help"]));
    for flag in [
        "--backend",
        "--root",
        "--writable",
        "--writable-all",
        "--bind",
        "--ro-bind",
        "--tmpfs",
        "--proc",
        "--dev",
        "--network",
        "--hostname",
        "--chdir",
        "--setenv",
        "--unsetenv",
        "--clearenv",
        "--collect-only",
        "--fake-ownership",
        "--tracer-engine",
        "--report",
        "--best-effort",
        "--quiet",
    ] {
        assert!(r.stdout.contains(flag), "{flag} missing from run --help");
    }
    assert!(r.stdout.contains("125"), "exit statuses documented");
    assert!(
        r.stdout.contains("Other backends trace nothing"),
        "{}",
        r.stdout
    );
}

#[test]
fn version_and_top_level_help() {
    let r = output(hutch().arg("--version"));
    assert_eq!(r.code, 0);
    assert!(r.stdout.starts_with("hutch "));
    let r = output(hutch().arg("--help"));
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("run") && r.stdout.contains("plan") && r.stdout.contains("backends"));
}
