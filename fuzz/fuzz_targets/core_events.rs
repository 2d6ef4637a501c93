//! `core_events`: one raft-core server fed any sequence of inputs — messages with any fields
//! from plausible peers over plausible connections, answers to what it sent, time, durable
//! writes of any ticket in any order, failed writes, connections coming and going, commands,
//! administrative requests, crashes and restarts. It must never panic, and the driver's checks
//! (`check_invariants`, write before send, reopening its own log) hold after every step.
//!
//! Answers to the server's own messages are what make the fuzzer reach deep states: a vote
//! request answered "yes" wins an election, an append request answered "ok" commits entries.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use raft_core::{
    AppendResult, CommandStatus, Entry, Event, FailureTest, Header, Index, Message, Payload,
    Record, Rpc, ServerChangeStatus, Term, WriteTicket, bootstrap,
};
use raft_fuzz::driver::Driver;
use raft_fuzz::spec::{EntrySpec, Envelope, IndexSel, RpcSpec, TermSel};
use raft_fuzz::universe::{address, cid, configuration, data, eid, header, peer_of, sid};

/// At most this many steps run, so one input stays fast.
const MAX_STEPS: usize = 256;

#[derive(Arbitrary, Debug)]
struct Input {
    start: Start,
    steps: Vec<Step>,
}

/// The server's log when the input starts.
#[derive(Arbitrary, Debug)]
struct Start {
    /// The members besides server 0, as a bit mask of servers.
    members: u8,
    /// Start as a server joining the cluster instead.
    joining: bool,
    /// Entries after the snapshot at index 1.
    log: Vec<EntrySpec>,
    /// The current term, relative to the last entry's.
    term: TermSel,
    /// The commit index, as a position in the log.
    commit: u8,
    /// The server's seed.
    seed: u64,
}

impl Start {
    fn build(&self) -> (Header, Vec<Record>) {
        if self.joining {
            let remotes = [address(1), address(2)];
            let remotes: Vec<&str> = remotes.iter().map(|a| a.as_str()).collect();
            let cluster = (self.members & 0x80 != 0).then(cid);
            let header =
                bootstrap::join_cluster(sid(0), cluster, "fuzz", address(0).as_str(), &remotes)
                    .expect("a valid join header");
            return (header, Vec::new());
        }
        // A log the server could have written: terms never fall, and every configuration
        // names the server.
        let mut last_term = Term(1);
        let log: Vec<Entry> = self.log[..self.log.len().min(16)]
            .iter()
            .map(|spec| {
                last_term = spec.term.at(last_term).max(last_term);
                let payload = match spec.payload.build() {
                    Payload::Configuration(mut c) => {
                        c.0.insert(sid(0), address(0));
                        Payload::Configuration(c)
                    }
                    p => p,
                };
                Entry {
                    term: last_term,
                    payload,
                }
            })
            .collect();
        let n = log.len() as u64;
        let mut records: Vec<Record> = log
            .into_iter()
            .enumerate()
            .map(|(k, entry)| Record::Entry {
                index: Index(k as u64 + 2),
                entry,
            })
            .collect();
        records.push(Record::Term {
            term: self.term.at(last_term),
        });
        records.push(Record::CommitIndex {
            index: Index(1 + u64::from(self.commit) % (n + 1)),
        });
        (header(configuration(self.members | 1)), records)
    }
}

#[derive(Arbitrary, Debug)]
enum Step {
    /// A message from a peer (or anyone), on its connection or on connection number `conn`.
    Message {
        envelope: Envelope,
        rpc: RpcSpec,
        conn: Option<u8>,
    },
    /// The receiver of a recently sent message answers it, agreeing or not.
    Answer { which: u8, agree: bool },
    /// Time passes.
    Tick(u16),
    /// The clock goes backwards (a driver bug the core must shrug off).
    ClockBack(u8),
    /// Writes up to some ticket are durable.
    Persist(TicketSel),
    /// The newest write failed.
    PersistFailed,
    /// Someone connects.
    Connect,
    /// A connection breaks.
    Disconnect(u8),
    /// A client command; `prereq` is absent, the server's last entry id, or a small id.
    Execute {
        data: u8,
        prereq: Option<Option<u8>>,
    },
    /// An administrative request.
    Admin(AdminOp),
    /// The process crashes and restarts from what is durable.
    Restart,
}

