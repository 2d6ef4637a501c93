//! The key-value state machine.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use raft_core::Index;
use serde::{Deserialize, Serialize};

use crate::StateMachine;

/// An operation on the store, as a command in the log (JSON).
///
/// Its strings are [`Cow`]s: decoded from JSON, they borrow from the JSON where they can (no
/// escapes), so checking a client's command and carrying one out allocate nothing but what
/// the store keeps. Build one with owned or borrowed strings alike: `key: "a".into()`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum KvCommand<'a> {
    /// Sets `key` to `value`.
    Put {
        /// The key.
        #[serde(borrow)]
        key: Cow<'a, str>,
        /// The new value.
        #[serde(borrow)]
        value: Cow<'a, str>,
    },
    /// Reads `key`.
    Get {
        /// The key.
        #[serde(borrow)]
        key: Cow<'a, str>,
    },
    /// Sets `key` to `new` if its value is `old` (`None`: if it is missing).
    Cas {
        /// The key.
        #[serde(borrow)]
        key: Cow<'a, str>,
        /// The value expected.
        #[serde(borrow)]
        old: Option<Cow<'a, str>>,
        /// The value to set.
        #[serde(borrow)]
        new: Cow<'a, str>,
    },
    /// Removes `key`.
    Delete {
        /// The key.
        #[serde(borrow)]
        key: Cow<'a, str>,
    },
}

/// The store's answer to a command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum KvReply {
    /// A put or delete took effect.
    Ok,
    /// A get's value (`None`: missing).
    Value(Option<String>),
    /// Whether a compare-and-set swapped, and the value the key had before it.
    Cas {
        /// True if the value was `old` and is now `new`.
        swapped: bool,
        /// The value before.
        current: Option<String>,
    },
    /// The command could not be decoded; nothing changed.
    Invalid(String),
}

/// The store: a hash map, whose JSON in key order is the snapshot.
///
/// Hashed rather than sorted because every command looks a key up and a snapshot is rare: a
/// sorted map of 64k keys spent a fifth of the leader's loop comparing strings under
/// `raft-kv bench`. The snapshot sorts, so equal stores give equal bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KvStore {
    map: HashMap<String, String>,
}

impl KvStore {
    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(String::as_str)
    }

    /// Carries out one command.
    pub fn execute(&mut self, command: KvCommand<'_>) -> KvReply {
        match command {
            KvCommand::Put { key, value } => {
                self.set(key, &value);
                KvReply::Ok
            }
            KvCommand::Get { key } => KvReply::Value(self.map.get(key.as_ref()).cloned()),
            KvCommand::Cas { key, old, new } => {
                let current = self.map.get(key.as_ref()).cloned();
                let swapped = current.as_deref() == old.as_deref();
                if swapped {
                    self.set(key, &new);
                }
                KvReply::Cas { swapped, current }
            }
            KvCommand::Delete { key } => {
                self.map.remove(key.as_ref());
                KvReply::Ok
            }
        }
    }

    /// Sets `key` to `value`, reusing the key and the old value's buffer if the key exists
    /// (the common case under load: keys are rewritten far more often than created).
    fn set(&mut self, key: Cow<'_, str>, value: &str) {
        match self.map.get_mut(key.as_ref()) {
            Some(current) => {
                current.clear();
                current.push_str(value);
            }
            None => {
                self.map.insert(key.into_owned(), value.to_owned());
            }
        }
    }
}

impl StateMachine for KvStore {
    /// Carries out an entry: one [`KvCommand`] in JSON, answered by one [`KvReply`]; or a
    /// JSON array of commands (a batch the server gathered from its clients), carried out in
    /// order and answered by the array of their replies. An entry that does not decode
    /// changes nothing and is answered by one [`KvReply::Invalid`], batch or not.
    fn apply(&mut self, _index: Index, entry: &[u8]) -> Vec<u8> {
        let output = if is_batch(entry) {
            serde_json::from_slice::<Vec<KvCommand>>(entry).map(|commands| {
                let replies: Vec<KvReply> = commands.into_iter().map(|c| self.execute(c)).collect();
                serde_json::to_vec(&replies)
            })
        } else {
            serde_json::from_slice::<KvCommand>(entry)
                .map(|command| serde_json::to_vec(&self.execute(command)))
        };
        let output =
            output.unwrap_or_else(|e| serde_json::to_vec(&KvReply::Invalid(e.to_string())));
        // Replies of strings and booleans always serialize.
        output.unwrap_or_default()
    }

