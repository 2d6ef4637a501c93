//! Property tests: serde round trips of every message and record, replay of any prefix or
//! mutation of a valid record stream, and arbitrary events fed to a server.

mod common;

use common::*;
use proptest::prelude::*;
use raft_core::*;

fn server_id() -> impl Strategy<Value = ServerId> {
    (0usize..4).prop_map(sid)
}

fn term() -> impl Strategy<Value = Term> {
    prop_oneof![4 => (0u64..6).prop_map(Term), 1 => any::<u64>().prop_map(Term)]
}

fn index() -> impl Strategy<Value = Index> {
    prop_oneof![4 => (0u64..12).prop_map(Index), 1 => any::<u64>().prop_map(Index)]
}

fn data() -> impl Strategy<Value = Data> {
    proptest::collection::vec(any::<u8>(), 0..12).prop_map(Data::from)
}

fn eid() -> impl Strategy<Value = EntryId> {
    (0u128..5).prop_map(EntryId::from_u128)
}

fn configuration() -> impl Strategy<Value = Configuration> {
    proptest::collection::btree_set(0usize..4, 1..4)
        .prop_map(|s| Configuration(s.into_iter().map(|i| (sid(i), address(i))).collect()))
}

fn payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        Just(Payload::Noop),
        (eid(), data()).prop_map(|(id, data)| Payload::Data { id, data }),
        configuration().prop_map(Payload::Configuration),
        any::<u64>().prop_map(Payload::ElectionTimer),
    ]
}

fn entry() -> impl Strategy<Value = Entry> {
    (term(), payload()).prop_map(|(term, payload)| Entry { term, payload })
}

fn snapshot() -> impl Strategy<Value = Snapshot> {
    (
        index(),
        term(),
        eid(),
        configuration(),
        proptest::option::of(any::<u64>()),
        data(),
    )
        .prop_map(
            |(index, term, eid, servers, election_timer, data)| Snapshot {
                index,
                term,
                eid,
                servers,
                election_timer,
                data,
            },
        )
}

fn status() -> impl Strategy<Value = CommandStatus> {
    proptest::sample::select(CommandStatus::ALL)
}

fn change() -> impl Strategy<Value = ServerChangeStatus> {
    proptest::sample::select(ServerChangeStatus::ALL)
}

fn result() -> impl Strategy<Value = AppendResult> {
    prop_oneof![
        Just(AppendResult::Ok),
        Just(AppendResult::Inconsistency),
        Just(AppendResult::IoError)
    ]
}

