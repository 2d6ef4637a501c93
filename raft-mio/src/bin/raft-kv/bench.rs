//! `raft-kv bench`: commits per second and latency against 3 local processes, with the
//! disk's fdatasync latency and the loopback round trip measured in the same run.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use raft_mio::kv::cluster::LocalCluster;

use crate::echo::Echo;
use crate::load::{self, Shape};

/// The load phases run by default: one client, then 64 clients on a connection each, then
/// 64 clients sharing 8 connections.
const PHASES: [Shape; 3] = [
    Shape {
        clients: 1,
        conns: 1,
    },
    Shape {
        clients: 64,
        conns: 64,
    },
    Shape {
        clients: 64,
        conns: 8,
    },
];

/// The phases asked for: the default ones, or one of `--clients` (default 64) over `--conns`
/// (default one per client).
fn phases(clients: Option<u64>, conns: Option<u64>) -> Result<Vec<Shape>, String> {
    if clients.is_none() && conns.is_none() {
        return Ok(PHASES.to_vec());
    }
    let clients = clients.unwrap_or(64);
    let conns = conns.unwrap_or(clients);
    if !(1..=4096).contains(&clients) || !(1..=clients).contains(&conns) {
        return Err(format!(
            "--clients must be 1 to 4096 and --conns 1 to --clients (got {clients} over {conns})"
        ));
    }
    if clients.div_ceil(conns) > 64 {
        return Err(format!(
            "{clients} clients over {conns} connections puts more than the server's 64 commands in flight on a connection"
        ));
    }
    Ok(vec![Shape {
        clients: clients as usize,
        conns: conns as usize,
    }])
}

const TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) fn run(rest: &[String]) -> Result<(), String> {
    let Some(args) = crate::parse(rest, &["seconds", "clients", "conns"], false)? else {
        return Ok(());
    };
    crate::no_positional(&args)?;
    let seconds = args.number("seconds")?.unwrap_or(5).max(1);
    let phases = phases(args.number("clients")?, args.number("conns")?)?;
    let bin = std::env::current_exe().map_err(|e| format!("cannot find raft-kv itself: {e}"))?;
    let mut cluster = LocalCluster::new(&bin, None)?;
    for (preallocated, name) in [(false, "fdatasync"), (true, "fdatasync preallocated")] {
        let (p50, p99) = fdatasync_latency(cluster.dir(), 200, preallocated)
            .map_err(|e| format!("{name}: {e}"))?;
        println!("{name} latency p50: {:.3} ms", ms(p50));
        println!("{name} latency p99: {:.3} ms", ms(p99));
    }
    let rtt = loopback_rtt(2000).map_err(|e| format!("loopback: {e}"))?;
    println!(
        "loopback round trip p50: {:.1} us",
        rtt.0.as_secs_f64() * 1e6
    );
    println!(
        "loopback round trip p99: {:.1} us",
        rtt.1.as_secs_f64() * 1e6
    );
    // The ceiling of every phase with many clients, in its own shape.
    for &shape in phases.iter().filter(|s| s.clients > 1) {
        let ceiling = echo_ceiling(shape).map_err(|e| format!("echo: {e}"))?;
        println!("echo round trips/s, {}: {ceiling:.0}", label(shape));
    }
    cluster.create(3)?;
    cluster.wait_leader(TIMEOUT)?;
    for shape in phases {
        let label = label(shape);
        let run = load(&mut cluster, shape, Duration::from_secs(seconds))?;
        let commits = run.latencies.len() as f64 / seconds as f64;
        let (p50, p99) = quantiles(run.latencies);
        println!("{label}: commits/s: {commits:.0}");
        if let Some(entries) = run.entries {
            let per_second = entries as f64 / seconds as f64;
            println!("{label}: log entries/s: {per_second:.0}");
        }
        println!("{label}: latency p50: {:.3} ms", ms(p50));
        println!("{label}: latency p99: {:.3} ms", ms(p99));
        if let Some(cpu) = &run.cpu {
            let followers: Vec<String> = cpu.followers.iter().map(|f| format!("{f:.1}")).collect();
            println!(
                "{label}: cpu us per commit, leader {:.1}, followers {}, clients {:.1}",
                cpu.leader,
                followers.join(" "),
                cpu.clients
            );
        }
        println!(
            "{label}: leader changes {}, failed commands {}",
            run.leader_changes, run.failed
        );
    }
    Ok(())
}

