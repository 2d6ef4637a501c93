//! `sim_schedule`: raft-sim takes its scheduling and fault decisions — message delays, losses,
//! duplicates, partitions, disk stalls, crashes and torn writes, restarts, client requests —
//! from the fuzzer's bytes instead of its PRNG (`raft_sim::run_with_choices`), so
//! coverage guides the search for a schedule that breaks Raft. Every safety checker must hold:
//! election safety, log matching, leader completeness, state-machine safety, monotonic commit,
//! the core's invariants, no acknowledged command lost, and linearizability.
//!
//! Liveness after healing is not asserted: the input may choose, say, the longest delay for
//! every message of the faulty phase, and what the healed cluster then owes is the seeded
//! runs' business (raft-sim's own tests and swarm check it).
//!
//! The first byte picks the fault preset, the cluster size (3 to 5 servers) and the seed for
//! whatever the bytes leave undecided; the rest are the decisions, read in the order the
//! simulated world asks for them.

#![no_main]

use libfuzzer_sys::fuzz_target;
use raft_sim::{Preset, Property, SimConfig, run_with_choices};

/// Simulated milliseconds of faults per run: long enough for elections, commands, crashes and
/// snapshots, short enough for many runs a second.
const FAULTY_MS: u64 = 3_000;

fuzz_target!(|input: &[u8]| {
    let Some((&shape, choices)) = input.split_first() else {
        return;
    };
    let preset = Preset::ALL[usize::from(shape % 3)];
    let mut cfg = SimConfig::new(u64::from(shape), preset);
    cfg.nodes = 3 + usize::from(shape / 3 % 3);
    cfg.time_ms = FAULTY_MS;
    let report = run_with_choices(cfg, choices.to_vec());
    if let Some(p) = report.violated()
        && p != Property::Liveness
    {
        panic!("{}", report.failure_text());
    }
});
