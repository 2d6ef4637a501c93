//! Seeds that once found a bug in raft-core, kept as regression tests. Each runs the exact
//! settings of the failing run; the comment says what it found and how it was fixed. (A later
//! change to the core or the simulator may send a seed down another path, so these complement
//! the focused tests in raft-core rather than replace them.)

use raft_sim::{Preset, SimConfig, run};

fn assert_clean(seed: u64, nodes: usize, preset: Preset) {
    let report = run(SimConfig {
        nodes,
        ..SimConfig::new(seed, preset)
    });
    assert!(report.ok(), "{}", report.failure_text());
}

/// A duplicated relayed command (ExecuteCommandRequest) reached the leader while the
/// original was pending and was refused "prerequisite check failed", because the original's
/// own entry had moved the current eid; the follower reported a committed command as never
/// applied and the history was not linearizable. Fixed in raft-core's
/// `handle_execute_command_request` by checking for the duplicate first.
#[test]
fn seed_67_duplicate_relayed_command_is_not_refused() {
    assert_clean(67, 5, Preset::Heavy);
}

/// Same family as seed 67: the duplicate reached the leader after it stepped down, with the
/// original still pending there, and was answered "not leader" although the next leader
/// committed the entry. Fixed by checking for the duplicate before anything else.
#[test]
fn seed_1903_duplicate_relayed_command_after_stepping_down() {
    assert_clean(1903, 5, Preset::Heavy);
}

/// A follower holding an uncommitted entry of an old term at the leader's snapshot index
/// skipped the snapshot ("inside our log") yet acknowledged it; the leader's appends were then
/// refused and the snapshot re-sent forever (liveness). Fixed in raft-core's
/// `handle_install_snapshot_request` (Raft Figure 13: keep the log only if it holds the
/// snapshot's last entry).
#[test]
fn seed_405_diverged_follower_installs_the_snapshot() {
    assert_clean(405, 3, Preset::Heavy);
}

/// A leaving server was told "already not in cluster" by a leader whose configuration
/// without it was not committed; the entry was truncated and the cluster kept a member that
/// had left for good (liveness). Fixed in `handle_remove_server_request`: "committing" until
/// the configuration commits.
#[test]
fn seed_201_removal_is_confirmed_only_once_committed() {
    assert_clean(201, 5, Preset::Heavy);
}

/// A server dialled a member while joining, before knowing its id; that member's log was
/// too old to know the newcomer, so it never sent on the connection and the newcomer, once
/// leader, never replicated to it (liveness). Fixed in `sync_members_from_log`: outgoing
/// connections of unknown peer take the id of the member at their address.
#[test]
fn seed_2175_connection_dialled_while_joining_is_used_after_joining() {
    assert_clean(2175, 5, Preset::Heavy);
}
