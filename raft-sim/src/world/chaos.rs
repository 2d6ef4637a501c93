//! The faulty phase's periodic step: roll every fault knob, then let idle clients send.

use raft_core::{FailureTest, Role, Server};

use super::node::NodeState;
use super::queue::Ev;
use super::{Mark, World};
use crate::config::{MAX_NODES, MIN_NODES, STEP_MS};
use crate::kv;

/// A failure-test scenario stays engaged at most this long.
const FAILURE_TEST_MS_MAX: u64 = 3_000;
/// While a partition is in force, a link across it is reset with this probability per step
/// (the time TCP keepalives or the adapter's inactivity probe take to notice).
const PROBE_RESET_PER_MILLION: u32 = 100_000;

impl World {
    pub(super) fn chaos_step(&mut self) {
        self.network_faults();
        self.node_faults();
        self.admin_faults();
        self.membership_faults();
        self.client_requests();
    }

    fn network_faults(&mut self) {
        let f = self.cfg.faults;
        for link in self.net.link_ids() {
            if self.rng.chaos.chance(f.link_reset_per_million_steps) {
                self.record(0, Mark::LinkReset, link, || format!("reset link {link}"));
                self.close_link(link);
            }
        }
        match self.net.partition_until {
            Some(until) if until <= self.now => {
                self.record(0, Mark::PartitionHealed, 0, || "partition healed".into());
                self.net.heal();
            }
            Some(_) => {
                for link in self.net.links_across_cuts() {
                    if self.rng.chaos.chance(PROBE_RESET_PER_MILLION) {
                        self.close_link(link);
                    }
                }
            }
            None if self.rng.chaos.chance(f.partition_per_million_steps) => self.partition(),
            None => {}
        }
    }

    /// Splits the live machines in two; maybe only one direction is cut.
    fn partition(&mut self) {
        let f = self.cfg.faults;
        let mut live: Vec<usize> = (0..self.nodes.len())
            .filter(|&s| self.nodes[s].state != NodeState::Gone)
            .collect();
        if live.len() < 2 {
            return;
        }
        let n = 1 + self.rng.chaos.index(live.len() - 1);
        let mut side = Vec::new();
        for _ in 0..n {
            side.push(live.remove(self.rng.chaos.index(live.len())));
        }
        let one_way = self.rng.chaos.chance(f.one_way_partition_per_million);
        let until = self.now.plus(
            self.rng
                .chaos
                .range(STEP_MS, f.partition_ms_max.max(STEP_MS)),
        );
        let text = format!("partition {side:?} / {live:?} one_way={one_way} until {until}");
        self.record(0, Mark::Partition, n as u64, || text);
        self.net.partition(&side, &live, !one_way, until);
    }

    fn node_faults(&mut self) {
        let f = self.cfg.faults;
        for slot in 0..self.nodes.len() {
            if self.nodes[slot].state != NodeState::Up {
                continue;
            }
            if self.rng.chaos.chance(f.crash_per_million_steps) {
                if self.rng.chaos.chance(f.graceful_per_million) {
                    self.shut_down(slot);
                } else {
                    self.crash(slot, "random crash");
                }
                continue;
            }
            if self.rng.chaos.chance(f.write_error_per_million_steps) {
                self.nodes[slot].fail_next_sync = true;
            }
            if self.rng.chaos.chance(f.disk_stall_per_million_steps) {
                let ms = self
                    .rng
                    .chaos
                    .range(STEP_MS, f.disk_stall_ms_max.max(STEP_MS));
                let until = self.now.plus(ms);
                self.nodes[slot].stalled_until = until;
                self.record(slot, Mark::DiskStall, ms, || {
                    format!("n{slot} disk stalls until {until}")
                });
            }
            if self.rng.chaos.chance(f.snapshot_per_million_steps) {
                self.snapshot(slot);
            }
        }
    }

    fn snapshot(&mut self, slot: usize) {
        let now = self.now;
        let node = &mut self.nodes[slot];
        let Some(server) = node.server.as_mut().filter(|s| s.may_snapshot()) else {
            return;
        };
        if server.store_snapshot(now, node.kv.snapshot(), None).is_ok() {
            self.stats.snapshots += 1;
        }
        self.process(slot);
    }

