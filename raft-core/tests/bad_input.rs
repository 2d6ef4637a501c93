//! Untrusted input (W1, W2 and the bad-input list of the core's issue): every case is answered
//! or refused as the reference does, counted, and never panics.

mod common;

use common::*;
use raft_core::*;

fn msg(from: usize, to: Option<ServerId>, cluster: Option<ClusterId>, rpc: Rpc) -> Message {
    Message {
        cluster,
        from: sid(from),
        to,
        comment: None,
        rpc,
    }
}

fn heartbeat(term: Term) -> Rpc {
    Rpc::AppendRequest {
        term,
        prev_index: Index(1),
        prev_term: Term(1),
        leader_commit: Index(1),
        entries: vec![].into(),
    }
}

#[test]
fn w1_messages_for_another_cluster_or_server_are_refused_and_counted() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = (l + 1) % 3;
    let term = c.server(f).term();
    let before = c.server(f).counters().clone();
    c.inject_message(
        l,
        f,
        msg(
            l,
            Some(sid(f)),
            Some(ClusterId::from_u128(5)),
            heartbeat(Term(term.0 + 9)),
        ),
    );
    c.inject_message(
        l,
        f,
        msg(
            l,
            Some(ServerId::from_u128(5)),
            Some(cid()),
            heartbeat(Term(term.0 + 9)),
        ),
    );
    let after = c.server(f).counters();
    assert_eq!(after.wrong_cluster, before.wrong_cluster + 1);
    assert_eq!(after.misrouted, before.misrouted + 1);
    assert_eq!(
        c.server(f).term(),
        term,
        "a refused message changed the term"
    );
    assert!(
        c.nodes[f]
            .logs
            .iter()
            .any(|t| t.contains("ignoring message for cluster"))
    );
}

#[test]
fn w1_a_connection_speaks_for_one_server_only() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let (f, g) = ((l + 1) % 3, (l + 2) % 3);
    let term = c.server(f).term();
    // A message claiming to be from g on the connection that carries l's messages.
    c.inject_message(
        l,
        f,
        msg(g, Some(sid(f)), Some(cid()), heartbeat(Term(term.0 + 1))),
    );
    assert_eq!(c.server(f).counters().wrong_sender, 1);
    assert_eq!(c.server(f).term(), term);
    // One claiming to be from f itself.
    c.inject_message(l, f, msg(f, Some(sid(f)), Some(cid()), heartbeat(term)));
    assert_eq!(c.server(f).counters().from_self, 1);
}

#[test]
fn w2_log_lines_name_servers_by_nickname() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let lines = c.nodes[(l + 1) % 3].logs.join("\n");
    let nick = sid(l).nickname().to_string();
    assert!(
        lines.contains(&format!("server {nick} is leader")),
        "{lines}"
    );
    assert!(
        !lines.contains(&sid(l).to_string()),
        "full ids in routine lines: {lines}"
    );
    assert!(
        c.server(l)
            .status(c.now)
            .to_string()
            .contains(&format!("{nick} ({nick} at"))
    );
}

#[test]
fn term_of_u64_max_is_taken_but_cannot_overflow() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = (l + 1) % 3;
    c.inject(
        l,
        f,
        Rpc::VoteReply {
            term: Term(u64::MAX),
            vote: sid(l),
        },
    );
    assert_eq!(c.server(f).term(), Term(u64::MAX));
    c.advance(10_000); // Elections cannot start: no term after u64::MAX.
    assert_eq!(c.server(f).term(), Term(u64::MAX));
    assert!(
        c.nodes[f]
            .logs
            .iter()
            .any(|t| t.contains("term space exhausted"))
    );
}

