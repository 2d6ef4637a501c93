//! A simulated disk: the durable header and records of one node's log, and the writes not
//! yet durable.
//!
//! Writes become durable in groups (group commit): a sync takes every write pending when it
//! starts and completes after a simulated latency; the node is then told the newest ticket
//! of the group. A crash loses every write not yet durable, except that the first lost
//! `WriteLog` may be torn: a prefix of its records survives, as a partly flushed file would.

use raft_core::{Header, Index, Record, WriteTicket};

use crate::rng::SimRng;

/// A write issued by the core, not yet durable.
#[derive(Clone, Debug)]
enum Write {
    Append(WriteTicket, Vec<Record>),
    Replace(WriteTicket, Box<Header>, Vec<Record>),
}

impl Write {
    fn ticket(&self) -> WriteTicket {
        match self {
            Write::Append(t, _) | Write::Replace(t, _, _) => *t,
        }
    }
}

/// One node's disk.
#[derive(Clone, Debug)]
pub(crate) struct Disk {
    header: Header,
    records: Vec<Record>,
    pending: Vec<Write>,
    /// How many of `pending` (a prefix) the sync in flight covers; 0 if none is.
    syncing: usize,
    /// Bumped on every crash, so a sync that was in flight then is ignored.
    pub(crate) generation: u64,
    /// The highest commit index made durable (by a commit record or a snapshot).
    pub(crate) durable_commit: Index,
    /// `records.len()` before the last sync added to them, if that sync only appended (for
    /// the test-only "lose a durable write" bug).
    before_last_sync: Option<usize>,
}

impl Disk {
    /// A disk holding `header` and `records`, all durable.
    pub(crate) fn new(header: Header, records: Vec<Record>) -> Disk {
        let mut disk = Disk {
            header,
            records,
            pending: Vec::new(),
            syncing: 0,
            generation: 0,
            durable_commit: Index(0),
            before_last_sync: None,
        };
        disk.durable_commit = max_commit(&disk.records, snapshot_index(&disk.header));
        disk
    }

    /// The durable header and records, to open a server from.
    pub(crate) fn contents(&self) -> (Header, Vec<Record>) {
        (self.header.clone(), self.records.clone())
    }

    /// Queues an append; returns true if a sync should start.
    pub(crate) fn append(&mut self, ticket: WriteTicket, records: Vec<Record>) -> bool {
        self.pending.push(Write::Append(ticket, records));
        self.syncing == 0
    }

    /// Queues a replacement of the whole log; returns true if a sync should start.
    pub(crate) fn replace(
        &mut self,
        ticket: WriteTicket,
        header: Box<Header>,
        records: Vec<Record>,
    ) -> bool {
        self.pending.push(Write::Replace(ticket, header, records));
        self.syncing == 0
    }

    /// Starts a sync of every pending write; false if there is nothing to sync or a sync is
    /// already in flight.
    pub(crate) fn start_sync(&mut self) -> bool {
        if self.syncing > 0 || self.pending.is_empty() {
            return false;
        }
        self.syncing = self.pending.len();
        true
    }

    /// The sync in flight completed: its writes are durable. Returns the newest ticket it
    /// covered.
    pub(crate) fn finish_sync(&mut self) -> Option<WriteTicket> {
        if self.syncing == 0 {
            return None;
        }
        let done: Vec<Write> = self.pending.drain(..self.syncing).collect();
        self.syncing = 0;
        let last = done.last().map(Write::ticket);
        self.before_last_sync = Some(self.records.len());
        for w in done {
            let commit = match &w {
                Write::Append(_, records) => max_commit(records, Index(0)),
                Write::Replace(_, header, records) => {
                    self.before_last_sync = None;
                    max_commit(records, snapshot_index(header))
                }
            };
            self.durable_commit = self.durable_commit.max(commit);
            self.apply(w, None);
        }
        last
    }

    /// The newest ticket the sync in flight covers, if one is in flight.
    pub(crate) fn syncing_ticket(&self) -> Option<WriteTicket> {
        self.pending[..self.syncing].last().map(Write::ticket)
    }

    /// A clean shutdown: every pending write is made durable.
    pub(crate) fn flush(&mut self) {
        self.syncing = self.pending.len();
        self.finish_sync();
    }

