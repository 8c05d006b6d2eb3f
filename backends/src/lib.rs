//! `hutch-backends`: placeholder until its issue lands.
//!
//! ```
//! // nothing here yet
//! ```
