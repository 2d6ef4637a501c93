//! A network partition between real processes, each in its own network namespace joined to
//! the others by a bridge: the leader is cut off, the majority elects a new leader and keeps
//! committing, the cut-off leader commits nothing, and after healing it follows and has the
//! majority's writes. Needs root and `ip`; skipped with a printed reason otherwise.

use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;
use std::time::Duration;

use raft_mio::kv::cluster::{Host, LocalCluster, wait_for};

const PATIENCE: Duration = Duration::from_secs(20);

/// Network namespaces made by this test, deleted (with their links) on drop.
struct Netns {
    names: Vec<String>,
}

impl Drop for Netns {
    fn drop(&mut self) {
        for name in &self.names {
            let _ = Command::new("ip").args(["netns", "del", name]).status();
        }
    }
}

/// Runs `ip ARGS`, returning its stderr on failure.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A hub namespace with a bridge, and `n` namespaces each linked to it by a veth pair, with
/// addresses 10.213.X.1.. in a /24 of their own.
fn topology(n: usize) -> Result<(Netns, Vec<Host>), String> {
    let tag = std::process::id() % 100_000;
    let hub = format!("rkv{tag}h");
    let mut ns = Netns {
        names: vec![hub.clone()],
    };
    ip(&["netns", "add", &hub])?;
    ip(&["-n", &hub, "link", "add", "br0", "type", "bridge"])?;
    ip(&["-n", &hub, "link", "set", "br0", "up"])?;
    let subnet = (tag % 250) as u8;
    let mut hosts = Vec::new();
    for i in 0..n {
        let name = format!("rkv{tag}n{i}");
        ip(&["netns", "add", &name])?;
        ns.names.push(name.clone());
        let port = format!("b{i}");
        ip(&[
            "-n", &name, "link", "add", "eth0", "type", "veth", "peer", "name", &port, "netns",
            &hub,
        ])?;
        let addr = Ipv4Addr::new(10, 213, subnet, i as u8 + 1);
        ip(&[
            "-n",
            &name,
            "addr",
            "add",
            &format!("{addr}/24"),
            "dev",
            "eth0",
        ])?;
        ip(&["-n", &name, "link", "set", "eth0", "up"])?;
        ip(&["-n", &name, "link", "set", "lo", "up"])?;
        ip(&["-n", &hub, "link", "set", &port, "master", "br0"])?;
        ip(&["-n", &hub, "link", "set", &port, "up"])?;
        let prefix = ["ip", "netns", "exec", &name].map(str::to_owned).to_vec();
        hosts.push(Host {
            ip: IpAddr::V4(addr),
            prefix,
        });
    }
    Ok((ns, hosts))
}

/// `raft-kv client` run inside `host`'s namespace.
fn client(c: &LocalCluster, i: usize, timeout_ms: u64, op: &[&str]) -> Result<String, String> {
    let s = &c.servers[i];
    let out = Command::new("ip")
        .args(&s.host.prefix[1..])
        .arg(env!("CARGO_BIN_EXE_raft-kv"))
        .args(["client", "--server", &s.client.to_string()])
        .args(["--timeout-ms", &timeout_ms.to_string()])
        .args(op)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

fn fail(c: &LocalCluster, msg: &str) -> ! {
    let tails: Vec<String> = (0..c.servers.len())
        .map(|i| format!("--- server {i}: {}", c.log_tail(i, 12)))
        .collect();
    panic!("{msg}\n{}", tails.join("\n"));
}

#[test]
fn a_cut_off_leader_is_replaced_and_catches_up_after_healing() {
    let (_ns, hosts) = match topology(3) {
        Ok(t) => t,
        Err(why) => {
            println!("SKIPPED: network namespaces unavailable (needs root and ip): {why}");
            return;
        }
    };
    let hub = _ns.names[0].clone();
    let mut c = LocalCluster::new(env!("CARGO_BIN_EXE_raft-kv").as_ref(), None).unwrap();
    c.create_on(hosts).unwrap_or_else(|e| fail(&c, &e));
    let old = c.wait_leader(PATIENCE).unwrap_or_else(|e| fail(&c, &e));
    let put = |c: &LocalCluster, i, k: &str, v: &str, t| client(c, i, t, &["put", k, v]);
    put(&c, old, "before", "1", 10_000).unwrap_or_else(|e| fail(&c, &e));

    let port = format!("b{old}");
    ip(&["-n", &hub, "link", "set", &port, "down"]).unwrap_or_else(|e| fail(&c, &e));
    let new = wait_for(PATIENCE, "a leader in the majority", || {
        c.leader().filter(|&l| l != old)
    })
    .unwrap_or_else(|e| fail(&c, &e));
    let (new_term, old_term) = (c.brief(new).unwrap().term, c.brief(old).unwrap().term);
    assert!(
        new_term > old_term,
        "the new leader's term {new_term} > {old_term}"
    );
    put(&c, new, "during", "2", 10_000).unwrap_or_else(|e| fail(&c, &e));
    let minority = put(&c, old, "lost", "3", 2_000);
    assert!(
        minority.is_err(),
        "the cut-off leader committed: {minority:?}"
    );

    ip(&["-n", &hub, "link", "set", &port, "up"]).unwrap_or_else(|e| fail(&c, &e));
    wait_for(PATIENCE, "the old leader to follow", || {
        c.brief(old)
            .filter(|b| b.role == "follower" && b.term >= new_term)
    })
    .unwrap_or_else(|e| fail(&c, &e));
    let got = client(&c, old, 10_000, &["get", "during"]);
    assert_eq!(
        got.as_deref(),
        Ok("2"),
        "the healed server reads the majority's write"
    );
}
