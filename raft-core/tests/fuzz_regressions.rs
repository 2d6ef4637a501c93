//! Inputs the fuzz targets in `fuzz/` found crashing raft-core, minimised and replayed here so
//! they stay fixed. Each test names its target and says what went wrong.

mod common;

use common::*;
use raft_core::*;

/// Server 0 of a 3-server cluster with an empty log, connected to servers 1 and 2 on
/// connections 1 and 2 (the start of most `core_events` inputs).
fn server() -> Server {
    let mut s = Server::open(
        header(0, 3),
        log_records(&[], 1),
        Config::with_seed(1),
        Millis(0),
    )
    .unwrap();
    for peer in 1..3 {
        s.step(
            Millis(0),
            Event::Connected {
                conn: ConnId(peer as u64),
                incoming: false,
                address: Some(address(peer)),
            },
        );
    }
    while s.poll_action().is_some() {}
    s.check_invariants();
    s
}

/// Delivers `rpc` from server `from` on its connection, then checks the invariants.
fn deliver(s: &mut Server, now: Millis, from: usize, rpc: Rpc) {
    let message = Message {
        cluster: Some(cid()),
        from: sid(from),
        to: Some(sid(0)),
        comment: None,
        rpc,
    };
    s.step(
        now,
        Event::Message {
            conn: ConnId(from as u64),
            message: Box::new(message),
        },
    );
    while s.poll_action().is_some() {}
    s.check_invariants();
}

/// `core_events`: a snapshot whose last index is `u64::MAX` was installed, leaving a log that
/// ends where it starts, with the commit index at its end ("commit index past the log end").
/// No log can follow such a snapshot, so it is malformed and refused.
#[test]
fn a_snapshot_at_the_last_possible_index_is_refused() {
    let mut s = server();
    let before = s.counters().malformed_messages;
    deliver(
        &mut s,
        Millis(0),
        1,
        Rpc::InstallSnapshotRequest {
            term: Term(u64::MAX),
            snapshot: Snapshot {
                index: Index(u64::MAX),
                term: Term(1),
                eid: EntryId::from_u128(1),
                servers: header_servers(),
                election_timer: None,
                data: Data::from("a"),
            },
        },
    );
    assert_eq!(s.counters().malformed_messages, before + 1);
    assert_eq!(s.log_end(), Index(2), "the log is untouched");
}

/// `record_replay`: a header whose snapshot ends at `u64::MAX` opened into a server whose
/// commit index sat at its log end. Such a header is refused.
#[test]
fn a_header_snapshot_at_the_last_possible_index_is_refused() {
    let mut h = header(0, 3);
    h.snapshot.as_mut().unwrap().index = Index(u64::MAX);
    let err = Server::open(h, Vec::new(), Config::default(), Millis(0))
        .err()
        .expect("refused");
    assert!(matches!(err, OpenError::BadHeader(_)), "{err}");
}

/// `core_events`: a snapshot ending inside the log, on a committed entry but with another
/// term, was taken for a sign of divergence and installed. That moved the commit index back
/// below the applied index ("applied past the commit index"). Committed entries cannot have
/// diverged, so such a snapshot is skipped like any other that ends inside the log.
#[test]
fn a_snapshot_contradicting_a_committed_entry_is_not_installed() {
    let mut records = log_records(&[1, 1, 1], 2);
    records.push(Record::CommitIndex { index: Index(3) });
    let mut s = opened_and_connected_to_1(header(0, 3), records);
    assert_eq!(s.applied_index(), Index(3));
    deliver(
        &mut s,
        Millis(0),
        1,
        Rpc::InstallSnapshotRequest {
            term: Term(2),
            snapshot: Snapshot {
                index: Index(2),
                term: Term(2),
                eid: EntryId::from_u128(1),
                servers: header_servers(),
                election_timer: None,
                data: Data::from("a"),
            },
        },
    );
    assert_eq!(s.commit_index(), Index(3));
    assert_eq!(s.log_start(), Index(2), "the log was kept");
    assert_eq!(s.term_at(Index(2)), Some(Term(1)));
}

