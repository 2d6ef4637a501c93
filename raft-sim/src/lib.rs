//! A deterministic simulator for raft-core: many servers in one simulated world, with faults,
//! safety checkers and a linearizability check of the clients' history.
//!
//! One seed decides everything. The world holds 3 to 7 [`raft_core::Server`]s, a clock, a
//! network of TCP-like links (delay, loss, duplication, reordering, resets, one-way and
//! two-way partitions) and disks (group commit, stalls, crashes that lose unsynced writes and
//! may tear the last one). Clients run a key-value workload through random servers. Each run
//! has a faulty phase, then a healed phase in which the cluster must converge. Checkers run
//! after every step: election safety, log matching, leader completeness, state-machine
//! safety, monotonic commit, `Server::check_invariants`; at the end: no acknowledged command
//! lost, and linearizability.
//!
//! # Running it
//!
//! ```
//! use raft_sim::{run, Preset, SimConfig};
//!
//! let mut config = SimConfig::new(7, Preset::Heavy);
//! config.time_ms = 2_000; // Keep the doc test quick.
//! let report = run(config.clone());
//! assert!(report.ok(), "{}", report.failure_text());
//! assert_eq!(run(config).trace_hash, report.trace_hash, "same seed, same run");
//! ```
//!
//! # Property tests over seeds and faults
//!
//! [`strategy::configs`] generates [`SimConfig`]s for `proptest`; a property is a statement
//! about the [`Report`] of [`run`]:
//!
//! ```
//! use proptest::prelude::*;
//! use raft_sim::{run, strategy, Preset, Property};
//!
//! // In a test file this is usually `proptest! { #[test] fn name(config in …) { … } }`.
//! proptest!(ProptestConfig::with_cases(4), |(config in strategy::configs(&[Preset::Heavy], 1_000..3_000))| {
//!     let report = run(config);
//!     prop_assert_ne!(report.violated(), Some(Property::ElectionSafety), "{}", report.failure_text());
//! });
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

mod check;
pub mod config;
pub mod datadriven;
pub mod kv;
pub mod linearizability;
pub mod report;
pub mod rng;
pub mod strategy;
pub mod swarm;
pub mod trace;
mod world;

pub use config::{Bugs, Faults, Preset, SimConfig, Workload};
pub use report::{Property, Report, Stats, Violation};
pub use world::{run, run_traced, run_with_choices};
