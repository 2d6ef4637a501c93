//! The in-memory log: a snapshot followed by entries.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::{Configuration, Data, Entry, EntryId, Index, Payload, Snapshot, Term};

/// A snapshot at `start - 1` followed by the entries `start..end`.
///
/// Invariants: `start == snapshot.index + 1`; entry terms never decrease; `config_indexes`
/// lists, in order, the indexes of the configuration entries among the entries.
#[derive(Clone, Debug)]
pub(crate) struct Log {
    snapshot: Snapshot,
    entries: VecDeque<Entry>,
    config_indexes: Vec<Index>,
}

impl Log {
    pub(crate) fn new(snapshot: Snapshot) -> Log {
        Log {
            snapshot,
            entries: VecDeque::new(),
            config_indexes: Vec::new(),
        }
    }

    /// The log of a server that has not joined yet: nothing at all.
    pub(crate) fn empty() -> Log {
        Log::new(Snapshot {
            index: Index(0),
            term: Term(0),
            eid: EntryId::from_u128(0),
            servers: Configuration::default(),
            election_timer: None,
            data: Data::default(),
        })
    }

    pub(crate) fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// The first index held as an entry.
    pub(crate) fn start(&self) -> Index {
        self.snapshot.index.next()
    }

    /// One past the last index.
    pub(crate) fn end(&self) -> Index {
        Index(self.start().0 + self.entries.len() as u64)
    }

    pub(crate) fn last_index(&self) -> Index {
        self.end().prev()
    }

    /// The entry at `index`, if it is held.
    pub(crate) fn get(&self, index: Index) -> Option<&Entry> {
        let offset = index.0.checked_sub(self.start().0)?;
        self.entries.get(usize::try_from(offset).ok()?)
    }

    /// The term at `index`: the snapshot's term just before the start, else the entry's.
    pub(crate) fn term_at(&self, index: Index) -> Option<Term> {
        if index == self.snapshot.index {
            Some(self.snapshot.term)
        } else {
            self.get(index).map(|e| e.term)
        }
    }

    pub(crate) fn last_term(&self) -> Term {
        self.entries.back().map_or(self.snapshot.term, |e| e.term)
    }

    /// Appends `entry` at the end and returns its index.
    pub(crate) fn append(&mut self, entry: Entry) -> Index {
        let index = self.end();
        debug_assert!(
            entry.term >= self.last_term(),
            "log terms must not decrease"
        );
        if matches!(entry.payload, Payload::Configuration(_)) {
            self.config_indexes.push(index);
        }
        self.entries.push_back(entry);
        index
    }

    /// Drops the entries from `new_end` on. Returns true if a configuration entry went (M5).
    pub(crate) fn truncate(&mut self, new_end: Index) -> bool {
        assert!(new_end >= self.start(), "truncation below the log start");
        let keep = new_end.distance_from(self.start());
        self.entries
            .truncate(usize::try_from(keep).unwrap_or(usize::MAX));
        let before = self.config_indexes.len();
        self.config_indexes.retain(|&i| i < new_end);
        before != self.config_indexes.len()
    }

