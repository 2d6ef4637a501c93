//! Seeds that once found a bug in raft-core, kept as regression tests. Each runs the exact
//! settings of the failing run; the comment says what it found and how it was fixed. (A later
//! change to the core or the simulator may send a seed down another path, so these complement
//! the focused tests in raft-core rather than replace them.)

use raft_sim::{Faults, Preset, SimConfig, Workload, run};

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

/// Heavy faults at about double the rates: more loss, crashes, partitions, snapshots and
/// membership churn. (Some seeds below were found with these knobs.)
fn doubled() -> Faults {
    Faults {
        drop_per_million: 50_000,
        duplicate_per_million: 20_000,
        reorder_per_million: 50_000,
        crash_per_million_steps: 2_000,
        partition_per_million_steps: 5_000,
        snapshot_per_million_steps: 10_000,
        timer_change_per_million_steps: 2_000,
        failure_test_per_million_steps: 2_000,
        join_per_million_steps: 3_000,
        leave_per_million_steps: 1_500,
        kick_per_million_steps: 1_500,
        transfer_per_million_steps: 5_000,
        disk_stall_per_million_steps: 1_000,
        ..Faults::HEAVY
    }
}

fn assert_clean_with(config: SimConfig) {
    let report = run(config);
    assert!(report.ok(), "{}", report.failure_text());
}

/// A kicked server held the (uncommitted, later truncated) configuration without itself,
/// crashed, and refused to open "not in configuration" while the cluster still counted it.
/// Fixed in `Server::open`: refuse only if neither the latest nor the committed
/// configuration holds the server.
#[test]
fn seed_785_server_removed_by_an_uncommitted_entry_reopens() {
    assert_clean_with(SimConfig {
        workload: Workload {
            clients: 6,
            keys: 3,
            think_ms_max: 50,
            prereq_per_million: 0,
        },
        ..SimConfig::new(785, Preset::Heavy)
    });
}

/// A newly added server whose durable commit index had not reached its own addition: the
/// first version of the fix above refused it, since only the committed configuration was
/// checked. Guards the "latest configuration still counts" half of the rule.
#[test]
fn seed_11_doubled_new_server_reopens_before_knowing_its_addition_committed() {
    assert_clean_with(SimConfig {
        faults: doubled(),
        ..SimConfig::new(11, Preset::Heavy)
    });
}

/// A server told its join succeeded snapshotted before its log held its own addition; the
/// header lost the joining mark and after a crash it could not open. Fixed in raft-core's
/// snapshot code: no snapshots while not in the own configuration, and a replaced log keeps
/// the joining mark if it does not name the server.
#[test]
fn seed_1041_doubled_joined_server_keeps_its_joining_mark() {
    assert_clean_with(SimConfig {
        nodes: 3,
        faults: doubled(),
        ..SimConfig::new(1041, Preset::Heavy)
    });
}

/// Heavy faults with about twenty times the membership churn.
fn churn() -> Faults {
    Faults {
        join_per_million_steps: 10_000,
        leave_per_million_steps: 5_000,
        kick_per_million_steps: 5_000,
        crash_per_million_steps: 1_000,
        ..Faults::HEAVY
    }
}

/// A server restarted while joining, whose replayed log named it a member, was asked to
/// take leadership and won; a leader that is still joining never finishes joining, applies
/// nothing and refuses every command. Fixed in raft-core's `start_election`: a joining server
/// never stands.
#[test]
fn seed_949_churn_joining_server_never_leads() {
    assert_clean_with(SimConfig {
        nodes: 3,
        faults: churn(),
        ..SimConfig::new(949, Preset::Heavy)
    });
}

/// A removed server whose success reply was lost asked only the servers of its stale
/// configuration, none of them the current leader, and stayed leaving forever. Fixed in
/// `handle_remove_server_request`: a server whose log shows the removal committed confirms it.
#[test]
fn seed_1450_churn_removed_server_learns_it_from_any_member() {
    assert_clean_with(SimConfig {
        nodes: 7,
        faults: churn(),
        ..SimConfig::new(1450, Preset::Heavy)
    });
}

/// Both churn and doubled fault rates.
fn churn_doubled() -> Faults {
    Faults {
        join_per_million_steps: 10_000,
        leave_per_million_steps: 5_000,
        kick_per_million_steps: 5_000,
        ..doubled()
    }
}

/// Same bug as seed 1450, with 3 servers.
#[test]
fn seed_1312_churn_doubled_removed_server_learns_it_from_any_member() {
    assert_clean_with(SimConfig {
        nodes: 3,
        faults: churn_doubled(),
        ..SimConfig::new(1312, Preset::Heavy)
    });
}

