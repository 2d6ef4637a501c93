//! Membership (M1–M11, E10) and the membership scenarios.

mod common;

use common::*;
use raft_core::*;

fn add_reply(c: &Cluster, from: usize) -> Vec<(bool, ServerChangeStatus)> {
    c.queue
        .iter()
        .filter(|m| m.from == from)
        .filter_map(|m| match &m.message.rpc {
            Rpc::AddServerReply {
                success, status, ..
            } => Some((*success, *status)),
            _ => None,
        })
        .collect()
}

fn remove_reply(c: &Cluster, from: usize) -> Vec<(bool, ServerChangeStatus)> {
    c.queue
        .iter()
        .filter(|m| m.from == from)
        .filter_map(|m| match &m.message.rpc {
            Rpc::RemoveServerReply {
                success, status, ..
            } => Some((*success, *status)),
            _ => None,
        })
        .collect()
}

#[test]
fn grow_from_one_to_five_servers_by_joins_while_commands_run() {
    let mut c = Cluster::new(1);
    c.advance(10);
    assert_eq!(c.leader(), Some(0));
    let mut ok = 0;
    for n in 1..5 {
        let j = c.join(&[0]);
        let l = c.leader().unwrap();
        let eid = c.execute(l, &format!("during join {n}"), None);
        assert!(c.run_until_member(j), "server {j} did not join");
        c.advance(200);
        if c.outcome(l, eid)
            .is_some_and(|o| o.0 == CommandStatus::Success)
        {
            ok += 1;
        }
        assert_eq!(c.leaders().len(), 1);
    }
    assert_eq!(ok, 4, "commands during joins failed");
    assert_eq!(c.server(0).configuration().len(), 5);
    assert!(c.run_until_applied(4));
    let want = c.applied_data(0);
    for i in 1..5 {
        assert_eq!(c.applied_data(i), want, "node {i}");
        assert!(c.nodes[i].notices.contains(&Notice::Joined));
    }
}

#[test]
fn m1_add_server_requests_get_the_reference_answers() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = (l + 1) % 3;
    c.auto_deliver = false;
    // Not leader.
    c.inject(
        l,
        f,
        Rpc::AddServerRequest {
            address: address(l),
        },
    );
    assert_eq!(add_reply(&c, f), [(false, ServerChangeStatus::NotLeader)]);
    // Already present.
    c.queue.clear();
    c.inject(
        f,
        l,
        Rpc::AddServerRequest {
            address: address(f),
        },
    );
    assert_eq!(
        add_reply(&c, l),
        [(true, ServerChangeStatus::AlreadyPresent)]
    );
    // A removal pending in the same step is cancelled by an add request: mark f for removal
    // while the leader cannot commit, then ask to add it.
    c.queue.clear();
    c.isolate(f);
    c.isolate((l + 2) % 3);
    let now = c.now;
    c.server_mut(l).kick(now, &sid(f).to_string()).unwrap();
    c.process(l);
    c.heal();
    c.queue.clear();
    // The removal is committing already (its entry is appended): "committing" for the add.
    c.inject(
        f,
        l,
        Rpc::AddServerRequest {
            address: address(f),
        },
    );
    assert_eq!(add_reply(&c, l), [(false, ServerChangeStatus::Committing)]);
}

#[test]
fn m1_a_scheduled_removal_is_cancelled_by_an_add_request() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let (f, g) = ((l + 1) % 3, (l + 2) % 3);
    // Nothing commits: the removal of f is appended and waits; the removal of g is only
    // scheduled behind it.
    c.isolate(l);
    let now = c.now;
    assert_eq!(
        c.server_mut(l).kick(now, &sid(f).to_string()),
        Ok("started removal".to_owned())
    );
    assert_eq!(
        c.server_mut(l).kick(now, &sid(g).to_string()),
        Ok("started removal".to_owned())
    );
    c.process(l);
    assert!(
        c.server(l)
            .status(now)
            .servers
            .iter()
            .any(|s| s.id == sid(g) && s.phase == Some("remove"))
    );
    // g asks to be added: the scheduled removal is cancelled instead.
    c.inject(
        g,
        l,
        Rpc::AddServerRequest {
            address: address(g),
        },
    );
    assert!(c.trace.iter().any(|t| t.starts_with(&format!("n{l} Send"))
        && t.contains("AddServerReply { success: false, status: Canceled")));
    assert!(
        c.server(l)
            .status(now)
            .servers
            .iter()
            .all(|s| s.phase.is_none())
    );
    // In progress: asking to add f, whose removal is committing.
    c.inject(
        f,
        l,
        Rpc::AddServerRequest {
            address: address(f),
        },
    );
    assert!(
        c.trace
            .iter()
            .any(|t| t.contains("AddServerReply { success: false, status: Committing"))
    );
}

