//! Capability names for the outcome.

use hutch_ns::caps::{self, CapSet};

/// The names of the capabilities in `set` (`CAP_...`; unknown bits as `CAP_<n>`).
pub(crate) fn names(set: CapSet) -> Vec<String> {
    (0..64u32)
        .filter(|n| set.contains_raw(*n))
        .map(|n| {
            caps::Capability::ALL
                .iter()
                .find(|c| CapSet::of(&[**c]).0 == 1u64 << n)
                .map_or_else(|| format!("CAP_{n}"), |c| c.name().to_string())
        })
        .collect()
}
