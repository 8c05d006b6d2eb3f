//! `hutch-tracer`: placeholder until its issue lands.
//!
//! ```
//! // nothing here yet
//! ```