#[test]
fn m1_an_addition_in_progress_answers_in_progress() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    c.step(
        l,
        Event::Connected {
            conn: ConnId(50_000),
            incoming: true,
            address: None,
        },
    );
    let joiner = Message {
        cluster: Some(cid()),
        from: sid(3),
        to: None,
        comment: None,
        rpc: Rpc::AddServerRequest {
            address: address(3),
        },
    };
    c.step(
        l,
        Event::Message {
            conn: ConnId(50_000),
            message: Box::new(joiner.clone()),
        },
    );
    c.step(
        l,
        Event::Message {
            conn: ConnId(50_000),
            message: Box::new(joiner),
        },
    );
    assert!(
        c.trace
            .iter()
            .any(|t| t.contains("AddServerReply { success: false, status: InProgress"))
    );
    assert_eq!(c.server(l).status(c.now).adding[0].2, "catchup");
}

#[test]
fn m2_a_new_server_catches_up_before_its_configuration_entry() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    for k in 0..5 {
        c.execute(l, &format!("{k}"), None);
    }
    c.auto_deliver = false;
    let j = c.join(&[l]);
    // Run the join by hand: the configuration entry must not appear before the new server
    // has the whole log.
    let mut saw_config_before_caught_up = false;
    for _ in 0..500 {
        if !c.deliver_one() {
            break;
        }
        let has_config = c.server(l).configuration().contains(sid(j));
        let caught_up = c.server(j).log_end() >= c.server(l).log_end().prev();
        saw_config_before_caught_up |= has_config && !caught_up && c.server(j).log_end() < Index(3);
    }
    assert!(!saw_config_before_caught_up);
    c.auto_deliver = true;
    assert!(c.run_until_member(j));
    assert!(c.run_until_applied(5));
}

#[test]
fn m3_one_configuration_change_at_a_time() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let (f, g) = ((l + 1) % 3, (l + 2) % 3);
    c.auto_deliver = false;
    let now = c.now;
    assert_eq!(
        c.server_mut(l).kick(now, &sid(f).to_string()),
        Ok("started removal".to_owned())
    );
    c.process(l);
    // The second removal waits: the first one's entry is not committed yet.
    let r = c.server_mut(l).kick(now, &sid(g).to_string());
    c.process(l);
    assert_eq!(r, Ok("started removal".to_owned()));
    let configs: Vec<usize> = (c.server(l).log_start().0..c.server(l).log_end().0)
        .filter_map(|i| {
            c.server(l)
                .entry(Index(i))
                .and_then(|e| e.configuration())
                .map(|c| c.len())
        })
        .collect();
    assert_eq!(configs, [2], "two configuration changes in flight");
    c.auto_deliver = true;
    c.advance(2_000);
    assert_eq!(
        c.server(l).configuration().len(),
        1,
        "the second change followed the first"
    );
}

