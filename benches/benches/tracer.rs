//! The tracer's hot loop: the `PathSet` decision, the remote path read, and 10 000
//! `openat(O_WRONLY|O_CREAT)` traced (allowed and denied) vs bare, plus 10 000 read-only opens
//! traced vs bare (they never stop; only the filter and Landlock cost anything).
//!
//! The loops run in a re-executed copy of this binary (`HUTCH_BENCH_LOOP="N MODE PATH"`), so
//! no other binary needs to be built.

use std::fs::OpenOptions;
use std::hint::black_box;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::Criterion;
use hutch_pathset::PathSet;
use hutch_tracer::{ExitStatus, Policy, Stdio, Tracer};

const OPS: usize = 10_000;

/// Child mode: `N w|r PATH` opens PATH N times for writing (create) or reading.
fn loop_mode(spec: &str) {
    let mut parts = spec.splitn(3, ' ');
    let n: usize = parts.next().and_then(|n| n.parse().ok()).expect("count");
    let write = parts.next() == Some("w");
    let path = parts.next().expect("path");
    for _ in 0..n {
        let file = if write {
            OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
        } else {
            OpenOptions::new().read(true).open(path)
        };
        drop(black_box(file));
    }
}

fn pathset(c: &mut Criterion) {
    let entries: Vec<String> = (0..32)
        .map(|i| format!("/var/tmp/build-{i}/out"))
        .chain(["/tmp".into(), "/home/u/.cache".into()])
        .collect();
    let set = PathSet::from_entries(&entries).expect("entries");
    let inside = Path::new("/var/tmp/build-17/out/obj/deep/er/file.o");
    let outside = Path::new("/var/tmp/build-17/outx/obj/deep/er/file.o");
    c.bench_function("pathset_contains_inside", |b| {
        b.iter(|| set.contains(black_box(inside)))
    });
    c.bench_function("pathset_contains_outside", |b| {
        b.iter(|| set.contains(black_box(outside)))
    });
}

fn path_read(c: &mut Criterion) {
    let me = std::process::id();
    for len in [16usize, 128, 4000] {
        let mut path = vec![b'a'; len];
        path.push(0);
        let mut buf = Vec::with_capacity(4096);
        c.bench_function(&format!("process_vm_readv_path_{len}B"), |b| {
            b.iter(|| {
                hutch_tracer::read_remote_path(me, black_box(path.as_ptr() as u64), &mut buf)
                    .expect("read")
            })
        });
    }
}

fn spawn_loop(traced: bool, writable: &Path, mode: &str, path: &Path) -> Duration {
    let exe = std::env::current_exe().expect("exe");
    let spec = format!("{OPS} {mode} {}", path.display());
    let start = Instant::now();
    if traced {
        let policy = Policy::new(PathSet::from_entries([writable]).expect("writable"));
        let outcome = Tracer::new(policy)
            .command(&exe, [""; 0])
            .env("HUTCH_BENCH_LOOP", &spec)
            .stdout(Stdio::Null)
            .run()
            .expect("traced run");
        assert_eq!(outcome.status, ExitStatus::Exited(0));
    } else {
        let status = Command::new(&exe)
            .env("HUTCH_BENCH_LOOP", &spec)
            .status()
            .expect("bare run");
        assert!(status.success());
    }
    start.elapsed()
}

fn traced_opens(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let writable = dir.path().join("in");
    std::fs::create_dir(&writable).expect("mkdir");
    std::fs::write(writable.join("r"), b"").expect("file");
    let allowed = writable.join("f");
    let denied = dir.path().join("denied");
    let mut group = c.benchmark_group("openat_10000");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    let cases: [(&str, bool, &str, &Path); 5] = [
        ("bare_wronly", false, "w", &allowed),
        ("traced_wronly_allowed", true, "w", &allowed),
        ("traced_wronly_denied", true, "w", &denied),
        ("bare_rdonly", false, "r", &writable.join("r")),
        ("traced_rdonly", true, "r", &writable.join("r")),
    ];
    for (name, traced, mode, path) in cases {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| spawn_loop(traced, &writable, mode, path))
                    .sum()
            })
        });
    }
    group.finish();
}

fn main() {
    if let Ok(spec) = std::env::var("HUTCH_BENCH_LOOP") {
        loop_mode(&spec);
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    pathset(&mut c);
    path_read(&mut c);
    traced_opens(&mut c);
    c.final_summary();
}
