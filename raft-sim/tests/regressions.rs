//! Seeds that once found a bug in raft-core, kept as regression tests. Each runs the exact
//! settings of the failing run; the comment says what it found and how it was fixed. (A later
//! change to the core or the simulator may send a seed down another path, so these complement
//! the focused tests in raft-core rather than replace them.)

use raft_sim::{Preset, SimConfig, run};

fn assert_clean(seed: u64, preset: Preset) {
    let report = run(SimConfig::new(seed, preset));
    assert!(report.ok(), "{}", report.failure_text());
}

/// A duplicated relayed command (ExecuteCommandRequest) reached the leader while the
/// original was pending and was refused "prerequisite check failed", because the original's
/// own entry had moved the current eid; the follower reported a committed command as never
/// applied and the history was not linearizable. Fixed in raft-core's
/// `handle_execute_command_request` by checking for the duplicate first.
#[test]
fn seed_67_duplicate_relayed_command_is_not_refused() {
    assert_clean(67, Preset::Heavy);
}