fn rpc() -> impl Strategy<Value = Rpc> {
    prop_oneof![
        (0usize..4).prop_map(|i| Rpc::Hello {
            address: address(i)
        }),
        (
            term(),
            index(),
            term(),
            index(),
            proptest::collection::vec(entry(), 0..4)
        )
            .prop_map(|(term, prev_index, prev_term, leader_commit, entries)| {
                Rpc::AppendRequest {
                    term,
                    prev_index,
                    prev_term,
                    leader_commit,
                    entries: entries.into(),
                }
            }),
        (term(), index(), index(), term(), 0u64..5, result()).prop_map(
            |(term, log_end, prev_index, prev_term, n_entries, result)| Rpc::AppendReply {
                term,
                log_end,
                prev_index,
                prev_term,
                n_entries,
                result
            }
        ),
        (term(), index(), term(), any::<bool>()).prop_map(
            |(term, last_index, last_term, leadership_transfer)| Rpc::VoteRequest {
                term,
                last_index,
                last_term,
                leadership_transfer
            }
        ),
        (term(), server_id()).prop_map(|(term, vote)| Rpc::VoteReply { term, vote }),
        (0usize..5).prop_map(|i| Rpc::AddServerRequest {
            address: address(i)
        }),
        (
            any::<bool>(),
            change(),
            proptest::collection::vec((0usize..4).prop_map(address), 0..3)
        )
            .prop_map(|(success, status, remote_addresses)| Rpc::AddServerReply {
                success,
                status,
                remote_addresses
            }),
        server_id().prop_map(|server| Rpc::RemoveServerRequest { server }),
        (
            any::<bool>(),
            change(),
            proptest::option::of(server_id()),
            proptest::option::of(0usize..4),
        )
            .prop_map(|(success, status, target, leader)| Rpc::RemoveServerReply {
                success,
                status,
                target,
                leader: leader.map(|i| LeaderHint {
                    sid: sid(i),
                    address: address(i),
                }),
            }),
        (term(), snapshot())
            .prop_map(|(term, snapshot)| Rpc::InstallSnapshotRequest { term, snapshot }),
        (term(), index(), term()).prop_map(|(term, last_index, last_term)| {
            Rpc::InstallSnapshotReply {
                term,
                last_index,
                last_term,
            }
        }),
        term().prop_map(|term| Rpc::BecomeLeader { term }),
        (data(), eid(), eid()).prop_map(|(data, prereq, result)| Rpc::ExecuteCommandRequest {
            data,
            prereq,
            result
        }),
        (eid(), status(), index()).prop_map(|(result, status, commit_index)| {
            Rpc::ExecuteCommandReply {
                result,
                status,
                commit_index,
            }
        }),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    (
        proptest::option::of(Just(cid())),
        server_id(),
        proptest::option::of(server_id()),
        proptest::option::of("[a-z ]{0,8}"),
        rpc(),
    )
        .prop_map(|(cluster, from, to, comment, rpc)| Message {
            cluster,
            from,
            to,
            comment,
            rpc,
        })
}

fn record() -> impl Strategy<Value = Record> {
    prop_oneof![
        4 => (index(), entry()).prop_map(|(index, entry)| Record::Entry { index, entry }),
        1 => term().prop_map(|term| Record::Term { term }),
        1 => (term(), server_id()).prop_map(|(term, vote)| Record::Vote { term, vote }),
        1 => ("[a-z]{0,5}", "[a-z ]{0,8}").prop_map(|(note, comment)| Record::Note { note, comment }),
        1 => index().prop_map(|index| Record::CommitIndex { index }),
        1 => (term(), server_id()).prop_map(|(term, leader)| Record::Leader { term, leader }),
    ]
}

/// A valid record stream: what a real server of a 3-server cluster writes.
fn valid_stream() -> Vec<Record> {
    let mut c = Cluster::new(3);
    let l = c.elect();
    for k in 0..6 {
        c.execute(l, &format!("v{k}"), None);
    }
    c.crash(l);
    let m = c.elect();
    c.execute(m, "after", None);
    c.advance(500);
    c.nodes[(m + 1) % 3].durable.clone()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_message_round_trips_through_json(m in message()) {
        let j = serde_json::to_string(&m).unwrap();
        prop_assert_eq!(serde_json::from_str::<Message>(&j).unwrap(), m);
    }

    #[test]
    fn every_record_round_trips_through_json(r in record()) {
        let j = serde_json::to_string(&r).unwrap();
        prop_assert_eq!(serde_json::from_str::<Record>(&j).unwrap(), r);
    }

    #[test]
    fn headers_round_trip_through_json(s in proptest::option::of(snapshot()), joining in any::<bool>()) {
        let mut h = header(0, 3);
        h.snapshot = s;
        h.joining = joining.then(|| vec![address(1)]);
        let j = serde_json::to_string(&h).unwrap();
        prop_assert_eq!(serde_json::from_str::<Header>(&j).unwrap(), h);
    }

    /// Decoding arbitrary text never panics.
    #[test]
    fn decoding_garbage_never_panics(s in ".{0,200}") {
        let _ = serde_json::from_str::<Message>(&s);
        let _ = serde_json::from_str::<Record>(&s);
        let _ = serde_json::from_str::<Header>(&s);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Replaying any prefix of a valid stream opens (a torn tail is dropped by the adapter,
    /// so every prefix must be a valid log).
    #[test]
    fn s4_every_prefix_of_a_valid_stream_opens(cut in 0usize..200) {
        let records = valid_stream();
        let cut = cut.min(records.len());
        let s = Server::open(header(1, 3), records[..cut].to_vec(), Config::default(), Millis(0));
        prop_assert!(s.is_ok(), "prefix {cut}: {:?}", s.err());
        s.unwrap().check_invariants();
    }

    /// Any mutation of a valid stream opens or fails with an error; never a panic, and an
    /// opened server satisfies its invariants.
    #[test]
    fn s4_mutated_streams_open_or_fail_cleanly(
        ops in proptest::collection::vec((0usize..64, 0u8..4, record()), 1..6),
    ) {
        let mut records = valid_stream();
        for (pos, op, r) in ops {
            let pos = pos % (records.len() + 1);
            match op {
                0 => records.insert(pos, r),
                1 if pos < records.len() => { records.remove(pos); }
                2 if pos < records.len() => records[pos] = r,
                _ if pos + 1 < records.len() => records.swap(pos, pos + 1),
                _ => {}
            }
        }
        if let Ok(mut s) = Server::open(header(1, 3), records, Config::default(), Millis(0)) {
            s.check_invariants();
            while s.poll_action().is_some() {}
            s.step(Millis(5_000), Event::Tick);
            s.check_invariants();
        }
    }
}

#[derive(Clone, Debug)]
enum Input {
    Message(Message),
    Tick(u64),
    Persist,
    BadTicket(u64),
    Connect(bool),
    Disconnect(u64),
    Execute(Data, Option<EntryId>),
    Admin(u8),
}

/// A message to server 0 from one of its peers, mostly well addressed.
fn peer_message() -> impl Strategy<Value = Message> {
    (
        1usize..3,
        prop_oneof![9 => Just(Some(sid(0))), 1 => proptest::option::of(server_id())],
        rpc(),
    )
        .prop_map(|(from, to, rpc)| Message {
            cluster: Some(cid()),
            from: sid(from),
            to,
            comment: None,
            rpc,
        })
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        6 => peer_message().prop_map(Input::Message),
        1 => message().prop_map(Input::Message),
        2 => (0u64..3000).prop_map(Input::Tick),
        2 => Just(Input::Persist),
        1 => any::<u64>().prop_map(Input::BadTicket),
        1 => any::<bool>().prop_map(Input::Connect),
        1 => (1u64..4).prop_map(Input::Disconnect),
        1 => (data(), proptest::option::of(eid())).prop_map(|(d, p)| Input::Execute(d, p)),
        1 => (0u8..10).prop_map(Input::Admin),
    ]
}

fn admin(s: &mut Server, now: Millis, which: u8) {
    match which {
        0 => drop(s.leave(now)),
        1 => drop(s.kick(now, "2222")),
        2 => drop(s.change_election_timer(now, 2000)),
        3 => s.transfer_leadership(now),
        4 => s.take_leadership(now),
        5 => drop(s.store_snapshot(now, Data::from("s"), None)),
        6 => s.notify_snapshot_recommended(now),
        7 => drop(s.set_failure_test(now, "delay-election")),
        8 => drop(s.status(now).to_string()),
        _ => s.close(now),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// One server fed any sequence of inputs never panics and keeps its invariants.
    #[test]
    fn any_event_sequence_keeps_the_invariants(inputs in proptest::collection::vec(input(), 1..60)) {
        let mut s = Server::open(header(0, 3), log_records(&[1, 1], 1), Config::with_seed(3), Millis(0)).unwrap();
        let mut now = Millis(0);
        // Connections 1 and 2 lead to servers 1 and 2; more come and go.
        for peer in 1..3 {
            s.step(now, Event::Connected { conn: ConnId(peer as u64), incoming: false, address: Some(address(peer)) });
        }
        let mut conns = 2u64;
        for i in inputs {
            match i {
                Input::Message(m) => {
                    let conn = if m.from == sid(2) { 2 } else { 1 };
                    s.step(now, Event::Message { conn: ConnId(conn), message: Box::new(m) })
                }
                Input::Tick(ms) => { now = now.plus(ms); s.step(now, Event::Tick) }
                Input::Persist => { let t = s.tickets().0; s.step(now, Event::Persisted { ticket: t }) }
                Input::BadTicket(t) => s.step(now, Event::Persisted { ticket: WriteTicket(t) }),
                Input::Connect(incoming) => {
                    conns += 1;
                    let address = (!incoming).then(|| address(1));
                    s.step(now, Event::Connected { conn: ConnId(conns), incoming, address });
                }
                Input::Disconnect(c) => s.step(now, Event::Disconnected { conn: ConnId(c) }),
                Input::Execute(d, p) => drop(s.execute(now, d, p)),
                Input::Admin(w) => admin(&mut s, now, w),
            }
            s.check_invariants();
            while s.poll_action().is_some() {}
        }
    }
}