/// A stale member kept raising the term; the others, stepping down each time, ignored the
/// real candidates for a whole election timer (the disruptive-server check counted from the
/// last timer reset), and no leader was elected for the healed phase's whole minute. Fixed
/// in `suppress_disruptive`: only while a leader is known.
#[test]
fn seed_1494_churn_doubled_elections_are_not_blocked_by_a_stale_member() {
    assert_clean_with(SimConfig {
        nodes: 3,
        faults: churn_doubled(),
        ..SimConfig::new(1494, Preset::Heavy)
    });
}

/// A kicked leader appended the configuration without itself, and only a server that then
/// started leaving received it. Both holders of the newest log withheld their votes from the
/// other two, and neither stood: one outside its configuration, the other leaving (E9). No
/// leader for the healed phase's whole minute. Fixed in raft-core's `start_election`: a
/// leaving server stands, and hands over once elected (`run_reconfigure`). The fix changes
/// the run before the deadlock forms; raft-core's
/// `e9_a_kicked_leader_and_a_leaving_server_holding_the_newest_log_do_not_block_elections`
/// replays the deadlock itself.
#[test]
fn seed_1011807_a_leaving_server_holding_the_newest_log_may_stand() {
    assert_clean(1011807, 5, Preset::Heavy);
}

/// A server joined, left, and its removal committed; it had crashed before hearing so and,
/// restarted, still thought itself joining, so it asked to join again and was added back
/// under the same id. When it then left, a follower whose log showed the first removal
/// answered "already gone", and it left for good while a member (liveness: a member never
/// running again). Fixed in raft-core's `Log::removes`: a removal followed by an addition
/// back is no removal. Found with `churn()` knobs over seeds 1..8000.
#[test]
fn seed_6702_churn_a_server_added_back_is_not_told_it_is_gone() {
    assert_clean_with(SimConfig {
        faults: churn(),
        ..SimConfig::new(6702, Preset::Heavy)
    });
}

/// A joining server learned the members' addresses from their refusals, crashed, and was
/// restarted after every server it had first been given had left: it asked only those, and
/// never joined. Fixed in raft-core: learned addresses are written to the joining server's
/// header (`handle_add_server_reply`).
#[test]
fn seeds_6179_7634_churn_a_restarted_joiner_remembers_the_addresses_it_learned() {
    assert_clean_with(SimConfig {
        nodes: 3,
        faults: churn(),
        ..SimConfig::new(6179, Preset::Heavy)
    });
    assert_clean_with(SimConfig {
        nodes: 3,
        faults: churn_doubled(),
        ..SimConfig::new(7634, Preset::Heavy)
    });
}

/// A candidate whose peers' configurations left it out was never sent their newer term: it
/// raised its own one election at a time behind a peer doing the same, whose vote it
/// needed, and its stale requests were dropped unanswered, for the whole healed minute.
/// Fixed in raft-core's `tell_stale_candidate`: a stale vote request is answered with the
/// current term (Raft §3.3).
#[test]
fn seed_8466_churn_doubled_a_stale_candidate_learns_the_term() {
    assert_clean_with(SimConfig {
        nodes: 3,
        faults: churn_doubled(),
        ..SimConfig::new(8466, Preset::Heavy)
    });
}

/// A server was removed without hearing of it, and every member's snapshot compacted the
/// removal away; later it was asked to leave. It asked only the servers of its stale
/// configuration, which did not include the current leader, and they, seeing no removal in
/// their logs, answered "not leader" for the whole healed minute. Fixed in raft-core: a
/// follower's "not leader" names its leader (`RemoveServerReply::leader`), and a leaving
/// server asks it too. raft-core's
/// `m8_a_leaving_server_reaches_a_leader_its_configuration_lacks` distils it.
#[test]
fn seed_15453_churn_doubled_a_leaving_server_is_told_where_the_leader_is() {
    assert_clean_with(SimConfig {
        faults: churn_doubled(),
        ..SimConfig::new(15453, Preset::Heavy)
    });
}

/// The knob sets that found the bugs above, over more seeds than the CI swarm gives them.
#[test]
fn churn_and_doubled_faults_over_many_seeds() {
    let knobs = [
        (churn(), 3),
        (churn(), 7),
        (doubled(), 3),
        (doubled(), 7),
        (churn_doubled(), 3),
    ];
    for (faults, nodes) in knobs {
        for seed in 1..=40 {
            assert_clean_with(SimConfig {
                nodes,
                faults,
                ..SimConfig::new(seed, Preset::Heavy)
            });
        }
    }
}
