//! Error types. Small enums with hand-written `Display`; no I/O types.

use std::fmt;

use crate::{AddressError, Index, Nickname, Term};

/// A configuration value that would stop the server from making progress.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A limit that must be positive is zero.
    Zero(&'static str),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Zero(name) => write!(f, "{name} must be positive"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Why a header and its records could not be opened (S4). Record numbers count from 1, the
/// first record after the header.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpenError {
    /// The header is inconsistent.
    BadHeader(&'static str),
    /// An entry would truncate committed entries.
    TruncatesCommitted {
        /// The record number.
        record: u64,
        /// The log end before the record.
        log_end: Index,
        /// The record's index.
        index: Index,
        /// The commit index.
        commit_index: Index,
    },
    /// An entry's index leaves a gap.
    SkipsPastEnd {
        /// The record number.
        record: u64,
        /// The record's index.
        index: Index,
        /// The index expected.
        expected: Index,
    },
    /// An entry's term is lower than the previous entry's.
    TermRegresses {
        /// The record number.
        record: u64,
        /// The record's index.
        index: Index,
        /// The record's term.
        term: Term,
        /// The previous entry's term.
        prev_term: Term,
    },
    /// A vote for a term older than the current one.
    VoteForOldTerm {
        /// The record number.
        record: u64,
        /// The vote's term.
        term: Term,
        /// The current term.
        current: Term,
    },
    /// A second, different vote in one term.
    SecondVote {
        /// The record number.
        record: u64,
        /// The term.
        term: Term,
        /// The earlier vote.
        first: Nickname,
        /// The later vote.
        second: Nickname,
    },
    /// The server left its cluster and cannot come back (M8).
    Left {
        /// The record number.
        record: u64,
    },
    /// The commit index goes backwards.
    CommitRegresses {
        /// The record number.
        record: u64,
        /// The commit index before.
        from: Index,
        /// The record's commit index.
        to: Index,
    },
    /// The commit index points past the log.
    CommitPastEnd {
        /// The record number.
        record: u64,
        /// The record's commit index.
        index: Index,
        /// The last index of the log.
        last: Index,
    },
    /// The server is not in its own configuration.
    NotInConfiguration,
    /// The configuration given to `open` is invalid.
    Config(ConfigError),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use OpenError::*;
        match self {
            BadHeader(why) => write!(f, "bad log header: {why}"),
            TruncatesCommitted {
                record,
                log_end,
                index,
                commit_index,
            } => write!(
                f,
                "record {record} attempts to truncate log from {log_end} to {index} entries, \
                 but commit index is already {commit_index}"
            ),
            SkipsPastEnd {
                record,
                index,
                expected,
            } => {
                write!(
                    f,
                    "record {record} with index {index} skips past expected index {expected}"
                )
            }
            TermRegresses {
                record,
                index,
                term,
                prev_term,
            } => write!(
                f,
                "record {record} with index {index} term {term} precedes previous entry's term \
                 {prev_term}"
            ),
            VoteForOldTerm {
                record,
                term,
                current,
            } => {
                write!(
                    f,
                    "record {record} votes for term {term} but current term is {current}"
                )
            }
            SecondVote {
                record,
                term,
                first,
                second,
            } => write!(
                f,
                "record {record} votes for {second} in term {term} but a previous record for the \
                 same term voted for {first}"
            ),
            Left { record } => write!(
                f,
                "record {record} indicates server has left the cluster; it cannot be added back \
                 (use \"join-cluster\" to add a new server)"
            ),
            CommitRegresses { record, from, to } => {
                write!(
                    f,
                    "record {record} regresses commit index from {from} to {to}"
                )
            }
            CommitPastEnd {
                record,
                index,
                last,
            } => write!(
                f,
                "record {record} advances commit index to {index} but last log index is {last}"
            ),
            NotInConfiguration => f.write_str("server does not belong to cluster"),
            Config(e) => write!(f, "invalid configuration: {e}"),
        }
    }
}

impl std::error::Error for OpenError {}

/// Why a new cluster or a join could not be set up (S1, S2).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BootstrapError {
    /// An address is malformed.
    Address(AddressError),
    /// The election timer is out of range.
    ElectionTimer(u64),
    /// A remote address equals the local one.
    RemoteIsLocal,
    /// No remote address was given.
    NoRemotes,
    /// The cluster id is all zeros.
    ZeroClusterId,
}

