//! Simulator speed: seeds of 5 servers under heavy faults, one after another on one thread.

use std::time::Instant;

use raft_sim::{Preset, SimConfig, run as simulate};

/// Runs seeds `1..=seeds` and prints the simulated/real time ratio (the goal is 1000x) and
/// the events and messages handled per second of real time.
pub(crate) fn run(seeds: u64) {
    let (mut events, mut sim_ms, mut messages, mut violations) = (0u64, 0u64, 0u64, 0u64);
    let start = Instant::now();
    for seed in 1..=seeds {
        let report = simulate(SimConfig::new(seed, Preset::Heavy));
        events += report.stats.events;
        sim_ms += report.stats.sim_ms;
        messages += report.stats.messages;
        violations += u64::from(!report.ok());
    }
    let real = start.elapsed().as_secs_f64();
    let simulated = sim_ms as f64 / 1000.0;
    println!(
        "# sim: {seeds} seeds, 5 servers, heavy faults, one thread: {simulated:.0} s simulated \
         in {real:.2} s, {violations} property violations"
    );
    println!("sim_ratio_real_time {:.0}", simulated / real);
    println!("sim_events_per_sec {:.0}", events as f64 / real);
    println!("sim_messages_per_sec {:.0}", messages as f64 / real);
}
