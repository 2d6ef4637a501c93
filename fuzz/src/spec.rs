//! Input types that `arbitrary` builds, and how they turn into raft-core values.
//!
//! Numbers come as selectors: mostly relative to the server's state ([`TermSel::Current`],
//! [`IndexSel::End`]), sometimes small absolute values, sometimes extremes (`u64::MAX`), so
//! the fuzzer reaches accepted messages quickly and still tries the overflow corners.

use arbitrary::Arbitrary;
use raft_core::{
    AppendResult, CommandStatus, Entry, Index, LeaderHint, Message, Payload, Rpc, Server,
    ServerChangeStatus, Snapshot, Term,
};

use crate::universe::{address, cid, configuration, data, eid, other_cid, sid};

/// A term, relative to a base term (the server's current term, or the previous entry's).
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum TermSel {
    /// The base term.
    Same,
    /// One more.
    Next,
    /// One less (saturating).
    Prev,
    /// A small absolute term.
    Small(u8),
    /// `u64::MAX`.
    Max,
}

impl TermSel {
    /// The term this selects against `base`.
    pub fn at(self, base: Term) -> Term {
        Term(match self {
            TermSel::Same => base.0,
            TermSel::Next => base.0.saturating_add(1),
            TermSel::Prev => base.0.saturating_sub(1),
            TermSel::Small(n) => u64::from(n),
            TermSel::Max => u64::MAX,
        })
    }

    /// The term this selects against the server's current term.
    pub fn of(self, s: &Server) -> Term {
        self.at(s.term())
    }
}

/// An index, relative to the server's log.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum IndexSel {
    /// The last index in the log (`log_end - 1`).
    Last,
    /// One past the last index.
    End,
    /// The commit index.
    Commit,
    /// The first index held (one past the snapshot).
    Start,
    /// This far past the log end.
    Ahead(u8),
    /// This far before the log end (saturating).
    Behind(u8),
    /// A small absolute index.
    Small(u8),
    /// `u64::MAX`.
    Max,
}

impl IndexSel {
    /// The index this selects in `s`'s log.
    pub fn of(self, s: &Server) -> Index {
        let end = s.log_end().0;
        Index(match self {
            IndexSel::Last => end.saturating_sub(1),
            IndexSel::End => end,
            IndexSel::Commit => s.commit_index().0,
            IndexSel::Start => s.log_start().0,
            IndexSel::Ahead(n) => end.saturating_add(u64::from(n)),
            IndexSel::Behind(n) => end.saturating_sub(u64::from(n)),
            IndexSel::Small(n) => u64::from(n),
            IndexSel::Max => u64::MAX,
        })
    }
}

/// The term to claim for the entry at some index.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum PrevTermSel {
    /// The term the server's log has there (its current term if it has none): a match.
    Matching,
    /// Any other term.
    Other(TermSel),
}

impl PrevTermSel {
    /// The term claimed for `index` in `s`'s log.
    pub fn of(self, s: &Server, index: Index) -> Term {
        match self {
            PrevTermSel::Matching => s.term_at(index).unwrap_or(s.term()),
            PrevTermSel::Other(t) => t.of(s),
        }
    }
}

/// What an entry carries.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum PayloadSpec {
    /// A no-op.
    Noop,
    /// A command with an id.
    Data(u8, u8),
    /// A configuration of the servers in a bit mask.
    Configuration(u8),
    /// An election timer (any value: the core clamps what it reads).
    ElectionTimer(u16),
}

impl PayloadSpec {
    /// The payload.
    pub fn build(self) -> Payload {
        match self {
            PayloadSpec::Noop => Payload::Noop,
            PayloadSpec::Data(id, d) => Payload::Data {
                id: eid(id),
                data: data(d),
            },
            PayloadSpec::Configuration(mask) => Payload::Configuration(configuration(mask)),
            PayloadSpec::ElectionTimer(ms) => Payload::ElectionTimer(u64::from(ms)),
        }
    }
}

/// An entry, its term relative to the term of the entry before it.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub struct EntrySpec {
    /// The term, relative to the previous entry's.
    pub term: TermSel,
    /// What it carries.
    pub payload: PayloadSpec,
}

/// Entries following one with term `prev`, each relative to the one before.
pub fn entries(specs: &[EntrySpec], mut prev: Term) -> Vec<Entry> {
    specs
        .iter()
        .map(|e| {
            prev = e.term.at(prev);
            Entry {
                term: prev,
                payload: e.payload.build(),
            }
        })
        .collect()
}

/// A snapshot a leader might send.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub struct SnapshotSpec {
    /// Its last index.
    pub index: IndexSel,
    /// Its last term.
    pub term: TermSel,
    /// Its last entry id.
    pub eid: u8,
    /// Its configuration, as a bit mask of servers.
    pub servers: u8,
    /// Its election timer.
    pub election_timer: Option<u16>,
    /// The application state.
    pub data: u8,
}

