//! Core throughput, measured the way `bench-peers/raft-rs-baseline` measures raft-rs: three
//! servers in one thread, messages routed in-process, writes acknowledged at once, 128-byte
//! commands. Prints one figure per line.
//!
//! Usage: cargo run --release -p raft-core --example core_bench [TOTAL]

use std::time::Instant;

use raft_core::*;

const PAYLOAD: usize = 128;

fn sid(i: usize) -> ServerId {
    ServerId::from_u128(((i as u128 + 1) * 0x1111) << 112)
}

fn address(i: usize) -> Address {
    Address::parse(&format!("tcp:127.0.0.1:{}", 7000 + i)).unwrap()
}

struct Cluster {
    nodes: Vec<Server>,
    /// (to, from, message)
    outbox: Vec<(usize, usize, Box<Message>)>,
    applied: Vec<u64>,
    now: Millis,
}

impl Cluster {
    fn new(seed: u64) -> Cluster {
        let servers = Configuration((0..3).map(|j| (sid(j), address(j))).collect());
        let nodes = (0..3)
            .map(|i| {
                let header = Header {
                    server_id: sid(i),
                    cluster_id: Some(ClusterId::from_u128(7)),
                    name: "bench".into(),
                    local_address: address(i),
                    joining: None,
                    snapshot: Some(Snapshot {
                        index: Index(1),
                        term: Term(1),
                        eid: EntryId::from_u128(1),
                        servers: servers.clone(),
                        election_timer: None,
                        data: Data::default(),
                    }),
                };
                Server::open(
                    header,
                    vec![],
                    Config::with_seed(seed + i as u64),
                    Millis(0),
                )
                .unwrap()
            })
            .collect();
        let mut c = Cluster {
            nodes,
            outbox: Vec::new(),
            applied: vec![0; 3],
            now: Millis(0),
        };
        // Connection j of node i leads to node j.
        for i in 0..3 {
            for j in (0..3).filter(|&j| j != i) {
                c.nodes[i].step(
                    Millis(0),
                    Event::Connected {
                        conn: ConnId(j as u64),
                        incoming: false,
                        address: Some(address(j)),
                    },
                );
            }
            c.drain(i);
        }
        c
    }

    /// Carries out node `i`'s actions: writes are durable at once, messages queued.
    fn drain(&mut self, i: usize) -> bool {
        let mut busy = false;
        let mut last_ticket = None;
        loop {
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
            match last_ticket.take() {
                Some(ticket) => self.nodes[i].step(self.now, Event::Persisted { ticket }),
                None => return busy,
            }
        }
    }

    fn deliver(&mut self) {
        for (to, from, message) in std::mem::take(&mut self.outbox) {
            self.nodes[to].step(
                self.now,
                Event::Message {
                    conn: ConnId(from as u64),
                    message,
                },
            );
        }
    }

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

    /// Advances time 10 ms at a time until a leader exists; returns the steps taken.
    fn elect(&mut self) -> u64 {
        let mut steps = 0;
        while self.leader().is_none() {
            self.now = self.now.plus(10);
            for i in 0..3 {
                self.nodes[i].step(self.now, Event::Tick);
            }
            while self.round() {}
            steps += 1;
        }
        // Let the no-op commit everywhere.
        while self.round() {}
        self.applied = vec![0; 3];
        steps
    }
}

fn pipelined(total: u64, batch: u64) -> f64 {
    let mut c = Cluster::new(1);
    c.elect();
    let l = c.leader().unwrap();
    let payload = Data::from(vec![7u8; PAYLOAD]);
    let start = Instant::now();
    let mut proposed = 0;
    while c.applied[l] < total {
        let n = batch.min(total - proposed);
        for _ in 0..n {
            let _ = c.nodes[l].execute(c.now, payload.clone(), None);
        }
        proposed += n;
        c.round();
    }
    let secs = start.elapsed().as_secs_f64();
    while c.round() {}
    assert_eq!(c.leader(), Some(l), "leadership changed mid-run");
    assert!(
        c.applied.iter().all(|&a| a == total),
        "applied {:?}",
        c.applied
    );
    total as f64 / secs
}

fn closed_loop(total: u64) -> (f64, f64) {
    let mut c = Cluster::new(1);
    c.elect();
    let l = c.leader().unwrap();
    let payload = Data::from(vec![7u8; PAYLOAD]);
    let start = Instant::now();
    for i in 1..=total {
        let _ = c.nodes[l].execute(c.now, payload.clone(), None);
        while c.applied[l] < i {
            c.round();
        }
    }
    let secs = start.elapsed().as_secs_f64();
    (total as f64 / secs, secs * 1e6 / total as f64)
}

fn main() {
    let total: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("TOTAL must be a number"))
        .unwrap_or(200_000);
    // A single phase, for profiling: `pipelined` or `closed`.
    match std::env::args().nth(2).as_deref() {
        Some("pipelined") => {
            return println!("core_commits_per_sec batch=1 {:.0}", pipelined(total, 1));
        }
        Some("closed") => {
            return println!(
                "core_closed_loop_commit_us mean {:.2}",
                closed_loop(total).1
            );
        }
        _ => {}
    }
    println!("# raft-core, 3 nodes, in-process routing, writes durable at once");
    println!("# payload={PAYLOAD}B commands={total}");
    for batch in [1u64, 64] {
        let rate = pipelined(total, batch);
        println!("core_commits_per_sec batch={batch} {rate:.0}");
    }
    let (rate, us) = closed_loop((total / 4).max(1));
    println!("core_closed_loop_commits_per_sec batch=1 {rate:.0}");
    println!("core_closed_loop_commit_us mean {us:.2}");
    let mut steps: Vec<u64> = (0..200).map(|s| Cluster::new(s * 3).elect()).collect();
    steps.sort_unstable();
    println!(
        "core_election_ms median {} p99 {}",
        steps[100] * 10,
        steps[198] * 10
    );
}