#[test]
fn m3_a_new_leader_changes_nothing_before_its_own_term_commits() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let (m, f) = ((l + 1) % 3, (l + 2) % 3);
    // m takes over, but every append reply to it is lost, so its no-op cannot commit.
    c.auto_deliver = false;
    let now = c.now;
    c.server_mut(m).take_leadership(now);
    c.process(m);
    while c.deliver_one() {
        c.drop_queued(|x| x.to == m && x.message.rpc.name() == "append_reply");
    }
    assert_eq!(c.leader(), Some(m));
    let now = c.now;
    assert_eq!(
        c.server_mut(m).kick(now, &sid(f).to_string()),
        Ok("started removal".to_owned())
    );
    c.process(m);
    assert_eq!(
        c.server(m).configuration().len(),
        3,
        "changed the configuration before its term committed"
    );
    // Once the no-op commits, the removal proceeds.
    c.auto_deliver = true;
    c.advance(1_000);
    assert_eq!(c.server(m).configuration().len(), 2);
}

#[test]
fn m4_remove_server_requests_get_the_reference_answers() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = (l + 1) % 3;
    c.auto_deliver = false;
    c.inject(l, f, Rpc::RemoveServerRequest { server: sid(l) });
    assert_eq!(
        remove_reply(&c, f),
        [(false, ServerChangeStatus::NotLeader)]
    );
    c.queue.clear();
    c.inject(
        f,
        l,
        Rpc::RemoveServerRequest {
            server: ServerId::from_u128(5),
        },
    );
    assert_eq!(
        remove_reply(&c, l)[0],
        (true, ServerChangeStatus::AlreadyGone)
    );
    // Never remove the last server.
    let mut one = Cluster::new(1);
    one.advance(10);
    let now = one.now;
    let r = one.server_mut(0).kick(now, &sid(0).to_string());
    assert!(r.is_ok(), "kicking oneself means leaving");
    let mut two = Cluster::new(2);
    let l2 = two.elect();
    let o = 1 - l2;
    two.isolate(o);
    let now = two.now;
    assert_eq!(
        two.server_mut(l2).kick(now, &sid(o).to_string()),
        Ok("started removal".to_owned())
    );
    let err = two.server_mut(l2).kick(now, &sid(l2).to_string());
    assert!(
        matches!(err, Err(AdminError::AlreadyLeaving) | Ok(_)),
        "{err:?}"
    );
}

#[test]
fn m4_removal_in_progress_and_committing_answers() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let (f, g) = ((l + 1) % 3, (l + 2) % 3);
    c.isolate(f);
    c.isolate(g);
    let now = c.now;
    assert_eq!(
        c.server_mut(l).kick(now, &sid(f).to_string()),
        Ok("started removal".to_owned())
    );
    c.process(l);
    // The entry is appended (committing) and f is gone from the configuration: a second
    // request finds it already gone.
    let r = c.server_mut(l).kick(now, address(f).as_str());
    assert!(matches!(r, Err(AdminError::UnknownServer)), "{r:?}");
    c.heal();
    c.advance(1_000);
    assert_eq!(c.server(l).configuration().len(), 2);
    // The removed server was told, and left.
    assert!(c.server(f).has_left());
    assert!(
        c.nodes[f]
            .durable
            .iter()
            .any(|r| matches!(r, Record::Note { note, .. } if note == "left"))
    );
}

#[test]
fn m4_m8_remove_the_leader() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = (l + 1) % 3;
    let now = c.now;
    assert_eq!(
        c.server_mut(f).kick(now, &sid(l).to_string()),
        Ok("sent removal request to leader".to_owned())
    );
    c.process(f);
    c.settle();
    c.advance(500);
    assert!(c.server(l).has_left(), "the removed leader left");
    let m = c.elect();
    assert_ne!(m, l);
    assert_eq!(c.server(m).configuration().len(), 2);
    let eid = c.execute(m, "after", None);
    assert_eq!(c.outcome(m, eid).map(|o| o.0), Some(CommandStatus::Success));
}

#[test]
fn e8_m4_a_leader_removing_itself_needs_a_majority_besides_itself() {
    let mut c = Cluster::new(4);
    let l = c.elect();
    let others: Vec<usize> = (0..4).filter(|&i| i != l).collect();
    // It still hears from one of the three others: with itself that would be half of four,
    // but it no longer counts itself.
    c.cut(l, others[0]);
    c.cut(l, others[1]);
    let now = c.now;
    let r = c.server_mut(others[2]).kick(now, &sid(l).to_string());
    assert!(r.is_ok(), "{r:?}");
    c.process(others[2]);
    c.settle();
    assert!(
        !c.server(l).configuration().contains(sid(l)),
        "removing itself"
    );
    assert!(
        c.run_until(5_000, |c| c.server(l).role() != Role::Leader),
        "it kept leading without a quorum"
    );
}

