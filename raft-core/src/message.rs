//! Wire messages: one per RPC of the reference, each with the cluster and both server ids (W1).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Address, ClusterId, Data, Entry, EntryId, Index, ServerId, Snapshot, Term};

/// One message between two servers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Message {
    /// The sender's cluster; absent only from a server joining a cluster whose id it does not
    /// know yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterId>,
    /// The sender.
    pub from: ServerId,
    /// The receiver; absent when the sender does not know who is at the other end (a joining
    /// server's first request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<ServerId>,
    /// A remark for logs, such as why an append was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The request or reply.
    pub rpc: Rpc,
}

/// The requests and replies of the protocol.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Rpc {
    /// Sent on every new outgoing connection so the other end learns who and where we are.
    Hello {
        /// The sender's address.
        address: Address,
    },
    /// Raft's AppendEntries: new entries, or none as a heartbeat (R1).
    AppendRequest {
        /// The leader's term.
        term: Term,
        /// The index just before the first entry.
        prev_index: Index,
        /// The term at `prev_index`.
        prev_term: Term,
        /// The leader's commit index.
        leader_commit: Index,
        /// The entries, starting at `prev_index + 1`. Shared, because a leader sends the same
        /// entries to every follower that lacks them and one copy serves them all.
        entries: Arc<[Entry]>,
    },
    /// The answer to an append request (R3).
    AppendReply {
        /// The follower's term.
        term: Term,
        /// The follower's log end (one past its last entry).
        log_end: Index,
        /// The request's `prev_index`.
        prev_index: Index,
        /// The request's `prev_term`.
        prev_term: Term,
        /// The number of entries in the request.
        n_entries: u64,
        /// What happened.
        result: AppendResult,
    },
    /// Raft's RequestVote (E2).
    VoteRequest {
        /// The candidate's term.
        term: Term,
        /// The index of the candidate's last entry.
        last_index: Index,
        /// The term of the candidate's last entry.
        last_term: Term,
        /// True when the leader asked for this election: never ignored (E7, E10).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        leadership_transfer: bool,
    },
    /// The answer to a vote request: the server the sender voted for in `term` (E3).
    VoteReply {
        /// The voter's term.
        term: Term,
        /// Whom it voted for.
        vote: ServerId,
    },
    /// A joining server asks to be added (M1, M7).
    AddServerRequest {
        /// The joining server's address.
        address: Address,
    },
    /// The answer to an add-server request.
    AddServerReply {
        /// True once the server is in the configuration.
        success: bool,
        /// Why, in the reference's words.
        status: ServerChangeStatus,
        /// Other servers of the cluster, so a joiner can try them (M7).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        remote_addresses: Vec<Address>,
    },
    /// Asks the leader to remove `server` (M4, M8, M9).
    RemoveServerRequest {
        /// The server to remove.
        server: ServerId,
    },
    /// The answer to a remove-server request.
    RemoveServerReply {
        /// True once the removal committed.
        success: bool,
        /// Why, in the reference's words.
        status: ServerChangeStatus,
        /// The removed server, when the receiver is not itself the one removed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<ServerId>,
        /// With "not leader", the leader the answering follower knows, so that a leaving
        /// server whose configuration no longer names the leader can still reach it. Beyond
        /// the reference, whose reply has no such field (raft-sim churn seed 15453).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        leader: Option<LeaderHint>,
    },
    /// Raft's InstallSnapshot, in one piece (N4).
    InstallSnapshotRequest {
        /// The leader's term.
        term: Term,
        /// The snapshot, with the leader's current election timer.
        snapshot: Snapshot,
    },
    /// The answer to an install-snapshot request (N5).
    InstallSnapshotReply {
        /// The follower's term.
        term: Term,
        /// The snapshot's last index.
        last_index: Index,
        /// The snapshot's last term.
        last_term: Term,
    },
    /// The leader asks the receiver to start an election at once (E10).
    BecomeLeader {
        /// The leader's term.
        term: Term,
    },
    /// A follower relays a client's command to the leader (C4).
    ExecuteCommandRequest {
        /// The command.
        data: Data,
        /// The entry id the last entry with data must have (C3).
        prereq: EntryId,
        /// The id the new entry gets.
        result: EntryId,
    },
    /// The leader's answer to a relayed command, or a ping while it is incomplete (C5, R6).
    ExecuteCommandReply {
        /// The command's entry id.
        result: EntryId,
        /// Its status.
        status: CommandStatus,
        /// Where it committed, on success.
        commit_index: Index,
    },
}

impl Rpc {
    /// The term the message carries; replies and requests about commands and membership carry
    /// none.
    pub fn term(&self) -> Option<Term> {
        match self {
            Rpc::AppendRequest { term, .. }
            | Rpc::AppendReply { term, .. }
            | Rpc::VoteRequest { term, .. }
            | Rpc::VoteReply { term, .. }
            | Rpc::InstallSnapshotRequest { term, .. }
            | Rpc::InstallSnapshotReply { term, .. }
            | Rpc::BecomeLeader { term } => Some(*term),
            _ => None,
        }
    }