    /// A crash: unsynced writes are lost, the first one maybe torn. Returns a description of
    /// the tear, if any.
    pub(crate) fn crash(&mut self, rng: &mut SimRng, torn_per_million: u32) -> Option<String> {
        self.generation += 1;
        self.syncing = 0;
        let lost = std::mem::take(&mut self.pending);
        let first = lost.into_iter().next()?;
        if !rng.chance(torn_per_million) {
            return None;
        }
        match first {
            Write::Append(ticket, records) if records.len() > 1 => {
                let keep = rng.range(1, records.len() as u64 - 1) as usize;
                let n = records.len();
                self.apply(Write::Append(ticket, records), Some(keep));
                Some(format!(
                    "write {ticket} torn: {keep} of {n} records survived"
                ))
            }
            _ => None,
        }
    }

    /// Test-only bug: forget the records the last sync made durable.
    pub(crate) fn lose_last_sync(&mut self) -> bool {
        match self.before_last_sync.take() {
            Some(len) if len < self.records.len() => {
                self.records.truncate(len);
                true
            }
            _ => false,
        }
    }

    fn apply(&mut self, write: Write, keep: Option<usize>) {
        match write {
            Write::Append(_, records) => {
                let n = keep.unwrap_or(records.len());
                self.records.extend(records.into_iter().take(n));
            }
            Write::Replace(_, header, records) => {
                self.header = *header;
                self.records = records;
            }
        }
    }
}

fn snapshot_index(header: &Header) -> Index {
    header.snapshot.as_ref().map_or(Index(0), |s| s.index)
}

/// The highest commit index `records` state, at least `floor`.
fn max_commit(records: &[Record], floor: Index) -> Index {
    records
        .iter()
        .filter_map(|r| match r {
            Record::CommitIndex { index } => Some(*index),
            _ => None,
        })
        .fold(floor, Index::max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use raft_core::{Address, ServerId, Term};

    fn header() -> Header {
        Header {
            server_id: ServerId::from_u128(1),
            cluster_id: None,
            name: "t".into(),
            local_address: Address::parse("tcp:10.0.0.1:1").unwrap(),
            joining: Some(vec![Address::parse("tcp:10.0.0.2:1").unwrap()]),
            snapshot: None,
        }
    }

    fn term(t: u64) -> Record {
        Record::Term { term: Term(t) }
    }

    #[test]
    fn group_commit_covers_writes_pending_at_sync_start() {
        let mut d = Disk::new(header(), vec![]);
        assert!(d.append(WriteTicket(1), vec![term(1)]));
        assert!(d.start_sync());
        assert!(!d.append(WriteTicket(2), vec![term(2)]));
        assert_eq!(d.finish_sync(), Some(WriteTicket(1)));
        assert_eq!(d.contents().1, vec![term(1)]);
        assert!(d.start_sync());
        assert_eq!(d.finish_sync(), Some(WriteTicket(2)));
        assert_eq!(d.finish_sync(), None);
    }

    #[test]
    fn crash_loses_unsynced_writes_and_may_tear_the_first() {
        let mut d = Disk::new(header(), vec![]);
        d.append(WriteTicket(1), vec![term(1), term(2), term(3)]);
        d.append(WriteTicket(2), vec![term(4)]);
        let torn = d.crash(&mut SimRng::new(1), 1_000_000);
        assert!(torn.is_some());
        let (_, records) = d.contents();
        assert!((1..=2).contains(&records.len()), "{records:?}");
        let mut d = Disk::new(header(), vec![]);
        d.append(WriteTicket(1), vec![term(1)]);
        assert_eq!(d.crash(&mut SimRng::new(1), 1_000_000), None);
        assert!(d.contents().1.is_empty());
    }

    #[test]
    fn durable_commit_follows_synced_commit_records() {
        let mut d = Disk::new(header(), vec![]);
        d.append(
            WriteTicket(1),
            vec![Record::CommitIndex { index: Index(4) }],
        );
        assert_eq!(d.durable_commit, Index(0));
        d.start_sync();
        d.finish_sync();
        assert_eq!(d.durable_commit, Index(4));
        assert!(d.lose_last_sync());
        assert!(d.contents().1.is_empty());
    }

    #[test]
    fn flush_makes_everything_durable() {
        let mut d = Disk::new(header(), vec![]);
        d.append(WriteTicket(1), vec![term(1)]);
        d.start_sync();
        assert_eq!(d.syncing_ticket(), Some(WriteTicket(1)));
        d.append(WriteTicket(2), vec![term(2)]);
        d.flush();
        assert_eq!(d.syncing_ticket(), None);
        assert_eq!(d.contents().1, vec![term(1), term(2)]);
    }
}