#[test]
fn m5_a_configuration_entry_truncated_by_a_new_leader_reverts() {
    // Node 1 holds an uncommitted configuration entry adding node 9 at index 2.
    let mut c = Cluster::empty();
    let x = ServerId::from_u128(0x9999 << 112);
    let mut with_x = header(0, 3).snapshot.unwrap().servers;
    with_x
        .0
        .insert(x, Address::parse("tcp:127.0.0.1:7999").unwrap());
    for i in 0..3 {
        let mut records = log_records(&[], 2);
        if i == 1 {
            records.insert(
                0,
                Record::Entry {
                    index: Index(2),
                    entry: Entry {
                        term: Term(2),
                        payload: Payload::Configuration(with_x.clone()),
                    },
                },
            );
        }
        c.add_node(header(i, 3), records);
    }
    for i in 0..3 {
        c.start(i);
    }
    c.settle();
    assert!(
        c.server(1).configuration().contains(x),
        "effective when appended"
    );
    let now = c.now;
    c.server_mut(0).take_leadership(now);
    c.process(0);
    c.settle();
    c.advance(500);
    assert_eq!(c.leader(), Some(0));
    assert!(
        !c.server(1).configuration().contains(x),
        "reverted when truncated"
    );
    assert!(c.logged(1, "removed from configuration") >= 1);
}

#[test]
fn m6_a_leader_that_steps_down_fails_pending_changes_with_lost_leadership() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = (l + 1) % 3;
    c.auto_deliver = false;
    // A joiner in catch-up, then the leader hears a higher term.
    c.step(
        l,
        Event::Connected {
            conn: ConnId(50_000),
            incoming: true,
            address: None,
        },
    );
    let joiner = Message {
        cluster: Some(cid()),
        from: sid(3),
        to: None,
        comment: None,
        rpc: Rpc::AddServerRequest {
            address: address(3),
        },
    };
    c.step(
        l,
        Event::Message {
            conn: ConnId(50_000),
            message: Box::new(joiner),
        },
    );
    c.queue.clear();
    let t = c.server(l).term().next().unwrap();
    c.inject(
        f,
        l,
        Rpc::VoteReply {
            term: t,
            vote: sid(f),
        },
    );
    assert!(
        c.logged(l, "to cluster c1c1 failed (lost leadership)") == 1,
        "{:?}",
        c.nodes[l].logs
    );
}

#[test]
fn m7_joining_retries_every_second_and_learns_addresses() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = (l + 1) % 3;
    // Join through a follower: it refuses (not leader) but tells the joiner the other
    // addresses, which lead it to the leader.
    let j = c.join(&[f]);
    assert!(c.logged(j, "learned new server address for joining cluster") >= 1);
    assert!(c.run_until_member(j));
    // Retrying every second while nothing answers.
    let mut d = Cluster::new(1);
    d.advance(10);
    d.auto_deliver = false;
    let k = d.join(&[0]);
    d.isolate(k);
    d.queue.clear();
    d.auto_deliver = true;
    let before = d.sent_count(k, "AddServerRequest");
    d.advance(3_050);
    assert_eq!(
        d.sent_count(k, "AddServerRequest") - before,
        3,
        "one request per second"
    );
}

#[test]
fn m7_learned_addresses_survive_a_restart() {
    // Beyond the reference, which keeps them in memory only.
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = (l + 1) % 3;
    let j = c.join_cut_from(&[f], &[l, (l + 2) % 3]);
    assert!(c.logged(j, "learned new server address for joining cluster") >= 1);
    let remotes = c.nodes[j].header.joining.clone().unwrap_or_default();
    assert!(remotes.contains(&address(l)), "{remotes:?}");
    // Restarted with only its first address gone, it still finds the cluster.
    c.crash(j);
    c.heal();
    c.isolate(f);
    c.restart(j);
    assert!(c.run_until(30_000, |c| !c.server(j).is_joining()));
}

