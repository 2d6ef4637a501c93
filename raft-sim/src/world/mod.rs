//! The deterministic world: servers, a clock, a network and disks, all driven by one seed.
//!
//! The world keeps an agenda of events (message deliveries, disk syncs, connection attempts,
//! restarts, and a periodic step of faults and client requests) and the servers' own
//! deadlines, and always carries out the earliest. After each input to a server it drains the
//! server's actions, carries them out, and runs the safety checkers.

mod actions;
mod chaos;
mod clients;
mod disk;
mod heal;
mod net;
mod node;
mod queue;

use std::panic::{self, AssertUnwindSafe};

use raft_core::{
    ClusterId, Configuration, Data, EntryId, Event, Header, Index, Millis, Snapshot, Term,
};

use crate::check::{Checker, Found};
use crate::config::{STEP_MS, SimConfig};
use crate::report::{Property, Report, Stats, Violation};
use crate::rng::SimRng;
use crate::trace::Trace;
use clients::Clients;
use disk::Disk;
use net::Network;
use node::{Node, NodeState};
use queue::{Ev, Queue};

/// The cluster's name in every header.
const CLUSTER_NAME: &str = "sim";

/// One independent random stream per component, so that a change in one (say, one more
/// client request) does not shift the choices of another.
struct Rngs {
    net: SimRng,
    disk: SimRng,
    chaos: SimRng,
    ids: SimRng,
}

/// The simulated world of one run.
pub(crate) struct World {
    cfg: SimConfig,
    now: Millis,
    nodes: Vec<Node>,
    net: Network,
    queue: Queue,
    clients: Clients,
    checker: Checker,
    trace: Trace,
    stats: Stats,
    violation: Option<Violation>,
    rng: Rngs,
    cluster: ClusterId,
    /// True once faults stopped and the cluster must converge.
    healing: bool,
    /// Set when the healed cluster converged.
    converged: bool,
    /// Remarks for the report that are not violations.
    notes: Vec<String>,
}

/// Runs one simulation and reports what it found. A panic inside the core (an assertion or
/// `check_invariants`) is reported as a violation of [`Property::CoreInvariant`].
pub fn run(cfg: SimConfig) -> Report {
    let mut world = World::new(cfg);
    world.run_guarded();
    world.into_report()
}

/// Runs one simulation and returns its report and the full text of its trace.
pub fn run_traced(mut cfg: SimConfig) -> (Report, Vec<String>) {
    cfg.full_trace = true;
    let mut world = World::new(cfg);
    world.run_guarded();
    let lines = world.trace.lines().unwrap_or_default().to_vec();
    (world.into_report(), lines)
}

impl World {
    /// Runs the phases, turning a panic (a core assertion) into a violation.
    fn run_guarded(&mut self) {
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| self.run_phases()));
        if let Err(payload) = outcome {
            let text = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "a panic".to_owned());
            self.violate(Property::CoreInvariant, format!("panic: {text}"));
        }
    }
}

/// Runs one simulation whose random decisions come from `choices` first and from
/// `cfg.seed` once they run out ([`SimRng::with_choices`]): for a fuzzer that picks the
/// schedule and the faults itself. With no choices it is [`run`].
pub fn run_with_choices(cfg: SimConfig, choices: Vec<u8>) -> Report {
    let root = SimRng::with_choices(cfg.seed, choices);
    let mut world = World::with_root(cfg, root);
    world.run_guarded();
    world.into_report()
}

impl World {
    fn new(cfg: SimConfig) -> World {
        let root = SimRng::new(cfg.seed);
        World::with_root(cfg, root)
    }

