//! One simulated machine: a raft-core server (while up), its disk, its application (the
//! key-value map), and what the checkers remember about it. Also crashes, restarts and joins.

use std::collections::BTreeSet;

use raft_core::{Address, Config, EntryId, Millis, OpenError, Server, ServerId, bootstrap};

use super::disk::Disk;
use super::queue::Ev;
use super::{Mark, World};
use crate::check::{Checker, NodeCheck};
use crate::config::STEP_MS;
use crate::kv::Kv;
use crate::report::Property;

/// Where a machine is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NodeState {
    /// Running.
    Up,
    /// Crashed; will restart from its disk.
    Down,
    /// Left the cluster (or found itself removed) for good.
    Gone,
}

/// One machine.
pub(crate) struct Node {
    pub(crate) sid: ServerId,
    pub(crate) address: Address,
    pub(crate) server: Option<Server>,
    pub(crate) state: NodeState,
    /// Bumped at every restart; events for an earlier incarnation are ignored.
    pub(crate) incarnation: u64,
    pub(crate) disk: Disk,
    pub(crate) kv: Kv,
    /// The last command applied (a prerequisite for the next one, as OVSDB uses it).
    pub(crate) last_eid: EntryId,
    /// Addresses the server wants to stay connected to.
    pub(crate) wants: BTreeSet<Address>,
    pub(crate) check: NodeCheck,
    /// The server's next deadline, cached after every step.
    pub(crate) deadline: Option<Millis>,
    /// Until when the disk does not complete syncs.
    pub(crate) stalled_until: Millis,
    /// The next sync fails.
    pub(crate) fail_next_sync: bool,
}

impl Node {
    pub(crate) fn new(sid: ServerId, address: Address, disk: Disk) -> Node {
        Node {
            sid,
            address,
            server: None,
            state: NodeState::Down,
            incarnation: 0,
            disk,
            kv: Kv::default(),
            last_eid: EntryId::from_u128(0),
            wants: BTreeSet::new(),
            check: NodeCheck::fresh(),
            deadline: None,
            stalled_until: Millis(0),
            fail_next_sync: false,
        }
    }

    /// The server, if up.
    pub(crate) fn up(&self) -> Option<&Server> {
        self.server.as_ref().filter(|_| self.state == NodeState::Up)
    }
}

/// The address of the machine in `slot`.
pub(crate) fn address(slot: usize) -> Address {
    Address::parse(&format!("tcp:10.0.0.{}:6641", slot + 1)).unwrap_or_else(|e| panic!("{e}"))
}

/// A readable id for the machine in `slot`: its nickname starts with the slot number.
pub(crate) fn server_id(slot: usize, random: u64) -> ServerId {
    ServerId::from_u128(((slot as u128 + 1) * 0x1111) << 112 | u128::from(random))
}

impl World {
    /// Opens the server of `slot` from its disk with a new seed (entry ids come from it, so a
    /// new incarnation must not reuse the old one's).
    pub(crate) fn start(&mut self, slot: usize) {
        let seed = self.rng.ids.next_u64();
        let now = self.now;
        let node = &mut self.nodes[slot];
        node.incarnation += 1;
        let (header, records) = node.disk.contents();
        match Server::open(header, records, Config::with_seed(seed), now) {
            Ok(server) => {
                let found = Checker::restarted(&server, node.disk.durable_commit);
                node.server = Some(server);
                node.state = NodeState::Up;
                node.kv = Kv::default();
                node.check = NodeCheck::fresh();
                node.wants.clear();
                self.record(slot, Mark::Started, 0, || {
                    format!("n{slot} started (seed {seed})")
                });
                self.found(found);
                self.process(slot);
            }
            Err(OpenError::Left { .. } | OpenError::NotInConfiguration) => {
                node.state = NodeState::Gone;
                self.record(slot, Mark::NoLongerMember, 0, || {
                    format!("n{slot} is no longer a member")
                });
            }
            Err(e) => {
                node.state = NodeState::Gone;
                self.violate(
                    Property::CoreInvariant,
                    format!("n{slot} failed to open: {e}"),
                );
            }
        }
    }

    /// Crashes `slot`: the server vanishes, unsynced writes are lost (the first maybe torn),
    /// connections close; it restarts later.
    pub(crate) fn crash(&mut self, slot: usize, why: &str) {
        if self.nodes[slot].state != NodeState::Up {
            return;
        }
        self.stats.crashes += 1;
        let torn = self.cfg.faults.torn_write_per_million;
        let node = &mut self.nodes[slot];
        let tear = node.disk.crash(&mut self.rng.disk, torn);
        if self.cfg.bugs.lose_durable_write {
            node.disk.lose_last_sync();
        }
        node.server = None;
        node.state = NodeState::Down;
        node.deadline = None;
        node.wants.clear();
        node.fail_next_sync = false;
        let incarnation = node.incarnation;
        let why = match tear {
            Some(t) => format!("{why}; {t}"),
            None => why.to_owned(),
        };
        self.record(slot, Mark::Crashed, 0, || format!("n{slot} crashed: {why}"));
        self.clients.crashed(slot, incarnation, self.now);
        for link in self.net.links_of(slot) {
            self.close_link(link);
        }
        let down = if self.healing {
            1
        } else {
            self.rng
                .chaos
                .range(STEP_MS, self.cfg.faults.down_ms_max.max(STEP_MS))
        };
        self.queue.push(self.now.plus(down), Ev::Restart { slot });
    }

    /// Shuts `slot` down cleanly: the server hands over leadership and ends its commands,
    /// the disk is flushed, then the machine goes down like a crashed one.
    pub(crate) fn shut_down(&mut self, slot: usize) {
        let now = self.now;
        let Some(server) = self.nodes[slot].server.as_mut() else {
            return;
        };
        server.close(now);
        self.process(slot);
        self.nodes[slot].disk.flush();
        self.crash(slot, "clean shutdown");
    }

    /// Brings a crashed machine back.
    pub(crate) fn restart(&mut self, slot: usize) {
        if self.nodes[slot].state == NodeState::Down {
            self.stats.restarts += 1;
            self.start(slot);
        }
    }

    /// A new machine asks to join the cluster through the current members.
    pub(crate) fn join(&mut self) {
        let slot = self.nodes.len();
        let sid = server_id(slot, self.rng.ids.next_u64());
        let remotes: Vec<String> = self
            .nodes
            .iter()
            .filter(|n| n.state != NodeState::Gone)
            .map(|n| n.address.as_str().to_owned())
            .collect();
        let remotes: Vec<&str> = remotes.iter().map(String::as_str).collect();
        let header = bootstrap::join_cluster(
            sid,
            Some(self.cluster),
            super::CLUSTER_NAME,
            address(slot).as_str(),
            &remotes,
        );
        let header = match header {
            Ok(h) => h,
            Err(e) => {
                self.violate(Property::CoreInvariant, format!("join header refused: {e}"));
                return;
            }
        };
        self.nodes
            .push(Node::new(sid, address(slot), Disk::new(header, Vec::new())));
        self.stats.joins += 1;
        self.record(slot, Mark::Joins, 0, || format!("n{slot} joins as {sid:?}"));
        self.start(slot);
    }
}
