//! Workspace-level integration tests and probe programs for hutch.
