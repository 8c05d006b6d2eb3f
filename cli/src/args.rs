//! Command-line arguments: types and parsing only, no side effects.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgAction, ArgMatches, Args, Parser, Subcommand, ValueEnum};

const RUN_EXAMPLES: &str = "\
Examples:
  # Build in ./build; any write elsewhere is denied and reported.
  hutch run -w build -- make -C build
  # The same with a JSON report on stdout and the kernel enforcing the whitelist.
  hutch run -b userns -w \"$PWD/build\" --report - -- make -C build
  # A fresh root with /proc and a tmpfs, no network.
  hutch run --root ./rootfs --proc /proc --tmpfs /tmp --network isolated -- /bin/sh

Exit status: the command's own code; 128+N when it was killed by signal N; 125 when hutch itself
failed (bad option, missing root, unknown backend, unsupported setting without --best-effort, a
backend that cannot run); 126 when the command cannot be executed; 127 when it is not found.";

const PLAN_EXAMPLES: &str = "\
Examples:
  hutch plan -b userns -w /tmp/out -- make
  hutch plan --root ./rootfs -w data --proc /proc -- /bin/true";

const BACKENDS_EXAMPLES: &str = "\
Examples:
  hutch backends
  hutch backends --json";

/// hutch: run a command you do not fully trust, with nothing writable outside a whitelist.
#[derive(Debug, Parser)]
#[command(
    name = "hutch",
    version,
    about = "Run a command you do not fully trust, with nothing writable outside a whitelist",
    propagate_version = true
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run COMMAND in a sandbox and report what was denied.
    #[command(after_help = RUN_EXAMPLES)]
    Run(RunArgs),
    /// Print what `run` would set up (backend, degradations, mounts, inversion, filter),
    /// without running anything.
    #[command(after_help = PLAN_EXAMPLES)]
    Plan(RunArgs),
    /// Which backends run here, what each supports, and why not.
    #[command(after_help = BACKENDS_EXAMPLES)]
    Backends(BackendsArgs),
}

/// Backend names accepted by `--backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendArg {
    /// The strongest backend that can run here and supports the settings.
    Auto,
    /// chroot into --root (root only; no write policy).
    Chroot,
    /// User, mount and pid namespaces; the kernel enforces the whitelist.
    Userns,
    /// A seccomp tracer (user notifications, or ptrace) checks and reports every write.
    Ptrace,
}

/// Network modes accepted by `--network`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NetworkArg {
    /// The host's network.
    Shared,
    /// A network namespace with only loopback (ptrace: sockets other than unix are denied).
    Isolated,
}

/// Tracer engines accepted by `--tracer-engine`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TracerEngineArg {
    /// notify where the kernel supports it (5.19+), else ptrace (`hutch backends` shows the pick).
    Auto,
    /// ptrace: every process of the tree is traced (stops on fork, exec and exit too).
    Ptrace,
    /// seccomp user notifications; a keeper process holds the tree (no stop on fork or exec).
    Notify,
}

/// Options of `run` and `plan`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Backend to use [env: HUTCH_BACKEND] [default: auto]
    #[arg(short, long, value_enum, value_name = "BACKEND")]
    pub backend: Option<BackendArg>,
    /// Sandbox root directory [default: /]
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Make PATH writable; repeatable. Relative paths are relative to the current directory
    /// when the root is `/`, and to --root otherwise.
    #[arg(short, long = "writable", value_name = "PATH")]
    pub writable: Vec<PathBuf>,
    /// Leave everything writable (the default is nothing writable).
    #[arg(long, conflicts_with = "writable")]
    pub writable_all: bool,
    /// Bind host SRC read-write at DST inside the sandbox.
    #[arg(long, num_args = 2, value_names = ["SRC", "DST"], action = ArgAction::Append)]
    pub bind: Vec<PathBuf>,
    /// Bind host SRC read-only at DST inside the sandbox.
    #[arg(long, num_args = 2, value_names = ["SRC", "DST"], action = ArgAction::Append)]
    pub ro_bind: Vec<PathBuf>,
    /// Mount a fresh tmpfs at DST.
    #[arg(long, value_name = "DST")]
    pub tmpfs: Vec<PathBuf>,
    /// Mount a fresh procfs at DST.
    #[arg(long, value_name = "DST")]
    pub proc: Vec<PathBuf>,
    /// Mount a minimal /dev at DST.
    #[arg(long, value_name = "DST")]
    pub dev: Vec<PathBuf>,
    /// Network access [default: shared]
    #[arg(long, value_enum, value_name = "MODE")]
    pub network: Option<NetworkArg>,
    /// Hostname inside the sandbox.
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// Working directory inside the sandbox.
    #[arg(long, value_name = "DIR")]
    pub chdir: Option<PathBuf>,
    /// Set VAR to VALUE; repeatable.
    #[arg(long, num_args = 2, value_names = ["VAR", "VALUE"], action = ArgAction::Append)]
    pub setenv: Vec<OsString>,
    /// Remove VAR from the environment; repeatable.
    #[arg(long, value_name = "VAR")]
    pub unsetenv: Vec<OsString>,
    /// Start from an empty environment (then --setenv applies).
    #[arg(long)]
    pub clearenv: bool,
    /// Record writes outside the whitelist but allow them (ptrace).
    #[arg(long)]
    pub collect_only: bool,
    /// chown succeeds without acting and is recorded (ptrace).
    #[arg(long)]
    pub fake_ownership: bool,
    /// How the ptrace backend intercepts writes (ptrace). Other backends trace nothing: they
    /// refuse a choice other than auto, or drop it with --best-effort [default: auto]
    #[arg(long, value_enum, value_name = "ENGINE")]
    pub tracer_engine: Option<TracerEngineArg>,
    /// Write a JSON report to FILE; `-` for stdout.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Allow degrading settings the backend does not support (each is listed on stderr).
    #[arg(long)]
    pub best_effort: bool,
    /// Do not print a line for each denied write.
    #[arg(short, long)]
    pub quiet: bool,
    /// The command and its arguments.
    #[arg(required = true, trailing_var_arg = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

