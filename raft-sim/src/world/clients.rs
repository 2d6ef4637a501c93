//! The client workload: clients that each keep at most one request outstanding on some
//! server, and the history of what they asked and were told.

use std::collections::BTreeMap;

use raft_core::{CommandStatus, EntryId, Index, Millis};

use crate::config::Workload;
use crate::linearizability::{ClientId, History, Op, OpId, Response};
use crate::rng::SimRng;

/// A request in progress.
#[derive(Clone, Debug)]
struct Pending {
    op_id: OpId,
    slot: usize,
    incarnation: u64,
    eid: EntryId,
}

#[derive(Clone, Debug, Default)]
struct Client {
    next_at: Millis,
    pending: Option<Pending>,
    writes: u64,
    /// The last value this client saw for each key, as a likely compare-and-swap guess.
    seen: BTreeMap<String, Option<String>>,
}

/// Counts of how requests ended.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Outcomes {
    pub(crate) invoked: u64,
    pub(crate) ok: u64,
    pub(crate) unknown: u64,
    pub(crate) refused: u64,
}

/// Every client, and the history.
pub(crate) struct Clients {
    clients: Vec<Client>,
    pub(crate) history: History,
    /// (server slot, entry id) → client waiting for that command.
    by_eid: BTreeMap<(usize, EntryId), usize>,
    /// Commands reported successful whose result no server has applied yet.
    awaiting: BTreeMap<EntryId, usize>,
    /// Every command reported successful, with the index it was reported committed at.
    pub(crate) acked: Vec<(EntryId, Index)>,
    pub(crate) outcomes: Outcomes,
    /// Completions for commands nobody here is waiting for (the core may report a relayed
    /// command's success on the former leader that took it).
    pub(crate) stray_completions: u64,
    rng: SimRng,
    workload: Workload,
}

impl Clients {
    pub(crate) fn new(workload: Workload, rng: SimRng) -> Clients {
        Clients {
            clients: vec![Client::default(); workload.clients],
            history: History::new(),
            by_eid: BTreeMap::new(),
            awaiting: BTreeMap::new(),
            acked: Vec::new(),
            outcomes: Outcomes::default(),
            stray_completions: 0,
            rng,
            workload,
        }
    }

    /// Clients ready for a new request at `now`.
    pub(crate) fn idle(&self, now: Millis) -> Vec<usize> {
        (0..self.clients.len())
            .filter(|&c| self.clients[c].pending.is_none() && self.clients[c].next_at <= now)
            .collect()
    }

    /// Requests still waiting for an answer (not counting successes waiting for a result).
    pub(crate) fn outstanding(&self) -> usize {
        self.clients.iter().filter(|c| c.pending.is_some()).count()
    }

    /// A random choice from the workload's mix, with a prerequisite or not.
    pub(crate) fn next_op(&mut self, client: usize) -> (Op, bool) {
        let key = format!("k{}", self.rng.below(self.workload.keys as u64));
        let c = &mut self.clients[client];
        let roll = self.rng.below(100);
        let op = if roll < 35 {
            Op::get(key)
        } else if roll < 70 {
            c.writes += 1;
            Op::put(key, format!("c{client}-{}", c.writes))
        } else if roll < 90 {
            c.writes += 1;
            let expected = c.seen.get(&key).cloned().flatten();
            Op::Cas {
                key,
                expected,
                new: format!("c{client}-{}", c.writes),
            }
        } else {
            Op::delete(key)
        };
        let prereq = self.rng.chance(self.workload.prereq_per_million);
        (op, prereq)
    }

    /// `client` sent `op` to the server in `slot` at `now`; the server named it `eid`.
    pub(crate) fn started(
        &mut self,
        client: usize,
        op: Op,
        at: (usize, u64, EntryId),
        now: Millis,
    ) {
        let (slot, incarnation, eid) = at;
        let op_id = self.history.invoke(ClientId(client as u64), op, now.0);
        self.outcomes.invoked += 1;
        self.by_eid.insert((slot, eid), client);
        self.clients[client].pending = Some(Pending {
            op_id,
            slot,
            incarnation,
            eid,
        });
    }

