//! Prints a validated mount plan, the way `hutch plan` will.
//!
//! ```text
//! cargo run -p hutch-mounts --example plan -- ROOT [--chroot] [--all-writable] [--inverted]
//!     [--writable PATH]... [--bind SRC DST]... [--ro-bind SRC DST]... [--tmpfs DST]...
//!     [--proc DST]... [--dev DST]...
//! ```
#![forbid(unsafe_code)]

use std::process::ExitCode;

use hutch_mounts::{MountPlan, MountSpec, WritableStrategy};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let root = args.next().ok_or("usage: plan ROOT [options]")?;
    let mut plan = MountPlan::new(root);
    let mut chroot = false;
    while let Some(flag) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{flag} needs {name}"));
        match flag.as_str() {
            "--chroot" => chroot = true,
            "--all-writable" => {
                plan.read_only(false);
            }
            "--inverted" => {
                plan.strategy(WritableStrategy::Inverted);
            }
            "--writable" => {
                plan.writable(value("PATH")?);
            }
            "--bind" => {
                let src = value("SRC")?;
                plan.mount(MountSpec::bind(src, value("DST")?));
            }
            "--ro-bind" => {
                let src = value("SRC")?;
                plan.mount(MountSpec::ro_bind(src, value("DST")?));
            }
            "--tmpfs" => {
                plan.mount(MountSpec::tmpfs(value("DST")?));
            }
            "--proc" => {
                plan.mount(MountSpec::proc(value("DST")?));
            }
            "--dev" => {
                plan.mount(MountSpec::dev(value("DST")?));
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    let validated = if chroot {
        plan.validate_chroot()
    } else {
        plan.validate()
    };
    let validated = validated.map_err(|e| format!("{e}\nthe plan as given:\n{plan}"))?;
    print!("{validated}");
    Ok(())
}
