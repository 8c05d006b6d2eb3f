//! Shared helpers for hutch's criterion benchmarks and peer comparisons.