/// How a phase is named in the output: "clients  1", "clients 64 over 8 conns".
fn label(shape: Shape) -> String {
    let clients = format!("clients {:2}", shape.clients);
    if shape.conns == shape.clients {
        clients
    } else {
        format!("{clients} over {} conns", shape.conns)
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// p50 and p99 of the samples (zero if there are none).
fn quantiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    if samples.is_empty() {
        return (Duration::ZERO, Duration::ZERO);
    }
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    (at(0.5), at(0.99))
}

/// Writes 100 bytes and fdatasyncs, `n` times, in the directory the servers use: appending to
/// the file, or over zeros written and synced beforehand, as the servers' logs write (they
/// preallocate; see `raft_mio::filelog::PREALLOC_CHUNK`).
fn fdatasync_latency(
    dir: &Path,
    n: usize,
    preallocated: bool,
) -> std::io::Result<(Duration, Duration)> {
    let path = dir.join("fsync-probe");
    let mut file = File::create(&path)?;
    if preallocated {
        file.write_all(&vec![0; 100 * n])?;
        file.sync_data()?;
        file.seek(SeekFrom::Start(0))?;
    }
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        file.write_all(&[b'x'; 100])?;
        file.sync_data()?;
        samples.push(t.elapsed());
    }
    std::fs::remove_file(&path)?;
    Ok(quantiles(samples))
}

/// Ping-pongs 64 bytes over a loopback TCP connection `n` times.
fn loopback_rtt(n: usize) -> std::io::Result<(Duration, Duration)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let echo = thread::spawn(move || -> std::io::Result<()> {
        let (mut s, _) = listener.accept()?;
        s.set_nodelay(true)?;
        let mut buf = [0; 64];
        while s.read_exact(&mut buf).is_ok() {
            s.write_all(&buf)?;
        }
        Ok(())
    });
    let mut s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    let mut buf = [0; 64];
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        s.write_all(&buf)?;
        s.read_exact(&mut buf)?;
        samples.push(t.elapsed());
    }
    drop(s);
    let _ = echo.join();
    Ok(quantiles(samples))
}

/// Round trips per second of closed-loop clients of this shape against the echo server over
/// 2 s: the most the client protocol allows on this machine, with nothing behind it.
fn echo_ceiling(shape: Shape) -> Result<f64, String> {
    const SPAN: Duration = Duration::from_secs(2);
    let echo = Echo::start().map_err(|e| e.to_string())?;
    let (leader, stop) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicBool::new(false)),
    );
    let generator = {
        let (leader, stop) = (leader.clone(), stop.clone());
        let address = echo.address;
        thread::spawn(move || load::run(shape, &[address], &leader, &stop))
    };
    thread::sleep(SPAN);
    stop.store(true, Ordering::Relaxed);
    let tally = generator
        .join()
        .map_err(|_| "the load generator panicked")??;
    Ok(tally.latencies.len() as f64 / SPAN.as_secs_f64())
}

/// What one load phase measured.
struct Run {
    /// The latency of every committed command.
    latencies: Vec<Duration>,
    /// Commands the servers answered with an error (such as a leadership change).
    failed: u64,
    /// How often the clients moved to a new leader.
    leader_changes: u64,
    /// How many entries the log grew by (the server gathers the commands that arrive together
    /// into one entry), or `None` if the leader's status could not tell.
    entries: Option<u64>,
    /// CPU time per commit: the leader at the end, the other servers, and this process (the
    /// load generator), or `None` where /proc could not tell.
    cpu: Option<CpuPerCommit>,
}

/// Microseconds of CPU per committed command, by process.
struct CpuPerCommit {
    leader: f64,
    followers: Vec<f64>,
    clients: f64,
}