/// Options of `backends`.
#[derive(Debug, Args)]
pub struct BackendsArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// An extra mount in command-line order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountArg {
    /// `--bind SRC DST`.
    Bind(PathBuf, PathBuf),
    /// `--ro-bind SRC DST`.
    RoBind(PathBuf, PathBuf),
    /// `--tmpfs DST`.
    Tmpfs(PathBuf),
    /// `--proc DST`.
    Proc(PathBuf),
    /// `--dev DST`.
    Dev(PathBuf),
}

/// A change to the environment in command-line order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvArg {
    /// `--setenv VAR VALUE`.
    Set(OsString, OsString),
    /// `--unsetenv VAR`.
    Unset(OsString),
}

/// Recovers the command-line order of the mount options, which clap keeps per option.
pub fn mounts_in_order(matches: &ArgMatches) -> Vec<MountArg> {
    let mut out: Vec<(usize, MountArg)> = Vec::new();
    let pairs = |id: &str| -> Vec<(usize, PathBuf, PathBuf)> {
        let (Some(idx), Some(vals)) = (matches.indices_of(id), matches.get_many::<PathBuf>(id))
        else {
            return Vec::new();
        };
        let idx: Vec<usize> = idx.collect();
        let vals: Vec<&PathBuf> = vals.collect();
        idx.chunks(2)
            .zip(vals.chunks(2))
            .map(|(i, v)| (i[0], v[0].clone(), v[1].clone()))
            .collect()
    };
    let singles = |id: &str| -> Vec<(usize, PathBuf)> {
        let (Some(idx), Some(vals)) = (matches.indices_of(id), matches.get_many::<PathBuf>(id))
        else {
            return Vec::new();
        };
        idx.zip(vals.cloned()).collect()
    };
    out.extend(
        pairs("bind")
            .into_iter()
            .map(|(i, s, d)| (i, MountArg::Bind(s, d))),
    );
    out.extend(
        pairs("ro_bind")
            .into_iter()
            .map(|(i, s, d)| (i, MountArg::RoBind(s, d))),
    );
    out.extend(
        singles("tmpfs")
            .into_iter()
            .map(|(i, d)| (i, MountArg::Tmpfs(d))),
    );
    out.extend(
        singles("proc")
            .into_iter()
            .map(|(i, d)| (i, MountArg::Proc(d))),
    );
    out.extend(
        singles("dev")
            .into_iter()
            .map(|(i, d)| (i, MountArg::Dev(d))),
    );
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, m)| m).collect()
}

/// Recovers the command-line order of `--setenv` and `--unsetenv`.
pub fn env_in_order(matches: &ArgMatches) -> Vec<EnvArg> {
    let mut out: Vec<(usize, EnvArg)> = Vec::new();
    if let (Some(idx), Some(vals)) = (
        matches.indices_of("setenv"),
        matches.get_many::<OsString>("setenv"),
    ) {
        let idx: Vec<usize> = idx.collect();
        let vals: Vec<&OsString> = vals.collect();
        for (i, v) in idx.chunks(2).zip(vals.chunks(2)) {
            out.push((i[0], EnvArg::Set(v[0].clone(), v[1].clone())));
        }
    }
    if let (Some(idx), Some(vals)) = (
        matches.indices_of("unsetenv"),
        matches.get_many::<OsString>("unsetenv"),
    ) {
        for (i, v) in idx.zip(vals) {
            out.push((i, EnvArg::Unset(v.clone())));
        }
    }
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, e)| e).collect()
}
