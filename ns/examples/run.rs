//! Run a command in fresh namespaces, mirroring its exit status.
//!
//! ```sh
//! cargo run -q -p hutch-ns --example run -- [--net] [--hostname NAME] [--keep-caps] CMD [ARGS...]
//! ```
//!
//! Unprivileged callers get a user namespace mapped to root. The command sees itself as pid 2,
//! a fresh `/proc`, its own hostname, IPC and (with `--net`) a network namespace where only `lo`
//! exists and is up. SIGINT/SIGTERM/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2 sent to this program reach the
//! command; its death by signal N ends this program with signal N.

use std::os::unix::process::CommandExt;
use std::process::Command;

use hutch_ns::caps::{self, CapSet};
use hutch_ns::{exit_like, Namespaces, Outcome, Sandbox, FORWARDED};

fn main() {
    let mut args = std::env::args().skip(1).peekable();
    let mut ns = Namespaces::USER | Namespaces::MOUNT | Namespaces::IPC | Namespaces::UTS;
    let mut hostname = "hutch".to_owned();
    let mut keep_caps = false;
    while let Some(flag) = args.peek().filter(|a| a.starts_with("--")).cloned() {
        args.next();
        match flag.as_str() {
            "--net" => ns |= Namespaces::NET,
            "--hostname" => hostname = args.next().expect("--hostname NAME"),
            "--keep-caps" => keep_caps = true,
            "--" => break,
            other => {
                eprintln!("unknown flag {other}");
                std::process::exit(2)
            }
        }
    }
    let argv: Vec<String> = args.collect();
    if argv.is_empty() {
        eprintln!("usage: run [--net] [--hostname NAME] [--keep-caps] CMD [ARGS...]");
        std::process::exit(2)
    }
    // Block the forwarded signals before anything else, so that none is lost or kills us.
    let mut set = nix::sys::signal::SigSet::empty();
    FORWARDED.iter().for_each(|s| set.add(*s));
    set.thread_block().expect("block signals");

    let sandbox = Sandbox::new(ns)
        .map_root()
        .hostname(&hostname)
        .loopback(ns.contains(Namespaces::NET));
    let command = move || {
        if !keep_caps {
            if let Err(e) = caps::drop_except(CapSet::EMPTY) {
                return std::io::Error::other(e.to_string());
            }
        }
        Command::new(&argv[0]).args(&argv[1..]).exec()
    };
    let mut child = match sandbox.spawn(|| Ok::<(), String>(()), command) {
        Ok(child) => child,
        Err(e) => {
            eprintln!("run: {e}");
            std::process::exit(125)
        }
    };
    match child.wait_forwarding() {
        Ok(Outcome::Completed(status)) => exit_like(status),
        Ok(Outcome::Failed(failure)) => {
            eprintln!("run: {failure}");
            std::process::exit(failure.code())
        }
        Err(e) => {
            eprintln!("run: {e}");
            std::process::exit(125)
        }
    }
}
