//! Carrying out the servers' actions: sends, writes, applies, command answers, connections.

use raft_core::{Action, Address, Data, Event, Index, Message, Notice, Payload, Record, Role, Rpc};

use super::node::NodeState;
use super::queue::Ev;
use super::{Mark, World};
use crate::kv;
use crate::report::Property;

/// With the test-only `ack_before_durable` bug, how long acknowledged writes stay volatile.
const LYING_FLUSH_MS: u64 = 5_000;

impl World {
    /// Carries out one action of the server in `slot`.
    pub(super) fn act(&mut self, slot: usize, action: Action) {
        if self.trace.is_full() && !matches!(action, Action::Log { .. }) {
            let text = format!("n{slot} -> {action:?}");
            self.record(slot, Mark::Action, 0, || text);
        }
        match action {
            Action::Send { conn, message } => self.send(slot, conn, message),
            Action::WriteLog { ticket, records } => {
                self.lower_checked(slot, &records);
                let start = self.nodes[slot].disk.append(ticket, records);
                self.written(slot, ticket, start);
            }
            Action::ReplaceLog {
                ticket,
                header,
                records,
            } => {
                self.nodes[slot].check.checked_from = Index(0);
                let start = self.nodes[slot].disk.replace(ticket, header, records);
                self.written(slot, ticket, start);
            }
            Action::ApplySnapshot { index, eid, data } => {
                self.apply_snapshot(slot, index, eid, data)
            }
            Action::Apply { index, eid, data } => self.apply(slot, index, eid, data),
            Action::CommandDone { eid, status, index } => {
                let result = self.checker.result(eid);
                self.clients
                    .done(slot, eid, status, index, self.now, result);
            }
            Action::Connect { address } => {
                self.nodes[slot].wants.insert(address.clone());
                self.schedule_dial(slot, address);
            }
            Action::Disconnect { address } => {
                self.nodes[slot].wants.remove(&address);
                for link in self.net.outgoing(slot, &address) {
                    self.close_link(link);
                }
            }
            Action::Notify(notice) => self.notice(slot, notice),
            Action::Log { .. } => {}
            Action::Crash { reason } => self.crash(slot, reason),
        }
    }

    fn notice(&mut self, slot: usize, notice: Notice) {
        if let Notice::RoleChanged {
            role: Role::Leader,
            term,
        } = notice
        {
            self.record(slot, Mark::Leads, term.0, || {
                format!("n{slot} leads term {term}")
            });
        }
    }

    /// Entries written at an index below what the checker verified replace what it saw.
    fn lower_checked(&mut self, slot: usize, records: &[Record]) {
        let first = records.iter().find_map(|r| match r {
            Record::Entry { index, .. } => Some(*index),
            _ => None,
        });
        if let Some(first) = first {
            let check = &mut self.nodes[slot].check;
            check.checked_from = check.checked_from.min(first);
        }
    }

    /// A write was queued; start a sync if none is in flight.
    fn written(&mut self, slot: usize, ticket: raft_core::WriteTicket, start: bool) {
        if self.cfg.bugs.ack_before_durable {
            let incarnation = self.nodes[slot].incarnation;
            let event = Event::Persisted { ticket };
            self.queue.push(
                self.now,
                Ev::Node {
                    slot,
                    incarnation,
                    event,
                },
            );
        }
        if start {
            self.start_sync(slot);
        }
    }

    fn start_sync(&mut self, slot: usize) {
        let f = &self.cfg.faults;
        let mut latency = self
            .rng
            .disk
            .range(f.disk_latency_ms_min, f.disk_latency_ms_max);
        if self.cfg.bugs.ack_before_durable {
            // The fsync lies: data reaches the disk only at the next periodic flush.
            latency += LYING_FLUSH_MS;
        }
        let node = &mut self.nodes[slot];
        if node.disk.start_sync() {
            let at = self.now.plus(latency).max(node.stalled_until);
            let generation = node.disk.generation;
            self.queue.push(at, Ev::SyncDone { slot, generation });
        }
    }

