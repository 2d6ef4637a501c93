//! A cluster of `raft-kv` processes on 127.0.0.1, each in its own directory under one
//! scratch directory: what `raft-kv demo` and `raft-kv bench` run, and what the process-level
//! tests drive. Every wait is a poll for a condition with a deadline.

use std::fs::{self, File};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::KvClient;
use crate::control;

/// How often conditions are polled.
const POLL: Duration = Duration::from_millis(20);

/// Where a server runs: its IP address, and a command prefix that puts it there (such as
/// `ip netns exec NAME`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Host {
    /// The address it listens on, for Raft and for clients.
    pub ip: IpAddr,
    /// Words run before the `raft-kv` binary, e.g. `["ip", "netns", "exec", "ns1"]`.
    pub prefix: Vec<String>,
}

impl Default for Host {
    /// 127.0.0.1, run directly.
    fn default() -> Host {
        Host {
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            prefix: Vec::new(),
        }
    }
}

/// One `raft-kv serve` process and its files.
#[derive(Debug)]
pub struct LocalServer {
    /// Where it runs.
    pub host: Host,
    /// Its log file.
    pub db: PathBuf,
    /// Its control socket.
    pub control: PathBuf,
    /// Its Raft address, `tcp:127.0.0.1:PORT`.
    pub raft: String,
    /// Its client address.
    pub client: SocketAddr,
    /// Where its stderr goes.
    pub log: PathBuf,
    child: Option<Child>,
}

/// What `cluster/status` says, in brief.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Brief {
    /// "leader", "follower" or "candidate".
    pub role: String,
    /// The current term.
    pub term: u64,
    /// The membership line, e.g. "cluster member".
    pub state: String,
    /// The first index in the log.
    pub log_start: u64,
    /// One past the last index in the log.
    pub log_end: u64,
    /// The number of servers in the configuration.
    pub servers: usize,
}

impl Brief {
    /// Reads the interesting lines of a status report.
    pub fn parse(status: &str) -> Brief {
        let mut b = Brief::default();
        let mut in_servers = false;
        for line in status.lines() {
            if in_servers && line.starts_with("    ") {
                b.servers += 1;
                continue;
            }
            in_servers = line == "Servers:";
            if let Some(v) = line.strip_prefix("Role: ") {
                b.role = v.to_owned();
            } else if let Some(v) = line.strip_prefix("Term: ") {
                b.term = v.parse().unwrap_or(0);
            } else if let Some(v) = line.strip_prefix("Status: ") {
                b.state = v.to_owned();
            } else if let Some(v) = line.strip_prefix("Log: [") {
                let mut parts = v.trim_end_matches(']').split(", ");
                b.log_start = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
                b.log_end = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
            }
        }
        b
    }
}

/// A cluster of `raft-kv` processes. Dropping it kills them and, unless
/// [`LocalCluster::keep_files`] was called, removes the scratch directory.
#[derive(Debug)]
pub struct LocalCluster {
    bin: PathBuf,
    dir: PathBuf,
    keep: bool,
    /// The servers, in creation order.
    pub servers: Vec<LocalServer>,
    /// `--election-timer` for the cluster's creation.
    election_timer: Option<u64>,
}

/// The lowest port handed out to listeners on port 0 and to outgoing connections.
const EPHEMERAL_LOW_DEFAULT: u16 = 32768;
/// The lowest port [`free_port`] hands out.
const FREE_PORT_FLOOR: u16 = 10000;

/// A free TCP port on 127.0.0.1, free when asked.
///
/// It is chosen below the system's ephemeral range: a port from that range (what binding
/// port 0 gives) can be taken by any outgoing connection, the cluster's own included, between
/// this call and the server binding it, and the server then fails with "address already in
/// use". Each call starts its search somewhere else (by process, time and call), so concurrent
/// tests rarely try the same port.
pub fn free_port() -> std::io::Result<u16> {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let low = ephemeral_low().unwrap_or(EPHEMERAL_LOW_DEFAULT);
    let span = u64::from(low.saturating_sub(FREE_PORT_FLOOR));
    if span >= 1000 {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::from(d.subsec_nanos()));
        let call = CALLS.fetch_add(1, Ordering::Relaxed);
        let start = u64::from(std::process::id()) * 7919 + nanos / 1000 + call * 101;
        for k in 0..span {
            let port = FREE_PORT_FLOOR + ((start + k) % span) as u16;
            if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
                return Ok(port);
            }
        }
    }
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The low end of the ephemeral port range, as Linux says.
fn ephemeral_low() -> Option<u16> {
    let range = fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    range.split_whitespace().next()?.parse().ok()
}

