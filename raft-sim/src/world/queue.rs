//! The world's agenda: events ordered by simulated time, ties broken by the order they were
//! scheduled, so the run never depends on anything but the seed.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use raft_core::{Address, Event, Message, Millis};

/// Something scheduled to happen.
#[derive(Debug)]
pub(crate) enum Ev {
    /// A message reaches the far end of a link (if the link still exists).
    Deliver {
        link: u64,
        /// The end it is delivered to (0: the dialler, 1: the listener).
        to_end: usize,
        message: Message,
    },
    /// An event for a node's server, if the node is still in the same incarnation.
    Node {
        slot: usize,
        incarnation: u64,
        event: Event,
    },
    /// A node's disk finished the sync it started.
    SyncDone { slot: usize, generation: u64 },
    /// A node tries to connect to an address it wants.
    Dial {
        slot: usize,
        incarnation: u64,
        address: Address,
    },
    /// A crashed node comes back.
    Restart { slot: usize },
    /// A failure-test scenario is dismissed.
    ClearFailureTest { slot: usize, incarnation: u64 },
    /// The world's periodic step: faults, clients, convergence checks.
    Step,
}

struct Entry {
    at: Millis,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Entry) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Entry) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Entry) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// A time-ordered queue of events.
#[derive(Default)]
pub(crate) struct Queue {
    heap: BinaryHeap<Reverse<Entry>>,
    seq: u64,
}

impl Queue {
    pub(crate) fn push(&mut self, at: Millis, ev: Ev) {
        self.seq += 1;
        self.heap.push(Reverse(Entry {
            at,
            seq: self.seq,
            ev,
        }));
    }

    /// The time of the earliest event.
    pub(crate) fn peek_time(&self) -> Option<Millis> {
        self.heap.peek().map(|Reverse(e)| e.at)
    }

    pub(crate) fn pop(&mut self) -> Option<(Millis, Ev)> {
        self.heap.pop().map(|Reverse(e)| (e.at, e.ev))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_then_fifo() {
        let mut q = Queue::default();
        q.push(Millis(5), Ev::Restart { slot: 1 });
        q.push(Millis(3), Ev::Restart { slot: 2 });
        q.push(Millis(5), Ev::Restart { slot: 3 });
        let order: Vec<usize> = std::iter::from_fn(|| q.pop())
            .map(|(_, ev)| match ev {
                Ev::Restart { slot } => slot,
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(order, [2, 1, 3]);
    }
}