/// `core_events`: a joining server (commit index 0) installed a snapshot ending at index 0 and
/// wrote it as its header; no header with a snapshot at 0 opens, so the server could never
/// restart. A snapshot must end at an index a header may hold.
#[test]
fn a_snapshot_at_index_zero_is_refused() {
    let mut s = joining_server(None);
    let before = s.counters().malformed_messages;
    let message = Message {
        cluster: Some(cid()),
        from: sid(1),
        to: Some(sid(0)),
        comment: None,
        rpc: Rpc::InstallSnapshotRequest {
            term: Term(5),
            snapshot: Snapshot {
                index: Index(0),
                term: Term(2),
                eid: EntryId::from_u128(1),
                servers: header_servers(),
                election_timer: None,
                data: Data::from("a"),
            },
        },
    };
    s.step(
        Millis(0),
        Event::Message {
            conn: ConnId(1),
            message: Box::new(message),
        },
    );
    let replaced =
        std::iter::from_fn(|| s.poll_action()).any(|a| matches!(a, Action::ReplaceLog { .. }));
    assert!(!replaced, "no header with a snapshot at index 0 is written");
    assert_eq!(s.counters().malformed_messages, before + 1);
    s.check_invariants();
}

/// `core_events`: a joining server took entries 1 to 3 from an append (its log was empty, so
/// prev_index 0 matched; a real leader, whose log starts after a snapshot, sends that first),
/// then stored a snapshot at index 1, before the configuration entry at 3. The snapshot's
/// configuration was empty and the header written with it never reopened. Such a snapshot is
/// refused.
#[test]
fn a_snapshot_before_any_known_configuration_is_refused() {
    let mut s = joining_server(Some(cid()));
    let data = |text: &str| Payload::Data {
        id: EntryId::from_u128(text.len() as u128),
        data: Data::from(text),
    };
    let entries = vec![
        Entry {
            term: Term(2),
            payload: data("a"),
        },
        Entry {
            term: Term(2),
            payload: data("bb"),
        },
        Entry {
            term: Term(2),
            payload: Payload::Configuration(header_servers()),
        },
    ];
    let append = Rpc::AppendRequest {
        term: Term(2),
        prev_index: Index(0),
        prev_term: Term(0),
        leader_commit: Index(1),
        entries: entries.into(),
    };
    deliver(&mut s, Millis(1), 1, append);
    // Everything durable, so index 1 is committed here; once the join is confirmed, applied.
    let (issued, _) = s.tickets();
    s.step(Millis(1), Event::Persisted { ticket: issued });
    while s.poll_action().is_some() {}
    let joined = Rpc::AddServerReply {
        success: true,
        status: ServerChangeStatus::Completed,
        remote_addresses: Vec::new(),
    };
    deliver(&mut s, Millis(1), 1, joined);
    assert_eq!(s.applied_index(), Index(1));
    assert_eq!(
        s.store_snapshot(Millis(2), Data::from("state"), Some(Index(1))),
        Err(SnapshotError::NoConfiguration { index: Index(1) })
    );
    let replaced =
        std::iter::from_fn(|| s.poll_action()).any(|a| matches!(a, Action::ReplaceLog { .. }));
    assert!(!replaced, "no header without a configuration is written");
    s.check_invariants();
}

/// Server 0 joining a cluster (`cluster`, if known) through server 1, connected to it on
/// connection 1.
fn joining_server(cluster: Option<ClusterId>) -> Server {
    let header = bootstrap::join_cluster(
        sid(0),
        cluster,
        "test",
        address(0).as_str(),
        &[address(1).as_str()],
    )
    .unwrap();
    opened_and_connected_to_1(header, Vec::new())
}

/// Server 0 opened from `header` and `records`, connected to server 1 on connection 1.
fn opened_and_connected_to_1(header: Header, records: Vec<Record>) -> Server {
    let mut s = Server::open(header, records, Config::with_seed(1), Millis(0)).unwrap();
    s.step(
        Millis(0),
        Event::Connected {
            conn: ConnId(1),
            incoming: false,
            address: Some(address(1)),
        },
    );
    while s.poll_action().is_some() {}
    s
}

fn header_servers() -> Configuration {
    header(0, 3).snapshot.unwrap().servers
}