    /// A world whose components draw from forks of `root`.
    fn with_root(cfg: SimConfig, mut root: SimRng) -> World {
        let mut rng = Rngs {
            net: root.fork(),
            disk: root.fork(),
            chaos: root.fork(),
            ids: root.fork(),
        };
        let clients = Clients::new(cfg.workload, root.fork());
        let cluster = ClusterId::from_u128(u128::from(rng.ids.next_u64()) | 1 << 100);
        let initial_eid = EntryId::from_u128(u128::from(rng.ids.next_u64()));
        let sids: Vec<_> = (0..cfg.nodes)
            .map(|slot| node::server_id(slot, rng.ids.next_u64()))
            .collect();
        let servers = Configuration(
            sids.iter()
                .enumerate()
                .map(|(slot, sid)| (*sid, node::address(slot)))
                .collect(),
        );
        let nodes = sids
            .iter()
            .enumerate()
            .map(|(slot, &sid)| {
                let header = Header {
                    server_id: sid,
                    cluster_id: Some(cluster),
                    name: CLUSTER_NAME.into(),
                    local_address: node::address(slot),
                    joining: None,
                    snapshot: Some(Snapshot {
                        index: Index(1),
                        term: Term(1),
                        eid: initial_eid,
                        servers: servers.clone(),
                        election_timer: None,
                        data: Data::default(),
                    }),
                };
                Node::new(sid, node::address(slot), Disk::new(header, Vec::new()))
            })
            .collect();
        World {
            trace: Trace::new(cfg.full_trace),
            cfg,
            now: Millis(0),
            nodes,
            net: Network::default(),
            queue: Queue::default(),
            clients,
            checker: Checker::new(initial_eid),
            stats: Stats::default(),
            violation: None,
            rng,
            cluster,
            healing: false,
            converged: false,
            notes: Vec::new(),
        }
    }

    /// The faulty phase, then the healed phase, then the final checks.
    fn run_phases(&mut self) {
        for slot in 0..self.nodes.len() {
            self.start(slot);
        }
        self.queue.push(Millis(STEP_MS), Ev::Step);
        self.run_until(Millis(self.cfg.time_ms));
        if self.violation.is_some() {
            return;
        }
        self.heal();
        let heal_start = self.now;
        self.run_until(heal_start.plus(self.cfg.heal_ms_max));
        self.stats.converge_ms = self.now.since(heal_start);
        if self.violation.is_none() && !self.converged {
            let why = self.not_converged().unwrap_or_default();
            let bound = self.cfg.heal_ms_max;
            self.violate(
                Property::Liveness,
                format!("not converged within {bound}ms: {why}"),
            );
        }
        if self.violation.is_none() {
            self.final_checks();
        }
    }

    /// Carries out events in time order until `end`, a violation, or convergence.
    fn run_until(&mut self, end: Millis) {
        while self.violation.is_none() && !self.converged {
            let deadline = self.earliest_deadline();
            let event = self.queue.peek_time();
            let Some(at) = [deadline.map(|d| d.0), event].into_iter().flatten().min() else {
                return;
            };
            if at > end {
                self.now = end;
                return;
            }
            self.now = self.now.max(at);
            self.stats.events += 1;
            match deadline {
                // Due timers go before events of the same instant: the server would have
                // fired them before looking at anything new.
                Some((d, slot)) if d <= at => self.step(slot, Event::Tick),
                _ => {
                    if let Some((_, ev)) = self.queue.pop() {
                        self.dispatch(ev);
                    }
                }
            }
        }
    }

    fn earliest_deadline(&self) -> Option<(Millis, usize)> {
        self.nodes
            .iter()
            .enumerate()
            .filter_map(|(slot, n)| n.deadline.map(|d| (d, slot)))
            .min()
    }

    fn dispatch(&mut self, ev: Ev) {
        match ev {
            Ev::Deliver {
                link,
                to_end,
                message,
            } => self.deliver(link, to_end, message),
            Ev::Node {
                slot,
                incarnation,
                event,
            } => {
                if self.nodes[slot].incarnation == incarnation {
                    self.step(slot, event);
                }
            }
            Ev::SyncDone { slot, generation } => self.sync_done(slot, generation),
            Ev::Dial {
                slot,
                incarnation,
                address,
            } => self.dial(slot, incarnation, address),
            Ev::Restart { slot } => self.restart(slot),
            Ev::ClearFailureTest { slot, incarnation } => {
                self.clear_failure_test(slot, incarnation)
            }
            Ev::Step => {
                if self.healing {
                    self.converged = self.not_converged().is_none();
                } else {
                    self.chaos_step();
                }
                self.queue.push(self.now.plus(STEP_MS), Ev::Step);
            }
        }
    }

