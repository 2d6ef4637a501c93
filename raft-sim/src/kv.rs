//! The replicated application: a small key-value map. Commands are the checker's [`Op`]s
//! encoded as one line of text (`put k v`, `get k`, `cas k old|~ new`, `del k`); reads are
//! commands too, so they go through the log and are linearizable. A snapshot is the map as
//! JSON.

use std::collections::BTreeMap;

use raft_core::Data;

use crate::linearizability::{Op, Response};

/// Stands for "missing" as the expected value of a compare-and-swap.
const MISSING: &str = "~";

/// Encodes `op` as command data.
pub fn encode(op: &Op) -> Data {
    let text = match op {
        Op::Put { key, value } => format!("put {key} {value}"),
        Op::Get { key } => format!("get {key}"),
        Op::Cas { key, expected, new } => {
            format!("cas {key} {} {new}", expected.as_deref().unwrap_or(MISSING))
        }
        Op::Delete { key } => format!("del {key}"),
    };
    Data::from(text.as_str())
}

/// Decodes command data; `None` if it is not a command this application knows.
pub fn decode(data: &[u8]) -> Option<Op> {
    let text = std::str::from_utf8(data).ok()?;
    let words: Vec<&str> = text.split(' ').collect();
    let op = match words.as_slice() {
        ["put", key, value] => Op::put(*key, *value),
        ["get", key] => Op::get(*key),
        ["cas", key, expected, new] => {
            Op::cas(*key, Some(*expected).filter(|e| *e != MISSING), *new)
        }
        ["del", key] => Op::delete(*key),
        _ => return None,
    };
    Some(op)
}

/// One server's copy of the map.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Kv {
    map: BTreeMap<String, String>,
}

impl Kv {
    /// Applies `op` and returns what its client is told.
    pub fn apply(&mut self, op: &Op) -> Response {
        match op {
            Op::Put { key, value } => {
                self.map.insert(key.clone(), value.clone());
                Response::Ok
            }
            Op::Get { key } => Response::Value(self.map.get(key).cloned()),
            Op::Cas { key, expected, new } => {
                let swap = self.map.get(key) == expected.as_ref();
                if swap {
                    self.map.insert(key.clone(), new.clone());
                }
                Response::Cas(swap)
            }
            Op::Delete { key } => {
                self.map.remove(key);
                Response::Ok
            }
        }
    }

    /// What `op` would answer now, without applying it (a read served locally).
    pub fn peek(&self, key: &str) -> Option<String> {
        self.map.get(key).cloned()
    }

    /// The map as snapshot data.
    pub fn snapshot(&self) -> Data {
        Data::from(serde_json::to_vec(&self.map).unwrap_or_default())
    }

    /// The map a snapshot holds; `None` if the data is not one of ours. The empty data of a
    /// new cluster's first snapshot is the empty map.
    pub fn restore(data: &Data) -> Option<Kv> {
        if data.is_empty() {
            return Some(Kv::default());
        }
        serde_json::from_slice(data.as_bytes())
            .ok()
            .map(|map| Kv { map })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_round_trip() {
        for op in [
            Op::put("k1", "c1-1"),
            Op::get("k1"),
            Op::cas("k2", None, "c2-1"),
            Op::cas("k2", Some("c2-1"), "c2-2"),
            Op::delete("k3"),
        ] {
            assert_eq!(decode(encode(&op).as_bytes()), Some(op));
        }
        assert_eq!(decode(b"frobnicate k"), None);
        assert_eq!(decode(&[0xff]), None);
    }

    #[test]
    fn map_semantics_and_snapshots() {
        let mut kv = Kv::default();
        assert_eq!(kv.apply(&Op::get("a")), Response::Value(None));
        assert_eq!(kv.apply(&Op::cas("a", None, "1")), Response::Cas(true));
        assert_eq!(kv.apply(&Op::cas("a", None, "2")), Response::Cas(false));
        assert_eq!(kv.apply(&Op::put("b", "3")), Response::Ok);
        let copy = Kv::restore(&kv.snapshot()).unwrap();
        assert_eq!(copy, kv);
        assert_eq!(kv.apply(&Op::delete("a")), Response::Ok);
        assert_eq!(kv.peek("a"), None);
        assert_eq!(Kv::restore(&Data::default()), Some(Kv::default()));
        assert_eq!(Kv::restore(&Data::from("nope")), None);
    }
}