#[test]
fn absurd_indexes_are_refused() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = (l + 1) % 3;
    c.auto_deliver = false;
    let term = c.server(f).term();
    let e = Entry {
        term,
        payload: Payload::Noop,
    };
    for prev in [u64::MAX, u64::MAX - 1, 1 << 40] {
        c.inject(
            l,
            f,
            Rpc::AppendRequest {
                term,
                prev_index: Index(prev),
                prev_term: term,
                leader_commit: Index(u64::MAX),
                entries: vec![e.clone(), e.clone()].into(),
            },
        );
        let r = c.queue.pop_back().map(|m| m.message.rpc);
        assert!(
            matches!(
                r,
                Some(Rpc::AppendReply {
                    result: AppendResult::Inconsistency,
                    ..
                })
            ),
            "{prev}: {r:?}"
        );
    }
    // Replies claiming absurd progress are ignored by the leader.
    let lt = c.server(l).term();
    for (prev, n) in [(u64::MAX, 5), (1 << 40, 0), (2, u64::MAX)] {
        c.inject(
            f,
            l,
            Rpc::AppendReply {
                term: lt,
                log_end: Index(u64::MAX),
                prev_index: Index(prev),
                prev_term: lt,
                n_entries: n,
                result: AppendResult::Ok,
            },
        );
        c.server(l).check_invariants();
    }
    assert!(c.server(l).counters().bogus_replies >= 2);
    assert!(c.server(l).commit_index() < c.server(l).log_end());
}

#[test]
fn entries_past_the_log_end_are_refused() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = (l + 1) % 3;
    c.auto_deliver = false;
    let term = c.server(f).term();
    let end = c.server(f).log_end();
    c.inject(
        l,
        f,
        Rpc::AppendRequest {
            term,
            prev_index: Index(end.0 + 3),
            prev_term: term,
            leader_commit: Index(1),
            entries: vec![Entry {
                term,
                payload: Payload::Noop,
            }]
            .into(),
        },
    );
    let r = c.queue.pop_back().unwrap();
    assert_eq!(
        r.message.comment.as_deref(),
        Some("mismatch past end of log")
    );
    assert_eq!(c.server(f).log_end(), end);
}

#[test]
fn replies_from_unknown_servers_are_ignored_and_counted() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = (l + 1) % 3;
    let term = c.server(l).term();
    // An unknown server id on a fresh connection.
    let stranger = ServerId::from_u128(0x9999 << 112);
    let m = Message {
        cluster: Some(cid()),
        from: stranger,
        to: Some(sid(l)),
        comment: None,
        rpc: Rpc::AppendReply {
            term,
            log_end: Index(2),
            prev_index: Index(1),
            prev_term: Term(1),
            n_entries: 0,
            result: AppendResult::Ok,
        },
    };
    c.step(
        l,
        Event::Connected {
            conn: ConnId(9_999),
            incoming: true,
            address: None,
        },
    );
    c.step(
        l,
        Event::Message {
            conn: ConnId(9_999),
            message: Box::new(m.clone()),
        },
    );
    assert_eq!(c.server(l).counters().replies_from_unknown, 1);
    let m2 = Message {
        rpc: Rpc::InstallSnapshotReply {
            term,
            last_index: Index(1),
            last_term: Term(1),
        },
        ..m.clone()
    };
    c.step(
        l,
        Event::Message {
            conn: ConnId(9_999),
            message: Box::new(m2),
        },
    );
    assert_eq!(c.server(l).counters().replies_from_unknown, 2);
    // And a follower ignores leader-only replies.
    c.inject(
        l,
        f,
        Rpc::AppendReply {
            term,
            log_end: Index(2),
            prev_index: Index(1),
            prev_term: Term(1),
            n_entries: 0,
            result: AppendResult::Ok,
        },
    );
    assert_eq!(c.server(f).counters().replies_not_leader, 1);
}

