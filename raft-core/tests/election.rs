//! Elections (E1–E11) and the election scenarios.

mod common;

use common::*;
use raft_core::*;

#[test]
fn three_node_election() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    assert_eq!(c.leaders(), vec![l], "exactly one leader");
    let term = c.server(l).term();
    for i in 0..3 {
        assert_eq!(c.server(i).term(), term);
        assert_eq!(
            c.server(i).leader(),
            Some(sid(l)),
            "node {i} knows the leader"
        );
    }
}

#[test]
fn e1_election_timeout_is_timer_plus_up_to_a_second_and_resets_on_leader() {
    let mut c = Cluster::new(3);
    for i in 0..3 {
        let d = c.server(i).next_deadline().unwrap().0;
        assert!((1000..2000).contains(&d), "node {i} deadline {d}");
    }
    let l = c.elect();
    let f = (l + 1) % 3;
    // Heartbeats every 333 ms keep pushing the follower's deadline past now + 1000.
    c.advance(5_000);
    assert_eq!(c.leader(), Some(l));
    let d = c.server(f).next_deadline().unwrap();
    assert!(
        d.since(c.now) >= 600,
        "follower deadline too close: {d} at {}",
        c.now
    );
}

#[test]
fn e2_candidate_persists_term_and_vote_before_any_vote_request() {
    let mut c = Cluster::new(3);
    c.manual_persist(0, true);
    c.auto_deliver = false;
    let now = c.now;
    c.server_mut(0).take_leadership(now);
    c.process(0);
    let term = c.server(0).term();
    assert_eq!(c.server(0).role(), Role::Candidate);
    assert!(
        c.queued_from(0).is_empty(),
        "vote requests left before the vote was durable"
    );
    assert!(
        matches!(c.nodes[0].pending.last(), Some(Write::Append(_, r)) if r.contains(&Record::Vote { term, vote: sid(0) }))
    );
    c.persist(0);
    assert_eq!(
        c.queued_from(0).len(),
        2,
        "vote requests go out once durable"
    );
}

#[test]
fn e2_candidate_retrying_is_remembered() {
    let mut c = Cluster::new(3);
    c.isolate(0);
    c.advance(2_000); // Node 0 times out alone, and again.
    c.advance(2_000);
    let s = c.server(0);
    assert_eq!(s.role(), Role::Candidate);
    assert_eq!(s.status(c.now).state, MemberState::Disconnected);
    assert!(!s.is_connected());
}

#[test]
fn e3_vote_reply_waits_for_the_vote_to_be_durable() {
    let mut c = Cluster::new(3);
    c.manual_persist(1, true);
    let now = c.now;
    c.server_mut(0).take_leadership(now);
    c.process(0);
    c.settle();
    // Node 1 has voted but not persisted: its reply must not have left.
    assert_eq!(c.server(1).vote(), Some(sid(0)));
    assert!(c.queued_from(1).is_empty());
    // Node 2 voted too, so node 0 won without node 1.
    assert_eq!(c.leader(), Some(0));
    c.persist(1);
    c.settle();
    assert!(c.nodes[1].durable.contains(&Record::Vote {
        term: c.server(1).term(),
        vote: sid(0)
    }));
}

#[test]
fn e3_a_vote_is_given_once_per_term_and_resent() {
    let mut c = Cluster::new(3);
    c.auto_deliver = false;
    let t = c.server(1).term().next().unwrap();
    let rq = |transfer| Rpc::VoteRequest {
        term: t,
        last_index: Index(1),
        last_term: Term(1),
        leadership_transfer: transfer,
    };
    c.inject(0, 1, rq(true));
    c.inject(2, 1, rq(true));
    c.inject(0, 1, rq(true));
    let replies: Vec<(usize, ServerId)> = c
        .queued_from(1)
        .iter()
        .filter_map(|m| match m.message.rpc {
            Rpc::VoteReply { vote, .. } => Some((m.to, vote)),
            _ => None,
        })
        .collect();
    // Node 2 learns whom node 1 voted for; node 0 gets its vote twice.
    assert_eq!(replies, vec![(0, sid(0)), (2, sid(0)), (0, sid(0))]);
}