    /// `client` had a read answered on the spot (the test-only stale-read bug).
    pub(crate) fn answered_locally(
        &mut self,
        client: usize,
        op: Op,
        value: Option<String>,
        now: Millis,
    ) {
        let op_id = self.history.invoke(ClientId(client as u64), op, now.0);
        self.outcomes.invoked += 1;
        self.outcomes.ok += 1;
        self.history.complete(op_id, Response::Value(value), now.0);
        self.rest(client, now);
    }

    /// The server in `slot` reported how command `eid` ended; `result` is what the command
    /// answered where it was applied, if some server applied it already.
    pub(crate) fn done(
        &mut self,
        slot: usize,
        eid: EntryId,
        status: CommandStatus,
        index: Option<Index>,
        now: Millis,
        result: Option<&(Index, Response)>,
    ) {
        let Some(client) = self.by_eid.remove(&(slot, eid)) else {
            self.stray_completions += 1;
            return;
        };
        match status {
            CommandStatus::Success => {
                self.acked.push((eid, index.unwrap_or_default()));
                self.outcomes.ok += 1;
                match result {
                    Some((_, response)) => self.complete(client, response.clone(), now),
                    None => {
                        self.awaiting.insert(eid, client);
                    }
                }
            }
            // The core refuses these before the command reaches the log (C3, C4, C5).
            CommandStatus::NotLeader | CommandStatus::BadPrerequisite => {
                self.outcomes.refused += 1;
                let p = self.clients[client].pending.take();
                if let Some(p) = p {
                    self.history.fail_not_applied(p.op_id);
                }
                self.rest(client, now);
            }
            _ => self.give_up(client, now),
        }
    }

    /// Some server applied command `eid`: a client told of its success learns the answer.
    pub(crate) fn applied(&mut self, eid: EntryId, response: &Response, now: Millis) {
        if let Some(client) = self.awaiting.remove(&eid) {
            self.complete(client, response.clone(), now);
        }
    }

    /// The server in `slot` crashed: requests on it have unknown outcomes.
    pub(crate) fn crashed(&mut self, slot: usize, incarnation: u64, now: Millis) {
        for client in 0..self.clients.len() {
            let on_it = self.clients[client]
                .pending
                .as_ref()
                .is_some_and(|p| p.slot == slot && p.incarnation == incarnation);
            if on_it && !self.awaiting.values().any(|&c| c == client) {
                self.give_up(client, now);
            }
        }
    }

    fn complete(&mut self, client: usize, response: Response, now: Millis) {
        let Some(p) = self.clients[client].pending.take() else {
            return;
        };
        self.awaiting.remove(&p.eid);
        let key = self.history.record(p.op_id).op.key().to_owned();
        let seen = match (&self.history.record(p.op_id).op, &response) {
            (_, Response::Value(v)) => v.clone(),
            (Op::Put { value, .. }, _) => Some(value.clone()),
            (Op::Cas { new, .. }, Response::Cas(true)) => Some(new.clone()),
            (Op::Cas { expected, .. }, _) => expected.clone(),
            (Op::Delete { .. }, _) => None,
            (Op::Get { .. }, _) => None,
        };
        self.clients[client].seen.insert(key, seen);
        self.history.complete(p.op_id, response, now.0);
        self.rest(client, now);
    }

    fn give_up(&mut self, client: usize, now: Millis) {
        if let Some(p) = self.clients[client].pending.take() {
            self.by_eid.remove(&(p.slot, p.eid));
            self.history.fail_unknown(p.op_id);
            self.outcomes.unknown += 1;
        }
        self.rest(client, now);
    }

    fn rest(&mut self, client: usize, now: Millis) {
        let pause = self.rng.range(1, self.workload.think_ms_max.max(1));
        self.clients[client].next_at = now.plus(pause);
    }

    /// Successful commands no server has applied.
    pub(crate) fn unapplied_successes(&self) -> Vec<EntryId> {
        self.awaiting.keys().copied().collect()
    }
}