    /// Entries `from..` (at most `max_n` and about `max_bytes`, but at least one if any), with
    /// their estimated size on the wire.
    pub(crate) fn entries_from(
        &self,
        from: Index,
        max_n: usize,
        max_bytes: usize,
    ) -> (Arc<[Entry]>, usize) {
        let Some(offset) = from.0.checked_sub(self.start().0) else {
            return (Arc::from([]), 0);
        };
        let offset = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.entries.len());
        // Count first, so the entries are cloned straight into one allocation of the right
        // size.
        let mut bytes = 0;
        let mut n = 0;
        for e in self.entries.range(offset..).take(max_n) {
            let size = e.wire_size();
            if n > 0 && bytes + size > max_bytes {
                break;
            }
            bytes += size;
            n += 1;
        }
        let entries = self.entries.range(offset..offset + n).cloned().collect();
        (entries, bytes)
    }

    /// The configuration in effect after the whole log (M5: effective when appended).
    pub(crate) fn latest_configuration(&self) -> &Configuration {
        self.configuration_at(self.last_index())
    }

    /// The configuration in effect at `index` (at or after the snapshot).
    pub(crate) fn configuration_at(&self, index: Index) -> &Configuration {
        let pos = self.config_indexes.partition_point(|&i| i <= index);
        match pos.checked_sub(1).map(|p| self.config_indexes[p]) {
            Some(i) => self
                .get(i)
                .and_then(Entry::configuration)
                .unwrap_or(&self.snapshot.servers),
            None => &self.snapshot.servers,
        }
    }

    /// The index of the latest configuration entry, if one is in the log.
    pub(crate) fn last_configuration_index(&self) -> Option<Index> {
        self.config_indexes.last().copied()
    }

    /// True if a configuration entry at or before `limit` drops `sid` from the configuration
    /// before it (the log shows `sid` being removed, not merely not added yet), and no later
    /// one in the log adds it back: a server kicked while it still thought itself joining
    /// asks to join again, and may be added again under the same id.
    pub(crate) fn removes(&self, sid: crate::ServerId, limit: Index) -> bool {
        let mut member = self.snapshot.servers.contains(sid);
        let mut removed = false;
        for &i in &self.config_indexes {
            let now = self
                .get(i)
                .and_then(Entry::configuration)
                .is_some_and(|c| c.contains(sid));
            if now {
                removed = false;
            } else if member && i <= limit {
                removed = true;
            }
            member = now;
        }
        removed
    }

    /// The id of the last entry with data at or before `index`, else the snapshot's (C3).
    pub(crate) fn eid_at(&self, index: Index) -> EntryId {
        let mut i = index.min(self.last_index());
        while i >= self.start() {
            if let Some(id) = self.get(i).and_then(Entry::data_id) {
                return id;
            }
            i = i.prev();
        }
        self.snapshot.eid
    }

    /// The election timer set by the last timer entry at or before `index`, else the
    /// snapshot's.
    pub(crate) fn election_timer_at(&self, index: Index) -> Option<u64> {
        let mut i = index.min(self.last_index());
        while i >= self.start() {
            if let Some(Payload::ElectionTimer(ms)) = self.get(i).map(|e| &e.payload) {
                return Some(*ms);
            }
            i = i.prev();
        }
        self.snapshot.election_timer
    }

    /// Discards the entries before `snapshot.index + 1`, which the snapshot now stands for.
    pub(crate) fn compact(&mut self, snapshot: Snapshot) {
        assert!(
            snapshot.index >= self.snapshot.index && snapshot.index <= self.last_index(),
            "compaction outside the log"
        );
        let drop = snapshot.index.distance_from(self.snapshot.index);
        self.entries
            .drain(..usize::try_from(drop).unwrap_or(usize::MAX));
        self.config_indexes.retain(|&i| i > snapshot.index);
        self.snapshot = snapshot;
    }

    /// Replaces everything with `snapshot` (an installed snapshot, N4).
    pub(crate) fn reset(&mut self, snapshot: Snapshot) {
        *self = Log::new(snapshot);
    }

    /// The entries, for writing a compacted log.
    pub(crate) fn iter_from(&self, from: Index) -> impl Iterator<Item = (Index, &Entry)> {
        let start = self.start();
        self.entries
            .iter()
            .enumerate()
            .map(move |(i, e)| (Index(start.0 + i as u64), e))
            .skip(usize::try_from(from.distance_from(start)).unwrap_or(usize::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Address, ServerId};
    use proptest::prelude::*;

    fn snap(index: u64, term: u64) -> Snapshot {
        Snapshot {
            index: Index(index),
            term: Term(term),
            eid: EntryId::from_u128(1),
            servers: Configuration::single(
                ServerId::from_u128(1),
                Address::parse("tcp:1.1.1.1:1").unwrap(),
            ),
            election_timer: None,
            data: Data::default(),
        }
    }

    fn conf(n: u128) -> Entry {
        let c = Configuration::single(
            ServerId::from_u128(n),
            Address::parse("tcp:1.1.1.1:1").unwrap(),
        );
        Entry {
            term: Term(1),
            payload: Payload::Configuration(c),
        }
    }

    #[test]
    fn m5_configuration_reverts_when_its_entry_is_truncated() {
        let mut log = Log::new(snap(1, 1));
        log.append(conf(2));
        let i = log.append(conf(3));
        assert!(log.latest_configuration().contains(ServerId::from_u128(3)));
        assert!(log.truncate(i));
        assert!(log.latest_configuration().contains(ServerId::from_u128(2)));
        assert!(log.truncate(Index(2)));
        assert!(log.latest_configuration().contains(ServerId::from_u128(1)));
        assert!(!log.truncate(Index(2)));
    }

    #[test]
    fn removal_is_seen_only_up_to_the_limit() {
        let mut log = Log::new(snap(1, 1)); // Server 1 alone.
        let added = log.append(conf2(1, 2));
        let removed = log.append(conf(1));
        let (one, two) = (ServerId::from_u128(1), ServerId::from_u128(2));
        assert!(!log.removes(two, added), "added, not removed");
        assert!(log.removes(two, removed));
        assert!(!log.removes(one, removed), "never removed");
        assert!(
            !log.removes(ServerId::from_u128(3), removed),
            "never a member"
        );
        let again = log.append(conf2(1, 2));
        assert!(!log.removes(two, removed), "added back after the limit");
        assert!(!log.removes(two, again), "added back");
        let out = log.append(conf(1));
        assert!(log.removes(two, out), "removed again");
    }

    fn conf2(a: u128, b: u128) -> Entry {
        let addr = Address::parse("tcp:1.1.1.1:1").unwrap();
        let mut c = Configuration::single(ServerId::from_u128(a), addr.clone());
        c.0.insert(ServerId::from_u128(b), addr);
        Entry {
            term: Term(1),
            payload: Payload::Configuration(c),
        }
    }

    #[test]
    fn eid_falls_back_to_snapshot() {
        let mut log = Log::new(snap(1, 1));
        log.append(Entry {
            term: Term(1),
            payload: Payload::Noop,
        });
        assert_eq!(log.eid_at(log.last_index()), EntryId::from_u128(1));
        let id = EntryId::from_u128(5);
        log.append(Entry {
            term: Term(1),
            payload: Payload::Data {
                id,
                data: Data::default(),
            },
        });
        log.append(Entry {
            term: Term(2),
            payload: Payload::Noop,
        });
        assert_eq!(log.eid_at(log.last_index()), id);
        assert_eq!(log.eid_at(Index(2)), EntryId::from_u128(1));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Append(u64),
        Truncate(u64),
        Compact(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u64..3).prop_map(Op::Append),
            (0u64..20).prop_map(Op::Truncate),
            (0u64..20).prop_map(Op::Compact),
        ]
    }

    proptest! {
        /// The log behaves like a Vec of terms with a movable start.
        #[test]
        fn log_matches_vec_model(ops in proptest::collection::vec(op(), 0..60)) {
            let mut log = Log::new(snap(1, 1));
            let mut model: Vec<u64> = Vec::new(); // terms of indexes 2..
            let mut start = 2u64;
            for op in ops {
                match op {
                    Op::Append(bump) => {
                        let t = model.last().copied().unwrap_or(1) + bump;
                        log.append(Entry { term: Term(t), payload: Payload::Noop });
                        model.push(t);
                    }
                    Op::Truncate(k) => {
                        let end = start + model.len() as u64;
                        let new_end = (start + k).min(end);
                        log.truncate(Index(new_end));
                        model.truncate((new_end - 2) as usize);
                    }
                    Op::Compact(k) => {
                        let last = 1 + model.len() as u64;
                        let idx = (start - 1 + k).min(last);
                        let term = if idx < 2 { 1 } else { model[(idx - 2) as usize] };
                        log.compact(Snapshot { index: Index(idx), term: Term(term), ..snap(1, 1) });
                        start = idx + 1;
                    }
                }
                prop_assert_eq!(log.start(), Index(start));
                prop_assert_eq!(log.end(), Index(2 + model.len() as u64));
                for i in start..2 + model.len() as u64 {
                    prop_assert_eq!(log.term_at(Index(i)), Some(Term(model[(i - 2) as usize])));
                }
                prop_assert_eq!(log.get(log.end()), None);
            }
        }
    }
}
