//! Replication (R1–R7) and the Raft paper's log scenarios.

mod common;

use common::*;
use raft_core::*;

fn append_requests(c: &Cluster, from: usize, to: usize) -> Vec<(Index, Term, Index, usize)> {
    c.queue
        .iter()
        .filter(|m| m.from == from && m.to == to)
        .filter_map(|m| match &m.message.rpc {
            Rpc::AppendRequest {
                prev_index,
                prev_term,
                leader_commit,
                entries,
                ..
            } => Some((*prev_index, *prev_term, *leader_commit, entries.len())),
            _ => None,
        })
        .collect()
}

#[test]
fn r1_append_requests_carry_prev_index_term_and_commit() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = (l + 1) % 3;
    c.auto_deliver = false;
    let end = c.server(l).log_end();
    let commit = c.server(l).commit_index();
    c.execute(l, "x", None);
    let rqs = append_requests(&c, l, f);
    assert_eq!(rqs, vec![(end.prev(), c.server(l).term(), commit, 1)]);
}

#[test]
fn r1_prev_term_at_the_log_start_is_the_snapshot_term() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = (l + 1) % 3;
    // Compact the leader's log completely, then ask for a heartbeat at the log start.
    let now = c.now;
    let applied = c.server(l).applied_index();
    c.server_mut(l)
        .store_snapshot(now, Data::from("s"), Some(applied))
        .unwrap();
    c.process(l);
    c.auto_deliver = false;
    c.advance(400);
    let snap_term = c.server(l).term_at(c.server(l).log_start().prev()).unwrap();
    let hb = append_requests(&c, l, f);
    assert!(
        hb.iter()
            .any(|(p, t, _, n)| *p == c.server(l).log_start().prev() && *t == snap_term && *n == 0),
        "{hb:?}"
    );
}

#[test]
fn r2_follower_persists_entries_before_acknowledging_them() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = (l + 1) % 3;
    c.manual_persist(f, true);
    c.auto_deliver = false;
    c.execute(l, "x", None);
    while c.deliver_one() {
        if c.queued_from(f)
            .iter()
            .any(|m| m.message.rpc.name() == "append_reply")
        {
            panic!("an append reply left before Persisted");
        }
    }
    assert!(c.nodes[f].pending.iter().any(
        |w| matches!(w, Write::Append(_, r) if r.iter().any(|r| matches!(r, Record::Entry { .. })))
    ));
    c.persist(f);
    let released = c.queued_from(f);
    assert!(
        !released.is_empty()
            && released
                .iter()
                .all(|m| m.message.rpc.name() == "append_reply"),
        "replies leave once durable"
    );
}

#[test]
fn r2_leader_refuses_another_leader_of_its_term() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = (l + 1) % 3;
    c.auto_deliver = false;
    let term = c.server(l).term();
    c.inject(
        f,
        l,
        Rpc::AppendRequest {
            term,
            prev_index: Index(1),
            prev_term: Term(1),
            leader_commit: Index(1),
            entries: vec![].into(),
        },
    );
    let reply = c
        .queued_from(l)
        .into_iter()
        .find(|m| m.message.rpc.name() == "append_reply")
        .unwrap();
    assert_eq!(reply.message.comment.as_deref(), Some("usurped leadership"));
    assert_eq!(c.server(l).role(), Role::Leader);
}

#[test]
fn r2_candidate_becomes_follower_on_append_of_its_term() {
    let mut c = Cluster::new(3);
    c.auto_deliver = false;
    let now = c.now;
    c.server_mut(0).take_leadership(now);
    c.process(0);
    let term = c.server(0).term();
    assert_eq!(c.server(0).role(), Role::Candidate);
    c.inject(
        1,
        0,
        Rpc::AppendRequest {
            term,
            prev_index: Index(1),
            prev_term: Term(1),
            leader_commit: Index(1),
            entries: vec![].into(),
        },
    );
    assert_eq!(c.server(0).role(), Role::Follower);
    assert_eq!(c.server(0).leader(), Some(sid(1)));
}

