//! `proptest` strategies over simulation settings, for writing properties of the form "for
//! any seed and these faults, the report shows no violation of P".

use std::ops::Range;

use proptest::prelude::*;

use crate::config::{MAX_NODES, MIN_NODES, Preset, SimConfig};

/// Settings with any seed, any cluster size, one of `presets`, and a faulty phase lasting a
/// duration from `time_ms` (simulated milliseconds).
pub fn configs(presets: &[Preset], time_ms: Range<u64>) -> impl Strategy<Value = SimConfig> {
    let presets = presets.to_vec();
    (
        any::<u64>(),
        MIN_NODES..=MAX_NODES,
        time_ms,
        0..presets.len().max(1),
    )
        .prop_map(move |(seed, nodes, time_ms, p)| {
            let preset = presets.get(p).copied().unwrap_or(Preset::Heavy);
            SimConfig {
                nodes,
                time_ms,
                ..SimConfig::new(seed, preset)
            }
        })
}
