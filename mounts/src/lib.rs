//! `hutch-mounts`: placeholder until its issue lands.
//!
//! ```
//! // nothing here yet
//! ```
