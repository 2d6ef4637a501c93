//! Administration (A1–A3): the status report, queries, failure tests.

mod common;

use common::*;
use raft_core::*;

#[test]
fn a1_status_report_has_the_reference_fields_and_layout() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    c.execute(l, "a", None);
    c.advance(1_000);
    let s = c.server(l).status(c.now);
    let text = s.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], sid(l).nickname().to_string());
    for prefix in [
        "Name: test",
        "Cluster ID: c1c1 (",
        "Server ID: ",
        "Address: tcp:127.0.0.1:",
        "Status: cluster member",
        "Role: leader",
        "Term: ",
        "Leader: self",
        "Vote: self",
        "Last Election started ",
        "Last Election won: ",
        "Election timer: 1000",
        "Log: [2, ",
        "Entries not yet committed: 0",
        "Entries not yet applied: 0",
        "Connections: ",
        "Disconnections: 0",
        "Servers:",
    ] {
        assert!(
            lines.iter().any(|x| x.starts_with(prefix)),
            "missing {prefix:?} in\n{text}"
        );
    }
    let me = lines.iter().find(|x| x.contains("(self)")).unwrap();
    assert!(
        me.contains("next_index=") && me.contains("match_index="),
        "{me}"
    );
    let other = lines
        .iter()
        .find(|x| x.contains(&sid((l + 1) % 3).nickname().to_string()) && x.contains(" at "))
        .unwrap();
    assert!(other.contains("last msg "), "{other}");
    // A follower names the leader and shows no indexes.
    let f = c.server((l + 1) % 3).status(c.now).to_string();
    assert!(
        f.contains(&format!("Leader: {}", sid(l).nickname())) && !f.contains("next_index"),
        "{f}"
    );
}

#[test]
fn a1_status_while_joining_and_candidate() {
    let mut c = Cluster::new(3);
    c.isolate(0);
    c.advance(2_100);
    let s = c.server(0).status(c.now).to_string();
    assert!(
        s.contains("Role: candidate") && s.contains("(voted for "),
        "{s}"
    );
    let j = bootstrap::join_cluster(sid(7), None, "t", "tcp:127.0.0.1:9", &["tcp:127.0.0.1:8"])
        .unwrap();
    let js = Server::open(j, vec![], Config::default(), Millis(0)).unwrap();
    let text = js.status(Millis(0)).to_string();
    assert!(
        text.contains("Status: joining cluster")
            && text.contains("Remotes for joining: tcp:127.0.0.1:8"),
        "{text}"
    );
    assert!(text.contains("Cluster ID: not yet known"));
}

#[test]
fn a2_queries_and_backlog_threshold() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let s = c.server_mut(l);
    assert_eq!(s.cluster_id(), Some(cid()));
    assert_eq!(s.server_id(), sid(l));
    assert_eq!(s.name(), "test");
    assert_eq!(s.backlog_threshold(), (500, u32::MAX as usize));
    assert_eq!(
        s.set_backlog_threshold(49, 1000),
        Err(AdminError::BacklogOutOfRange)
    );
    assert_eq!(s.set_backlog_threshold(50, 1000), Ok(()));
    assert_eq!(s.backlog_threshold(), (50, 1000));
}

