//! Snapshots and applying (S9, N1–N7).

mod common;

use common::*;
use raft_core::*;

fn snapshot(c: &mut Cluster, i: usize) -> Result<(), SnapshotError> {
    let now = c.now;
    let r = c
        .server_mut(i)
        .store_snapshot(now, Data::from(format!("state of {i}").as_str()), None);
    c.process(i);
    r
}

#[test]
fn s9_a_snapshot_replaces_the_log_atomically() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    for k in 0..3 {
        c.execute(l, &format!("{k}"), None);
    }
    let f = (l + 1) % 3;
    c.manual_persist(f, true);
    c.auto_deliver = false;
    c.execute(l, "uncommitted on f", None);
    c.deliver_one();
    c.deliver_one(); // f has an entry it has not persisted or committed.
    let applied = c.server(f).applied_index();
    snapshot(&mut c, f).unwrap();
    let Some(Write::Replace(_, header, records)) = c.nodes[f].pending.last().cloned() else {
        panic!("no ReplaceLog")
    };
    let snap = header.snapshot.unwrap();
    assert_eq!(snap.index, applied);
    assert_eq!(snap.data, Data::from(format!("state of {f}").as_str()));
    assert_eq!(snap.servers.len(), 3);
    // The entries after the snapshot, then term and vote, then the commit index if beyond.
    let kinds: Vec<&str> = records
        .iter()
        .map(|r| match r {
            Record::Entry { .. } => "entry",
            Record::Term { .. } | Record::Vote { .. } => "term",
            Record::CommitIndex { .. } => "commit",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds.first(), Some(&"entry"));
    assert!(
        kinds.ends_with(&["term"]) || kinds.ends_with(&["term", "commit"]),
        "{kinds:?}"
    );
    // Reopening the replaced log gives the same state.
    c.persist(f);
    let before = (
        c.server(f).log_start(),
        c.server(f).log_end(),
        c.server(f).term(),
    );
    c.crash(f);
    c.restart(f);
    assert_eq!(
        (
            c.server(f).log_start(),
            c.server(f).log_end(),
            c.server(f).term()
        ),
        before
    );
}

#[test]
fn n1_snapshot_refusals() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = (l + 1) % 3;
    c.execute(l, "a", None);
    assert_eq!(snapshot(&mut c, f), Ok(()));
    assert_eq!(snapshot(&mut c, f), Err(SnapshotError::Duplicate));
    let now = c.now;
    let beyond = c.server(f).applied_index().next();
    assert!(matches!(
        c.server_mut(f)
            .store_snapshot(now, Data::default(), Some(beyond)),
        Err(SnapshotError::NotApplied { .. })
    ));
    c.server_mut(f).leave(now).unwrap();
    assert_eq!(snapshot(&mut c, f), Err(SnapshotError::Leaving));
    c.advance(2_000);
    assert!(c.server(f).has_left());
    assert_eq!(snapshot(&mut c, f), Err(SnapshotError::Left));
    let joining =
        bootstrap::join_cluster(sid(5), None, "t", "tcp:127.0.0.1:9", &["tcp:127.0.0.1:8"])
            .unwrap();
    let mut s = Server::open(joining, vec![], Config::default(), Millis(0)).unwrap();
    assert_eq!(
        s.store_snapshot(Millis(1), Data::default(), None),
        Err(SnapshotError::Joining)
    );
}

#[test]
fn n2_snapshots_on_followers_or_a_lone_server() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    c.execute(l, "a", None);
    let f = (l + 1) % 3;
    assert!(!c.server(l).may_snapshot(), "a leader of three may not");
    assert!(c.server(f).may_snapshot());
    let mut one = Cluster::new(1);
    one.advance(10);
    one.execute(0, "a", None);
    assert_eq!(one.server(0).role(), Role::Leader);
    assert!(one.server(0).may_snapshot(), "a lone server may");
    assert_eq!(snapshot(&mut one, 0), Ok(()));
}

#[test]
fn n3_a_leader_hands_over_leadership_before_it_snapshots() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    c.execute(l, "a", None);
    let now = c.now;
    c.server_mut(l).notify_snapshot_recommended(now);
    c.process(l);
    assert_eq!(c.server(l).role(), Role::Follower);
    c.settle();
    let m = c.leader().unwrap();
    assert_ne!(m, l);
    assert!(c.logged(l, "Transferring leadership to write a snapshot") == 1);
    assert!(c.server(l).may_snapshot());
}

#[test]
fn n4_a_new_server_catches_up_through_a_snapshot_after_the_leader_compacted() {
    let mut c = Cluster::new(1);
    c.advance(10);
    for k in 0..5 {
        c.execute(0, &format!("{k}"), None);
    }
    snapshot(&mut c, 0).unwrap();
    c.execute(0, "after snapshot", None);
    let j = c.join(&[0]);
    assert!(c.run_until_member(j));
    c.advance(500);
    assert_eq!(
        c.nodes[j].snapshots.last().map(|s| s.1.clone()),
        Some(Data::from("state of 0"))
    );
    assert_eq!(
        c.applied_data(j),
        ["after snapshot"],
        "the snapshot, then the entries after it"
    );
    assert!(c.logged(0, "sending snapshot to server") >= 1);
}