    /// A sync completed: report the newest durable ticket, then sync what queued meanwhile.
    pub(super) fn sync_done(&mut self, slot: usize, generation: u64) {
        let node = &mut self.nodes[slot];
        if node.disk.generation != generation || node.state != NodeState::Up {
            return;
        }
        if node.stalled_until > self.now {
            let at = node.stalled_until;
            self.queue.push(at, Ev::SyncDone { slot, generation });
            return;
        }
        if node.fail_next_sync {
            // The write failed: the server stops (S10); an operator restarts the machine,
            // and what the failed sync covered is as lost as after a crash.
            let Some(ticket) = node.disk.syncing_ticket() else {
                return;
            };
            let reason = "simulated write error".to_owned();
            self.step(slot, Event::PersistFailed { ticket, reason });
            self.crash(slot, "write error");
            return;
        }
        let Some(ticket) = node.disk.finish_sync() else {
            return;
        };
        if !self.cfg.bugs.ack_before_durable {
            self.step(slot, Event::Persisted { ticket });
        }
        if self.nodes[slot].state == NodeState::Up {
            self.start_sync(slot);
        }
    }

    fn apply_snapshot(&mut self, slot: usize, index: Index, eid: raft_core::EntryId, data: Data) {
        let node = &mut self.nodes[slot];
        let Some(kv) = kv::Kv::restore(&data) else {
            let text = format!("n{slot} got unreadable snapshot data at {index}");
            self.violate(Property::StateMachineSafety, text);
            return;
        };
        node.kv = kv;
        node.last_eid = eid;
        let found = self
            .checker
            .applied_snapshot(node.sid, &mut node.check, index, eid);
        self.found(found);
    }

    fn apply(&mut self, slot: usize, index: Index, eid: raft_core::EntryId, data: Data) {
        let Some(op) = kv::decode(data.as_bytes()) else {
            let text = format!("n{slot} applied unknown command {data:?} at {index}");
            self.violate(Property::StateMachineSafety, text);
            return;
        };
        let node = &mut self.nodes[slot];
        let response = node.kv.apply(&op);
        node.last_eid = eid;
        let found = self
            .checker
            .applied(node.sid, &mut node.check, index, eid, response.clone());
        self.clients.applied(eid, &response, self.now);
        self.found(found);
    }

    // -------------------------------------------------------------------------------------
    // The network.

    /// Puts a message on its link, subject to partitions, loss, delay, duplication and
    /// reordering.
    fn send(&mut self, slot: usize, conn: raft_core::ConnId, message: Box<Message>) {
        let Some((link, to_end, to)) = self.net.route(slot, conn) else {
            return; // The connection is gone: the core hears of it through Disconnected.
        };
        let f = self.cfg.faults;
        if self.net.is_cut(slot, to) || self.rng.net.chance(f.drop_per_million) {
            return;
        }
        if self.cfg.bugs.vote_twice {
            self.forge_second_vote(slot, &message);
        }
        let delay = self.rng.net.skewed(f.delay_ms_min, f.delay_ms_max);
        // The reference relays commands with no retransmission or sequence numbers, relying
        // on the connection's order: a leader's refusal of a duplicate must not overtake its
        // answer to the original. Everything else may be reordered.
        let relay = matches!(
            message.rpc,
            Rpc::ExecuteCommandRequest { .. } | Rpc::ExecuteCommandReply { .. }
        );
        let reorder = !relay && self.rng.net.chance(f.reorder_per_million);
        let at = self.net.arrival(link, to_end, self.now, delay, reorder);
        if self.rng.net.chance(f.duplicate_per_million) {
            let again = at.plus(self.rng.net.skewed(f.delay_ms_min, f.delay_ms_max));
            let copy = message.clone();
            self.queue.push(
                again,
                Ev::Deliver {
                    link,
                    to_end,
                    message: copy,
                },
            );
        }
        self.queue.push(
            at,
            Ev::Deliver {
                link,
                to_end,
                message,
            },
        );
    }

    /// A message arrives, if its link still exists.
    pub(super) fn deliver(&mut self, link: u64, to_end: usize, mut message: Box<Message>) {
        let Some((slot, conn)) = self.net.end(link, to_end) else {
            return;
        };
        self.stats.messages += 1;
        self.mutate(&mut message);
        self.step(slot, Event::Message { conn, message });
    }