#[test]
fn driver_mistakes_are_ignored_and_counted() {
    let mut c = Cluster::new(3);
    c.elect();
    c.step(
        0,
        Event::Persisted {
            ticket: WriteTicket(1 << 60),
        },
    );
    assert_eq!(c.server(0).counters().bad_tickets, 1);
    c.step(
        0,
        Event::Message {
            conn: ConnId(123_456),
            message: Box::new(msg(1, Some(sid(0)), Some(cid()), heartbeat(Term(1)))),
        },
    );
    assert_eq!(c.server(0).counters().unknown_connection, 1);
    c.step(
        0,
        Event::Disconnected {
            conn: ConnId(123_456),
        },
    );
    // Time going backwards is clamped.
    let now = c.now;
    c.server_mut(0).step(Millis(0), Event::Tick);
    c.process(0);
    assert!(c.server(0).next_deadline().is_none_or(|d| d >= now));
}

#[test]
fn a_relayed_command_with_a_reused_entry_id_is_dropped() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = (l + 1) % 3;
    // Nothing commits: the leader hears no append replies.
    c.auto_deliver = false;
    let eid = EntryId::from_u128(42);
    let rq = |prereq| Rpc::ExecuteCommandRequest {
        data: Data::from("x"),
        prereq,
        result: eid,
    };
    c.inject(f, l, rq(EntryId::from_u128(1)));
    let end = c.server(l).log_end();
    // The same entry id again, with a prerequisite that matches the log now.
    c.inject(f, l, rq(eid));
    assert_eq!(c.server(l).counters().duplicate_commands, 1);
    assert_eq!(
        c.server(l).log_end(),
        end,
        "appended a second entry with one id"
    );
}

/// Found by `properties::any_event_sequence_keeps_the_invariants` (first case in
/// `properties.proptest-regressions`): a snapshot of a term newer than its sender's made the
/// log's last term exceed the current term.
#[test]
fn a_snapshot_newer_than_its_sender_is_refused() {
    let mut c = Cluster::new(3);
    c.auto_deliver = false;
    let servers = header(0, 3).snapshot.unwrap().servers;
    let snapshot = Snapshot {
        index: Index(3),
        term: Term(2),
        eid: EntryId::from_u128(0),
        servers,
        election_timer: None,
        data: Data::default(),
    };
    c.inject(
        1,
        0,
        Rpc::InstallSnapshotRequest {
            term: Term(1),
            snapshot,
        },
    );
    assert_eq!(c.server(0).counters().malformed_messages, 1);
    assert_eq!(c.server(0).log_start(), Index(2));
}

/// Found by the same property (second case): the same snapshot installed twice before the
/// first install was durable released the first reply before its snapshot was durable.
#[test]
fn a_snapshot_installed_twice_replies_once_durable() {
    let mut c = Cluster::new(3);
    c.manual_persist(0, true);
    c.auto_deliver = false;
    let servers = header(0, 3).snapshot.unwrap().servers;
    let snapshot = Snapshot {
        index: Index(10),
        term: Term(0),
        eid: EntryId::from_u128(0),
        servers,
        election_timer: None,
        data: Data::default(),
    };
    let rq = Rpc::InstallSnapshotRequest {
        term: Term(4),
        snapshot,
    };
    c.inject(1, 0, rq.clone());
    c.inject(1, 0, rq);
    assert!(
        c.queued_from(0).is_empty(),
        "replied before the snapshot was durable"
    );
    c.persist(0);
    let replies = c
        .queued_from(0)
        .iter()
        .filter(|m| m.message.rpc.name() == "install_snapshot_reply")
        .count();
    assert_eq!(replies, 2);
    assert_eq!(c.server(0).durable_index(), Index(10));
}

#[test]
fn append_entries_out_of_term_order_are_refused() {
    let mut c = Cluster::new(3);
    c.auto_deliver = false;
    let e = |t| Entry {
        term: Term(t),
        payload: Payload::Noop,
    };
    for entries in [vec![e(3), e(2)], vec![e(5)], vec![e(0)]] {
        c.inject(
            1,
            0,
            Rpc::AppendRequest {
                term: Term(4),
                prev_index: Index(1),
                prev_term: Term(1),
                leader_commit: Index(1),
                entries: entries.into(),
            },
        );
    }
    assert_eq!(c.server(0).counters().malformed_messages, 3);
    assert_eq!(c.server(0).log_end(), Index(2));
}