/// Polls `f` every few milliseconds until it returns `Some`, or fails after `timeout` with
/// an error naming `what`.
pub fn wait_for<T>(
    timeout: Duration,
    what: &str,
    mut f: impl FnMut() -> Option<T>,
) -> Result<T, String> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Ok(v);
        }
        if Instant::now() >= deadline {
            return Err(format!("timed out after {timeout:?} waiting for {what}"));
        }
        thread::sleep(POLL);
    }
}

impl LocalCluster {
    /// A cluster of no servers yet, run from the `raft-kv` binary `bin`, in a new scratch
    /// directory under the system's temporary directory.
    pub fn new(bin: &Path, election_timer: Option<u64>) -> Result<LocalCluster, String> {
        static N: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "raft-kv-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(LocalCluster {
            bin: bin.to_path_buf(),
            dir,
            keep: false,
            servers: Vec::new(),
            election_timer,
        })
    }

    /// The scratch directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Keeps the scratch directory when the cluster is dropped (to look at logs).
    pub fn keep_files(&mut self) {
        self.keep = true;
    }

    /// Creates the cluster on a first server and has `n - 1` more join it, starting them all,
    /// and waits until every server is a member with a leader.
    pub fn create(&mut self, n: usize) -> Result<(), String> {
        self.create_on(vec![Host::default(); n])
    }

    /// Like [`LocalCluster::create`], one server on each of `hosts`.
    pub fn create_on(&mut self, hosts: Vec<Host>) -> Result<(), String> {
        let n = hosts.len();
        for host in hosts {
            self.add_server_on(host)?;
        }
        self.wait_members(n, Duration::from_secs(20))
    }

    /// Creates (the first) or joins (the others) one more server on 127.0.0.1 and starts it.
    /// Returns its number.
    pub fn add_server(&mut self) -> Result<usize, String> {
        self.add_server_on(Host::default())
    }

    /// Like [`LocalCluster::add_server`], on `host`.
    pub fn add_server_on(&mut self, host: Host) -> Result<usize, String> {
        let i = self.servers.len();
        let sdir = self.dir.join(format!("s{i}"));
        fs::create_dir_all(&sdir).map_err(|e| format!("{}: {e}", sdir.display()))?;
        let port = free_port().map_err(|e| e.to_string())?;
        let client_port = free_port().map_err(|e| e.to_string())?;
        let raft = match host.ip {
            IpAddr::V4(ip) => format!("tcp:{ip}:{port}"),
            IpAddr::V6(ip) => format!("tcp:[{ip}]:{port}"),
        };
        let server = LocalServer {
            client: SocketAddr::new(host.ip, client_port),
            host,
            db: sdir.join("kv.db"),
            control: sdir.join("ctl.sock"),
            raft,
            log: sdir.join("server.log"),
            child: None,
        };
        let db = server.db.to_string_lossy().into_owned();
        let mut args = vec!["--db", &db, "--name", "kv", "--local", &server.raft];
        let timer = self.election_timer.map(|t| t.to_string());
        let remotes: Vec<String> = self.servers.iter().map(|s| s.raft.clone()).collect();
        if i == 0 {
            args.insert(0, "create-cluster");
            if let Some(t) = &timer {
                args.extend(["--election-timer", t]);
            }
        } else {
            args.insert(0, "join-cluster");
            for r in &remotes {
                args.extend(["--remote", r]);
            }
        }
        self.run_tool(&args)?;
        self.servers.push(server);
        self.start(i)?;
        Ok(i)
    }

    /// Runs `raft-kv ARGS` to completion; its stderr on failure.
    pub fn run_tool(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new(&self.bin)
            .args(args)
            .output()
            .map_err(|e| format!("{}: {e}", self.bin.display()))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "raft-kv {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    /// Starts server `i` (`raft-kv serve`) and waits until its control socket answers.
    pub fn start(&mut self, i: usize) -> Result<(), String> {
        let s = &mut self.servers[i];
        let log = File::options()
            .create(true)
            .append(true)
            .open(&s.log)
            .map_err(|e| format!("{}: {e}", s.log.display()))?;
        let mut command = match s.host.prefix.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(&self.bin);
                c
            }
            None => Command::new(&self.bin),
        };
        let child = command
            .arg("serve")
            .arg("--db")
            .arg(&s.db)
            .arg("--control")
            .arg(&s.control)
            .arg("--client")
            .arg(s.client.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("{}: {e}", self.bin.display()))?;
        s.child = Some(child);
        wait_for(Duration::from_secs(10), "the server to start", || {
            if !self.is_running(i) {
                return Some(Err(format!(
                    "server {i} exited at start: {}",
                    self.log_tail(i, 5)
                )));
            }
            self.ctl(i, &["cluster/sid"]).ok().map(|_| Ok(()))
        })?
    }

    /// Kills server `i` with SIGKILL and reaps it.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.servers[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The process id of server `i`, while it runs.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.servers[i].child.as_ref().map(Child::id)
    }

    /// True if server `i` was started and has not exited.
    pub fn is_running(&mut self, i: usize) -> bool {
        match &mut self.servers[i].child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Waits for server `i` to exit on its own, returning its exit status.
    pub fn wait_exit(&mut self, i: usize, timeout: Duration) -> Result<String, String> {
        let s = &mut self.servers[i];
        let Some(child) = s.child.as_mut() else {
            return Err(format!("server {i} is not running"));
        };
        let status = wait_for(timeout, "the server to exit", || {
            child.try_wait().ok().flatten()
        })?;
        s.child = None;
        Ok(status.to_string())
    }

    /// Runs a control command on server `i`.
    pub fn ctl(&self, i: usize, args: &[&str]) -> Result<String, String> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        control::call(&self.servers[i].control, &args)
    }

    /// Server `i`'s status, in brief.
    pub fn brief(&self, i: usize) -> Option<Brief> {
        self.ctl(i, &["cluster/status"])
            .ok()
            .map(|s| Brief::parse(&s))
    }

    /// The running server that says it leads in the highest term, if any.
    pub fn leader(&mut self) -> Option<usize> {
        let running: Vec<usize> = (0..self.servers.len())
            .filter(|&i| self.is_running(i))
            .collect();
        running
            .into_iter()
            .filter_map(|i| self.brief(i).map(|b| (b.term, b.role, i)))
            .filter(|(_, role, _)| role == "leader")
            .max()
            .map(|(_, _, i)| i)
    }

    /// Waits until some server leads, and returns it.
    pub fn wait_leader(&mut self, timeout: Duration) -> Result<usize, String> {
        wait_for(timeout, "a leader", || self.leader())
    }

    /// Waits until `n` running servers are members of an `n`-server configuration, one of
    /// them leading.
    pub fn wait_members(&mut self, n: usize, timeout: Duration) -> Result<(), String> {
        wait_for(timeout, &format!("{n} servers to be members"), || {
            let running: Vec<usize> = (0..self.servers.len())
                .filter(|&i| self.is_running(i))
                .collect();
            let briefs: Vec<Brief> = running.iter().filter_map(|&i| self.brief(i)).collect();
            let members = briefs
                .iter()
                .filter(|b| b.state == "cluster member" && b.servers == n)
                .count();
            (members >= n && briefs.iter().any(|b| b.role == "leader")).then_some(())
        })
    }

    /// A client of server `i`.
    pub fn client(&self, i: usize, timeout: Duration) -> std::io::Result<KvClient> {
        KvClient::connect(self.servers[i].client, timeout)
    }

    /// The last `n` lines of server `i`'s stderr, joined by " / ", for error messages.
    pub fn log_tail(&self, i: usize, n: usize) -> String {
        let text = fs::read_to_string(&self.servers[i].log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join(" / ")
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        for i in 0..self.servers.len() {
            self.kill(i);
        }
        if !self.keep {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}