    /// The test-only bugs that alter messages in flight.
    fn mutate(&self, message: &mut Message) {
        let bugs = self.cfg.bugs;
        let Rpc::AppendRequest {
            prev_index,
            leader_commit,
            entries,
            ..
        } = &mut message.rpc
        else {
            return;
        };
        if bugs.forge_commit {
            *leader_commit = (*leader_commit).max(Index(prev_index.0 + entries.len() as u64));
        }
        if bugs.corrupt_entries {
            for e in std::sync::Arc::make_mut(entries) {
                if let Payload::Data { data, .. } = &mut e.payload {
                    *data = Data::from("put corrupted x");
                }
            }
        }
    }

    /// Test-only bug: a voter granting its vote also grants one to another candidate of the
    /// same term.
    fn forge_second_vote(&mut self, slot: usize, message: &Message) {
        let Rpc::VoteReply { term, vote } = message.rpc else {
            return;
        };
        let voter = self.nodes[slot].sid;
        let rival = self.nodes.iter().position(|n| {
            n.up().is_some_and(|s| {
                s.role() == Role::Candidate && s.term() == term && n.sid != vote && n.sid != voter
            })
        });
        let Some(rival) = rival else { return };
        let Some((link, end)) = self.net.links_of(slot).into_iter().find_map(|l| {
            let ends = [self.net.end(l, 0)?, self.net.end(l, 1)?];
            let end = ends.iter().position(|(s, _)| *s == rival)?;
            (ends[1 - end].0 == slot).then_some((l, end))
        }) else {
            return;
        };
        let mut forged = message.clone();
        forged.to = Some(self.nodes[rival].sid);
        forged.rpc = Rpc::VoteReply {
            term,
            vote: self.nodes[rival].sid,
        };
        self.queue.push(
            self.now.plus(1),
            Ev::Deliver {
                link,
                to_end: end,
                message: Box::new(forged),
            },
        );
    }

    fn schedule_dial(&mut self, slot: usize, address: Address) {
        let wait = self.rng.net.range(1, self.cfg.faults.connect_ms_max.max(1));
        let incarnation = self.nodes[slot].incarnation;
        self.queue.push(
            self.now.plus(wait),
            Ev::Dial {
                slot,
                incarnation,
                address,
            },
        );
    }

    /// A connection attempt: it succeeds if both machines are up and no partition cuts them;
    /// otherwise it is retried while the address is still wanted.
    pub(super) fn dial(&mut self, slot: usize, incarnation: u64, address: Address) {
        let node = &self.nodes[slot];
        if node.incarnation != incarnation
            || node.state != NodeState::Up
            || !node.wants.contains(&address)
            || !self.net.outgoing(slot, &address).is_empty()
        {
            return;
        }
        let target = self
            .nodes
            .iter()
            .position(|n| n.address == address && n.state == NodeState::Up);
        let Some(to) =
            target.filter(|&to| !self.net.is_cut(slot, to) && !self.net.is_cut(to, slot))
        else {
            self.schedule_dial(slot, address);
            return;
        };
        let (link, mine, theirs) = self.net.connect(slot, to, address.clone());
        self.record(slot, Mark::Connected, link, || {
            format!("n{slot} connected to n{to} (link {link})")
        });
        let (my_inc, their_inc) = (incarnation, self.nodes[to].incarnation);
        let now = self.now;
        let accepted = Event::Connected {
            conn: theirs,
            incoming: true,
            address: None,
        };
        let dialled = Event::Connected {
            conn: mine,
            incoming: false,
            address: Some(address),
        };
        self.queue.push(
            now,
            Ev::Node {
                slot: to,
                incarnation: their_inc,
                event: accepted,
            },
        );
        self.queue.push(
            now,
            Ev::Node {
                slot,
                incarnation: my_inc,
                event: dialled,
            },
        );
    }

    /// Closes a link: both ends hear it went away; the dialler redials if it still wants to.
    pub(super) fn close_link(&mut self, link: u64) {
        let Some(l) = self.net.close(link) else {
            return;
        };
        self.record(l.ends[0].0, Mark::LinkClosed, link, || {
            format!("link {link} closed")
        });
        for (slot, conn) in l.ends {
            let node = &self.nodes[slot];
            if node.state == NodeState::Up {
                let incarnation = node.incarnation;
                let event = Event::Disconnected { conn };
                self.queue.push(
                    self.now,
                    Ev::Node {
                        slot,
                        incarnation,
                        event,
                    },
                );
            }
        }
        let (dialler, _) = l.ends[0];
        if self.nodes[dialler].wants.contains(&l.address) {
            self.schedule_dial(dialler, l.address);
        }
    }
}
