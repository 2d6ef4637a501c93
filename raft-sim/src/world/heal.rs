//! The healed phase: faults stop, crashed machines restart, partitions heal, and the cluster
//! must converge; then the end-of-run checks.

use raft_core::{Role, Server};

use super::node::NodeState;
use super::queue::Ev;
use super::{Mark, World};
use crate::linearizability::{self, Verdict};
use crate::report::Property;

impl World {
    /// Stops every fault: partitions heal, stalled disks resume, failure tests end, crashed
    /// machines restart. Clients send nothing new. Messages are still delayed, and lost,
    /// duplicated or reordered at the configured rates: convergence must not need a perfect
    /// network.
    pub(super) fn heal(&mut self) {
        self.healing = true;
        self.net.heal();
        self.record(0, Mark::Healing, 0, || "healing".into());
        let now = self.now;
        for slot in 0..self.nodes.len() {
            let node = &mut self.nodes[slot];
            match node.state {
                NodeState::Down => self.queue.push(now, Ev::Restart { slot }),
                NodeState::Up => {
                    if node.stalled_until > now {
                        // The sync waiting for the stall to end completes now instead.
                        node.stalled_until = now;
                        node.disk.generation += 1;
                        let generation = node.disk.generation;
                        self.queue.push(now, Ev::SyncDone { slot, generation });
                    }
                    let incarnation = node.incarnation;
                    self.clear_failure_test(slot, incarnation);
                }
                NodeState::Gone => {}
            }
        }
    }

    /// Why the cluster has not converged yet, or `None` once it has: one leader that
    /// committed an entry of its term, every member up and applied to its commit index, no
    /// join or leave in progress, no client request unanswered.
    pub(super) fn not_converged(&self) -> Option<String> {
        if let Some(slot) = (0..self.nodes.len()).find(|&s| self.nodes[s].state == NodeState::Down)
        {
            return Some(format!("n{slot} is down"));
        }
        let leaders: Vec<usize> = (0..self.nodes.len())
            .filter(|&s| {
                self.nodes[s]
                    .up()
                    .is_some_and(|srv| srv.role() == Role::Leader)
            })
            .collect();
        let [leader] = leaders[..] else {
            return Some(format!("leaders: {leaders:?}"));
        };
        let l = self.nodes[leader].up()?;
        let commit = l.commit_index();
        if l.term_at(commit) != Some(l.term()) {
            return Some(format!(
                "leader n{leader} has not committed an entry of its term"
            ));
        }
        for (slot, node) in self.nodes.iter().enumerate() {
            let Some(s) = node.up() else { continue };
            if s.is_joining() || s.is_leaving() {
                return Some(format!("n{slot} is still joining or leaving"));
            }
            if !l.configuration().contains(node.sid) {
                continue;
            }
            if s.applied_index() != commit || s.commit_index() != commit {
                return Some(format!(
                    "n{slot} applied {} and committed {}, the leader n{leader} committed {commit}",
                    s.applied_index(),
                    s.commit_index()
                ));
            }
        }
        if let Some(sid) = l
            .configuration()
            .iter()
            .map(|(sid, _)| sid)
            .find(|sid| !self.nodes.iter().any(|n| n.sid == *sid && n.up().is_some()))
        {
            return Some(format!("member {sid:?} is not running"));
        }
        let waiting = self.clients.outstanding();
        let unapplied = self.clients.unapplied_successes().len();
        (waiting > unapplied).then(|| format!("{waiting} client requests unanswered"))
    }

    /// The end-of-run checks: every acknowledged command was applied where it was reported
    /// committed, and the history is linearizable.
    pub(super) fn final_checks(&mut self) {
        let leader = self
            .leader()
            .and_then(|s| self.nodes[s].up())
            .map(Server::commit_index);
        for &(eid, index) in &self.clients.acked {
            match self.checker.applied_at(eid) {
                Some(at) if at == index && leader.is_some_and(|c| c >= index) => {}
                at => {
                    let text = format!(
                        "command {eid:?} was reported committed at {index} but was applied at {at:?}"
                    );
                    self.violate(Property::AckedCommandLost, text);
                    return;
                }
            }
        }
        match linearizability::check(&self.clients.history) {
            Verdict::Linearizable => {}
            Verdict::NotLinearizable { key, explanation } => {
                let text = format!("key {key:?}: {explanation}");
                self.violate(Property::Linearizability, text);
            }
            Verdict::Unknown { reason } => {
                self.notes
                    .push(format!("linearizability undecided: {reason}"));
            }
        }
    }
}
