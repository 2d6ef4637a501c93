//! Core throughput, measured the way `bench-peers/raft-rs-baseline` measures raft-rs: three
//! servers in one thread, messages routed in-process, writes acknowledged at once, 128-byte
//! commands, each in a fresh allocation (raft-rs's baseline proposes `vec![7u8; 128]` each
//! time). Same phases, same loop shapes, so the two figures compare as a ratio.

use std::time::Instant;

use raft_core::{
    Action, Address, ClusterId, Config, Configuration, ConnId, Data, EntryId, Event, Header, Index,
    Message, Millis, Role, Server, ServerId, Snapshot, Term,
};

/// Bytes of every command.
pub(crate) const PAYLOAD: usize = 128;
/// Elections timed for the election figures.
const ELECTION_TRIALS: u64 = 200;

/// One phase alone, for profiling (`bench core --phase …`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// `batch` commands per round, pipelined.
    Pipelined { batch: u64 },
    /// One command at a time, driven to commit before the next.
    Closed,
}

/// Runs every phase, pipelined ones with `total` commands and the closed loop with a quarter
/// as many (as raft-rs's baseline does), or just `phase` with `total`.
pub(crate) fn run(total: u64, phase: Option<Phase>) {
    match phase {
        Some(Phase::Pipelined { batch }) => {
            println!(
                "core_commits_per_sec batch={batch} {:.0}",
                pipelined(total, batch)
            );
        }
        Some(Phase::Closed) => {
            println!(
                "core_closed_loop_commit_us mean {:.2}",
                closed_loop(total).1
            );
        }
        None => all_phases(total),
    }
}

fn all_phases(total: u64) {
    let closed = (total / 4).max(1);
    println!(
        "# core: raft-core, 3 servers in one thread, in-process routing, writes durable at once"
    );
    println!(
        "# core: payload={PAYLOAD}B commands={total} (closed loop {closed}), as raft-rs-baseline"
    );
    for batch in [1, 64] {
        let rate = pipelined(total, batch);
        println!("core_commits_per_sec batch={batch} {rate:.0}");
    }
    let (rate, us) = closed_loop(closed);
    println!("core_closed_loop_commits_per_sec batch=1 {rate:.0}");
    println!("core_closed_loop_commit_us mean {us:.2}");
    elections();
}

/// The id of server `i` of a benchmark cluster.
pub(crate) fn sid(i: usize) -> ServerId {
    ServerId::from_u128(((i as u128 + 1) * 0x1111) << 112)
}

/// The id of the benchmark cluster.
pub(crate) fn cluster_id() -> ClusterId {
    ClusterId::from_u128(7)
}

/// The address of server `i` of a benchmark cluster.
pub(crate) fn address(i: usize) -> Address {
    Address::parse(&format!("tcp:127.0.0.1:{}", 7000 + i)).expect("a valid address")
}

/// Server `i` of a three-server cluster whose log starts with a snapshot of its
/// configuration, as every member's would after bootstrapping.
pub(crate) fn open_server(i: usize, seed: u64) -> Server {
    let servers = Configuration((0..3).map(|j| (sid(j), address(j))).collect());
    let header = Header {
        server_id: sid(i),
        cluster_id: Some(cluster_id()),
        name: "bench".into(),
        local_address: address(i),
        joining: None,
        snapshot: Some(Snapshot {
            index: Index(1),
            term: Term(1),
            eid: EntryId::from_u128(1),
            servers,
            election_timer: None,
            data: Data::default(),
        }),
    };
    Server::open(header, vec![], Config::with_seed(seed), Millis(0)).expect("a valid header")
}

/// A fresh 128-byte command.
pub(crate) fn command() -> Data {
    Data::from(vec![7u8; PAYLOAD])
}

/// Three servers wired to each other in one thread. Connection `j` of every server leads to
/// server `j`.
struct Cluster {
    nodes: Vec<Server>,
    /// Messages sent and not yet delivered: (to, from, message).
    outbox: Vec<(usize, usize, Box<Message>)>,
    /// Entries applied, per server.
    applied: Vec<u64>,
    now: Millis,
}

impl Cluster {
    fn new(seed: u64) -> Cluster {
        let mut c = Cluster {
            nodes: (0..3).map(|i| open_server(i, seed + i as u64)).collect(),
            outbox: Vec::new(),
            applied: vec![0; 3],
            now: Millis(0),
        };
        for i in 0..3 {
            for j in (0..3).filter(|&j| j != i) {
                let connected = Event::Connected {
                    conn: ConnId(j as u64),
                    incoming: false,
                    address: Some(address(j)),
                };
                c.nodes[i].step(Millis(0), connected);
            }
            c.drain(i);
        }
        c
    }