    /// Feeds `event` to the server in `slot` (if it is up) and carries out what follows.
    fn step(&mut self, slot: usize, event: Event) {
        let now = self.now;
        let Some(server) = self.nodes[slot].server.as_mut() else {
            return;
        };
        if self.trace.is_full() {
            let text = format!("n{slot} <- {event:?}");
            self.trace
                .record(now.0, [Mark::Input as u64, slot as u64, 0], || text);
        } else {
            self.trace.record(
                now.0,
                [Mark::Input as u64, slot as u64, event_code(&event)],
                String::new,
            );
        }
        server.step(now, event);
        self.process(slot);
    }

    /// Drains the actions of `slot`, carries them out, then runs the per-step checkers.
    fn process(&mut self, slot: usize) {
        loop {
            let Some(server) = self.nodes[slot].server.as_mut() else {
                return; // Crashed while carrying out its actions.
            };
            let Some(action) = server.poll_action() else {
                break;
            };
            self.act(slot, action);
        }
        let node = &mut self.nodes[slot];
        let Some(server) = node.server.as_ref() else {
            return;
        };
        node.deadline = server.next_deadline();
        let found = self.checker.after_step(server, &mut node.check);
        self.stats.max_commit = self.stats.max_commit.max(server.commit_index().0);
        if server.has_left() {
            self.gone(slot);
        }
        self.found(found);
    }

    /// A server left the cluster for good: it stops, its connections close.
    fn gone(&mut self, slot: usize) {
        let node = &mut self.nodes[slot];
        node.state = NodeState::Gone;
        node.server = None;
        node.deadline = None;
        node.wants.clear();
        self.stats.removals += 1;
        self.record(slot, Mark::Left, 0, || format!("n{slot} left the cluster"));
        for link in self.net.links_of(slot) {
            self.close_link(link);
        }
    }

    /// Adds one line (or digest) to the trace.
    fn record(&mut self, slot: usize, mark: Mark, x: u64, text: impl FnOnce() -> String) {
        self.trace
            .record(self.now.0, [mark as u64, slot as u64, x], text);
    }

    /// Records a violation (only the first one counts).
    fn violate(&mut self, property: Property, detail: String) {
        if self.violation.is_none() {
            let at_ms = self.now.0;
            self.record(0, Mark::Violation, property as u64, || {
                format!("VIOLATION {property}: {detail}")
            });
            self.violation = Some(Violation {
                property,
                at_ms,
                detail,
            });
        }
    }

    fn found(&mut self, found: Found) {
        if let Err((property, detail)) = found {
            self.violate(property, detail);
        }
    }

    fn into_report(self) -> Report {
        let mut stats = self.stats;
        stats.sim_ms = self.now.0;
        stats.leader_terms = self.checker.leader_terms();
        let o = self.clients.outcomes;
        (
            stats.ops_invoked,
            stats.ops_ok,
            stats.ops_unknown,
            stats.ops_refused,
        ) = (o.invoked, o.ok, o.unknown, o.refused);
        let mut notes = self.notes;
        if self.clients.stray_completions > 0 {
            notes.push(format!(
                "{} command completions on servers whose client did not send them",
                self.clients.stray_completions
            ));
        }
        Report {
            trace_hash: self.trace.hash(),
            config: self.cfg,
            violation: self.violation,
            stats,
            notes,
        }
    }
}

/// What a trace line records (the first word of its digest).
#[derive(Clone, Copy)]
enum Mark {
    Input = 1,
    Action,
    Leads,
    Connected,
    LinkClosed,
    LinkReset,
    PartitionHealed,
    Partition,
    DiskStall,
    FailureTest,
    Leave,
    Kick,
    Started,
    NoLongerMember,
    Crashed,
    Joins,
    Left,
    Healing,
    Violation,
}

/// A compact digest of an event for the trace hash.
fn event_code(event: &Event) -> u64 {
    match event {
        Event::Tick => 1,
        Event::Message { conn, message } => {
            (conn.0 << 24)
                ^ (message.rpc.term().map_or(0, |t| t.0) << 8)
                ^ message.rpc.name().len() as u64
        }
        Event::Persisted { ticket } => 2 | ticket.0 << 8,
        Event::PersistFailed { .. } => 3,
        Event::Connected { conn, .. } => 4 | conn.0 << 8,
        Event::Disconnected { conn } => 5 | conn.0 << 8,
    }
}
