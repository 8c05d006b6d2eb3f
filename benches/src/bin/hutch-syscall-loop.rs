//! `hutch-syscall-loop stat|open N PATH`: stats, or opens read-only and closes, PATH N times
//! and prints `ns_per_op=…` measured inside the loop (process start-up excluded). The
//! read-only workload of `benches/compare.sh`: such calls never reach hutch's tracer, so
//! this shows what the seccomp filter and the Landlock backstop alone cost.

use std::hint::black_box;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: hutch-syscall-loop stat|open N PATH";
    let (op, n, path) = match args.as_slice() {
        [_, op, n, path] => (op.as_str(), n.parse::<u64>().expect(usage), path),
        _ => panic!("{usage}"),
    };
    let start = Instant::now();
    for _ in 0..n {
        match op {
            "stat" => drop(black_box(std::fs::metadata(path))),
            "open" => drop(black_box(std::fs::File::open(path))),
            _ => panic!("{usage}"),
        }
    }
    println!(
        "ns_per_op={}",
        start.elapsed().as_nanos() / u128::from(n.max(1))
    );
}
