//! `sim-bench`: how fast the simulator runs 5 servers under heavy faults, on one thread.
//!
//! `cargo run --release -p raft-sim --bin sim-bench [-- SEEDS]` runs seeds 1..=SEEDS
//! (default 200) one after another and prints the simulated/real time ratio and events per
//! second. The goal is at least 1000x real time.

use std::process::ExitCode;
use std::time::Instant;

use raft_sim::{Preset, SimConfig, run};

fn main() -> ExitCode {
    let seeds = match std::env::args().nth(1).map(|s| s.parse::<u64>()) {
        None => 200,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("usage: sim-bench [SEEDS]  (a positive number of seeds, default 200)");
            return ExitCode::from(2);
        }
    };
    let (mut events, mut sim_ms, mut messages, mut failures) = (0u64, 0u64, 0u64, 0u64);
    let start = Instant::now();
    for seed in 1..=seeds {
        let report = run(SimConfig::new(seed, Preset::Heavy));
        events += report.stats.events;
        sim_ms += report.stats.sim_ms;
        messages += report.stats.messages;
        failures += u64::from(!report.ok());
    }
    let real = start.elapsed().as_secs_f64();
    println!("sim-bench: {seeds} seeds, 5 nodes, heavy faults, one thread");
    println!(
        "  simulated      {:.1} s in {real:.2} s real",
        sim_ms as f64 / 1000.0
    );
    println!(
        "  ratio          {:.0}x real time (goal: 1000x)",
        sim_ms as f64 / 1000.0 / real
    );
    println!(
        "  events         {events} ({:.0} per second)",
        events as f64 / real
    );
    println!(
        "  messages       {messages} ({:.0} per second)",
        messages as f64 / real
    );
    println!("  violations     {failures}");
    ExitCode::SUCCESS
}
