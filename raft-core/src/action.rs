//! Outputs: what the driver must do, drained with [`crate::Server::poll_action`].

use std::fmt;

use crate::{
    Address, CommandStatus, ConnId, Data, EntryId, Header, Index, Message, Record, ServerId, Term,
    WriteTicket,
};

/// Something the driver must carry out, in the order the core emits them.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "every action must be carried out"]
pub enum Action {
    /// Send `message` on `conn`. If the connection is gone, drop the message: Raft tolerates
    /// loss, and the core learns of the loss through `Event::Disconnected`.
    Send {
        /// The connection.
        conn: ConnId,
        /// The message (boxed: actions are moved several times between the core and the
        /// wire, and a message is the largest thing they carry).
        message: Box<Message>,
    },
    /// Append `records` to the log. Report `Event::Persisted { ticket }` once they (and every
    /// earlier write) are durable. Many writes may share one fsync.
    WriteLog {
        /// This write's ticket.
        ticket: WriteTicket,
        /// The records, in order.
        records: Vec<Record>,
    },
    /// Atomically replace the whole log with `header` followed by `records` (a snapshot or a
    /// compaction, S9). Earlier `WriteLog`s are superseded. Report `Event::Persisted` as for a
    /// write.
    ReplaceLog {
        /// This write's ticket.
        ticket: WriteTicket,
        /// The new header, carrying the snapshot.
        header: Box<Header>,
        /// The records that follow it.
        records: Vec<Record>,
    },
    /// Reset the application's state to this snapshot (N6: an unread snapshot comes first).
    ApplySnapshot {
        /// The last index the snapshot covers.
        index: Index,
        /// The id of the last entry with data it covers.
        eid: EntryId,
        /// The application state.
        data: Data,
    },
    /// Apply one committed entry with data to the application (N6). Entries come in log order,
    /// each once per process lifetime (after a restart the application rebuilds its state
    /// from the snapshot and the log).
    Apply {
        /// The entry's index.
        index: Index,
        /// The entry's id.
        eid: EntryId,
        /// The command.
        data: Data,
    },
    /// A command executed on this server finished (C2).
    CommandDone {
        /// The entry id returned by [`crate::Server::execute`].
        eid: EntryId,
        /// How it ended.
        status: CommandStatus,
        /// Where it committed, on success.
        index: Option<Index>,
    },
    /// Keep an outgoing connection to `address` open, reconnecting with backoff, and report
    /// each established connection with `Event::Connected` (M11).
    Connect {
        /// The address.
        address: Address,
    },
    /// Stop keeping the outgoing connection to `address`; close it.
    Disconnect {
        /// The address.
        address: Address,
    },
    /// Something the application or the operator may want to know.
    Notify(Notice),
    /// A line for the server's log.
    Log {
        /// How important it is.
        level: LogLevel,
        /// The text, naming servers by nickname (W2).
        text: String,
    },
    /// A failure test asked for a crash here (A3): the driver should abort the process without
    /// carrying out any later action. The core does nothing more.
    Crash {
        /// The crash point.
        reason: &'static str,
    },
}

/// Changes of state worth telling the application about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// This server's role changed.
    RoleChanged {
        /// The new role.
        role: Role,
        /// The current term.
        term: Term,
    },
    /// The known leader changed (`None`: unknown).
    LeaderChanged {
        /// The leader.
        leader: Option<ServerId>,
        /// The current term.
        term: Term,
    },
    /// The election timer took a new value (adapters derive probe intervals from it).
    ElectionTimerChanged {
        /// The new value in milliseconds.
        ms: u64,
    },
    /// A join finished: this server is a member now (M7).
    Joined,
    /// This server left the cluster for good (M8); it does nothing more.
    Left,
    /// A write failed; the server stopped (S10).
    Failed {
        /// What went wrong.
        reason: String,
    },
}

/// A Raft role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Follows a leader, or waits for one.
    Follower,
    /// Seeks election.
    Candidate,
    /// Leads.
    Leader,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Follower => "follower",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
        })
    }
}

/// The importance of a log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// Details for debugging.
    Debug,
    /// Normal but notable events.
    Info,
    /// Something unexpected that the server handled.
    Warn,
    /// Something that should not happen.
    Error,
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogLevel::Debug => "DBG",
            LogLevel::Info => "INFO",
            LogLevel::Warn => "WARN",
            LogLevel::Error => "ERR",
        })
    }
}