    /// A short name for logs and counters.
    pub fn name(&self) -> &'static str {
        match self {
            Rpc::Hello { .. } => "hello",
            Rpc::AppendRequest { .. } => "append_request",
            Rpc::AppendReply { .. } => "append_reply",
            Rpc::VoteRequest { .. } => "vote_request",
            Rpc::VoteReply { .. } => "vote_reply",
            Rpc::AddServerRequest { .. } => "add_server_request",
            Rpc::AddServerReply { .. } => "add_server_reply",
            Rpc::RemoveServerRequest { .. } => "remove_server_request",
            Rpc::RemoveServerReply { .. } => "remove_server_reply",
            Rpc::InstallSnapshotRequest { .. } => "install_snapshot_request",
            Rpc::InstallSnapshotReply { .. } => "install_snapshot_reply",
            Rpc::BecomeLeader { .. } => "become_leader",
            Rpc::ExecuteCommandRequest { .. } => "execute_command_request",
            Rpc::ExecuteCommandReply { .. } => "execute_command_reply",
        }
    }
}

/// A server's id and address: where a leader can be reached.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaderHint {
    /// The leader's id.
    pub sid: ServerId,
    /// Where it listens.
    pub address: Address,
}

/// The outcome of an append request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppendResult {
    /// The entries are in the follower's log (once this reply is sent, durably).
    Ok,
    /// The previous entry did not match, or the term was stale.
    Inconsistency,
    /// The follower could not write (not retried at once, R3).
    IoError,
}

macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The stable text form.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownText;

            fn from_str(s: &str) -> Result<$name, UnknownText> {
                $name::ALL.iter().copied().find(|v| v.as_str() == s).ok_or(UnknownText)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(|_| serde::de::Error::custom(format!("unknown status {s:?}")))
            }
        }
    };
}

text_enum!(
    /// The status of a command, with the reference's text forms (C2).
    CommandStatus {
        /// Still in progress (only seen in pings from the leader).
        Incomplete => "operation still in progress",
        /// Committed.
        Success => "success",
        /// This server is not the leader and could not relay.
        NotLeader => "not leader",
        /// The prerequisite did not match the last entry with data (C3).
        BadPrerequisite => "prerequisite check failed",
        /// The leader that took the command lost leadership before it committed.
        LostLeadership => "lost leadership",
        /// The server is joining, leaving, left, failed or closing (C8).
        Shutdown => "server shutdown",
        /// A write failed (S10).
        IoError => "I/O error",
        /// No answer within two election timers (C7).
        Timeout => "timeout",
    }
);

text_enum!(
    /// Why an add-server or remove-server request succeeded or failed (M1, M4).
    ServerChangeStatus {
        /// The receiver is not the leader.
        NotLeader => "not leader",
        /// The leader stepped down before finishing (M6).
        LostLeadership => "lost leadership",
        /// A pending opposite change was cancelled instead.
        Canceled => "canceled",
        /// The change is being committed.
        Committing => "committing",
        /// The same change is already in progress.
        InProgress => "in progress",
        /// The server is already a member.
        AlreadyPresent => "already in cluster",
        /// The server is already not a member.
        AlreadyGone => "already not in cluster",
        /// Removing it would leave no server.
        Empty => "empty",
        /// The leader is shutting down.
        Shutdown => "server shutdown",
        /// Done.
        Completed => "completed",
    }
);

/// A text that names no known status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownText;

impl fmt::Display for UnknownText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown status text")
    }
}

impl std::error::Error for UnknownText {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c2_command_status_text_forms_are_stable() {
        let texts: Vec<_> = CommandStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            texts,
            [
                "operation still in progress",
                "success",
                "not leader",
                "prerequisite check failed",
                "lost leadership",
                "server shutdown",
                "I/O error",
                "timeout"
            ]
        );
        for s in CommandStatus::ALL {
            assert_eq!(s.as_str().parse::<CommandStatus>(), Ok(*s));
            let j = serde_json::to_string(s).unwrap();
            assert_eq!(serde_json::from_str::<CommandStatus>(&j).unwrap(), *s);
        }
        assert!("nonsense".parse::<CommandStatus>().is_err());
    }

    #[test]
    fn w1_every_message_names_cluster_and_both_servers() {
        let m = Message {
            cluster: Some(ClusterId::from_u128(7)),
            from: ServerId::from_u128(1),
            to: Some(ServerId::from_u128(2)),
            comment: None,
            rpc: Rpc::BecomeLeader { term: Term(3) },
        };
        let j = serde_json::to_string(&m).unwrap();
        assert!(
            j.contains("\"cluster\"") && j.contains("\"from\"") && j.contains("\"to\""),
            "{j}"
        );
        assert_eq!(serde_json::from_str::<Message>(&j).unwrap(), m);
    }
}