    /// Carries out server `i`'s actions: writes are durable at once, messages queued.
    /// Returns false if there was nothing to do.
    fn drain(&mut self, i: usize) -> bool {
        let mut busy = false;
        loop {
            let mut last_ticket = None;
            while let Some(action) = self.nodes[i].poll_action() {
                busy = true;
                match action {
                    Action::Send { conn, message } => {
                        self.outbox.push((conn.0 as usize, i, message))
                    }
                    Action::WriteLog { ticket, .. } | Action::ReplaceLog { ticket, .. } => {
                        last_ticket = Some(ticket)
                    }
                    Action::Apply { .. } => self.applied[i] += 1,
                    _ => {}
                }
            }
            match last_ticket {
                Some(ticket) => self.nodes[i].step(self.now, Event::Persisted { ticket }),
                None => return busy,
            }
        }
    }

    fn deliver(&mut self) {
        for (to, from, message) in std::mem::take(&mut self.outbox) {
            let conn = ConnId(from as u64);
            self.nodes[to].step(self.now, Event::Message { conn, message });
        }
    }

    /// One round, as raft-rs's baseline has it: every server carries out its actions, then
    /// every message of the round is delivered. Returns false if nothing happened.
    fn round(&mut self) -> bool {
        let mut busy = false;
        for i in 0..3 {
            busy |= self.drain(i);
        }
        busy |= !self.outbox.is_empty();
        self.deliver();
        busy
    }

    fn leader(&self) -> Option<usize> {
        self.nodes.iter().position(|n| n.role() == Role::Leader)
    }

    /// Lets 10 ms pass and everything settle, so followers hear the last commit index (a
    /// leader tells it with the next append, or an empty one after a millisecond).
    fn settle(&mut self) {
        self.now = self.now.plus(10);
        for node in &mut self.nodes {
            node.step(self.now, Event::Tick);
        }
        while self.round() {}
    }

    /// Advances time 10 ms at a time until a leader exists, then lets its first entry commit
    /// everywhere. Returns the steps taken.
    fn elect(&mut self) -> u64 {
        let mut steps = 0;
        while self.leader().is_none() {
            self.now = self.now.plus(10);
            for node in &mut self.nodes {
                node.step(self.now, Event::Tick);
            }
            while self.round() {}
            steps += 1;
        }
        while self.round() {}
        self.applied = vec![0; 3];
        steps
    }

    /// A cluster with an elected leader, and that leader.
    fn elected() -> (Cluster, usize) {
        let mut c = Cluster::new(1);
        c.elect();
        let leader = c.leader().expect("elected");
        (c, leader)
    }
}

/// Each round executes `batch` commands on the leader and lets every server act once.
/// Returns commits per second.
fn pipelined(total: u64, batch: u64) -> f64 {
    let (mut c, l) = Cluster::elected();
    let start = Instant::now();
    let mut executed = 0;
    while c.applied[l] < total {
        let n = batch.min(total - executed);
        for _ in 0..n {
            c.nodes[l].execute(c.now, command(), None);
        }
        executed += n;
        c.round();
    }
    let secs = start.elapsed().as_secs_f64();
    c.settle();
    assert_eq!(c.leader(), Some(l), "leadership changed mid-run");
    assert!(
        c.applied.iter().all(|&a| a == total),
        "applied {:?}",
        c.applied
    );
    total as f64 / secs
}

/// Executes one command, drives the cluster until the leader applied it, repeats. Returns
/// (commits per second, mean microseconds per commit).
fn closed_loop(total: u64) -> (f64, f64) {
    let (mut c, l) = Cluster::elected();
    let start = Instant::now();
    for i in 1..=total {
        c.nodes[l].execute(c.now, command(), None);
        while c.applied[l] < i {
            c.round();
        }
    }
    let secs = start.elapsed().as_secs_f64();
    (total as f64 / secs, secs * 1e6 / total as f64)
}

/// Elections from a cold start: simulated milliseconds (raft-core's timer is 1000 ms plus up
/// to 1000 ms of jitter; raft-rs counts ticks instead) and the CPU time each took, which, as
/// in raft-rs's baseline, includes the idle ticks before the timer fires.
fn elections() {
    let mut ms = Vec::new();
    let mut micros = Vec::new();
    for trial in 0..ELECTION_TRIALS {
        let t = Instant::now();
        ms.push(Cluster::new(trial * 3).elect() as f64 * 10.0);
        micros.push(t.elapsed().as_secs_f64() * 1e6);
    }
    println!(
        "core_election_ms trials={ELECTION_TRIALS} median {:.0} p99 {:.0}",
        percentile(&mut ms, 0.5),
        percentile(&mut ms, 0.99)
    );
    println!(
        "core_election_cpu_us median {:.1} p99 {:.1}",
        percentile(&mut micros, 0.5),
        percentile(&mut micros, 0.99)
    );
}

/// The `p` quantile of `samples`, picked as raft-rs's baseline picks it.
pub(crate) fn percentile(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[((samples.len() - 1) as f64 * p).round() as usize]
}
