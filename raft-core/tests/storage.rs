//! Storage and lifecycle (S4–S10): replay with validation, and what is written when.

mod common;

use common::*;
use raft_core::*;

fn open(records: Vec<Record>) -> Result<Server, OpenError> {
    Server::open(header(0, 3), records, Config::default(), Millis(0))
}

fn entry(index: u64, term: u64) -> Record {
    Record::Entry {
        index: Index(index),
        entry: Entry {
            term: Term(term),
            payload: Payload::Noop,
        },
    }
}

#[test]
fn s4_replay_errors_name_the_record_and_the_inconsistency() {
    let v = |term, n: usize| Record::Vote {
        term: Term(term),
        vote: sid(n),
    };
    let cases: Vec<(Vec<Record>, &str)> = vec![
        (
            vec![
                entry(2, 1),
                entry(3, 1),
                Record::CommitIndex { index: Index(3) },
                entry(3, 2),
            ],
            "record 4 attempts to truncate log from 4 to 3 entries, but commit index is already 3",
        ),
        (
            vec![entry(3, 1)],
            "record 1 with index 3 skips past expected index 2",
        ),
        (
            vec![entry(2, 3), entry(3, 2)],
            "record 2 with index 3 term 2 precedes previous entry's term 3",
        ),
        (
            vec![Record::Term { term: Term(5) }, v(4, 1)],
            "record 2 votes for term 4 but current term is 5",
        ),
        (
            vec![v(5, 1), v(5, 2)],
            "record 2 votes for 3333 in term 5 but a previous record for the same term voted for 2222",
        ),
        (
            vec![Record::Note {
                note: "left".into(),
                comment: "bye".into(),
            }],
            "record 1 indicates server has left the cluster",
        ),
        (
            vec![
                entry(2, 1),
                Record::CommitIndex { index: Index(2) },
                Record::CommitIndex { index: Index(1) },
            ],
            "record 3 regresses commit index from 2 to 1",
        ),
        (
            vec![Record::CommitIndex { index: Index(2) }],
            "record 1 advances commit index to 2 but last log index is 1",
        ),
    ];
    for (records, want) in cases {
        let err = open(records.clone())
            .err()
            .unwrap_or_else(|| panic!("{records:?} opened"));
        assert!(err.to_string().starts_with(want), "got {err}, want {want}");
    }
}

#[test]
fn s4_a_server_not_in_its_configuration_refuses_to_open() {
    let mut h = header(0, 3);
    h.server_id = ServerId::from_u128(99);
    let err = Server::open(h, vec![], Config::default(), Millis(0)).err();
    assert_eq!(err, Some(OpenError::NotInConfiguration));
    assert_eq!(
        err.unwrap().to_string(),
        "server does not belong to cluster"
    );
}

#[test]
fn s4_replay_rebuilds_term_vote_log_and_commit() {
    let records = vec![
        entry(2, 1),
        entry(3, 2),
        entry(4, 2),
        Record::Vote {
            term: Term(3),
            vote: sid(1),
        },
        entry(4, 3), // Truncates and replaces index 4 (S6).
        Record::CommitIndex { index: Index(3) },
        Record::Leader {
            term: Term(3),
            leader: sid(1),
        },
    ];
    let s = open(records).unwrap();
    assert_eq!(
        (s.term(), s.vote(), s.commit_index(), s.log_end()),
        (Term(3), Some(sid(1)), Index(3), Index(5))
    );
    assert_eq!(s.term_at(Index(4)), Some(Term(3)));
}

#[test]
fn s4_a_lone_server_elects_itself_at_once_and_a_joiner_asks_to_join() {
    let (h, recs) = bootstrap::create_cluster(
        sid(0),
        cid(),
        "t",
        "tcp:127.0.0.1:1",
        EntryId::from_u128(1),
        Data::default(),
        None,
    )
    .unwrap();
    let mut s = Server::open(h, recs, Config::default(), Millis(0)).unwrap();
    assert_eq!(s.role(), Role::Leader);
    let mut c = Cluster::empty();
    let j = bootstrap::join_cluster(sid(1), None, "t", "tcp:127.0.0.1:2", &["tcp:127.0.0.1:1"])
        .unwrap();
    let i = c.add_node(j, vec![]);
    c.start(i);
    assert!(c.server(i).is_joining());
    assert_eq!(
        c.server(i).next_deadline(),
        Some(Millis(1000)),
        "join retry timer"
    );
    while s.poll_action().is_some() {}
}

