//! Real-namespace tests for hutch-ns, with their own runner (`harness = false`).
//!
//! Every case runs in a fresh, single-threaded re-execution of this binary (birdcage-style), so
//! nothing it unshares, mounts or signals leaks into the runner. As root each case runs twice:
//! as root and as `nobody` (through `setpriv`); as another user it runs once as that user.
//! A case that needs something the machine lacks prints `SKIP: reason` and succeeds.

mod cases;
mod ns_cases;
mod process_cases;

use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CASE_ENV: &str = "HUTCH_NS_CASE";
/// Set in case processes: `root` or `nobody`.
pub const AS_ENV: &str = "HUTCH_NS_AS";
/// Selects a helper role (see `cases::run_role`).
pub const ROLE_ENV: &str = "HUTCH_NS_ROLE";
const TIMEOUT: Duration = Duration::from_secs(30);

fn main() {
    if let Ok(role) = std::env::var(ROLE_ENV) {
        process_cases::run_role(&role);
        return;
    }
    if let Ok(name) = std::env::var(CASE_ENV) {
        let case = cases::CASES.iter().find(|(n, _)| *n == name);
        let Some((_, f)) = case else {
            panic!("unknown case {name}")
        };
        f();
        return;
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let selected: Vec<&str> = cases::CASES
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| filters.is_empty() || filters.iter().any(|f| n.contains(f.as_str())))
        .collect();
    if args.iter().any(|a| a == "--list") {
        for n in &selected {
            println!("{n}: test");
        }
        return;
    }
    let root = nix::unistd::geteuid().is_root();
    let users: &[&str] = if root { &["root", "nobody"] } else { &["self"] };
    println!("\nrunning {} namespace tests", selected.len() * users.len());
    let mut failed = Vec::new();
    for name in &selected {
        for user in users {
            let (ok, report) = run_case(name, user);
            println!("test {name} [{user}] ... {report}");
            if !ok {
                failed.push(format!("{name} [{user}]"));
            }
        }
    }
    if failed.is_empty() {
        println!(
            "\ntest result: ok. {} passed\n",
            selected.len() * users.len()
        );
    } else {
        println!("\nfailures: {failed:?}\ntest result: FAILED\n");
        std::process::exit(1);
    }
}

fn run_case(name: &str, user: &str) -> (bool, String) {
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = if user == "nobody" {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&exe);
        c
    } else {
        Command::new(&exe)
    };
    let as_value = if user == "self" { "nobody" } else { user };
    cmd.env(CASE_ENV, name)
        .env(AS_ENV, as_value)
        .env_remove(ROLE_ENV)
        .current_dir("/")
        // Its own process group, so that a timeout kills the helpers and sandboxes it started.
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return (false, format!("FAILED to start: {e}")),
    };
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break Some(st);
        }
        if start.elapsed() > TIMEOUT {
            let group = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut out = String::new();
    let _ = child.stdout.take().unwrap().read_to_string(&mut out);
    let _ = child.stderr.take().unwrap().read_to_string(&mut out);
    match status {
        None => (false, format!("FAILED (timeout)\n{out}")),
        Some(st) if st.success() => match out.lines().find(|l| l.starts_with("SKIP:")) {
            Some(skip) => (true, format!("ok ({skip})")),
            None => (true, "ok".into()),
        },
        Some(st) => {
            let how = match st.signal() {
                Some(sig) => format!("signal {sig}"),
                None => format!("exit {}", st.code().unwrap_or(-1)),
            };
            (false, format!("FAILED ({how})\n{out}"))
        }
    }
}
