//! Times `hutch_pathset::invert` for the peer comparison script.
//!
//! `hutch-invert-bench gen DIR ENTRIES MEMBERS` creates a tree and prints MEMBERS writable leaf
//! directories, one a line. `hutch-invert-bench time ROOT RUNS [WRITABLE...]` prints the median
//! wall time of RUNS inversions in milliseconds and the number of read-only paths.
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("gen") if args.len() == 4 => {
            let dir = PathBuf::from(&args[1]);
            let entries: usize = args[2].parse().expect("ENTRIES is a number");
            let members: usize = args[3].parse().expect("MEMBERS is a number");
            let tree = hutch_benches::generate_tree(&dir, entries).expect("tree created");
            eprintln!("created {} entries under {}", tree.entries, dir.display());
            for m in hutch_benches::spread(&tree, members) {
                println!("{}", m.display());
            }
        }
        Some("time") if args.len() >= 3 => {
            let root = PathBuf::from(&args[1]);
            let runs: usize = args[2].parse().expect("RUNS is a number");
            let set = hutch_pathset::PathSet::from_entries(&args[3..]).expect("valid paths");
            let mut samples = Vec::new();
            let mut yielded = 0;
            for _ in 0..runs {
                let start = Instant::now();
                let inv = hutch_pathset::invert(&root, &set).expect("inversion");
                samples.push(start.elapsed());
                yielded = inv.readonly.len() + inv.symlinks.len();
            }
            let med = hutch_benches::median(&mut samples);
            println!("{:.3} {}", med.as_secs_f64() * 1e3, yielded);
        }
        _ => {
            eprintln!(
                "usage: hutch-invert-bench gen DIR ENTRIES MEMBERS | time ROOT RUNS [WRITABLE...]"
            );
            std::process::exit(2);
        }
    }
}
