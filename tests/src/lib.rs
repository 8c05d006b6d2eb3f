//! Workspace-level integration tests and probe programs for hutch.

pub mod tracer_harness;