#[test]
fn m8_leave_while_leader() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let now = c.now;
    c.server_mut(l).leave(now).unwrap();
    c.process(l);
    c.settle();
    c.advance(3_000);
    assert!(c.server(l).has_left());
    assert!(c.nodes[l].notices.contains(&Notice::Left));
    assert!(
        c.logged(l, "transferring leadership") == 1,
        "leadership handed over first"
    );
    let m = c.leader().unwrap();
    assert_ne!(m, l);
    assert_eq!(c.server(m).configuration().len(), 2);
    // A server that left cannot be reopened.
    c.crash(l);
    let n = &c.nodes[l];
    let err = Server::open(
        n.header.clone(),
        n.durable.clone(),
        Config::default(),
        c.now,
    )
    .err();
    assert!(matches!(err, Some(OpenError::Left { .. })), "{err:?}");
}

#[test]
fn m8_leaving_repeats_remove_requests_every_election_timer() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = (l + 1) % 3;
    c.cut(f, l);
    c.cut(f, (l + 2) % 3);
    let now = c.now;
    c.server_mut(f).leave(now).unwrap();
    c.process(f);
    let before = c.sent_count(f, "RemoveServerRequest");
    c.advance(3_050);
    assert_eq!(
        c.sent_count(f, "RemoveServerRequest") - before,
        6,
        "two peers, every 1000 ms"
    );
    let now = c.now;
    assert_eq!(c.server_mut(f).leave(now), Err(AdminError::AlreadyLeaving));
}

#[test]
fn m8_a_leaving_server_reaches_a_leader_its_configuration_lacks() {
    // Beyond the reference: a follower answering "not leader" names its leader. This leaving
    // server's configuration is stale: it names the two followers but not the leader, and
    // their logs hold no removal of it, so only the leader can say it is gone (raft-sim churn
    // seed 15453, where the removal had been compacted into every member's snapshot).
    let mut c = Cluster::new(3);
    let l = c.elect();
    let followers = [(l + 1) % 3, (l + 2) % 3];
    let mut stale = header(3, 3);
    let snapshot = stale.snapshot.as_mut().unwrap();
    snapshot.servers = Configuration(
        [followers[0], followers[1], 3]
            .into_iter()
            .map(|i| (sid(i), address(i)))
            .collect(),
    );
    let x = c.add_node(stale, vec![]);
    c.start(x);
    let now = c.now;
    c.server_mut(x).leave(now).unwrap();
    c.process(x);
    assert!(c.run_until(3_000, |c| c.server(x).has_left()));
    let gone = "request by 4444 to remove itself from cluster c1c1 succeeded (already not in";
    assert_eq!(c.logged(l, gone), 1, "the leader said so");
    assert_eq!(c.server(l).configuration().len(), 3, "members untouched");
}

#[test]
fn m9_kick_a_follower() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = (l + 1) % 3;
    let g = (l + 2) % 3;
    // Kick through the other follower, by address.
    let now = c.now;
    assert_eq!(
        c.server_mut(g).kick(now, address(f).as_str()),
        Ok("sent removal request to leader".to_owned())
    );
    c.process(g);
    c.settle();
    c.advance(500);
    assert!(c.server(f).has_left());
    assert_eq!(c.server(l).configuration().len(), 2);
    let now = c.now;
    assert_eq!(
        c.server_mut(l).kick(now, "ffff"),
        Err(AdminError::UnknownServer)
    );
}