#[test]
fn s4_header_without_snapshot_or_joining_is_refused() {
    let mut h = header(0, 3);
    h.snapshot = None;
    assert!(matches!(
        Server::open(h, vec![], Config::default(), Millis(0)),
        Err(OpenError::BadHeader(_))
    ));
}

#[test]
fn s6_truncation_is_recorded_by_an_entry_with_an_older_index() {
    // Node 1 holds an uncommitted term-2 entry the new leader (node 0) never had.
    let mut c = Cluster::with_logs(&[(vec![], 2), (vec![2], 2), (vec![], 2)]);
    let now = c.now;
    c.server_mut(0).take_leadership(now);
    c.process(0);
    c.settle();
    c.advance(500);
    assert_eq!(c.log_terms(1), c.log_terms(0));
    let entries: Vec<u64> = c.nodes[1]
        .durable
        .iter()
        .filter_map(|r| match r {
            Record::Entry { index, .. } => Some(index.0),
            _ => None,
        })
        .collect();
    assert_eq!(
        entries,
        [2, 2],
        "the replacement entry at index 2 records the truncation"
    );
    // Replaying the durable records gives the repaired log.
    c.crash(1);
    c.restart(1);
    assert_eq!(c.log_terms(1), c.log_terms(0));
}

#[test]
fn s7_commit_index_is_recorded_whenever_it_advances() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let last_record = |c: &Cluster, i: usize| {
        c.nodes[i].durable.iter().rev().find_map(|r| match r {
            Record::CommitIndex { index } => Some(*index),
            _ => None,
        })
    };
    let a = c.execute(l, "a", None);
    c.advance(500);
    let index = c.outcome(l, a).and_then(|o| o.1).unwrap();
    // The record rides with the next write, as OVS writes it without an fsync of its own: a
    // commit learned from a reply or a heartbeat costs no write.
    assert!(
        last_record(&c, l) < Some(index),
        "a write of its own for the record alone"
    );
    c.execute(l, "b", None);
    c.advance(500);
    for i in 0..3 {
        assert!(
            last_record(&c, i) >= Some(index),
            "node {i}: not recorded with the next write"
        );
    }
    // A clean close writes the record that was waiting.
    let commit = c.server(l).commit_index();
    let now = c.now;
    c.server_mut(l).close(now);
    c.process(l);
    assert_eq!(
        last_record(&c, l),
        Some(commit),
        "close leaves the commit index on disk"
    );
    c.crash(l);
    c.restart(l);
    // Replaying every node's records gives back its commit index.
    c.advance(500);
    for i in 0..3 {
        let before = c.server(i).commit_index();
        c.crash(i);
        c.restart(i);
        assert!(
            c.server(i).commit_index() >= index,
            "node {i} forgot {index} (had {before})"
        );
    }
}

#[test]
fn s8_the_leader_of_each_term_is_recorded() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let term = c.server(l).term();
    for i in 0..3 {
        assert!(
            c.nodes[i].durable.contains(&Record::Leader {
                term,
                leader: sid(l)
            }),
            "node {i}"
        );
    }
}

#[test]
fn s10_a_failed_write_stops_the_server() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    c.manual_persist(l, true);
    let ticket = c.server(l).tickets().0;
    c.step(
        l,
        Event::PersistFailed {
            ticket,
            reason: "No space left on device".into(),
        },
    );
    let s = c.server(l);
    assert!(s.has_failed());
    assert_eq!(s.next_deadline(), None, "a failed server waits for nothing");
    assert_eq!(s.status(c.now).state, MemberState::Failed);
    assert!(
        c.nodes[l]
            .notices
            .iter()
            .any(|n| matches!(n, Notice::Failed { reason } if reason.contains("No space")))
    );
    // Further input is ignored, and counted.
    let before = c.server(l).counters().ignored_while_stopped;
    c.step(l, Event::Tick);
    assert_eq!(c.server(l).counters().ignored_while_stopped, before + 1);
    // The rest of the cluster carries on.
    let m = c.elect();
    assert_ne!(m, l);
}

#[test]
fn s10_a_failed_server_refuses_snapshots_and_leaving() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = (l + 1) % 3;
    c.step(
        f,
        Event::PersistFailed {
            ticket: c.server(f).tickets().0,
            reason: "EIO".into(),
        },
    );
    let now = c.now;
    assert_eq!(
        c.server_mut(f).store_snapshot(now, Data::default(), None),
        Err(SnapshotError::Failed)
    );
    assert_eq!(c.server_mut(f).leave(now), Err(AdminError::Stopped));
}
