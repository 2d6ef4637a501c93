//! Commands (C1–C8).

mod common;

use common::*;
use raft_core::*;

fn status(c: &Cluster, i: usize, eid: EntryId) -> Option<CommandStatus> {
    c.outcome(i, eid).map(|o| o.0)
}

#[test]
fn c1_commands_execute_on_the_leader_with_fresh_entry_ids() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let a = c.execute(l, "a", None);
    let b = c.execute(l, "b", None);
    assert_ne!(a, b);
    assert_eq!(status(&c, l, a), Some(CommandStatus::Success));
    let (_, index) = c.outcome(l, b).unwrap();
    let e = c.server(l).entry(index.unwrap()).unwrap();
    assert_eq!(e.data_id(), Some(b), "the entry carries the command's id");
    assert!(c.run_until_applied(2));
    for i in 0..3 {
        let ids: Vec<EntryId> = c.nodes[i].applied.iter().map(|(_, e, _)| *e).collect();
        assert_eq!(ids, [a, b], "node {i} applies with entry ids (N6)");
    }
}

#[test]
fn c2_statuses_have_stable_text() {
    assert_eq!(
        CommandStatus::BadPrerequisite.to_string(),
        "prerequisite check failed"
    );
    assert_eq!(
        "lost leadership".parse::<CommandStatus>(),
        Ok(CommandStatus::LostLeadership)
    );
}

#[test]
fn c3_prerequisite_must_match_the_last_entry_with_data() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    // The snapshot's id is the prerequisite of the first command.
    let a = c.execute(l, "a", Some(EntryId::from_u128(1)));
    assert_eq!(status(&c, l, a), Some(CommandStatus::Success));
    let bad = c.execute(l, "b", Some(EntryId::from_u128(1)));
    assert_eq!(status(&c, l, bad), Some(CommandStatus::BadPrerequisite));
    let b = c.execute(l, "b", Some(a));
    assert_eq!(status(&c, l, b), Some(CommandStatus::Success));
}

#[test]
fn c4_follower_relays_commands_with_a_prerequisite() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = (l + 1) % 3;
    let a = c.execute(f, "a", Some(EntryId::from_u128(1)));
    assert_eq!(status(&c, f, a), Some(CommandStatus::Success));
    assert!(
        c.nodes[l].done.iter().all(|(e, ..)| *e != a),
        "the leader's client is not told"
    );
    // Without a prerequisite a follower cannot relay.
    let b = c.execute(f, "b", None);
    assert_eq!(status(&c, f, b), Some(CommandStatus::NotLeader));
}

#[test]
fn c4_candidate_or_leaderless_follower_answers_not_leader() {
    let mut c = Cluster::new(3);
    let a = c.execute(0, "a", Some(EntryId::from_u128(1)));
    assert_eq!(
        status(&c, 0, a),
        Some(CommandStatus::NotLeader),
        "no leader known"
    );
}

#[test]
fn c5_leader_answers_relayed_failures_at_once_and_success_with_the_index() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = (l + 1) % 3;
    c.auto_deliver = false;
    let eid = EntryId::from_u128(77);
    c.inject(
        f,
        l,
        Rpc::ExecuteCommandRequest {
            data: Data::from("x"),
            prereq: EntryId::from_u128(5),
            result: eid,
        },
    );
    let reply = c
        .queued_from(l)
        .into_iter()
        .find(|m| m.message.rpc.name() == "execute_command_reply")
        .map(|m| m.message.rpc.clone());
    assert!(
        matches!(
            reply,
            Some(Rpc::ExecuteCommandReply {
                status: CommandStatus::BadPrerequisite,
                ..
            })
        ),
        "{reply:?}"
    );
    c.queue.clear();
    c.inject(
        f,
        l,
        Rpc::ExecuteCommandRequest {
            data: Data::from("x"),
            prereq: EntryId::from_u128(1),
            result: eid,
        },
    );
    assert!(
        c.queued_from(l)
            .iter()
            .all(|m| m.message.rpc.name() != "execute_command_reply"),
        "no answer before commit"
    );
    c.auto_deliver = true;
    c.settle();
    let index = c.server(l).commit_index();
    assert_eq!(c.server(l).entry(index).unwrap().data_id(), Some(eid));
}

#[test]
fn c6_commands_complete_on_commit_across_a_change_of_leader() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let (f, g) = ((l + 1) % 3, (l + 2) % 3);
    // The leader replicates to g but loses leadership before it hears the replies.
    c.auto_deliver = false;
    let eid = c.execute(l, "a", None);
    c.drop_queued(|m| m.to == f);
    while c.deliver_one() {
        c.drop_queued(|m| m.to == l && m.message.rpc.name() == "append_reply");
    }
    c.isolate(l);
    c.auto_deliver = true;
    assert!(c.run_until(20_000, |c| c.leader().is_some_and(|x| x != l)));
    let m = c.leader().unwrap();
    assert_eq!(m, g, "only g has the entry, so only g can win");
    c.heal();
    c.advance(3_000);
    // The old leader learns of the commit from the new leader and completes its command.
    assert_eq!(status(&c, l, eid), Some(CommandStatus::Success));
}