impl SnapshotSpec {
    /// The snapshot, its numbers resolved against `s`.
    pub fn build(self, s: &Server) -> Snapshot {
        Snapshot {
            index: self.index.of(s),
            term: self.term.of(s),
            eid: eid(self.eid),
            servers: configuration(self.servers),
            election_timer: self.election_timer.map(u64::from),
            data: data(self.data),
        }
    }
}

/// The cluster id a message carries.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum ClusterSel {
    /// Ours.
    Ours,
    /// None (a joiner that does not know it yet).
    Absent,
    /// Another cluster's.
    Other,
}

/// The receiver a message names.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum ToSel {
    /// The server under test.
    Me,
    /// Nobody (a joiner's first request).
    Absent,
    /// Server `n` of the cast.
    Server(u8),
}

/// Who sent a message and how it is addressed.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub struct Envelope {
    /// The sender, a server of the cast (0 is the server under test itself).
    pub from: u8,
    /// The cluster id.
    pub cluster: ClusterSel,
    /// The receiver.
    pub to: ToSel,
    /// Whether to add a comment.
    pub comment: bool,
}

impl Envelope {
    /// The sender's number in the cast: peers 1 and 2 most of the time.
    pub fn peer(self) -> usize {
        match self.from % 8 {
            0 => 0,
            3 => 3,
            4 => 4,
            n => 1 + usize::from(n % 2),
        }
    }

    /// A message with `rpc` in this envelope.
    pub fn seal(self, rpc: Rpc) -> Message {
        Message {
            cluster: match self.cluster {
                ClusterSel::Ours => Some(cid()),
                ClusterSel::Absent => None,
                ClusterSel::Other => Some(other_cid()),
            },
            from: sid(self.peer()),
            to: match self.to {
                ToSel::Me => Some(sid(0)),
                ToSel::Absent => None,
                ToSel::Server(n) => Some(sid(usize::from(n))),
            },
            comment: self.comment.then(|| "fuzz".to_owned()),
            rpc,
        }
    }
}

/// A request or reply with every field chosen by the fuzzer.
#[derive(Arbitrary, Clone, Debug)]
pub enum RpcSpec {
    /// `hello` with the address of server `n`.
    Hello(u8),
    /// An append request; `prev` is the index before the entries.
    AppendRequest {
        /// The leader's term.
        term: TermSel,
        /// The index before the entries.
        prev: IndexSel,
        /// The term claimed there.
        prev_term: PrevTermSel,
        /// The leader's commit index.
        commit: IndexSel,
        /// The entries, at most a few.
        entries: Vec<EntrySpec>,
    },
    /// An append reply.
    AppendReply {
        /// The follower's term.
        term: TermSel,
        /// Its log end.
        log_end: IndexSel,
        /// The request's previous index.
        prev: IndexSel,
        /// The request's previous term.
        prev_term: PrevTermSel,
        /// The number of entries.
        n_entries: u8,
        /// 0: ok, 1: inconsistency, else I/O error.
        result: u8,
    },
    /// A vote request.
    VoteRequest {
        /// The candidate's term.
        term: TermSel,
        /// Its last index.
        last: IndexSel,
        /// Its last term.
        last_term: PrevTermSel,
        /// A leadership transfer.
        transfer: bool,
    },
    /// A vote reply for server `vote` (0: the server under test).
    VoteReply {
        /// The voter's term.
        term: TermSel,
        /// Whom it voted for.
        vote: u8,
    },
    /// An add-server request with the address of server `n`.
    AddServerRequest(u8),
    /// An add-server reply.
    AddServerReply {
        /// Success.
        success: bool,
        /// The status, by number.
        status: u8,
        /// Remote addresses, as a bit mask.
        remotes: u8,
    },
    /// A remove-server request for server `n`.
    RemoveServerRequest(u8),
    /// A remove-server reply.
    RemoveServerReply {
        /// Success.
        success: bool,
        /// The status, by number.
        status: u8,
        /// The removed server.
        target: Option<u8>,
        /// The leader named with "not leader".
        leader: Option<u8>,
    },
    /// An install-snapshot request.
    InstallSnapshotRequest {
        /// The leader's term.
        term: TermSel,
        /// The snapshot.
        snapshot: SnapshotSpec,
    },
    /// An install-snapshot reply.
    InstallSnapshotReply {
        /// The follower's term.
        term: TermSel,
        /// The snapshot's last index.
        last: IndexSel,
        /// The snapshot's last term.
        last_term: TermSel,
    },
    /// Become leader now.
    BecomeLeader(TermSel),
    /// A relayed command.
    ExecuteCommandRequest {
        /// The command.
        data: u8,
        /// The prerequisite: the server's last entry id, or a small one.
        prereq: Option<u8>,
        /// The new entry's id.
        result: u8,
    },
    /// The leader's answer to a relayed command.
    ExecuteCommandReply {
        /// The command: one this server relayed (by position), or a small id.
        result: u8,
        /// The status, by number.
        status: u8,
        /// The commit index.
        commit: IndexSel,
    },
}

