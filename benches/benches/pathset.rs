//! Criterion benchmarks of `hutch-pathset`: the tracer's `contains` check and `invert`.
// criterion_group! generates undocumented public functions.
#![allow(missing_docs)]
use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use hutch_pathset::{invert, PathSet};

fn members(n: usize) -> Vec<PathBuf> {
    (0..n)
        .map(|i| PathBuf::from(format!("/build/pkg{}/work/{i}", i % 37)))
        .collect()
}

fn contains(c: &mut Criterion) {
    let mut group = c.benchmark_group("contains");
    for n in [1usize, 10, 1000] {
        let list = members(n);
        let set = PathSet::from_entries(&list).unwrap();
        let hit = list[n / 2].join("src/main.o");
        let miss = PathBuf::from("/usr/lib/x86_64-linux-gnu/libc.so.6");
        let near_miss = PathBuf::from(format!("/build/pkg{}/work/{}0", (n / 2) % 37, n / 2));
        let mut deep = list[n / 2].clone();
        for i in 0..40 {
            deep.push(format!("level{i}"));
        }
        for (name, path) in [
            ("hit", &hit),
            ("miss", &miss),
            ("sibling-prefix-miss", &near_miss),
            ("deep-hit-40", &deep),
        ] {
            assert_eq!(
                set.contains(path),
                name.contains("hit") && !name.contains("miss")
            );
            group.bench_with_input(BenchmarkId::new(name, n), path, |b, p| {
                b.iter(|| set.contains(black_box(Path::new(p))))
            });
        }
    }
    group.finish();
}

fn inversion(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let tree = hutch_benches::generate_tree(dir.path(), 100_000).unwrap();
    let mut group = c.benchmark_group("invert-100k");
    group.sample_size(10);
    for n in [10usize, 100] {
        let set = PathSet::from_entries(hutch_benches::spread(&tree, n)).unwrap();
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| invert(black_box(dir.path()), &set).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, contains, inversion);
criterion_main!(benches);
