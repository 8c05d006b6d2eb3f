//! Prints the read-only mounts that keep exactly the given paths writable under a root.
//!
//! `cargo run -p hutch-pathset --example invert -- ROOT [WRITABLE...]`
use std::path::PathBuf;

fn main() {
    let mut args = std::env::args_os().skip(1);
    let Some(root) = args.next().map(PathBuf::from) else {
        eprintln!("usage: invert ROOT [WRITABLE...]");
        std::process::exit(2);
    };
    let set = match hutch_pathset::PathSet::from_entries(args.map(PathBuf::from)) {
        Ok(set) => set,
        Err(err) => {
            eprintln!("invert: {err}");
            std::process::exit(2);
        }
    };
    match hutch_pathset::invert(&root, &set) {
        Ok(inv) => {
            for path in &inv.readonly {
                println!("read-only {}", path.display());
            }
            for path in &inv.symlinks {
                println!("symlink   {}", path.display());
            }
            for warning in &inv.warnings {
                eprintln!("invert: warning: {warning}");
            }
        }
        Err(err) => {
            eprintln!("invert: {err}");
            std::process::exit(1);
        }
    }
}