#[test]
fn c7_commands_expire_after_two_election_timers() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    c.isolate(l);
    let eid = c.execute(l, "a", None);
    c.advance(1_500);
    assert_eq!(status(&c, l, eid), None);
    c.advance(3_000);
    let s = status(&c, l, eid);
    // Either the leader noticed it lost quorum first (lost leadership) or timed out as leader.
    assert!(
        matches!(
            s,
            Some(CommandStatus::LostLeadership | CommandStatus::Timeout)
        ),
        "{s:?}"
    );
}

#[test]
fn c7_relayed_command_times_out_without_leader_pings() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = (l + 1) % 3;
    c.cut(l, f);
    let eid = c.execute(f, "a", Some(EntryId::from_u128(1)));
    c.advance(1_900);
    assert_eq!(status(&c, f, eid), None);
    c.advance(600); // The expiry check runs with the ping timer, every 333 ms.
    assert_eq!(status(&c, f, eid), Some(CommandStatus::Timeout));
}

#[test]
fn c7_pings_keep_a_relayed_command_alive() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let (f, g) = ((l + 1) % 3, (l + 2) % 3);
    // The leader cannot commit: g is cut off and every append reply to the leader is lost.
    c.cut(l, g);
    c.auto_deliver = false;
    let eid = c.execute(f, "a", Some(EntryId::from_u128(1)));
    let mut pings = 0;
    for _ in 0..15 {
        c.advance(100);
        pings += c
            .queue
            .iter()
            .filter(|m| {
                matches!(
                    m.message.rpc,
                    Rpc::ExecuteCommandReply {
                        status: CommandStatus::Incomplete,
                        ..
                    }
                )
            })
            .count();
        c.drop_queued(|m| m.message.rpc.name() == "append_reply" && m.to == l);
        while c.deliver_one() {
            c.drop_queued(|m| m.message.rpc.name() == "append_reply" && m.to == l);
        }
    }
    assert!(
        pings >= 3,
        "the leader pings the relaying follower ({pings} pings)"
    );
    // 1.5 s in, well before two election timers, the pings keep it pending.
    assert_eq!(status(&c, f, eid), None);
}

#[test]
fn c8_joining_leaving_and_failed_servers_refuse_commands() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let f = (l + 1) % 3;
    let now = c.now;
    c.server_mut(f).leave(now).unwrap();
    c.process(f);
    let a = c.execute(f, "a", Some(EntryId::from_u128(1)));
    assert_eq!(status(&c, f, a), Some(CommandStatus::Shutdown));
    let mut d = Cluster::new(3);
    let l = d.elect();
    d.manual_persist(l, true);
    d.isolate(l);
    let b = d.execute(l, "b", None);
    d.step(
        l,
        Event::PersistFailed {
            ticket: d.server(l).tickets().0,
            reason: "EIO".into(),
        },
    );
    assert_eq!(
        d.outcome(l, b).map(|o| o.0),
        Some(CommandStatus::IoError),
        "pending commands end with I/O error (S10)"
    );
    let now = d.now;
    let e = d.server_mut(l).execute(now, Data::from("c"), None);
    d.process(l);
    assert_eq!(d.outcome(l, e).map(|o| o.0), Some(CommandStatus::Shutdown));
}

#[test]
fn c8_closing_ends_every_pending_command_with_shutdown() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    c.isolate(l);
    let eid = c.execute(l, "a", None);
    let now = c.now;
    c.server_mut(l).close(now);
    c.process(l);
    assert_eq!(status(&c, l, eid), Some(CommandStatus::Shutdown));
    assert_eq!(c.server(l).next_deadline(), None);
}

/// Reported by raft-sim: a former leader told its own application a relayed command it never
/// issued had succeeded. Such a command ends silently; the follower that relayed it learns of
/// the commit itself (C6).
#[test]
fn c6_a_former_leader_does_not_report_commands_relayed_to_it() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let (f, g) = ((l + 1) % 3, (l + 2) % 3);
    c.auto_deliver = false;
    let eid = c.execute(f, "a", Some(EntryId::from_u128(1)));
    // The request reaches the leader; its append reaches g only; replies to the leader are lost.
    for _ in 0..20 {
        c.drop_queued(|m| m.to == l && m.message.rpc.name() == "append_reply");
        c.drop_queued(|m| m.from == l && m.to == f && m.message.rpc.name() == "append_request");
        if !c.deliver_one() {
            break;
        }
    }
    assert_eq!(
        c.server(g).log_end(),
        c.server(l).log_end(),
        "g holds the command"
    );
    c.isolate(l);
    c.auto_deliver = true;
    assert!(c.run_until(20_000, |c| c.leader() == Some(g)));
    c.heal();
    c.advance(3_000);
    assert_eq!(c.outcome(f, eid).map(|o| o.0), Some(CommandStatus::Success));
    assert_eq!(
        c.outcome(l, eid),
        None,
        "the former leader reported a command it never issued"
    );
}
