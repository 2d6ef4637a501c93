//! `record_replay`: an arbitrary header and record sequence → `Server::open`. Opening must
//! never panic: it refuses the log with an error, or returns a server that passes
//! `check_invariants()` and survives a few steps (durable writes, time, a command, a crash
//! and restart from what it wrote — which must open again).
//!
//! Indexes and terms are mostly relative to the records before them ("the next index", "the
//! same term"), so many inputs are logs a real server could have written, and replay gets
//! past its first checks.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use raft_core::{Entry, Header, Index, NOTE_LEFT, Record, Snapshot, Term};
use raft_fuzz::driver::Driver;
use raft_fuzz::spec::PayloadSpec;
use raft_fuzz::universe::{address, cid, configuration, data, eid, other_cid, sid};

/// At most this many records, so one input stays fast.
const MAX_RECORDS: usize = 64;

#[derive(Arbitrary, Debug)]
struct Input {
    header: HeaderSpec,
    records: Vec<RecordSpec>,
    seed: u64,
    /// Milliseconds between the steps after opening.
    ticks: [u16; 3],
}

/// A number: mostly small, sometimes anything.
#[derive(Arbitrary, Clone, Copy, Debug)]
enum Num {
    Small(u8),
    Any(u64),
}

impl Num {
    fn get(self) -> u64 {
        match self {
            Num::Small(n) => u64::from(n),
            Num::Any(n) => n,
        }
    }
}

#[derive(Arbitrary, Debug)]
struct HeaderSpec {
    /// Which server of the cast this log belongs to.
    me: u8,
    /// 0: our cluster id, 1: none, else another.
    cluster: u8,
    /// The address, as a server of the cast.
    local: u8,
    /// Joining: the remote addresses as a bit mask of servers.
    joining: Option<u8>,
    snapshot: Option<SnapshotSpec>,
}

#[derive(Arbitrary, Debug)]
struct SnapshotSpec {
    index: Num,
    term: Num,
    eid: u8,
    servers: u8,
    election_timer: Option<Num>,
    data: u8,
}

impl HeaderSpec {
    fn build(&self) -> Header {
        Header {
            server_id: sid(usize::from(self.me)),
            cluster_id: match self.cluster {
                0 => Some(cid()),
                1 => None,
                _ => Some(other_cid()),
            },
            name: "fuzz".into(),
            local_address: address(usize::from(self.local)),
            joining: self.joining.map(|mask| {
                (0..5)
                    .filter(|i| mask & (1 << i) != 0)
                    .map(address)
                    .collect()
            }),
            snapshot: self.snapshot.as_ref().map(|s| Snapshot {
                index: Index(s.index.get()),
                term: Term(s.term.get()),
                eid: eid(s.eid),
                servers: configuration(s.servers),
                election_timer: s.election_timer.map(Num::get),
                data: data(s.data),
            }),
        }
    }
}

/// An index relative to the log built so far.
#[derive(Arbitrary, Clone, Copy, Debug)]
enum IndexRel {
    /// One past the last entry.
    Next,
    /// The last entry (a rewrite).
    Last,
    /// This many before the last entry.
    Back(u8),
    /// Absolute.
    Abs(Num),
}

/// A term relative to the highest term so far.
#[derive(Arbitrary, Clone, Copy, Debug)]
enum TermRel {
    Same,
    Next,
    Abs(Num),
}

#[derive(Arbitrary, Debug)]
enum RecordSpec {
    Entry {
        index: IndexRel,
        term: TermRel,
        payload: PayloadSpec,
    },
    Term(TermRel),
    Vote(TermRel, u8),
    Note {
        left: bool,
    },
    CommitIndex(IndexRel),
    Leader(TermRel, u8),
}

/// Turns the specs into records, tracking the last index and highest term the way replay
/// will, so relative numbers mean what they say.
fn records(header: &Header, specs: &[RecordSpec]) -> Vec<Record> {
    let mut last = header.snapshot.as_ref().map_or(0, |s| s.index.0);
    let mut term = header.snapshot.as_ref().map_or(0, |s| s.term.0);
    let index = |r: IndexRel, last: u64| match r {
        IndexRel::Next => last.saturating_add(1),
        IndexRel::Last => last,
        IndexRel::Back(n) => last.saturating_sub(u64::from(n)),
        IndexRel::Abs(n) => n.get(),
    };
    let mut term_of = |r: TermRel| {
        let t = match r {
            TermRel::Same => term,
            TermRel::Next => term.saturating_add(1),
            TermRel::Abs(n) => n.get(),
        };
        term = term.max(t);
        Term(t)
    };
    specs
        .iter()
        .take(MAX_RECORDS)
        .map(|spec| match *spec {
            RecordSpec::Entry {
                index: i,
                term: t,
                payload,
            } => {
                let at = index(i, last);
                last = at;
                Record::Entry {
                    index: Index(at),
                    entry: Entry {
                        term: term_of(t),
                        payload: payload.build(),
                    },
                }
            }
            RecordSpec::Term(t) => Record::Term { term: term_of(t) },
            RecordSpec::Vote(t, v) => Record::Vote {
                term: term_of(t),
                vote: sid(usize::from(v)),
            },
            RecordSpec::Note { left } => Record::Note {
                note: if left { NOTE_LEFT } else { "remark" }.to_owned(),
                comment: "fuzz".to_owned(),
            },
            RecordSpec::CommitIndex(i) => Record::CommitIndex {
                index: Index(index(i, last)),
            },
            RecordSpec::Leader(t, l) => Record::Leader {
                term: term_of(t),
                leader: sid(usize::from(l)),
            },
        })
        .collect()
}

fuzz_target!(|input: Input| {
    let header = input.header.build();
    let records = records(&header, &input.records);
    let Ok(mut d) = Driver::open(header, records, input.seed) else {
        return;
    };
    for ms in input.ticks {
        d.persist(d.last_ticket());
        d.advance(i64::from(ms));
    }
    let _ = d.call(|s, now| s.execute(now, data(1), None));
    d.persist(d.last_ticket());
    d.advance(1);
    d.restart();
});