#[test]
fn a3_crash_points_surface_as_crash_actions() {
    let cases = [
        (
            "crash-before-sending-append-request",
            "crash before sending append_request",
            true,
        ),
        (
            "crash-after-sending-append-request",
            "crash after sending append_request",
            true,
        ),
        (
            "crash-before-sending-execute-command-reply",
            "crash before sending execute_command_reply",
            false,
        ),
        (
            "crash-after-sending-execute-command-reply",
            "crash after sending execute_command_reply",
            false,
        ),
    ];
    for (name, reason, on_leader) in cases {
        let mut c = Cluster::new(3);
        let l = c.elect();
        let f = (l + 1) % 3;
        let now = c.now;
        assert_eq!(
            c.server_mut(l).set_failure_test(now, name),
            Ok("test engaged")
        );
        if on_leader {
            c.execute(l, "x", None);
        } else {
            c.execute(f, "x", Some(EntryId::from_u128(1)));
        }
        assert_eq!(c.nodes[l].crashed_by_test, Some(reason), "{name}");
        assert!(!c.is_up(l));
    }
    let follower_cases = [
        (
            "crash-before-sending-execute-command-request",
            "crash before sending execute_command_request",
        ),
        (
            "crash-after-sending-execute-command-request",
            "crash after sending execute_command_request",
        ),
        (
            "crash-after-receiving-append-request-update",
            "crash after receiving append_request with update",
        ),
    ];
    for (name, reason) in follower_cases {
        let mut c = Cluster::new(3);
        let l = c.elect();
        let f = (l + 1) % 3;
        let now = c.now;
        c.server_mut(f).set_failure_test(now, name).unwrap();
        c.execute(f, "x", Some(EntryId::from_u128(1)));
        c.execute(l, "y", None);
        assert_eq!(c.nodes[f].crashed_by_test, Some(reason), "{name}");
    }
}

#[test]
fn a3_crash_before_install_snapshot_reply() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = (l + 1) % 3;
    c.isolate(f);
    c.execute(l, "a", None);
    let now = c.now;
    c.server_mut(l)
        .store_snapshot(now, Data::from("s"), None)
        .unwrap();
    c.process(l);
    c.server_mut(f)
        .set_failure_test(now, "crash-before-sending-install-snapshot-reply")
        .unwrap();
    c.heal();
    c.advance(1_000);
    assert_eq!(
        c.nodes[f].crashed_by_test,
        Some("crash before sending install_snapshot_reply")
    );
}

#[test]
fn a3_delay_election_and_dont_send_vote_request() {
    let mut c = Cluster::new(3);
    let now = c.now;
    c.server_mut(0)
        .set_failure_test(now, "delay-election")
        .unwrap();
    let d = c.server(0).next_deadline().unwrap().0;
    assert!(d >= 2_000, "delayed by one election timer: {d}");
    let mut d2 = Cluster::new(3);
    for i in 0..3 {
        let now = d2.now;
        d2.server_mut(i)
            .set_failure_test(now, "dont-send-vote-request")
            .unwrap();
    }
    d2.advance(5_000);
    assert!(d2.leaders().is_empty(), "no vote requests, no leader");
    assert_eq!(d2.sent_count(0, "VoteRequest"), 0);
    let now = d2.now;
    assert_eq!(
        d2.server_mut(0).set_failure_test(now, "clear"),
        Ok("test dismissed")
    );
    assert_eq!(
        d2.server_mut(0).set_failure_test(now, "nonsense"),
        Err(AdminError::UnknownFailureTest)
    );
}

#[test]
fn a3_stop_raft_rpc_and_transfer_leadership() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let now = c.now;
    c.server_mut(l)
        .set_failure_test(now, "stop-raft-rpc")
        .unwrap();
    let before = c.server(l).counters().messages_sent;
    c.advance(3_000);
    assert_eq!(
        c.server(l).counters().messages_sent,
        before,
        "sent despite stop-raft-rpc"
    );
    let m = c.leader();
    assert!(
        m.is_some_and(|m| m != l) || c.leaders().len() > 1,
        "the others elected a new leader"
    );
    let mut d = Cluster::new(3);
    let l = d.elect();
    let now = d.now;
    d.server_mut(l)
        .set_failure_test(now, "transfer-leadership")
        .unwrap();
    d.step(l, Event::Tick);
    d.settle();
    assert_ne!(d.leader(), Some(l), "transferred at the next step");
}

#[test]
fn a3_transfer_leadership_after_sending_append_request() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let now = c.now;
    c.server_mut(l)
        .set_failure_test(now, "transfer-leadership-after-sending-append-request")
        .unwrap();
    c.execute(l, "a", None);
    c.step(l, Event::Tick);
    c.settle();
    assert_ne!(c.leader(), Some(l));
}
