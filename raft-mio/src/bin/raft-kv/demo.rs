//! `raft-kv demo`: a 3-server cluster on 127.0.0.1, a workload, the leader killed, a new
//! leader taking over, and a check that no acknowledged write was lost.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use raft_mio::kv::cluster::{LocalCluster, wait_for};
use raft_mio::kv::{KvClient, KvCommand, KvReply};

/// Concurrent writers.
const WRITERS: usize = 6;
/// How long the workload runs before and after the leader is killed.
const PHASE: Duration = Duration::from_secs(3);
const TIMEOUT: Duration = Duration::from_secs(5);

/// What the writers did.
#[derive(Default)]
struct Tally {
    acked: AtomicU64,
    failed: AtomicU64,
    /// Every acknowledged write: (key, value).
    writes: Mutex<Vec<(String, String)>>,
}

pub(crate) fn run(rest: &[String]) -> Result<(), String> {
    let Some(args) = crate::parse(rest, &[], false)? else {
        return Ok(());
    };
    crate::no_positional(&args)?;
    let bin = std::env::current_exe().map_err(|e| format!("cannot find raft-kv itself: {e}"))?;
    let mut cluster = LocalCluster::new(&bin, None)?;
    println!(
        "raft-kv demo: 3 servers on 127.0.0.1, files in {}",
        cluster.dir().display()
    );
    cluster.create(3)?;
    let leader = cluster.wait_leader(TIMEOUT)?;
    for (i, s) in cluster.servers.iter().enumerate() {
        let role = if i == leader { "leader" } else { "follower" };
        println!("  s{i}: raft {} clients {} ({role})", s.raft, s.client);
    }
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = cluster.servers.iter().map(|s| s.client).collect();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (tally, stop, clients) = (tally.clone(), stop.clone(), clients.clone());
            thread::spawn(move || writer(w, &clients, &tally, &stop))
        })
        .collect();
    let started = Instant::now();
    progress(&tally, started, PHASE);
    println!("\nkilling the leader, s{leader} (SIGKILL)");
    cluster.kill(leader);
    let killed_at = Instant::now();
    let new_leader = wait_for(Duration::from_secs(15), "a new leader", || {
        cluster.leader().filter(|&l| l != leader)
    })?;
    let takeover = killed_at.elapsed();
    println!(
        "s{new_leader} took over as leader {} ms after the kill",
        takeover.as_millis()
    );
    progress(&tally, started, PHASE * 2);
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        let _ = w.join();
    }
    println!();
    let writes = std::mem::take(&mut *tally.writes.lock().map_err(|_| "a writer panicked")?);
    let lost = verify(&clients[new_leader], &writes)?;
    println!("summary:");
    println!("  acknowledged writes: {}", writes.len());
    println!(
        "  failed or unknown:   {}",
        tally.failed.load(Ordering::Relaxed)
    );
    println!(
        "  leader s{leader} killed; s{new_leader} led {} ms later",
        takeover.as_millis()
    );
    println!(
        "  acknowledged writes read back through the new leader: {}",
        writes.len() - lost
    );
    println!("  acknowledged writes lost: {lost}");
    if lost > 0 {
        cluster.keep_files();
        return Err(format!("{lost} acknowledged writes were lost (files kept)"));
    }
    println!("demo finished; removing {}", cluster.dir().display());
    Ok(())
}

/// Prints a progress line until `until` has passed since `started`.
fn progress(tally: &Tally, started: Instant, until: Duration) {
    while started.elapsed() < until {
        let acked = tally.acked.load(Ordering::Relaxed);
        let failed = tally.failed.load(Ordering::Relaxed);
        let secs = started.elapsed().as_secs_f64();
        print!("\r  {secs:4.1} s  writes acknowledged: {acked:6}  failed/unknown: {failed:4}");
        let _ = std::io::stdout().flush();
        thread::sleep(Duration::from_millis(100));
    }
}

/// Writes distinct keys through the servers in turn, moving on when one fails.
fn writer(w: usize, servers: &[std::net::SocketAddr], tally: &Tally, stop: &AtomicBool) {
    let mut target = w % servers.len();
    let mut client: Option<KvClient> = None;
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let c = match client.as_mut() {
            Some(c) => c,
            None => match KvClient::connect(servers[target], TIMEOUT) {
                Ok(c) => client.insert(c),
                Err(_) => {
                    target = (target + 1) % servers.len();
                    thread::sleep(Duration::from_millis(50));
                    continue;
                }
            },
        };
        n += 1;
        let (key, value) = (format!("w{w}-{n}"), format!("v{n}"));
        let put = KvCommand::Put {
            key: key.as_str().into(),
            value: value.as_str().into(),
        };
        match c.call(&put) {
            Ok(_) => {
                tally.acked.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut writes) = tally.writes.lock() {
                    writes.push((key, value));
                }
            }
            Err(_) => {
                tally.failed.fetch_add(1, Ordering::Relaxed);
                client = None;
                target = (target + 1) % servers.len();
            }
        }
    }
}

/// Reads every acknowledged write back; returns how many are missing.
fn verify(server: &std::net::SocketAddr, writes: &[(String, String)]) -> Result<usize, String> {
    let mut client = KvClient::connect(*server, TIMEOUT).map_err(|e| e.to_string())?;
    let mut lost = 0;
    for (key, value) in writes {
        let get = KvCommand::Get {
            key: key.as_str().into(),
        };
        match client
            .call(&get)
            .map_err(|e| format!("reading {key}: {e}"))?
        {
            KvReply::Value(Some(v)) if &v == value => {}
            other => {
                println!("  LOST: {key} = {value}, read {other:?}");
                lost += 1;
            }
        }
    }
    Ok(lost)
}