/// The four layouts of a request against a log that starts after a snapshot (R2).
#[test]
fn r2_requests_reaching_into_the_snapshot() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    for k in 0..4 {
        c.execute(l, &format!("v{k}"), None);
    }
    let f = (l + 1) % 3;
    let now = c.now;
    let applied = c.server(f).applied_index();
    c.server_mut(f)
        .store_snapshot(now, Data::from("s"), Some(applied))
        .unwrap();
    c.process(f);
    let snap = c.server(f).log_start().prev();
    let snap_term = c.server(f).term_at(snap).unwrap();
    let term = c.server(l).term();
    c.auto_deliver = false;
    let noop = |t| Entry {
        term: t,
        payload: Payload::Noop,
    };
    let cases = [
        // Entirely before the snapshot: already there.
        (Index(1), Term(1), vec![noop(Term(1))], AppendResult::Ok),
        // Ends exactly at the snapshot with the same term.
        (
            snap.prev(),
            c.server(l).term_at(snap.prev()).unwrap(),
            vec![noop(snap_term)],
            AppendResult::Ok,
        ),
        // Ends at the snapshot with another term.
        (
            snap.prev(),
            Term(1),
            vec![noop(Term(1))],
            AppendResult::Inconsistency,
        ),
    ];
    for (prev_index, prev_term, entries, want) in cases {
        c.inject(
            l,
            f,
            Rpc::AppendRequest {
                term,
                prev_index,
                prev_term,
                leader_commit: Index(1),
                entries: entries.into(),
            },
        );
        let got = c.queue.pop_back().map(|m| m.message.rpc);
        assert!(
            matches!(got, Some(Rpc::AppendReply { result, .. }) if result == want),
            "{prev_index}: {got:?}"
        );
    }
    // Overlapping the snapshot: the covered part is trimmed, the rest appended.
    let end = c.server(f).log_end();
    let overlap: Vec<Entry> = (snap.0..end.0)
        .map(|i| c.server(l).entry(Index(i)).unwrap().clone())
        .collect();
    c.inject(
        l,
        f,
        Rpc::AppendRequest {
            term,
            prev_index: snap.prev(),
            prev_term: c.server(l).term_at(snap.prev()).unwrap(),
            leader_commit: Index(1),
            entries: overlap.into(),
        },
    );
    let got = c.queue.pop_back().map(|m| m.message.rpc);
    assert!(
        matches!(
            got,
            Some(Rpc::AppendReply {
                result: AppendResult::Ok,
                ..
            })
        ),
        "{got:?}"
    );
}

#[test]
fn r3_failure_backs_next_index_off_to_the_follower_log_end() {
    // The follower lags far behind; the leader's first probe fails and the reply's log end
    // takes next index straight there.
    let mut c = Cluster::with_logs(&[(vec![1; 20], 1), (vec![1; 20], 1), (vec![], 1)]);
    c.auto_deliver = false;
    let now = c.now;
    c.server_mut(0).take_leadership(now);
    c.process(0);
    for _ in 0..200 {
        if !c.deliver_one() {
            break;
        }
    }
    c.auto_deliver = true;
    c.settle();
    assert_eq!(c.log_terms(2), c.log_terms(0));
    let probes = c.nodes[2]
        .logs
        .iter()
        .filter(|t| t.contains("rejecting append_request"))
        .count();
    assert!(
        probes <= 2,
        "{probes} rejections: backing off by one at a time?"
    );
}

#[test]
fn r3_io_error_reply_is_not_retried_at_once() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = (l + 1) % 3;
    c.auto_deliver = false;
    let end = c.server(l).log_end();
    c.inject(
        f,
        l,
        Rpc::AppendReply {
            term: c.server(l).term(),
            log_end: end,
            prev_index: end.prev(),
            prev_term: c.server(l).term(),
            n_entries: 0,
            result: AppendResult::IoError,
        },
    );
    assert!(
        append_requests(&c, l, f).is_empty(),
        "resent at once after an I/O error"
    );
}

#[test]
fn r4_leader_counts_itself_only_once_its_write_is_durable() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    c.manual_persist(l, true);
    let (f, g) = ((l + 1) % 3, (l + 2) % 3);
    c.cut(l, g);
    let eid = c.execute(l, "x", None);
    // Follower f has it durably, the leader does not: one of three is not a majority.
    assert_eq!(
        c.outcome(l, eid),
        None,
        "committed before the leader's own write was durable"
    );
    c.persist(l);
    c.settle();
    assert_eq!(c.outcome(l, eid).map(|o| o.0), Some(CommandStatus::Success));
    let _ = f;
}

/// Raft paper figure 8: a leader must not commit an entry of an earlier term by counting
/// replicas; only an entry of its own term on a majority commits (and with it the earlier).
#[test]
fn r4_figure_8_no_commit_of_an_earlier_term_by_counting_replicas() {
    // S1 and S2 hold a term-2 entry at index 2; S5 a term-3 entry there. S1 leads term 4.
    let mut c = Cluster::with_logs(&[
        (vec![2], 3),
        (vec![2], 3),
        (vec![], 3),
        (vec![], 3),
        (vec![3], 3),
    ]);
    c.nodes[0].config.max_append_entries = 1;
    c.crash(0);
    c.restart(0);
    c.isolate(3);
    c.isolate(4);
    c.auto_deliver = false;
    let now = c.now;
    c.server_mut(0).take_leadership(now);
    c.process(0);
    // Deliver votes and appends, but keep the no-op from S3 once S3 has the term-2 entry:
    // its first no-op is refused (S3 lacks index 2), the entry at 2 follows alone
    // (one entry per append), and the second no-op is lost.
    let mut noops_to_s3 = 0;
    for _ in 0..50 {
        let Some(m) = c.queue.front() else { break };
        let noop_to_s3 = m.to == 2
            && matches!(&m.message.rpc, Rpc::AppendRequest { entries, .. } if entries.iter().any(|e| e.term == Term(4)));
        if noop_to_s3 {
            noops_to_s3 += 1;
            if noops_to_s3 == 2 {
                c.queue.pop_front();
                continue;
            }
        }
        c.deliver_one();
    }
    assert_eq!(c.server(0).role(), Role::Leader);
    assert_eq!(
        c.server(2).term_at(Index(2)),
        Some(Term(2)),
        "S3 holds the term-2 entry"
    );
    // Index 2 (term 2) is on S1, S2, S3: a majority of five, yet not committed.
    assert_eq!(
        c.server(0).commit_index(),
        Index(1),
        "committed an earlier term's entry by counting replicas"
    );
    // Once the term-4 no-op reaches a majority, both commit.
    c.auto_deliver = true;
    c.advance(500);
    assert_eq!(c.server(0).commit_index(), Index(3));
}

