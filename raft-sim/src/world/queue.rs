//! The world's agenda: events ordered by simulated time, ties broken by the order they were
//! scheduled, so the run never depends on anything but the seed.

use std::cmp::Reverse;
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
        message: Box<Message>,
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

/// A heap entry: small, so sifting it is cheap; the event itself waits in a slab.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    at: Millis,
    seq: u64,
    slot: usize,
}

/// A time-ordered queue of events.
#[derive(Default)]
pub(crate) struct Queue {
    heap: BinaryHeap<Reverse<Entry>>,
    slab: Vec<Option<Ev>>,
    free: Vec<usize>,
    seq: u64,
}

impl Queue {
    pub(crate) fn push(&mut self, at: Millis, ev: Ev) {
        self.seq += 1;
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slab[slot] = Some(ev);
                slot
            }
            None => {
                self.slab.push(Some(ev));
                self.slab.len() - 1
            }
        };
        self.heap.push(Reverse(Entry {
            at,
            seq: self.seq,
            slot,
        }));
    }

    /// The time of the earliest event.
    pub(crate) fn peek_time(&self) -> Option<Millis> {
        self.heap.peek().map(|Reverse(e)| e.at)
    }

    pub(crate) fn pop(&mut self) -> Option<(Millis, Ev)> {
        let Reverse(e) = self.heap.pop()?;
        self.free.push(e.slot);
        self.slab[e.slot].take().map(|ev| (e.at, ev))
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
