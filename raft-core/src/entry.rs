//! Log entries and server configurations.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Address, Data, EntryId, ServerId, Term};

/// The servers of a cluster and their addresses: the configuration of Raft §4.
///
/// Serialized as a JSON object from server id to address, as the reference stores it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Configuration(pub BTreeMap<ServerId, Address>);

impl Configuration {
    /// A configuration of one server.
    pub fn single(sid: ServerId, address: Address) -> Configuration {
        Configuration(BTreeMap::from([(sid, address)]))
    }

    /// True if `sid` is a member.
    pub fn contains(&self, sid: ServerId) -> bool {
        self.0.contains_key(&sid)
    }

    /// The number of servers.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True if there are no servers (never true of a valid cluster).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The address of `sid`, if it is a member.
    pub fn address(&self, sid: ServerId) -> Option<&Address> {
        self.0.get(&sid)
    }

    /// Members in id order.
    pub fn iter(&self) -> impl Iterator<Item = (ServerId, &Address)> {
        self.0.iter().map(|(s, a)| (*s, a))
    }

    /// True if a strict majority of this configuration's servers satisfy `f`.
    pub fn is_majority(&self, count: usize) -> bool {
        count > self.0.len() / 2
    }
}

/// What a log entry carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    /// Nothing: the no-op a new leader appends (Raft §6.4).
    Noop,
    /// A command for the application, with the id it was executed under.
    Data {
        /// The entry id (C1).
        id: EntryId,
        /// The opaque command.
        data: Data,
    },
    /// A new server configuration (M5: effective as soon as it is appended).
    Configuration(Configuration),
    /// A new election timer in milliseconds (M10: effective when committed).
    ElectionTimer(u64),
}

/// One entry of the replicated log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "EntryRepr", into = "EntryRepr")]
pub struct Entry {
    /// The term of the leader that created the entry.
    pub term: Term,
    /// What it carries.
    pub payload: Payload,
}

impl Entry {
    /// The entry id, for entries that carry data.
    pub fn data_id(&self) -> Option<EntryId> {
        match &self.payload {
            Payload::Data { id, .. } => Some(*id),
            _ => None,
        }
    }

    /// The configuration, for configuration entries.
    pub fn configuration(&self) -> Option<&Configuration> {
        match &self.payload {
            Payload::Configuration(c) => Some(c),
            _ => None,
        }
    }

    /// An estimate of the bytes this entry costs on the wire, for flow control.
    pub fn wire_size(&self) -> usize {
        const OVERHEAD: usize = 64;
        match &self.payload {
            Payload::Data { data, .. } => OVERHEAD + data.len().div_ceil(3) * 4,
            Payload::Configuration(c) => OVERHEAD + 64 * c.len(),
            Payload::Noop | Payload::ElectionTimer(_) => OVERHEAD,
        }
    }
}

/// The flat JSON shape of an entry: `{"term":3,"eid":…,"data":…}`, `{"term":3,"servers":{…}}`,
/// `{"term":3,"election_timer":2000}` or `{"term":3}` for a no-op.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryRepr {
    term: Term,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    eid: Option<EntryId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data: Option<Data>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    servers: Option<Configuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    election_timer: Option<u64>,
}

impl TryFrom<EntryRepr> for Entry {
    type Error = &'static str;

    fn try_from(r: EntryRepr) -> Result<Entry, &'static str> {
        let payload = match (r.eid, r.data, r.servers, r.election_timer) {
            (None, None, None, None) => Payload::Noop,
            (Some(id), Some(data), None, None) => Payload::Data { id, data },
            (None, None, Some(c), None) if !c.is_empty() => Payload::Configuration(c),
            (None, None, None, Some(t)) => Payload::ElectionTimer(t),
            (_, _, Some(c), _) if c.is_empty() => return Err("entry with an empty configuration"),
            _ => return Err("entry must carry one of: eid+data, servers, election_timer"),
        };
        Ok(Entry {
            term: r.term,
            payload,
        })
    }
}

impl From<Entry> for EntryRepr {
    fn from(e: Entry) -> EntryRepr {
        let mut r = EntryRepr {
            term: e.term,
            eid: None,
            data: None,
            servers: None,
            election_timer: None,
        };
        match e.payload {
            Payload::Noop => {}
            Payload::Data { id, data } => {
                r.eid = Some(id);
                r.data = Some(data);
            }
            Payload::Configuration(c) => r.servers = Some(c),
            Payload::ElectionTimer(t) => r.election_timer = Some(t),
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sid(n: u128) -> ServerId {
        ServerId::from_u128(n)
    }

    #[test]
    fn s5_entry_json_shapes() {
        let noop = Entry {
            term: Term(3),
            payload: Payload::Noop,
        };
        assert_eq!(serde_json::to_string(&noop).unwrap(), r#"{"term":3}"#);
        let data = Entry {
            term: Term(4),
            payload: Payload::Data {
                id: EntryId::from_u128(1),
                data: Data::from("x"),
            },
        };
        let j = serde_json::to_string(&data).unwrap();
        assert_eq!(
            j,
            r#"{"term":4,"eid":"00000000-0000-0000-0000-000000000001","data":"eA=="}"#
        );
        assert_eq!(serde_json::from_str::<Entry>(&j).unwrap(), data);
        let conf = Entry {
            term: Term(1),
            payload: Payload::Configuration(Configuration::single(
                sid(2),
                Address::parse("tcp:127.0.0.1:1").unwrap(),
            )),
        };
        let j = serde_json::to_string(&conf).unwrap();
        assert_eq!(serde_json::from_str::<Entry>(&j).unwrap(), conf);
    }

    #[test]
    fn contradictory_entries_are_refused() {
        for bad in [
            r#"{"term":1,"eid":"00000000-0000-0000-0000-000000000001"}"#,
            r#"{"term":1,"data":"eA=="}"#,
            r#"{"term":1,"servers":{}}"#,
            r#"{"term":1,"election_timer":5,"data":"eA=="}"#,
            r#"{"term":1,"bogus":1}"#,
        ] {
            assert!(serde_json::from_str::<Entry>(bad).is_err(), "{bad}");
        }
    }
}