    fn admin_faults(&mut self) {
        let f = self.cfg.faults;
        let now = self.now;
        if self.rng.chaos.chance(f.transfer_per_million_steps) {
            if self.rng.chaos.chance(500_000) {
                if let Some(slot) = self.leader() {
                    self.with_server(slot, |s| s.transfer_leadership(now));
                }
            } else if let Some(slot) = self.random_up() {
                self.with_server(slot, |s| s.take_leadership(now));
            }
        }
        if self.rng.chaos.chance(f.timer_change_per_million_steps)
            && let Some(slot) = self.leader()
        {
            let current = self.nodes[slot].up().map_or(1000, Server::election_timer);
            let ms = self.rng.chaos.range(500, (2 * current).min(2_000));
            self.with_server(slot, |s| {
                let _ = s.change_election_timer(now, ms);
            });
        }
        if self.rng.chaos.chance(f.failure_test_per_million_steps)
            && let Some(slot) = self.random_up()
        {
            let tests: Vec<FailureTest> = FailureTest::all().collect();
            let test = tests[self.rng.chaos.index(tests.len())];
            let clear = self.rng.chaos.range(STEP_MS, FAILURE_TEST_MS_MAX);
            let incarnation = self.nodes[slot].incarnation;
            self.record(slot, Mark::FailureTest, clear, || {
                format!("n{slot} failure test {test}")
            });
            self.with_server(slot, |s| {
                let _ = s.set_failure_test(now, test.name());
            });
            self.queue
                .push(now.plus(clear), Ev::ClearFailureTest { slot, incarnation });
        }
    }

    pub(super) fn clear_failure_test(&mut self, slot: usize, incarnation: u64) {
        let now = self.now;
        if self.nodes[slot].incarnation == incarnation {
            self.with_server(slot, |s| {
                let _ = s.set_failure_test(now, "clear");
            });
        }
    }

    fn membership_faults(&mut self) {
        let f = self.cfg.faults;
        let now = self.now;
        let Some(leader) = self.leader() else {
            return;
        };
        let size = self.nodes[leader]
            .up()
            .map_or(0, |s| s.configuration().len());
        let live = self
            .nodes
            .iter()
            .filter(|n| n.state != NodeState::Gone)
            .count();
        let busy = self
            .nodes
            .iter()
            .filter_map(|n| n.up())
            .any(|s| s.is_joining() || s.is_leaving());
        if busy {
            return;
        }
        if live < MAX_NODES && self.rng.chaos.chance(f.join_per_million_steps) {
            self.join();
            return;
        }
        if size <= MIN_NODES {
            return;
        }
        if self.rng.chaos.chance(f.leave_per_million_steps)
            && let Some(slot) = self.random_member(leader)
        {
            self.record(slot, Mark::Leave, 0, || format!("n{slot} leaves"));
            self.with_server(slot, |s| {
                let _ = s.leave(now);
            });
        } else if self.rng.chaos.chance(f.kick_per_million_steps)
            && let (Some(by), Some(target)) = (self.random_up(), self.random_member(leader))
            && by != target
        {
            let address = self.nodes[target].address.clone();
            self.record(by, Mark::Kick, target as u64, || {
                format!("n{by} kicks n{target}")
            });
            self.with_server(by, |s| {
                let _ = s.kick(now, address.as_str());
            });
        }
    }

    fn client_requests(&mut self) {
        for client in self.clients.idle(self.now) {
            let Some(slot) = self.random_up() else {
                return;
            };
            let (op, prereq) = self.clients.next_op(client);
            let now = self.now;
            let node = &mut self.nodes[slot];
            if self.cfg.bugs.stale_reads
                && let crate::linearizability::Op::Get { key } = &op
            {
                let value = node.kv.peek(key);
                self.clients.answered_locally(client, op, value, now);
                continue;
            }
            let prereq = prereq.then_some(node.last_eid);
            let incarnation = node.incarnation;
            let Some(server) = node.server.as_mut() else {
                continue;
            };
            let eid = server.execute(now, kv::encode(&op), prereq);
            self.clients
                .started(client, op, (slot, incarnation, eid), now);
            self.process(slot);
        }
    }

    /// Calls `f` on the server in `slot`, then carries out its actions.
    fn with_server(&mut self, slot: usize, f: impl FnOnce(&mut Server)) {
        if let Some(server) = self.nodes[slot].server.as_mut() {
            f(server);
            self.process(slot);
        }
    }

    /// The up server leading the highest term.
    pub(super) fn leader(&self) -> Option<usize> {
        (0..self.nodes.len())
            .filter_map(|s| self.nodes[s].up().map(|srv| (srv, s)))
            .filter(|(srv, _)| srv.role() == Role::Leader && !srv.is_stopped_for_good())
            .max_by_key(|(srv, _)| srv.term())
            .map(|(_, s)| s)
    }

    fn random_up(&mut self) -> Option<usize> {
        let up: Vec<usize> = (0..self.nodes.len())
            .filter(|&s| {
                self.nodes[s]
                    .up()
                    .is_some_and(|srv| !srv.is_stopped_for_good())
            })
            .collect();
        (!up.is_empty()).then(|| up[self.rng.chaos.index(up.len())])
    }

    /// A random up member of the configuration the server in `leader` knows.
    fn random_member(&mut self, leader: usize) -> Option<usize> {
        let config = self.nodes[leader].up()?.configuration().clone();
        let members: Vec<usize> = (0..self.nodes.len())
            .filter(|&s| config.contains(self.nodes[s].sid) && self.nodes[s].up().is_some())
            .collect();
        (!members.is_empty()).then(|| members[self.rng.chaos.index(members.len())])
    }
}
