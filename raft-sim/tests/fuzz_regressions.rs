//! Inputs the `sim_schedule` fuzz target (`fuzz/`) found, replayed through
//! `raft_sim::run_with_choices` exactly as the target runs them, so they stay fixed.

use raft_sim::{Preset, Property, Report, SimConfig, run_with_choices};

/// Runs `input` as the fuzz target does: the first byte picks the preset, 3 to 5 servers and
/// the seed; the rest are the decisions.
fn replay(input: &[u8]) -> Report {
    let (&shape, choices) = input.split_first().expect("an input");
    let mut cfg = SimConfig::new(u64::from(shape), Preset::ALL[usize::from(shape % 3)]);
    cfg.nodes = 3 + usize::from(shape / 3 % 3);
    cfg.time_ms = 3_000;
    run_with_choices(cfg, choices.to_vec())
}

/// A vote reply held back by the chosen delays elected a stale leader in term 2 after an
/// entry of term 3 was committed. Raft owes committed entries only to leaders of later terms
/// (the stale leader can commit nothing), but the leader-completeness checker demanded it of
/// every leader elected afterwards.
#[test]
fn a_stale_leader_elected_late_is_not_a_leader_completeness_violation() {
    let input = [
        0xd7, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee,
        0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee,
        0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee,
        0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee,
        0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0x29, 0xab, 0x29, 0xab,
    ];
    let report = replay(&input);
    assert!(
        report.violated().is_none_or(|p| p == Property::Liveness),
        "{}",
        report.failure_text()
    );
}