/// CPU time used so far by every thread of process `pid` (`None`: this process), from
/// /proc's per-thread scheduler statistics, in nanoseconds.
fn cpu_ns(pid: Option<u32>) -> Option<u64> {
    let dir = match pid {
        Some(pid) => format!("/proc/{pid}/task"),
        None => "/proc/self/task".to_owned(),
    };
    let mut total = 0;
    for task in std::fs::read_dir(dir).ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

/// CPU of each server (by index) and of this process, in nanoseconds.
fn cpu_snapshot(cluster: &LocalCluster) -> Option<(Vec<u64>, u64)> {
    let servers = (0..cluster.servers.len())
        .map(|i| cpu_ns(Some(cluster.pid(i)?)))
        .collect::<Option<Vec<_>>>()?;
    Some((servers, cpu_ns(None)?))
}

fn cpu_per_commit(
    before: Option<(Vec<u64>, u64)>,
    after: Option<(Vec<u64>, u64)>,
    leader: usize,
    commits: usize,
) -> Option<CpuPerCommit> {
    let ((b, b_self), (a, a_self)) = (before?, after?);
    let per = |ns: u64| ns as f64 / 1e3 / commits.max(1) as f64;
    let used: Vec<f64> = a
        .iter()
        .zip(&b)
        .map(|(a, b)| per(a.saturating_sub(*b)))
        .collect();
    Some(CpuPerCommit {
        leader: *used.get(leader)?,
        followers: (0..used.len())
            .filter(|&i| i != leader)
            .map(|i| used[i])
            .collect(),
        clients: per(a_self.saturating_sub(b_self)),
    })
}

/// How often the leader is looked up during a load phase.
const LEADER_POLL: Duration = Duration::from_millis(100);

/// Runs `clients` closed-loop writers against the cluster's leader for `duration`.
///
/// The clients follow the leader, as the reference's clients keep to the leader by default: a
/// leader hands over leadership before it snapshots, which any run long enough to grow the log
/// past 10 MiB triggers, and a follower only relays, with a prerequisite that every append of
/// the leader makes stale, so clients left on it would measure retry pauses, not commits.
fn load(cluster: &mut LocalCluster, shape: Shape, duration: Duration) -> Result<Run, String> {
    let addresses: Vec<SocketAddr> = cluster.servers.iter().map(|s| s.client).collect();
    let mut current = cluster.wait_leader(TIMEOUT)?;
    let leader = Arc::new(AtomicUsize::new(current));
    let stop = Arc::new(AtomicBool::new(false));
    let generator = {
        let (leader, stop) = (leader.clone(), stop.clone());
        thread::spawn(move || load::run(shape, &addresses, &leader, &stop))
    };
    let cpu_before = cpu_snapshot(cluster);
    let log_before = cluster.brief(current).map(|b| b.log_end);
    let end = Instant::now() + duration;
    let mut leader_changes = 0;
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        thread::sleep(left.min(LEADER_POLL));
        if generator.is_finished() {
            break; // It failed; its error is reported below.
        }
        if let Some(now) = cluster.leader().filter(|&l| l != current) {
            current = now;
            leader_changes += 1;
            leader.store(now, Ordering::Relaxed);
        }
    }
    // Before the generator stops: its thread's time leaves /proc/self/task when it ends.
    let cpu_after = cpu_snapshot(cluster);
    let log_after = cluster.brief(current).map(|b| b.log_end);
    stop.store(true, Ordering::Relaxed);
    let tally = generator
        .join()
        .map_err(|_| "the load generator panicked")??;
    let commits = tally.latencies.len();
    Ok(Run {
        latencies: tally.latencies,
        failed: tally.failed,
        leader_changes,
        entries: log_after.zip(log_before).map(|(a, b)| a.saturating_sub(b)),
        cpu: cpu_per_commit(cpu_before, cpu_after, current, commits),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_options_the_default_phases_run() {
        let phases = phases(None, None).unwrap();
        let shapes: Vec<(usize, usize)> = phases.iter().map(|s| (s.clients, s.conns)).collect();
        assert_eq!(shapes, [(1, 1), (64, 64), (64, 8)]);
    }

    #[test]
    fn clients_alone_get_a_connection_each() {
        let one = phases(Some(10), None).unwrap();
        assert_eq!((one[0].clients, one[0].conns), (10, 10));
        let shared = phases(None, Some(4)).unwrap();
        assert_eq!((shared[0].clients, shared[0].conns), (64, 4));
    }

    #[test]
    fn a_shape_the_server_would_stall_on_is_refused() {
        let error = phases(Some(65), Some(1)).unwrap_err();
        assert!(error.contains("more than the server's 64"), "{error}");
        assert!(phases(Some(8), Some(9)).is_err());
        assert!(phases(Some(0), None).is_err());
    }
}