#[derive(Arbitrary, Debug)]
enum TicketSel {
    /// The newest issued.
    Newest,
    /// The oldest not yet durable.
    Next,
    /// This many before the newest.
    Old(u8),
    /// This many past the newest (never issued).
    Beyond(u8),
}

#[derive(Arbitrary, Debug)]
enum AdminOp {
    Leave,
    Kick(KickSel),
    ChangeElectionTimer(u16),
    TransferLeadership,
    TakeLeadership,
    StoreSnapshot(Option<IndexSel>),
    RecommendSnapshot,
    FailureTest(u8),
    Status,
    Close,
    BacklogThreshold(u8, u32),
}

#[derive(Arbitrary, Debug)]
enum KickSel {
    /// The first hex digits of server `n`'s id.
    Prefix(u8),
    /// Server `n`'s address.
    Address(u8),
    /// Any text.
    Text(String),
}

fuzz_target!(|input: Input| {
    let (header, records) = input.start.build();
    let mut d = match Driver::open(header, records, input.start.seed) {
        Ok(d) => d,
        Err(e) => panic!("a valid start log was refused: {e}"),
    };
    for step in input.steps.into_iter().take(MAX_STEPS) {
        // After `Action::Crash` the process is gone; it comes back from its disk.
        if d.crashed() && !d.restart() {
            return;
        }
        if !run(&mut d, step) {
            return;
        }
    }
});

/// Runs one step; false when there is nothing more to drive.
fn run(d: &mut Driver, step: Step) -> bool {
    match step {
        Step::Message {
            envelope,
            rpc,
            conn,
        } => {
            let message = envelope.seal(rpc.build(&d.server, &d.executed));
            let conn = match conn {
                Some(n) => d.some_conn(n),
                None => d.conn_from(envelope.peer()),
            };
            d.step(Event::Message {
                conn,
                message: Box::new(message),
            });
        }
        Step::Answer { which, agree } => {
            let Some((conn, sent)) = d
                .sent
                .get(usize::from(which) % d.sent.len().max(1))
                .cloned()
            else {
                return true;
            };
            let Some(peer) = sent.to.and_then(peer_of) else {
                return true;
            };
            if let Some(rpc) = answer(d, &sent, agree) {
                let message = Message {
                    cluster: Some(cid()),
                    from: sid(peer),
                    to: Some(sid(0)),
                    comment: None,
                    rpc,
                };
                d.step(Event::Message {
                    conn,
                    message: Box::new(message),
                });
            }
        }
        Step::Tick(ms) => d.advance(i64::from(ms)),
        Step::ClockBack(ms) => d.advance(-i64::from(ms)),
        Step::Persist(t) => {
            let (issued, persisted) = d.server.tickets();
            let ticket = match t {
                TicketSel::Newest => issued,
                TicketSel::Next => WriteTicket(persisted.0.saturating_add(1).min(issued.0)),
                TicketSel::Old(n) => WriteTicket(issued.0.saturating_sub(u64::from(n))),
                TicketSel::Beyond(n) => WriteTicket(issued.0.saturating_add(u64::from(n) + 1)),
            };
            d.persist(ticket);
        }
        Step::PersistFailed => {
            let ticket = d.last_ticket();
            d.step(Event::PersistFailed {
                ticket,
                reason: "fuzz".into(),
            });
        }
        Step::Connect => d.connect_incoming(),
        Step::Disconnect(n) => d.disconnect(n),
        Step::Execute { data: c, prereq } => {
            let prereq = prereq.map(|p| p.map_or_else(|| d.server.last_eid(), eid));
            let id = d.call(|s, now| s.execute(now, data(c), prereq));
            d.executed.push(id);
        }
        Step::Admin(op) => admin(d, op),
        Step::Restart => return d.restart(),
    }
    true
}