impl fmt::Display for BootstrapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BootstrapError::Address(e) => e.fmt(f),
            BootstrapError::ElectionTimer(ms) => {
                write!(
                    f,
                    "election timer must be between 100 and 600000, in msec (got {ms})"
                )
            }
            BootstrapError::RemoteIsLocal => {
                f.write_str("remote addresses cannot be the same as the local address")
            }
            BootstrapError::NoRemotes => f.write_str("at least one remote address is required"),
            BootstrapError::ZeroClusterId => f.write_str("all-zero UUID is not valid cluster ID"),
        }
    }
}

impl std::error::Error for BootstrapError {}

impl From<AddressError> for BootstrapError {
    fn from(e: AddressError) -> BootstrapError {
        BootstrapError::Address(e)
    }
}

/// Why an administrative request was refused (A2), in the reference's words.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdminError {
    /// Only the leader changes the election timer.
    TimerNotLeader,
    /// An election timer change is still pending.
    TimerChangePending,
    /// The election timer is out of 100..=600000.
    TimerOutOfRange,
    /// The election timer may at most double at once.
    TimerIncreaseTooLarge,
    /// Already leaving.
    AlreadyLeaving,
    /// Cannot leave while joining.
    LeaveWhileJoining,
    /// Cannot leave after a failure.
    LeaveAfterFailure,
    /// No server, or more than one, matches the name given.
    UnknownServer,
    /// The leader refused the removal.
    RemovalFailed(String),
    /// No connection to the leader to relay a removal.
    RemovalNotSent,
    /// The backlog threshold is out of range.
    BacklogOutOfRange,
    /// The failure test name is unknown.
    UnknownFailureTest,
    /// The server has stopped (left or failed).
    Stopped,
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use AdminError::*;
        match self {
            TimerNotLeader => f.write_str("election timer must be changed through leader."),
            TimerChangePending => f.write_str("election timer change pending."),
            TimerOutOfRange => {
                f.write_str("election timer must be between 100 and 600000, in msec.")
            }
            TimerIncreaseTooLarge => {
                f.write_str("election timer increase should not exceed the current value x 2.")
            }
            AlreadyLeaving => f.write_str("already in progress leaving cluster"),
            LeaveWhileJoining => f.write_str("can't leave while join in progress"),
            LeaveAfterFailure => f.write_str("can't leave after failure"),
            UnknownServer => f.write_str("unknown server"),
            RemovalFailed(text) => f.write_str(text),
            RemovalNotSent => f.write_str("failed to send removal request"),
            BacklogOutOfRange => f.write_str("values out of range"),
            UnknownFailureTest => f.write_str("unknown test scenario"),
            Stopped => f.write_str("server has stopped"),
        }
    }
}

impl std::error::Error for AdminError {}

/// Why a snapshot was refused (N1).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SnapshotError {
    /// Joining.
    Joining,
    /// Leaving.
    Leaving,
    /// Left.
    Left,
    /// Failed.
    Failed,
    /// The snapshot would not be newer than the current one.
    Duplicate,
    /// The index given has not been applied (beyond the reference, which trusts the caller).
    NotApplied {
        /// The index asked for.
        index: Index,
        /// The last applied index.
        applied: Index,
    },
    /// No configuration is known at the index (beyond the reference): a server that joined
    /// through appends rather than a snapshot knows none before its first configuration
    /// entry, and a header without one could never be opened again.
    NoConfiguration {
        /// The index asked for.
        index: Index,
    },
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotError::Joining => f.write_str("cannot store a snapshot while joining cluster"),
            SnapshotError::Leaving => f.write_str("cannot store a snapshot while leaving cluster"),
            SnapshotError::Left => f.write_str("cannot store a snapshot after leaving cluster"),
            SnapshotError::Failed => f.write_str("cannot store a snapshot following failure"),
            SnapshotError::Duplicate => f.write_str("not storing a duplicate snapshot"),
            SnapshotError::NotApplied { index, applied } => {
                write!(
                    f,
                    "cannot snapshot at index {index}: only {applied} applied"
                )
            }
            SnapshotError::NoConfiguration { index } => {
                write!(
                    f,
                    "cannot snapshot at index {index}: no configuration there"
                )
            }
        }
    }
}

impl std::error::Error for SnapshotError {}
