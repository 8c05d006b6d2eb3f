//! `hutch`: the command-line front door. It parses, calls `hutch-backends`, and prints; it holds
//! no sandbox logic.
#![forbid(unsafe_code)]

mod args;
mod config;
mod report;

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use hutch_backends::Config;
use serde_json::json;

use args::{BackendsArgs, Cli, Command, RunArgs};

/// Exit status when hutch itself failed (bad option, missing root, backend cannot run...).
const EXIT_HUTCH_FAILED: u8 = 125;

fn main() -> ExitCode {
    let matches = match Cli::command().try_get_matches() {
        Ok(m) => m,
        Err(err) => return clap_error(err),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(err) => return clap_error(err),
    };
    let sub = matches
        .subcommand()
        .map(|(_, m)| m.clone())
        .unwrap_or_default();
    match cli.command {
        Command::Run(args) => run(&args, &sub),
        Command::Plan(args) => plan(&args, &sub),
        Command::Backends(args) => backends(&args),
    }
}

/// Prints help and version as clap does; any other parse error is one line and exit 125.
fn clap_error(err: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match err.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = err.print();
            if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                ExitCode::from(EXIT_HUTCH_FAILED)
            } else {
                ExitCode::SUCCESS
            }
        }
        _ => {
            // clap's message spans lines (error, hint, usage): keep the error and any list of
            // possible values on one line.
            let text = err.render().to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            let values = text
                .lines()
                .find(|l| l.trim_start().starts_with("[possible values:"))
                .map(|l| format!(" {}", l.trim()))
                .unwrap_or_default();
            fail(format!("{}{values}", first.trim_start_matches("error: ")))
        }
    }
}

/// One line on stderr, exit 125.
fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("hutch: {message}");
    ExitCode::from(EXIT_HUTCH_FAILED)
}

fn build(args: &RunArgs, matches: &clap::ArgMatches) -> Config {
    config::build(
        args,
        &args::mounts_in_order(matches),
        &args::env_in_order(matches),
    )
}

fn run(args: &RunArgs, matches: &clap::ArgMatches) -> ExitCode {
    let choice = match config::choice(args) {
        Ok(c) => c,
        Err(err) => return fail(err),
    };
    let config = build(args, matches);
    let outcome = match hutch_backends::run_with(&config, choice) {
        Ok(outcome) => outcome,
        Err(err) => {
            eprintln!("hutch: {err}");
            return ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(EXIT_HUTCH_FAILED));
        }
    };
    for degradation in &outcome.degradations {
        eprintln!("hutch: degraded {degradation}");
    }
    if !args.quiet {
        for line in report::violation_lines(&outcome, args.collect_only) {
            eprintln!("{line}");
        }
    }
    if let Some(path) = &args.report {
        let value = report::outcome_json(&outcome, supervisor_max_rss_kib());
        let text = serde_json::to_string_pretty(&value).expect("JSON values always serialise");
        let written = if path.as_os_str() == "-" {
            writeln!(std::io::stdout(), "{text}")
        } else {
            std::fs::write(path, format!("{text}\n"))
        };
        if let Err(err) = written {
            eprintln!(
                "hutch: cannot write the report to {}: {err}",
                path.display()
            );
            return ExitCode::from(EXIT_HUTCH_FAILED);
        }
    }
    // The command's own code, or 128+N for a death by signal N (0..=255 either way).
    ExitCode::from(u8::try_from(outcome.status.shell_code() & 0xff).unwrap_or(EXIT_HUTCH_FAILED))
}

/// Peak resident set size of this process (the supervisor), in KiB: `VmHWM` of
/// `/proc/self/status`. `getrusage(RUSAGE_SELF)` was measured to report several times more
/// during a traced build (it also folds in memory accounted to the process by its children's
/// setup), so it is only the fallback.
fn supervisor_max_rss_kib() -> u64 {
    let hwm = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        });
    hwm.unwrap_or_else(|| {
        nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF)
            .map(|u| u64::try_from(u.max_rss()).unwrap_or(0))
            .unwrap_or(0)
    })
}

fn plan(args: &RunArgs, matches: &clap::ArgMatches) -> ExitCode {
    let choice = match config::choice(args) {
        Ok(c) => c,
        Err(err) => return fail(err),
    };
    let config = build(args, matches);
    match hutch_backends::plan(&config, choice) {
        Ok(plan) => {
            // A closed pipe (`hutch plan ... | head`) is not an error worth a panic.
            let _ = write!(std::io::stdout(), "{plan}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("hutch: {err}");
            ExitCode::from(EXIT_HUTCH_FAILED)
        }
    }
}

fn backends(args: &BackendsArgs) -> ExitCode {
    let rows: Vec<_> = hutch_backends::backends()
        .into_iter()
        .map(|r| (r.backend, r.availability, r.capabilities, r.tracer_engine))
        .collect();
    let auto = hutch_backends::select(&Config::new("true"), hutch_backends::Choice::Auto)
        .map(|s| s.backend.name());
    if args.json {
        let list: Vec<_> = rows
            .iter()
            .map(|(kind, avail, caps, engine)| {
                json!({
                    "name": kind.name(),
                    "available": avail.is_available(),
                    "why_not": match avail {
                        hutch_backends::Availability::Available => None,
                        hutch_backends::Availability::Unavailable(why) => Some(why.clone()),
                    },
                    "enforcement": caps.enforcement.to_string(),
                    "supports": {
                        "root": caps.root_dir,
                        "writable": caps.writable_policy,
                        "mounts": caps.mounts,
                        "network_isolated": caps.network_isolated,
                        "hostname": caps.hostname,
                        "collect_only": caps.collect_only,
                        "fake_ownership": caps.fake_ownership,
                    },
                    "tracer_engine_auto": engine.map(hutch_backends::engine_name),
                })
            })
            .collect();
        let value = json!({ "backends": list, "auto": auto.ok() });
        println!(
            "{}",
            serde_json::to_string_pretty(&value).expect("JSON values always serialise")
        );
        return ExitCode::SUCCESS;
    }
    for (kind, avail, caps, engine) in &rows {
        println!("{:<7} {avail}", kind.name());
        println!("        enforcement: {}", caps.enforcement);
        let yes_no = |b: bool| if b { "yes" } else { "no" };
        println!(
            "        root: {}  writable list: {}  mounts: {}  isolated network: {}  hostname: {}  collect-only: {}  fake ownership: {}",
            yes_no(caps.root_dir),
            yes_no(caps.writable_policy),
            yes_no(caps.mounts),
            yes_no(caps.network_isolated),
            yes_no(caps.hostname),
            yes_no(caps.collect_only),
            yes_no(caps.fake_ownership),
        );
        if let Some(engine) = engine {
            println!(
                "        tracer engine: auto picks {} on this kernel (--tracer-engine)",
                hutch_backends::engine_name(*engine)
            );
        }
    }
    match auto {
        Ok(name) => println!("auto    picks {name} for a plain command"),
        Err(err) => println!("auto    picks nothing: {err}"),
    }
    ExitCode::SUCCESS
}