#[test]
fn e3_no_vote_for_a_stale_log() {
    // Node 0's log ends in term 2; node 1's in term 3; node 2's is shorter in term 3.
    let mut c = Cluster::with_logs(&[(vec![2, 2], 3), (vec![2, 3], 3), (vec![3], 3)]);
    c.auto_deliver = false;
    let now = c.now;
    c.server_mut(0).take_leadership(now);
    c.process(0);
    c.settle();
    while c.deliver_one() {}
    assert_ne!(c.server(0).role(), Role::Leader, "a stale log was elected");
    assert_ne!(c.server(1).vote(), Some(sid(0)));
    assert_ne!(
        c.server(2).vote(),
        Some(sid(0)),
        "same last term but... node 2 is shorter yet newer"
    );
    // Node 1 has the most up-to-date log and wins.
    let now = c.now;
    c.server_mut(1).take_leadership(now);
    c.process(1);
    c.auto_deliver = true;
    c.settle();
    assert_eq!(c.leader(), Some(1));
}

#[test]
fn e4_a_majority_elects_and_a_minority_cannot() {
    let mut c = Cluster::new(5);
    c.isolate(3);
    c.isolate(4);
    let l = c.elect();
    assert!(l < 3);
    let mut d = Cluster::new(5);
    d.isolate(0);
    d.isolate(1);
    d.isolate(2);
    d.advance(10_000);
    assert!(
        d.leaders().iter().all(|&i| i >= 3) && d.leaders().is_empty(),
        "two servers of five elected {:?}",
        d.leaders()
    );
}

#[test]
fn e5_new_leader_records_itself_and_appends_a_noop() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let term = c.server(l).term();
    assert!(c.nodes[l].durable.contains(&Record::Leader {
        term,
        leader: sid(l)
    }));
    let last = c.server(l).log_end().prev();
    let e = c.server(l).entry(last).unwrap();
    assert_eq!((e.term, &e.payload), (term, &Payload::Noop));
    // Followers record the leader too (S8), and commit the no-op: at once, or with the next
    // heartbeat if the commit heartbeat reached them while their first append was unanswered
    // (it then vouches only for the log up to the append's prev_index, R5).
    c.advance(400);
    for i in 0..3 {
        assert!(
            c.nodes[i].durable.contains(&Record::Leader {
                term,
                leader: sid(l)
            }),
            "node {i}"
        );
        assert_eq!(c.server(i).commit_index(), last);
    }
}

#[test]
fn e6_a_higher_term_makes_a_leader_follow() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = (l + 1) % 3;
    let t = Term(c.server(l).term().0 + 5);
    c.inject(
        f,
        l,
        Rpc::VoteReply {
            term: t,
            vote: sid(f),
        },
    );
    assert_eq!(c.server(l).role(), Role::Follower);
    assert_eq!(c.server(l).term(), t);
    assert!(c.nodes[l].durable.contains(&Record::Term { term: t }));
}

#[test]
fn e6_a_stale_vote_request_is_answered_with_the_current_term_and_vote() {
    // Beyond the reference, which drops it: its candidate may never hear the term otherwise.
    let mut c = Cluster::new(3);
    let l = c.elect();
    let (f, g) = ((l + 1) % 3, (l + 2) % 3);
    c.auto_deliver = false;
    let term = c.server(f).term();
    let rq = Rpc::VoteRequest {
        term: Term(term.0 - 1),
        last_index: Index(9),
        last_term: term,
        leadership_transfer: true, // Not ignored as disruptive (E7).
    };
    c.inject(g, f, rq);
    let replies: Vec<&Rpc> = c
        .queued_from(f)
        .into_iter()
        .map(|m| &m.message.rpc)
        .filter(|rpc| rpc.name() == "vote_reply")
        .collect();
    assert_eq!(replies, [&Rpc::VoteReply { term, vote: sid(l) }]);
    assert_eq!(c.server(f).term(), term, "nothing else changed");
}

#[test]
fn e6_a_stale_append_request_gets_an_explicit_stale_term_reply() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = (l + 1) % 3;
    c.auto_deliver = false;
    let stale = Term(c.server(f).term().0 - 1);
    let rq = Rpc::AppendRequest {
        term: stale,
        prev_index: Index(1),
        prev_term: Term(1),
        leader_commit: Index(1),
        entries: vec![].into(),
    };
    c.inject(l, f, rq);
    let reply = c
        .queued_from(f)
        .into_iter()
        .find(|m| m.message.rpc.name() == "append_reply")
        .expect("no reply");
    assert_eq!(reply.message.comment.as_deref(), Some("stale term"));
    assert!(matches!(
        reply.message.rpc,
        Rpc::AppendReply {
            result: AppendResult::Inconsistency,
            ..
        }
    ));
    assert_eq!(c.server(f).counters().stale_terms, 1);
}