impl RpcSpec {
    /// The rpc, its numbers resolved against `s`. `relayed` are the ids of commands `s` was
    /// asked to execute, so replies can name one.
    pub fn build(&self, s: &Server, relayed: &[raft_core::EntryId]) -> Rpc {
        match self {
            RpcSpec::Hello(n) => Rpc::Hello {
                address: address(usize::from(*n)),
            },
            RpcSpec::AppendRequest {
                term,
                prev,
                prev_term,
                commit,
                entries: specs,
            } => {
                let prev_index = prev.of(s);
                let prev_term = prev_term.of(s, prev_index);
                Rpc::AppendRequest {
                    term: term.of(s),
                    prev_index,
                    prev_term,
                    leader_commit: commit.of(s),
                    entries: entries(&specs[..specs.len().min(8)], prev_term).into(),
                }
            }
            RpcSpec::AppendReply {
                term,
                log_end,
                prev,
                prev_term,
                n_entries,
                result,
            } => {
                let prev_index = prev.of(s);
                Rpc::AppendReply {
                    term: term.of(s),
                    log_end: log_end.of(s),
                    prev_index,
                    prev_term: prev_term.of(s, prev_index),
                    n_entries: u64::from(*n_entries),
                    result: match result {
                        0 => AppendResult::Ok,
                        1 => AppendResult::Inconsistency,
                        _ => AppendResult::IoError,
                    },
                }
            }
            RpcSpec::VoteRequest {
                term,
                last,
                last_term,
                transfer,
            } => {
                let last_index = last.of(s);
                Rpc::VoteRequest {
                    term: term.of(s),
                    last_index,
                    last_term: last_term.of(s, last_index),
                    leadership_transfer: *transfer,
                }
            }
            RpcSpec::VoteReply { term, vote } => Rpc::VoteReply {
                term: term.of(s),
                vote: sid(usize::from(*vote)),
            },
            RpcSpec::AddServerRequest(n) => Rpc::AddServerRequest {
                address: address(usize::from(*n)),
            },
            RpcSpec::AddServerReply {
                success,
                status,
                remotes,
            } => Rpc::AddServerReply {
                success: *success,
                status: change_status(*status),
                remote_addresses: (0..5)
                    .filter(|i| remotes & (1 << i) != 0)
                    .map(address)
                    .collect(),
            },
            RpcSpec::RemoveServerRequest(n) => Rpc::RemoveServerRequest {
                server: sid(usize::from(*n)),
            },
            RpcSpec::RemoveServerReply {
                success,
                status,
                target,
                leader,
            } => Rpc::RemoveServerReply {
                success: *success,
                status: change_status(*status),
                target: target.map(|n| sid(usize::from(n))),
                leader: leader.map(|n| LeaderHint {
                    sid: sid(usize::from(n)),
                    address: address(usize::from(n)),
                }),
            },
            RpcSpec::InstallSnapshotRequest { term, snapshot } => Rpc::InstallSnapshotRequest {
                term: term.of(s),
                snapshot: snapshot.build(s),
            },
            RpcSpec::InstallSnapshotReply {
                term,
                last,
                last_term,
            } => Rpc::InstallSnapshotReply {
                term: term.of(s),
                last_index: last.of(s),
                last_term: last_term.of(s),
            },
            RpcSpec::BecomeLeader(term) => Rpc::BecomeLeader { term: term.of(s) },
            RpcSpec::ExecuteCommandRequest {
                data: d,
                prereq,
                result,
            } => Rpc::ExecuteCommandRequest {
                data: data(*d),
                prereq: prereq.map_or_else(|| s.last_eid(), eid),
                result: eid(*result),
            },
            RpcSpec::ExecuteCommandReply {
                result,
                status,
                commit,
            } => Rpc::ExecuteCommandReply {
                result: relayed
                    .get(usize::from(*result))
                    .copied()
                    .unwrap_or_else(|| eid(*result)),
                status: command_status(*status),
                commit_index: commit.of(s),
            },
        }
    }
}

/// A command status by number.
pub fn command_status(n: u8) -> CommandStatus {
    CommandStatus::ALL[usize::from(n) % CommandStatus::ALL.len()]
}

/// A membership-change status by number.
pub fn change_status(n: u8) -> ServerChangeStatus {
    ServerChangeStatus::ALL[usize::from(n) % ServerChangeStatus::ALL.len()]
}