/// What the receiver of `sent` would answer, agreeing (granting, accepting) or not.
fn answer(d: &Driver, sent: &Message, agree: bool) -> Option<Rpc> {
    let s = &d.server;
    Some(match &sent.rpc {
        Rpc::AppendRequest {
            term,
            prev_index,
            prev_term,
            entries,
            ..
        } => {
            let n = entries.len() as u64;
            Rpc::AppendReply {
                term: *term,
                log_end: if agree {
                    Index(prev_index.0.saturating_add(n + 1))
                } else {
                    *prev_index
                },
                prev_index: *prev_index,
                prev_term: *prev_term,
                n_entries: n,
                result: if agree {
                    AppendResult::Ok
                } else {
                    AppendResult::Inconsistency
                },
            }
        }
        Rpc::VoteRequest { term, .. } => Rpc::VoteReply {
            term: *term,
            vote: if agree { sent.from } else { sent.to? },
        },
        Rpc::InstallSnapshotRequest { term, snapshot } => Rpc::InstallSnapshotReply {
            term: *term,
            last_index: snapshot.index,
            last_term: snapshot.term,
        },
        Rpc::ExecuteCommandRequest { result, .. } => Rpc::ExecuteCommandReply {
            result: *result,
            status: if agree {
                CommandStatus::Success
            } else {
                CommandStatus::NotLeader
            },
            commit_index: s.commit_index(),
        },
        Rpc::AddServerRequest { .. } => Rpc::AddServerReply {
            success: agree,
            status: if agree {
                ServerChangeStatus::Completed
            } else {
                ServerChangeStatus::NotLeader
            },
            remote_addresses: Vec::new(),
        },
        Rpc::RemoveServerRequest { server } => Rpc::RemoveServerReply {
            success: agree,
            status: if agree {
                ServerChangeStatus::Completed
            } else {
                ServerChangeStatus::NotLeader
            },
            target: Some(*server),
            leader: None,
        },
        // Asked to take over, the peer starts an election marked as a transfer.
        Rpc::BecomeLeader { term } => Rpc::VoteRequest {
            term: Term(term.0.saturating_add(1)),
            last_index: s.log_end().prev(),
            last_term: s.term_at(s.log_end().prev()).unwrap_or(*term),
            leadership_transfer: true,
        },
        _ => return None,
    })
}

fn admin(d: &mut Driver, op: AdminOp) {
    match op {
        AdminOp::Leave => drop(d.call(|s, now| s.leave(now))),
        AdminOp::Kick(k) => {
            let name = match k {
                KickSel::Prefix(n) => sid(usize::from(n)).to_string()[..4].to_owned(),
                KickSel::Address(n) => address(usize::from(n)).as_str().to_owned(),
                KickSel::Text(t) => t,
            };
            drop(d.call(|s, now| s.kick(now, &name)));
        }
        AdminOp::ChangeElectionTimer(ms) => {
            drop(d.call(|s, now| s.change_election_timer(now, u64::from(ms))))
        }
        AdminOp::TransferLeadership => d.call(|s, now| s.transfer_leadership(now)),
        AdminOp::TakeLeadership => d.call(|s, now| s.take_leadership(now)),
        AdminOp::StoreSnapshot(index) => {
            let index = index.map(|i| i.of(&d.server));
            drop(d.call(|s, now| s.store_snapshot(now, data(7), index)));
        }
        AdminOp::RecommendSnapshot => d.call(|s, now| s.notify_snapshot_recommended(now)),
        AdminOp::FailureTest(n) => {
            let names: Vec<&str> = FailureTest::all()
                .map(FailureTest::name)
                .chain(["clear", "no-such-test"])
                .collect();
            let name = names[usize::from(n) % names.len()];
            drop(d.call(|s, now| s.set_failure_test(now, name)));
        }
        AdminOp::Status => {
            let text = d.call(|s, now| s.status(now).to_string());
            assert!(!text.is_empty());
        }
        AdminOp::Close => d.call(|s, now| s.close(now)),
        AdminOp::BacklogThreshold(m, b) => {
            drop(d.call(|s, _| s.set_backlog_threshold(u64::from(m), u64::from(b))))
        }
    }
}
