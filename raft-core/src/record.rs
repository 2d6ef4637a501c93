//! The persistent format: a header followed by records (S5).
//!
//! Adapters store these values and hand them back to [`crate::Server::open`]; how they frame
//! bytes is their business.

use serde::{Deserialize, Serialize};

use crate::{Address, ClusterId, Configuration, Data, Entry, EntryId, Index, ServerId, Term};

/// The first value of every log: who this server is and where its log starts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// This server's id.
    pub server_id: ServerId,
    /// The cluster id; `None` while joining a cluster whose id was not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<ClusterId>,
    /// The cluster's name (the database schema name in OVSDB).
    pub name: String,
    /// The address other servers reach this one at.
    pub local_address: Address,
    /// Set while joining: the addresses of servers to ask (S2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joining: Option<Vec<Address>>,
    /// The snapshot the log starts after; absent only while joining.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<Snapshot>,
}

/// The state of the cluster as of one log index: everything before it was discarded (S9).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// The last index the snapshot covers; the log starts at `index + 1`.
    pub index: Index,
    /// The term of the entry at `index`.
    pub term: Term,
    /// The id of the last entry with data at or before `index` (the prerequisite of C3).
    pub eid: EntryId,
    /// The configuration as of `index`.
    pub servers: Configuration,
    /// The election timer as of `index`, if it was ever changed from the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub election_timer: Option<u64>,
    /// The application's state.
    pub data: Data,
}

/// One record after the header (S5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Record {
    /// A log entry at `index`. An index below the current end truncates the log there first
    /// (S6).
    Entry {
        /// Where the entry goes.
        index: Index,
        /// The entry.
        #[serde(flatten)]
        entry: Entry,
    },
    /// The current term, with no vote yet.
    Term {
        /// The term.
        term: Term,
    },
    /// The current term and this server's vote in it.
    Vote {
        /// The term.
        term: Term,
        /// The server voted for.
        vote: ServerId,
    },
    /// A remark; the note "left" means this server left the cluster for good (M8).
    Note {
        /// A machine-readable word: "left", "transfer leadership".
        note: String,
        /// A human-readable explanation.
        comment: String,
    },
    /// The commit index, written whenever it advances (S7).
    CommitIndex {
        /// The commit index.
        index: Index,
    },
    /// The leader of a term, for offline analysis (S8).
    Leader {
        /// The term.
        term: Term,
        /// Its leader.
        leader: ServerId,
    },
}

impl Record {
    /// The term the record mentions, if any.
    pub fn term(&self) -> Option<Term> {
        match self {
            Record::Entry { entry, .. } => Some(entry.term),
            Record::Term { term } | Record::Vote { term, .. } | Record::Leader { term, .. } => {
                Some(*term)
            }
            Record::Note { .. } | Record::CommitIndex { .. } => None,
        }
    }
}

/// The note that marks a server that left its cluster.
pub const NOTE_LEFT: &str = "left";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Payload;

    #[test]
    fn s5_record_kinds_round_trip() {
        let recs = vec![
            Record::Entry {
                index: Index(2),
                entry: Entry {
                    term: Term(1),
                    payload: Payload::Data {
                        id: EntryId::from_u128(9),
                        data: Data::from("a"),
                    },
                },
            },
            Record::Entry {
                index: Index(3),
                entry: Entry {
                    term: Term(1),
                    payload: Payload::Noop,
                },
            },
            Record::Term { term: Term(2) },
            Record::Vote {
                term: Term(2),
                vote: ServerId::from_u128(1),
            },
            Record::Note {
                note: "left".into(),
                comment: "bye".into(),
            },
            Record::CommitIndex { index: Index(3) },
            Record::Leader {
                term: Term(2),
                leader: ServerId::from_u128(1),
            },
        ];
        for r in recs {
            let j = serde_json::to_string(&r).unwrap();
            assert_eq!(serde_json::from_str::<Record>(&j).unwrap(), r, "{j}");
        }
        let j = serde_json::to_string(&Record::Entry {
            index: Index(3),
            entry: Entry {
                term: Term(1),
                payload: Payload::ElectionTimer(2000),
            },
        })
        .unwrap();
        assert_eq!(j, r#"{"entry":{"index":3,"term":1,"election_timer":2000}}"#);
    }

    #[test]
    fn bad_entry_record_is_refused() {
        let bad = r#"{"entry":{"index":3,"term":1,"data":"eA=="}}"#;
        assert!(serde_json::from_str::<Record>(bad).is_err());
    }
}