/// `record_replay`: a header snapshot at `u64::MAX - 1` followed by an entry at `u64::MAX`
/// overflowed the log's end (one past that entry) and panicked in replay. Snapshot indexes
/// are bounded far below, where no log can grow to `u64::MAX`.
#[test]
fn a_log_that_would_reach_the_last_index_is_refused() {
    let mut h = header(0, 3);
    h.snapshot.as_mut().unwrap().index = Index(u64::MAX - 1);
    let records = vec![Record::Entry {
        index: Index(u64::MAX),
        entry: Entry {
            term: Term(1),
            payload: Payload::Noop,
        },
    }];
    let err = Server::open(h, records, Config::default(), Millis(0))
        .err()
        .expect("refused");
    assert!(matches!(err, OpenError::BadHeader(_)), "{err}");

    // Nor can a leader's snapshot start a log there.
    let mut s = server();
    let before = s.counters().malformed_messages;
    let mut snapshot = header(0, 3).snapshot.unwrap();
    snapshot.index = Index(u64::MAX - 1);
    deliver(
        &mut s,
        Millis(0),
        1,
        Rpc::InstallSnapshotRequest {
            term: Term(2),
            snapshot,
        },
    );
    assert_eq!(s.counters().malformed_messages, before + 1);
    assert_eq!(s.log_end(), Index(2));
}

/// `core_events`: a lone server restarted into a new term leads at once, with entries of
/// earlier terms not yet committed. An install-snapshot request in its own term, from a server
/// outside its configuration, ended on one of those entries with another term, counted as
/// divergence and replaced the leader's log, leaving its own match index past the log end.
/// Two leaders cannot share a term: a leader refuses such a snapshot, as it refuses such an
/// append ("usurped leadership").
#[test]
fn a_leader_refuses_a_snapshot_from_another_leader_of_its_term() {
    let noop = |index, term| Record::Entry {
        index: Index(index),
        entry: Entry {
            term: Term(term),
            payload: Payload::Noop,
        },
    };
    let records = vec![
        Record::Term { term: Term(255) },
        Record::CommitIndex { index: Index(1) },
        Record::Vote {
            term: Term(256),
            vote: sid(0),
        },
        noop(2, 256),
        Record::Vote {
            term: Term(257),
            vote: sid(0),
        },
        noop(3, 257),
    ];
    let mut s = Server::open(header(0, 1), records, Config::with_seed(1), Millis(0)).unwrap();
    s.step(
        Millis(0),
        Event::Connected {
            conn: ConnId(3),
            incoming: true,
            address: None,
        },
    );
    while s.poll_action().is_some() {}
    assert_eq!((s.role(), s.term()), (Role::Leader, Term(258)));
    assert_eq!(s.commit_index(), Index(1));
    let end = s.log_end();
    let before = s.counters().malformed_messages;
    let mut snapshot = header(0, 3).snapshot.unwrap();
    snapshot.index = Index(2);
    snapshot.term = Term(258);
    deliver(
        &mut s,
        Millis(0),
        3,
        Rpc::InstallSnapshotRequest {
            term: Term(258),
            snapshot,
        },
    );
    assert_eq!(s.role(), Role::Leader);
    assert_eq!(s.log_end(), end, "the log was kept");
    assert_eq!(s.counters().malformed_messages, before + 1);
}

/// `core_events`: a crash point in the middle of a handler (here "crash after sending
/// execute_command_reply", hit when a relayed command timed out) emitted `Action::Crash`, and
/// the rest of the handler went on emitting sends. The driver must carry out nothing after a
/// crash, so the core emits nothing after it.
#[test]
fn nothing_follows_a_crash_point() {
    let mut records = log_records(&[], 1);
    records.push(Record::CommitIndex { index: Index(1) });
    let mut s = Server::open(header(0, 1), records, Config::with_seed(1), Millis(0)).unwrap();
    s.set_failure_test(Millis(0), "crash-after-sending-execute-command-reply")
        .unwrap();
    s.step(
        Millis(0),
        Event::Connected {
            conn: ConnId(2),
            incoming: true,
            address: None,
        },
    );
    while s.poll_action().is_some() {}
    assert_eq!(s.role(), Role::Leader);
    let prereq = s.last_eid();
    deliver(
        &mut s,
        Millis(0),
        2,
        Rpc::ExecuteCommandRequest {
            data: Data::from("v"),
            prereq,
            result: EntryId::from_u128(101),
        },
    );
    // Nothing is durable, so the command cannot commit: it times out, and its reply crashes.
    s.step(Millis(17_339), Event::Tick);
    let actions: Vec<Action> = std::iter::from_fn(|| s.poll_action()).collect();
    let crash = actions
        .iter()
        .position(|a| matches!(a, Action::Crash { .. }))
        .expect("the crash point was hit");
    assert_eq!(
        crash + 1,
        actions.len(),
        "actions after the crash: {:?}",
        &actions[crash + 1..]
    );
    assert!(s.is_stopped_for_good());
}
