//! `hutch-ns`: placeholder until its issue lands.
//!
//! ```
//! // nothing here yet
//! ```
