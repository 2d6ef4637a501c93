//! The simulated network: TCP-like links between nodes, and partitions.
//!
//! A link is a connection one node dialled to another; each end has its own [`ConnId`]. Links
//! deliver in FIFO order per direction unless a message is picked to be reordered. A reset or
//! closed link loses everything in flight on it (deliveries name the link, and link ids are
//! never reused). Partitions cut directed pairs of nodes: messages across a cut are lost, and
//! no new link forms across it.

use std::collections::{BTreeMap, BTreeSet};

use raft_core::{Address, ConnId, Millis};

/// One established connection.
#[derive(Clone, Debug)]
pub(crate) struct Link {
    /// (node slot, its connection id); end 0 dialled, end 1 listened.
    pub(crate) ends: [(usize, ConnId); 2],
    /// The address end 0 dialled.
    pub(crate) address: Address,
    /// The latest delivery time scheduled in each direction (towards end 0, towards end 1),
    /// so later messages do not overtake earlier ones.
    fifo: [Millis; 2],
}

/// Every link and partition.
#[derive(Default)]
pub(crate) struct Network {
    links: BTreeMap<u64, Link>,
    /// (slot, connection) → (link, which end).
    conns: BTreeMap<(usize, ConnId), (u64, usize)>,
    next_link: u64,
    next_conn: u64,
    /// Directed (from, to) pairs whose messages are lost.
    cut: BTreeSet<(usize, usize)>,
    /// When the partition in force ends.
    pub(crate) partition_until: Option<Millis>,
}

impl Network {
    /// Establishes a link from `dialler` to `listener`; returns its id and both connection
    /// ids (dialler's, listener's).
    pub(crate) fn connect(
        &mut self,
        dialler: usize,
        listener: usize,
        address: Address,
    ) -> (u64, ConnId, ConnId) {
        self.next_link += 1;
        let (a, b) = (ConnId(self.next_conn + 1), ConnId(self.next_conn + 2));
        self.next_conn += 2;
        let link = self.next_link;
        self.links.insert(
            link,
            Link {
                ends: [(dialler, a), (listener, b)],
                address,
                fifo: [Millis(0); 2],
            },
        );
        self.conns.insert((dialler, a), (link, 0));
        self.conns.insert((listener, b), (link, 1));
        (link, a, b)
    }

    /// Where a message sent by `slot` on `conn` goes: (link, receiving end, receiving slot).
    pub(crate) fn route(&self, slot: usize, conn: ConnId) -> Option<(u64, usize, usize)> {
        let &(link, end) = self.conns.get(&(slot, conn))?;
        let to_end = 1 - end;
        Some((link, to_end, self.links[&link].ends[to_end].0))
    }

    /// The receiving end of `link` at `end`, if the link still exists.
    pub(crate) fn end(&self, link: u64, end: usize) -> Option<(usize, ConnId)> {
        self.links.get(&link).map(|l| l.ends[end])
    }

    /// Removes a link; returns it so both ends can be told.
    pub(crate) fn close(&mut self, link: u64) -> Option<Link> {
        let l = self.links.remove(&link)?;
        for e in &l.ends {
            self.conns.remove(e);
        }
        Some(l)
    }

    /// Every link with an end at `slot`.
    pub(crate) fn links_of(&self, slot: usize) -> Vec<u64> {
        self.links
            .iter()
            .filter(|(_, l)| l.ends.iter().any(|(s, _)| *s == slot))
            .map(|(id, _)| *id)
            .collect()
    }

    /// The links `slot` dialled to `address`.
    pub(crate) fn outgoing(&self, slot: usize, address: &Address) -> Vec<u64> {
        self.links
            .iter()
            .filter(|(_, l)| l.ends[0].0 == slot && &l.address == address)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Every link id, in order.
    pub(crate) fn link_ids(&self) -> Vec<u64> {
        self.links.keys().copied().collect()
    }

    /// True if messages from `from` to `to` are lost.
    pub(crate) fn is_cut(&self, from: usize, to: usize) -> bool {
        self.cut.contains(&(from, to))
    }

    /// Links crossing a cut in either direction.
    pub(crate) fn links_across_cuts(&self) -> Vec<u64> {
        self.links
            .iter()
            .filter(|(_, l)| {
                let (a, b) = (l.ends[0].0, l.ends[1].0);
                self.is_cut(a, b) || self.is_cut(b, a)
            })
            .map(|(id, _)| *id)
            .collect()
    }

    /// Cuts messages from every node in `from` to every node in `to` (and back if
    /// `both_ways`), until `until`.
    pub(crate) fn partition(
        &mut self,
        from: &[usize],
        to: &[usize],
        both_ways: bool,
        until: Millis,
    ) {
        for &a in from {
            for &b in to {
                self.cut.insert((a, b));
                if both_ways {
                    self.cut.insert((b, a));
                }
            }
        }
        self.partition_until = Some(until);
    }

    /// Ends every partition.
    pub(crate) fn heal(&mut self) {
        self.cut.clear();
        self.partition_until = None;
    }

    /// When a message sent now on `link` towards `to_end` with `delay_ms` arrives: not before
    /// anything sent earlier in that direction, unless `reorder`.
    pub(crate) fn arrival(
        &mut self,
        link: u64,
        to_end: usize,
        now: Millis,
        delay_ms: u64,
        reorder: bool,
    ) -> Millis {
        let at = now.plus(delay_ms);
        let Some(l) = self.links.get_mut(&link) else {
            return at;
        };
        if reorder {
            return at;
        }
        let at = at.max(l.fifo[to_end]);
        l.fifo[to_end] = at;
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(i: usize) -> Address {
        Address::parse(&format!("tcp:10.0.0.{i}:6641")).unwrap()
    }

    #[test]
    fn links_route_both_ways_and_close() {
        let mut n = Network::default();
        let (link, a, b) = n.connect(0, 1, addr(1));
        assert_eq!(n.route(0, a), Some((link, 1, 1)));
        assert_eq!(n.route(1, b), Some((link, 0, 0)));
        assert_eq!(n.outgoing(0, &addr(1)), vec![link]);
        assert!(n.outgoing(1, &addr(0)).is_empty());
        assert!(n.close(link).is_some());
        assert_eq!(n.route(0, a), None);
        assert_eq!(n.end(link, 1), None);
    }

    #[test]
    fn fifo_unless_reordered() {
        let mut n = Network::default();
        let (link, _, _) = n.connect(0, 1, addr(1));
        assert_eq!(n.arrival(link, 1, Millis(0), 50, false), Millis(50));
        assert_eq!(n.arrival(link, 1, Millis(1), 5, false), Millis(50));
        assert_eq!(n.arrival(link, 1, Millis(1), 5, true), Millis(6));
        assert_eq!(n.arrival(link, 0, Millis(1), 5, false), Millis(6));
    }

    #[test]
    fn partitions_cut_directions() {
        let mut n = Network::default();
        n.connect(0, 1, addr(1));
        n.partition(&[0], &[1, 2], false, Millis(10));
        assert!(n.is_cut(0, 1) && !n.is_cut(1, 0));
        assert_eq!(n.links_across_cuts().len(), 1);
        n.heal();
        assert!(!n.is_cut(0, 1) && n.partition_until.is_none());
    }
}