#[test]
fn e7_follower_ignores_vote_within_election_timer() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let (f, g) = ((l + 1) % 3, (l + 2) % 3);
    let term = c.server(f).term();
    let rq = Rpc::VoteRequest {
        term: term.next().unwrap(),
        last_index: Index(99),
        last_term: Term(99),
        leadership_transfer: false,
    };
    c.inject(g, f, rq);
    assert_eq!(c.server(f).term(), term, "the term moved");
    assert_eq!(c.server(f).counters().disruptive_votes_ignored, 1);
}

#[test]
fn e7_leader_ignores_vote_requests_but_not_transfers() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = (l + 1) % 3;
    let term = c.server(l).term();
    let rq = |transfer| Rpc::VoteRequest {
        term: term.next().unwrap(),
        last_index: Index(99),
        last_term: Term(99),
        leadership_transfer: transfer,
    };
    c.inject(f, l, rq(false));
    assert_eq!(
        (c.server(l).role(), c.server(l).term()),
        (Role::Leader, term)
    );
    c.inject(f, l, rq(true));
    assert_eq!(
        c.server(l).role(),
        Role::Follower,
        "a transfer vote request is never ignored"
    );
    assert_eq!(c.server(l).vote(), Some(sid(f)));
}

#[test]
fn e8_leader_without_a_quorum_steps_down_at_election_timeout() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    c.isolate(l);
    // Replies from before the cut count for one more check, so allow two timeouts.
    c.advance(4_500);
    let s = c.server(l);
    assert_ne!(s.role(), Role::Leader, "isolated leader kept leading");
    // It stepped down and started an election of its own.
    assert!(
        c.nodes[l]
            .logs
            .iter()
            .any(|t| t.contains("no quorum heard"))
    );
}

#[test]
fn e9_a_joining_server_never_starts_an_election() {
    let mut c = Cluster::new(3);
    let joining = raft_core::bootstrap::join_cluster(
        sid(3),
        Some(cid()),
        "test",
        address(3).as_str(),
        &[address(0).as_str()],
    )
    .unwrap();
    let i = c.add_node(joining, vec![]);
    c.isolate(i);
    c.start(i);
    c.advance(10_000);
    assert_eq!(
        c.server(i).term(),
        Term(0),
        "a joining server stood for election"
    );
}

/// The log of a member of a 3-server cluster whose entry 2 removed node 2, committed or
/// not, in term 2.
fn log_removing_node_2(committed: bool) -> Vec<Record> {
    let mut without_2 = header(0, 3).snapshot.unwrap().servers;
    without_2.0.remove(&sid(2));
    let mut records = vec![Record::Entry {
        index: Index(2),
        entry: Entry {
            term: Term(2),
            payload: Payload::Configuration(without_2),
        },
    }];
    if committed {
        records.push(Record::CommitIndex { index: Index(2) });
    }
    records.push(Record::Term { term: Term(2) });
    records
}

#[test]
fn e9_a_server_outside_its_configuration_never_starts_an_election() {
    let mut c = Cluster::empty();
    let i = c.add_node(header(2, 3), log_removing_node_2(false));
    c.start(i);
    c.advance(10_000);
    assert_eq!(
        c.server(i).term(),
        Term(2),
        "a server outside its configuration stood"
    );
}

/// Four servers whose leader reaches only one follower: (cluster, leader, the two it cannot
/// reach, the one it can).
fn leader_reaching_one_of_three() -> (Cluster, usize, usize, usize, usize) {
    let mut c = Cluster::new(4);
    let l = c.elect();
    let others: Vec<usize> = (0..4).filter(|&i| i != l).collect();
    let (a, b, d) = (others[0], others[1], others[2]);
    c.cut(l, a);
    c.cut(l, b);
    (c, l, a, b, d)
}

/// Asserts that only `d` and the leader `l` hold the entries from `l`'s last one on.
fn only_two_hold_the_newest(c: &Cluster, l: usize, others: [usize; 3]) {
    let [a, b, d] = others;
    let end = c.server(l).log_end();
    assert_eq!(c.server(d).log_end(), end, "d holds the newest entry");
    assert!(c.server(a).log_end() < end && c.server(b).log_end() < end);
}