#[test]
fn m10_election_timer_doubled_twice_while_a_triple_is_refused() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let now = c.now;
    assert_eq!(
        c.server_mut(l).change_election_timer(now, 3_000),
        Err(AdminError::TimerIncreaseTooLarge)
    );
    assert_eq!(
        c.server_mut(l).change_election_timer(now, 2_000),
        Ok("change of election timer initiated.")
    );
    assert_eq!(
        c.server_mut(l).change_election_timer(now, 2_000),
        Err(AdminError::TimerChangePending)
    );
    assert_eq!(c.server(l).status(now).election_timer_new, Some(2_000));
    c.process(l);
    c.advance(100);
    for i in 0..3 {
        assert_eq!(
            c.server(i).election_timer(),
            2_000,
            "node {i}: effective on commit"
        );
    }
    let now = c.now;
    assert_eq!(
        c.server_mut(l).change_election_timer(now, 6_001),
        Err(AdminError::TimerIncreaseTooLarge)
    );
    assert_eq!(
        c.server_mut(l).change_election_timer(now, 4_000),
        Ok("change of election timer initiated.")
    );
    c.process(l);
    c.advance(100);
    assert!((0..3).all(|i| c.server(i).election_timer() == 4_000));
    let f = (l + 1) % 3;
    assert_eq!(
        c.server_mut(f).change_election_timer(now, 5_000),
        Err(AdminError::TimerNotLeader)
    );
    assert_eq!(
        c.server_mut(l).change_election_timer(now, 99),
        Err(AdminError::TimerOutOfRange)
    );
    assert_eq!(
        c.server_mut(l).change_election_timer(now, 4_000),
        Ok("change election timer to current value.")
    );
}

#[test]
fn m11_connections_follow_the_configuration() {
    let mut c = Cluster::new(3);
    c.elect();
    // Everyone asked for the two others, once.
    for i in 0..3 {
        let connects = c
            .trace
            .iter()
            .filter(|t| t.starts_with(&format!("n{i} Connect")))
            .count();
        assert_eq!(connects, 2, "node {i}");
    }
    // Each outgoing connection greets with hello.
    assert!(c.sent_count(0, "Hello") >= 2);
    // A removed server's address is dropped.
    let l = c.leader().unwrap();
    let f = (l + 1) % 3;
    let now = c.now;
    c.server_mut(l).kick(now, &sid(f).to_string()).unwrap();
    c.process(l);
    c.advance(500);
    assert!(
        c.trace
            .iter()
            .any(|t| t.starts_with(&format!("n{l} Disconnect")) && t.contains(address(f).as_str()))
    );
}

#[test]
fn m11_a_joining_server_that_disconnects_is_forgotten() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    c.auto_deliver = false;
    c.step(
        l,
        Event::Connected {
            conn: ConnId(50_000),
            incoming: true,
            address: None,
        },
    );
    let joiner = Message {
        cluster: Some(cid()),
        from: sid(3),
        to: None,
        comment: None,
        rpc: Rpc::AddServerRequest {
            address: address(3),
        },
    };
    c.step(
        l,
        Event::Message {
            conn: ConnId(50_000),
            message: Box::new(joiner),
        },
    );
    assert_eq!(c.server(l).status(c.now).adding.len(), 1);
    c.step(
        l,
        Event::Disconnected {
            conn: ConnId(50_000),
        },
    );
    assert!(c.server(l).status(c.now).adding.is_empty());
    assert_eq!(c.logged(l, "disconnected while joining"), 1);
}

#[test]
fn e10_leadership_transfer_to_a_stable_connected_peer() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let term = c.server(l).term();
    let now = c.now;
    c.server_mut(l).transfer_leadership(now);
    c.process(l);
    c.settle();
    let m = c.leader().unwrap();
    assert_ne!(m, l, "leadership moved");
    assert_eq!(c.server(m).term(), term.next().unwrap());
    assert_eq!(
        c.server(m).status(c.now).election_started.map(|s| s.1),
        Some(true),
        "marked as a transfer"
    );
    assert!(
        c.nodes[l]
            .durable
            .iter()
            .any(|r| matches!(r, Record::Note { note, .. } if note == "transfer leadership"))
    );
}

#[test]
fn e10_take_leadership_deposes_the_current_leader() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = (l + 1) % 3;
    let now = c.now;
    c.server_mut(f).take_leadership(now);
    c.process(f);
    c.settle();
    assert_eq!(c.leader(), Some(f));
}