    fn snapshot(&self) -> Vec<u8> {
        let sorted: BTreeMap<&String, &String> = self.map.iter().collect();
        // A map of strings always serializes.
        serde_json::to_vec(&sorted).unwrap_or_default()
    }

    fn restore(&mut self, snapshot: &[u8]) -> Result<(), String> {
        self.map = serde_json::from_slice(snapshot).map_err(|e| e.to_string())?;
        Ok(())
    }
}

/// True if `entry` is a batch: a JSON array. A command is a JSON object or string.
fn is_batch(entry: &[u8]) -> bool {
    entry.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_and_snapshot_round_trip() {
        let mut kv = KvStore::default();
        let put = serde_json::to_vec(&KvCommand::Put {
            key: "a".into(),
            value: "1".into(),
        })
        .unwrap();
        assert_eq!(kv.apply(Index(2), &put), br#""ok""#);
        let cas = KvCommand::Cas {
            key: "a".into(),
            old: Some("0".into()),
            new: "2".into(),
        };
        assert_eq!(
            kv.execute(cas),
            KvReply::Cas {
                swapped: false,
                current: Some("1".into())
            }
        );
        let mut other = KvStore::default();
        other.restore(&kv.snapshot()).unwrap();
        assert_eq!(other, kv);
        assert_eq!(
            other.snapshot(),
            kv.snapshot(),
            "equal stores, equal snapshots"
        );
        assert!(other.restore(b"nope").is_err());
        let bad = kv.apply(Index(3), b"{}");
        assert!(
            serde_json::from_slice::<KvReply>(&bad).is_ok_and(|r| matches!(r, KvReply::Invalid(_)))
        );
    }

    #[test]
    fn a_batch_is_carried_out_in_order_with_one_reply_each() {
        let mut kv = KvStore::default();
        let batch = br#" [{"put":{"key":"a","value":"1"}},
            {"cas":{"key":"a","old":"1","new":"2"}},{"get":{"key":"a"}}]"#;
        let replies: Vec<KvReply> = serde_json::from_slice(&kv.apply(Index(2), batch)).unwrap();
        assert_eq!(
            replies,
            [
                KvReply::Ok,
                KvReply::Cas {
                    swapped: true,
                    current: Some("1".into())
                },
                KvReply::Value(Some("2".into())),
            ]
        );
        let bad = br#"[{"put":{"key":"b","value":"1"}},{"nope":1}]"#;
        let reply: KvReply = serde_json::from_slice(&kv.apply(Index(3), bad)).unwrap();
        assert!(matches!(reply, KvReply::Invalid(_)), "{reply:?}");
        assert_eq!(
            kv.get("b"),
            None,
            "a batch that does not decode changes nothing"
        );
    }

    #[test]
    fn decoded_strings_borrow_unless_escaped_and_mean_the_same_either_way() {
        let plain: KvCommand = serde_json::from_slice(br#"{"get":{"key":"ab"}}"#).unwrap();
        assert!(matches!(
            plain,
            KvCommand::Get {
                key: Cow::Borrowed("ab")
            }
        ));
        let escaped: KvCommand =
            serde_json::from_slice(br#"{"put":{"key":"a\"b","value":"\u00e9"}}"#).unwrap();
        assert!(
            matches!(&escaped, KvCommand::Put { key: Cow::Owned(k), .. } if k == "a\"b"),
            "{escaped:?}"
        );
        let mut kv = KvStore::default();
        kv.execute(escaped);
        assert_eq!(kv.get("a\"b"), Some("\u{e9}"));
        // A rewrite of an existing key reuses its entry: the value changes, nothing else.
        let longer = KvCommand::Put {
            key: "a\"b".into(),
            value: "a much longer value than before".into(),
        };
        kv.execute(longer);
        assert_eq!(kv.get("a\"b"), Some("a much longer value than before"));
        assert_eq!(kv.map.len(), 1);
    }

    #[test]
    fn the_snapshot_lists_keys_in_order_whatever_the_insertion_order() {
        let mut forward = KvStore::default();
        let mut backward = KvStore::default();
        for i in 0..100 {
            let put = |i: i32| KvCommand::Put {
                key: format!("k{i:03}").into(),
                value: i.to_string().into(),
            };
            forward.execute(put(i));
            backward.execute(put(99 - i));
        }
        assert_eq!(forward.snapshot(), backward.snapshot());
        let text = String::from_utf8(forward.snapshot()).unwrap();
        assert!(text.starts_with(r#"{"k000":"0","k001":"1","#), "{text}");
    }
}