/// Runs until `leavers` have left and a leader among the others leads a configuration of
/// the two that remain; returns that leader.
fn two_remain_after(c: &mut Cluster, leavers: &[usize], max_ms: u64) -> usize {
    let done = c.run_until(max_ms, |c| {
        leavers.iter().all(|&i| c.server(i).has_left())
            && c.leader()
                .is_some_and(|m| c.server(m).configuration().len() == 2)
    });
    assert!(done, "leaders {:?}", c.leaders());
    let m = c.leader().unwrap();
    assert!(!leavers.contains(&m));
    m
}

/// The liveness failure raft-sim seed 1011807 found, distilled. The leader, kicked out,
/// appended the configuration without itself and only a server that then started leaving
/// received it. The other two lack that entry, so both holders of the newest log withhold
/// their votes from them (E3). The kicked leader, outside its configuration, never stands
/// (E9); in the reference the leaving server never does either, and no leader is ever
/// elected again.
#[test]
fn e9_a_kicked_leader_and_a_leaving_server_holding_the_newest_log_do_not_block_elections() {
    let (mut c, l, a, b, d) = leader_reaching_one_of_three();
    let now = c.now;
    c.server_mut(d).kick(now, &sid(l).to_string()).unwrap();
    c.process(d);
    c.settle();
    only_two_hold_the_newest(&c, l, [a, b, d]);
    let now = c.now;
    c.server_mut(d).leave(now).unwrap();
    c.process(d);
    c.crash(l);
    c.heal();
    c.advance(5_000);
    c.restart(l);
    let m = two_remain_after(&mut c, &[d], 30_000);
    assert!(m == a || m == b);
    assert!(!c.server(m).configuration().contains(sid(l)));
    let eid = c.execute(m, "after", None);
    assert_eq!(c.outcome(m, eid).map(|o| o.0), Some(CommandStatus::Success));
}

#[test]
fn e9_a_leaving_server_stands_and_hands_over_if_elected() {
    // Beyond the reference, where a leaving server never stands (see
    // `e9_leaving_servers_holding_the_newest_log_do_not_block_elections`).
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = (l + 1) % 3;
    c.isolate(f); // Its removal requests never arrive.
    let now = c.now;
    c.server_mut(f).leave(now).unwrap();
    c.process(f);
    let term = c.server(f).term();
    c.advance(10_000);
    assert!(c.server(f).term() > term, "it never stood");
    assert!(!c.server(f).has_left());
    c.heal();
    two_remain_after(&mut c, &[f], 30_000);
}

#[test]
fn e11_connected_means_had_a_leader_and_not_retrying() {
    let mut c = Cluster::new(3);
    assert!(!c.server(0).is_connected(), "no leader yet");
    let l = c.elect();
    assert!((0..3).all(|i| c.server(i).is_connected()));
    let f = (l + 1) % 3;
    c.isolate(f);
    c.advance(2_100); // First failed election: still hopeful.
    c.advance(2_100); // Retrying: disconnected.
    assert!(!c.server(f).is_connected());
    c.heal();
    c.run_until(10_000, |c| c.server(f).is_connected());
    assert!(c.server(f).is_connected());
}

#[test]
fn leader_crash_and_reelection() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let eid = c.execute(l, "a", None);
    assert_eq!(c.outcome(l, eid).map(|o| o.0), Some(CommandStatus::Success));
    c.crash(l);
    let term = c.server((l + 1) % 3).term();
    let m = c.elect();
    assert_ne!(m, l);
    assert!(c.server(m).term() > term);
    let eid = c.execute(m, "b", None);
    assert_eq!(c.outcome(m, eid).map(|o| o.0), Some(CommandStatus::Success));
    c.restart(l);
    assert!(c.run_until_applied(2));
    for i in 0..3 {
        assert_eq!(c.applied_data(i), ["a", "b"], "node {i}");
    }
}

/// Two servers leaving hold the newest entries: the leader, which leaves (E10: it hands
/// leadership over, here to no avail), and the only follower that received them. The other
/// two lack those entries and can win no vote from the holders (E3).
#[test]
fn e9_leaving_servers_holding_the_newest_log_do_not_block_elections() {
    let (mut c, l, a, b, d) = leader_reaching_one_of_three();
    c.execute(l, "newest", None);
    c.settle();
    only_two_hold_the_newest(&c, l, [a, b, d]);
    c.isolate(l);
    c.isolate(d);
    for i in [d, l] {
        let now = c.now;
        c.server_mut(i).leave(now).unwrap();
        c.process(i);
    }
    c.heal();
    let m = two_remain_after(&mut c, &[l, d], 60_000);
    assert!(c.applied_data(m).contains(&"newest".to_owned()));
}
