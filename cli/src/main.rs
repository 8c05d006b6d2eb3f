//! The `hutch` command-line front door (filled by the CLI issue).
#![forbid(unsafe_code)]

fn main() {
    eprintln!("hutch: the command-line interface is not built yet");
    std::process::exit(125);
}