#[test]
fn n4_one_snapshot_in_flight_per_peer_reset_on_reconnect() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = (l + 1) % 3;
    c.isolate(f);
    for k in 0..4 {
        c.execute(l, &format!("{k}"), None);
    }
    let now = c.now;
    c.server_mut(l)
        .store_snapshot(now, Data::from("s"), None)
        .unwrap();
    c.process(l);
    c.heal();
    // Heartbeats find f behind the log start; its refusals ask for the snapshot again and
    // again, but the snapshot itself is lost on the way.
    c.auto_deliver = false;
    let lost = |m: &InFlight| m.message.rpc.name() == "install_snapshot_request";
    for _ in 0..3 {
        c.advance(400);
        c.drop_queued(lost);
        while c.deliver_one() {
            c.drop_queued(lost);
        }
    }
    assert_eq!(
        c.sent_count(l, "InstallSnapshotRequest"),
        1,
        "one snapshot in flight, however many replies ask"
    );
    // A new connection resets it.
    c.crash(f);
    c.restart(f);
    c.advance(400);
    while c.deliver_one() {}
    assert_eq!(c.sent_count(l, "InstallSnapshotRequest"), 2);
    c.auto_deliver = true;
    assert!(c.run_until(5_000, |c| c.server(f).commit_index()
        == c.server(l).commit_index()));
    assert_eq!(
        c.nodes[f].snapshots.last().map(|s| s.1.clone()),
        Some(Data::from("s"))
    );
}

#[test]
fn n4_follower_ignores_an_older_snapshot_or_one_inside_its_log() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    for k in 0..4 {
        c.execute(l, &format!("{k}"), None);
    }
    let f = (l + 1) % 3;
    let end = c.server(f).log_end();
    let term = c.server(l).term();
    let servers = c.server(l).configuration().clone();
    let snap = |index| Snapshot {
        index,
        term,
        eid: EntryId::from_u128(1),
        servers: servers.clone(),
        election_timer: None,
        data: Data::from("x"),
    };
    let (old, inside) = (snap(Index(1)), snap(Index(3)));
    c.inject(
        l,
        f,
        Rpc::InstallSnapshotRequest {
            term,
            snapshot: old,
        },
    );
    c.inject(
        l,
        f,
        Rpc::InstallSnapshotRequest {
            term,
            snapshot: inside,
        },
    );
    assert_eq!(
        (c.server(f).log_start(), c.server(f).log_end()),
        (Index(2), end),
        "log untouched"
    );
    let newer = snap(Index(end.0 + 5));
    c.inject(
        l,
        f,
        Rpc::InstallSnapshotRequest {
            term,
            snapshot: newer,
        },
    );
    assert_eq!(
        (c.server(f).log_start(), c.server(f).log_end()),
        (Index(end.0 + 6), Index(end.0 + 6)),
        "log replaced"
    );
    assert_eq!(
        c.nodes[f].snapshots.last().map(|s| s.0),
        Some(Index(end.0 + 5)),
        "the application reads it"
    );
}

#[test]
fn n5_the_leader_restarts_the_transfer_when_an_obsolete_snapshot_was_installed() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = (l + 1) % 3;
    c.execute(l, "a", None);
    let term = c.server(l).term();
    c.auto_deliver = false;
    c.isolate(f);
    // Compact the leader so the reply below names an obsolete snapshot.
    let now = c.now;
    c.server_mut(l)
        .store_snapshot(now, Data::from("s"), None)
        .unwrap();
    c.process(l);
    c.heal();
    c.inject(
        f,
        l,
        Rpc::InstallSnapshotReply {
            term,
            last_index: Index(1),
            last_term: Term(1),
        },
    );
    assert!(c.logged(l, "installed out-of-date snapshot, starting over") == 1);
    assert_eq!(c.queued("install_snapshot_request").len(), 1);
    // A reply for the current snapshot continues with appends from the log start.
    c.queue.clear();
    let snap = c.server(l).log_start().prev();
    let snap_term = c.server(l).term_at(snap).unwrap();
    c.inject(
        f,
        l,
        Rpc::InstallSnapshotReply {
            term,
            last_index: snap,
            last_term: snap_term,
        },
    );
    assert!(c.logged(l, "installed snapshot on server") == 1);
}

#[test]
fn n6_the_snapshot_comes_first_then_each_committed_entry_with_its_id() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let a = c.execute(l, "a", None);
    c.advance(10); // The followers learn that it committed.
    let f = (l + 1) % 3;
    snapshot(&mut c, f).unwrap();
    let b = c.execute(l, "b", None);
    c.advance(500);
    c.crash(f);
    c.restart(f);
    c.advance(500);
    // After a restart the application rebuilds: the snapshot, then entries after it.
    assert_eq!(c.nodes[f].snapshots.len(), 1);
    assert_eq!(
        c.nodes[f].snapshots[0].1,
        Data::from(format!("state of {f}").as_str())
    );
    let ids: Vec<EntryId> = c.nodes[f].applied.iter().map(|(_, e, _)| *e).collect();
    assert_eq!(ids, [b]);
    // The leader, never compacted, applies both in order.
    let ids: Vec<EntryId> = c.nodes[l].applied.iter().map(|(_, e, _)| *e).collect();
    assert_eq!(ids, [a, b]);
}

#[test]
fn n7_log_length_and_grew_lots_hints() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = (l + 1) % 3;
    assert_eq!(c.server(f).log_length(), 1, "the leader's no-op");
    c.execute(l, "a", None);
    c.advance(100);
    assert_eq!(c.server(f).log_length(), 2);
    assert!(!c.server(f).grew_lots());
    let big = "x".repeat(1 << 20);
    for _ in 0..9 {
        c.execute(l, &big, None);
    }
    c.advance(100);
    assert!(c.server(f).grew_lots(), "over 10 MB of entries");
    snapshot(&mut c, f).unwrap();
    assert_eq!(c.server(f).log_length(), 0);
    assert!(!c.server(f).grew_lots());
}