/// Raft paper figure 7: whatever the followers' logs, the leader makes them match its own.
#[test]
fn r2_figure_7_divergent_logs_are_repaired() {
    let leader = vec![1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
    let logs = vec![
        (leader.clone(), 7),
        (vec![1, 1, 1, 4, 4, 5, 5, 6, 6], 6), // (a) missing one
        (vec![1, 1, 1, 4], 4),                // (b) missing many
        (vec![1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6], 6), // (c) one extra
        (vec![1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7], 7), // (d) extra of a later term
        (vec![1, 1, 1, 4, 4, 4, 4], 4),       // (e) missing and extra
        (vec![1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3], 3), // (f) many of other terms
    ];
    let mut c = Cluster::with_logs(&logs);
    let now = c.now;
    c.server_mut(0).take_leadership(now);
    c.process(0);
    c.settle();
    assert_eq!(c.leader(), Some(0));
    assert_eq!(c.server(0).term(), Term(8));
    c.advance(1_000);
    let want = c.log_terms(0);
    assert_eq!(want.last(), Some(&8), "the new leader's no-op");
    for i in 1..7 {
        assert_eq!(c.log_terms(i), want, "follower {i}");
        assert_eq!(c.server(i).commit_index(), c.server(0).commit_index());
    }
}

#[test]
fn r5_follower_commit_is_min_of_leader_commit_and_last_new_entry() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = (l + 1) % 3;
    c.auto_deliver = false;
    let term = c.server(l).term();
    let end = c.server(f).log_end();
    let e = Entry {
        term,
        payload: Payload::Noop,
    };
    // The leader claims a commit far ahead; the follower only has up to the new entry.
    c.inject(
        l,
        f,
        Rpc::AppendRequest {
            term,
            prev_index: end.prev(),
            prev_term: term,
            leader_commit: Index(1000),
            entries: vec![e].into(),
        },
    );
    assert_eq!(c.server(f).commit_index(), end);
}

#[test]
fn r6_heartbeats_every_third_of_the_election_timer() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = (l + 1) % 3;
    c.auto_deliver = false;
    c.queue.clear();
    c.advance(1000);
    let beats = append_requests(&c, l, f)
        .iter()
        .filter(|r| r.3 == 0)
        .count();
    assert_eq!(
        beats, 3,
        "heartbeats in one second at 1000 ms election timer"
    );
}

#[test]
fn r7_new_entries_go_at_once_to_up_to_date_peers() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    c.auto_deliver = false;
    c.execute(l, "x", None);
    for f in [(l + 1) % 3, (l + 2) % 3] {
        assert_eq!(
            append_requests(&c, l, f)
                .iter()
                .filter(|r| r.3 == 1)
                .count(),
            1,
            "to {f}"
        );
    }
}

#[test]
fn replication_pipelines_within_the_window() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    c.auto_deliver = false;
    for k in 0..10 {
        c.execute(l, &format!("{k}"), None);
    }
    let f = (l + 1) % 3;
    assert_eq!(
        append_requests(&c, l, f).len(),
        10,
        "one append per new entry, no waiting for replies"
    );
    c.auto_deliver = true;
    c.settle();
    assert!(c.run_until_applied(10));
}

#[test]
fn window_bounds_appends_in_flight_to_a_silent_follower() {
    let mut c = Cluster::new(3);
    c.nodes[0].config.max_inflight_appends = 4;
    c.crash(0);
    c.restart(0);
    let now = c.now;
    c.server_mut(0).take_leadership(now);
    c.process(0);
    c.settle();
    assert_eq!(c.leader(), Some(0));
    c.auto_deliver = false;
    for k in 0..20 {
        c.execute(0, &format!("{k}"), None);
    }
    assert_eq!(
        append_requests(&c, 0, 1).len(),
        4,
        "the window holds four appends"
    );
}
