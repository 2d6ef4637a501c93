//! Process-level fault test: the leader is killed with SIGKILL again and again while clients
//! run puts, reads and compare-and-sets through every server; each time it is restarted. Every
//! acknowledged write must survive and the whole history must be linearizable (raft-sim's
//! checker).

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{PATIENCE, cluster, fail, get};
use raft_mio::kv::cluster::wait_for;
use raft_mio::kv::{ClientError, KvClient, KvCommand, KvReply};
use raft_sim::linearizability::{ClientId, History, Op, Response, Verdict, check};

const CLIENTS: u64 = 4;
const KILLS: usize = 3;
/// Completed operations to wait for between kills, so every kill hits a busy cluster.
const OPS_BETWEEN_KILLS: usize = 30;
const SHARED_KEYS: [&str; 3] = ["a", "b", "c"];

/// What the clients record, with times in microseconds since `start`.
struct Shared {
    start: Instant,
    history: Mutex<History>,
    /// Unique keys whose put was acknowledged.
    acked: Mutex<Vec<(String, String)>>,
    completed: std::sync::atomic::AtomicUsize,
    stop: AtomicBool,
}

impl Shared {
    fn now(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }
}

/// A tiny deterministic generator, so no dependency is needed for choosing operations.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

#[test]
fn killing_the_leader_repeatedly_loses_no_acknowledged_write_and_stays_linearizable() {
    let mut c = cluster(3);
    let shared = Arc::new(Shared {
        start: Instant::now(),
        history: Mutex::new(History::new()),
        acked: Mutex::new(Vec::new()),
        completed: Default::default(),
        stop: AtomicBool::new(false),
    });
    let servers: Vec<SocketAddr> = c.servers.iter().map(|s| s.client).collect();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|id| {
            let (shared, servers) = (shared.clone(), servers.clone());
            thread::spawn(move || client(id, &servers, &shared))
        })
        .collect();
    let busy = |c: &raft_mio::kv::cluster::LocalCluster, from: usize| {
        let target = from + OPS_BETWEEN_KILLS;
        wait_for(PATIENCE, &format!("{target} completed operations"), || {
            (shared.completed.load(Ordering::Relaxed) >= target).then_some(())
        })
        .unwrap_or_else(|e| fail(c, &e));
    };
    for round in 0..KILLS {
        busy(&c, shared.completed.load(Ordering::Relaxed));
        let leader = c.wait_leader(PATIENCE).unwrap_or_else(|e| fail(&c, &e));
        c.kill(leader);
        let next = wait_for(PATIENCE, "a new leader", || {
            c.leader().filter(|&l| l != leader)
        });
        next.unwrap_or_else(|e| fail(&c, &format!("round {round}: {e}")));
        c.start(leader).unwrap_or_else(|e| fail(&c, &e));
        c.wait_members(3, PATIENCE).unwrap_or_else(|e| fail(&c, &e));
    }
    busy(&c, shared.completed.load(Ordering::Relaxed));
    shared.stop.store(true, Ordering::Relaxed);
    for t in clients {
        t.join().expect("client thread");
    }

    let acked = shared.acked.lock().unwrap().clone();
    assert!(!acked.is_empty(), "some writes were acknowledged");
    let leader = c.wait_leader(PATIENCE).unwrap_or_else(|e| fail(&c, &e));
    for (key, value) in &acked {
        assert_eq!(
            get(&c, leader, key).as_ref(),
            Some(value),
            "acknowledged {key} lost"
        );
    }
    let history = shared.history.lock().unwrap();
    match check(&history) {
        Verdict::Linearizable => {}
        verdict => fail(
            &c,
            &format!("{} operations: {verdict}", history.records().len()),
        ),
    }
}

/// One client: random operations through one server, moving to the next when it fails.
fn client(id: u64, servers: &[SocketAddr], shared: &Shared) {
    let mut rng = Lcg(id + 1);
    let mut target = id as usize % servers.len();
    let mut conn: Option<KvClient> = None;
    let mut n = 0;
    let mut seen: [Option<String>; 3] = Default::default();
    while !shared.stop.load(Ordering::Relaxed) {
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match KvClient::connect(servers[target], Duration::from_secs(5)) {
                Ok(c) => conn.insert(c),
                Err(_) => {
                    target = (target + 1) % servers.len();
                    thread::sleep(Duration::from_millis(20)); // Pacing, not synchronisation.
                    continue;
                }
            },
        };
        n += 1;
        let k = rng.below(3) as usize;
        let key = SHARED_KEYS[k];
        let value = format!("c{id}-{n}");
        let (command, op) = match rng.below(4) {
            0 => {
                let unique = format!("u{id}-{n}");
                let cmd = KvCommand::Put {
                    key: unique.clone().into(),
                    value: value.clone().into(),
                };
                (cmd, Op::put(unique, value.clone()))
            }
            1 => (
                KvCommand::Put {
                    key: key.into(),
                    value: value.clone().into(),
                },
                Op::put(key, value.clone()),
            ),
            2 => (KvCommand::Get { key: key.into() }, Op::get(key)),
            _ => {
                let old = seen[k].clone();
                let cmd = KvCommand::Cas {
                    key: key.into(),
                    old: old.clone().map(Into::into),
                    new: value.clone().into(),
                };
                (cmd, Op::cas(key, old.as_deref(), value.clone()))
            }
        };
        let op_id = shared
            .history
            .lock()
            .unwrap()
            .invoke(ClientId(id), op, shared.now());
        let result = c.call(&command);
        let at = shared.now();
        let mut history = shared.history.lock().unwrap();
        match result {
            Ok(reply) => {
                let response = match reply {
                    KvReply::Ok => Response::Ok,
                    KvReply::Value(v) => {
                        seen[k] = v.clone();
                        Response::Value(v)
                    }
                    KvReply::Cas { swapped, current } => {
                        seen[k] = if swapped {
                            Some(value.clone())
                        } else {
                            current
                        };
                        Response::Cas(swapped)
                    }
                    KvReply::Invalid(why) => panic!("the store refused {command:?}: {why}"),
                };
                history.complete(op_id, response, at);
                shared.completed.fetch_add(1, Ordering::Relaxed);
                if let KvCommand::Put { key, value } = command
                    && key.starts_with('u')
                {
                    shared
                        .acked
                        .lock()
                        .unwrap()
                        .push((key.into_owned(), value.into_owned()));
                }
            }
            Err(e @ ClientError::Server { .. }) if e.certainly_not_applied() => {
                history.fail_not_applied(op_id)
            }
            Err(e) => {
                history.fail_unknown(op_id);
                if matches!(e, ClientError::Io(_)) {
                    conn = None;
                    target = (target + 1) % servers.len();
                }
            }
        }
    }
}
