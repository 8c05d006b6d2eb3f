//! `hutch-trace [--engine auto|ptrace|notify] [-w PATH]... [--collect-only] [--no-network]
//! [--fake-ownership] [--wait-all] -- CMD ARGS...`: runs CMD under the tracer and prints the
//! outcome as `hutch:` lines after the command's own output, `hutch:engine` naming the engine
//! that ran. A test driver (it lets tests run the tracer as `nobody`).

use hutch_pathset::PathSet;
use hutch_tracer::{Engine, ExitStatus, Policy, Tracer};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let split = args
        .iter()
        .position(|a| a == "--")
        .expect("usage: hutch-trace OPTIONS -- CMD");
    let (opts, cmd) = (&args[..split], &args[split + 1..]);
    let mut policy = Policy::new(PathSet::new());
    let mut engine = Engine::Auto;
    let mut it = opts.iter();
    while let Some(opt) = it.next() {
        match opt.as_str() {
            "-w" => {
                policy
                    .writable
                    .insert(it.next().expect("-w PATH"))
                    .expect("valid path");
            }
            "--collect-only" => policy.collect_only = true,
            "--no-network" => policy.network = false,
            "--fake-ownership" => policy.fake_ownership = true,
            "--wait-all" => policy.wait_for_all = true,
            "--engine" => {
                engine = match it.next().map(String::as_str) {
                    Some("auto") => Engine::Auto,
                    Some("ptrace") => Engine::Ptrace,
                    Some("notify") => Engine::Notify,
                    other => panic!("--engine auto|ptrace|notify, not {other:?}"),
                }
            }
            other => panic!("unknown option {other}"),
        }
    }
    let result = Tracer::new(policy)
        .engine(engine)
        .command(&cmd[0], &cmd[1..])
        .run();
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(err) => {
            println!("hutch:error\t{err}");
            std::process::exit(2);
        }
    };
    match outcome.status {
        ExitStatus::Exited(code) => println!("hutch:status\texited\t{code}"),
        ExitStatus::Signaled(sig) => println!("hutch:status\tsignaled\t{sig}"),
    }
    for v in &outcome.violations {
        println!(
            "hutch:violation\t{}\t{}\t{}\t{}",
            v.pid,
            v.syscall,
            v.path.to_string_lossy(),
            v.resolved.display()
        );
    }
    for (path, uid, gid) in &outcome.ownerships {
        println!("hutch:ownership\t{}\t{uid}\t{gid}", path.display());
    }
    for (path, mode) in &outcome.modes {
        println!("hutch:mode\t{}\t{mode:o}", path.display());
    }
    for n in &outcome.network {
        println!("hutch:network\t{}\t{}", n.syscall, n.destination);
    }
    for pid in &outcome.leftovers {
        println!("hutch:leftover\t{pid}");
    }
    println!("hutch:landlock\t{:?}", outcome.landlock);
    println!("hutch:engine\t{:?}", outcome.engine);
}
