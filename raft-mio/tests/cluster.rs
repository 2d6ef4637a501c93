//! Process-level tests of a cluster of real `raft-kv` servers on 127.0.0.1: create and join,
//! writes through every server, membership changes, catching up through a snapshot.

mod common;

use common::{PATIENCE, cluster, fail, get, put};
use raft_mio::kv::cluster::{LocalCluster, wait_for};
use raft_mio::kv::{KvCommand, KvReply};

/// A command relayed by a follower (C4) is answered with the state machine's reply, whether
/// the leader's confirmation or the commit index reaches the follower first: one call, no
/// retry, each time.
#[test]
fn a_follower_answers_a_relayed_command_with_its_reply() {
    let mut c = cluster(3);
    let leader = c.wait_leader(PATIENCE).unwrap_or_else(|e| fail(&c, &e));
    let follower = (leader + 1) % 3;
    let mut client = c.client(follower, PATIENCE).expect("connect");
    for n in 0..50 {
        let put = KvCommand::Put {
            key: "k".into(),
            value: n.to_string().into(),
        };
        match client.call(&put) {
            Ok(reply) => assert_eq!(reply, KvReply::Ok),
            // The relay's prerequisite may go stale under a concurrent append; such a command
            // did not take effect and the follower says so.
            Err(e) if e.certainly_not_applied() => {}
            Err(e) => fail(&c, &format!("put {n} through follower {follower}: {e}")),
        }
    }
}

#[test]
fn three_servers_created_and_joined_accept_writes_through_every_server() {
    let c = cluster(3);
    for i in 0..3 {
        put(&c, i, &format!("k{i}"), &format!("v{i}"));
    }
    for i in 0..3 {
        for k in 0..3 {
            let got = get(&c, i, &format!("k{k}"));
            assert_eq!(
                got.as_deref(),
                Some(format!("v{k}").as_str()),
                "k{k} via {i}"
            );
        }
    }
    let cid = c.ctl(0, &["cluster/cid"]).expect("cluster/cid");
    for i in 1..3 {
        assert_eq!(
            c.ctl(i, &["cluster/cid"]).as_ref(),
            Ok(&cid),
            "one cluster id"
        );
    }
}

#[test]
fn a_follower_leaves_and_the_leader_kicks_another() {
    let mut c = cluster(3);
    let leader = c.wait_leader(PATIENCE).unwrap_or_else(|e| fail(&c, &e));
    let mut followers = (0..3).filter(|&i| i != leader);
    let (leaver, kicked) = (followers.next().unwrap(), followers.next().unwrap());

    let said = c.ctl(leaver, &["cluster/leave"]);
    assert_eq!(said.as_deref(), Ok("leaving cluster"));
    if let Err(e) = c.wait_exit(leaver, PATIENCE) {
        fail(&c, &format!("the leaving server did not exit: {e}"));
    }
    let servers = |c: &mut raft_mio::kv::cluster::LocalCluster, n| {
        wait_for(
            PATIENCE,
            &format!("{n} servers in the configuration"),
            || c.brief(leader).filter(|b| b.servers == n),
        )
    };
    servers(&mut c, 2).unwrap_or_else(|e| fail(&c, &e));

    let sid = c.ctl(kicked, &["cluster/sid"]).expect("cluster/sid");
    let said = c.ctl(leader, &["cluster/kick", &sid[..8]]);
    assert!(said.is_ok(), "kick: {said:?}");
    servers(&mut c, 1).unwrap_or_else(|e| fail(&c, &e));

    // The leader alone is a quorum now.
    put(&c, leader, "alone", "yes");
    assert_eq!(get(&c, leader, "alone").as_deref(), Some("yes"));
    // A server that left cannot come back from its log.
    let err = c
        .start(leaver)
        .expect_err("a server that left must not start again");
    assert!(err.contains("left the cluster"), "{err}");
}

#[test]
fn a_fourth_server_catches_up_through_a_snapshot() {
    let mut c = cluster(3);
    for k in 0..40 {
        put(&c, k % 3, &format!("key{k}"), &format!("value{k}"));
    }
    // Compact every server; a leader hands over leadership first, so ask again until every
    // log starts past the initial snapshot.
    let compacted = wait_for(PATIENCE, "every server to take a snapshot", || {
        let mut all = true;
        for i in 0..3 {
            if c.brief(i).is_some_and(|b| b.log_start > 2) {
                continue;
            }
            all = false;
            let _ = c.ctl(i, &["cluster/compact"]);
        }
        all.then_some(())
    });
    compacted.unwrap_or_else(|e| fail(&c, &e));

    let new = c.add_server().unwrap_or_else(|e| fail(&c, &e));
    c.wait_members(4, PATIENCE).unwrap_or_else(|e| fail(&c, &e));
    let brief = c.brief(new).expect("status of the new server");
    assert!(
        brief.log_start > 2,
        "the new server's log should start after a snapshot: {brief:?}"
    );
    // A read through the new server answers from its own state machine, rebuilt from the
    // snapshot it installed.
    for k in [0, 17, 39] {
        let got = get(&c, new, &format!("key{k}"));
        assert_eq!(got, Some(format!("value{k}")), "key{k} on the new server");
    }
}

/// Snapshots taken while commands keep committing hold what the servers applied: after every
/// server is killed and restarted from its compacted log, each one's state machine has every
/// acknowledged write. Two rounds of writing, compacting and restarting: a snapshot that left
/// out entries the core counted as applied (the node applies at the end of a turn) loses
/// them only if it is a server's last, so each round catches that with some chance only.
#[test]
fn snapshots_under_load_keep_every_acknowledged_write_across_restarts() {
    const KEYS: usize = 1000;
    let mut c = cluster(3);
    for round in 0..2 {
        let keys = round * KEYS..(round + 1) * KEYS;
        write_while_compacting_followers(&mut c, keys.clone());
        let compacted = (0..3).filter(|&i| c.brief(i).is_some_and(|b| b.log_start > 2));
        assert!(compacted.count() >= 2, "the followers took no snapshot");
        for i in 0..3 {
            c.kill(i);
        }
        for i in 0..3 {
            c.start(i).unwrap_or_else(|e| fail(&c, &e));
        }
        for i in 0..3 {
            expect_written(&c, i, keys.clone());
        }
    }
}

/// Writes `key{k}` = `value{k}` for every `k` of `keys` through server 0, and asks every
/// follower to compact after each 25 writes but the last. Not the leader: it would hand over
/// leadership first (N3), and the cluster would spend its time electing.
fn write_while_compacting_followers(c: &mut LocalCluster, keys: std::ops::Range<usize>) {
    const EVERY: usize = 25;
    c.wait_leader(PATIENCE).unwrap_or_else(|e| fail(c, &e));
    let address = c.servers[0].client;
    let (progress, written) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        let last = keys.end;
        let writer = scope.spawn(move || {
            for k in keys {
                put_retrying(address, &format!("key{k}"), &format!("value{k}"))?;
                // None after the last write: the last snapshots are taken under load.
                if (k + 1) % EVERY == 0 && k + 1 < last {
                    let _ = progress.send(k + 1);
                }
            }
            Ok::<(), String>(())
        });
        for _ in written {
            for i in 0..3 {
                if c.brief(i).is_some_and(|b| b.role == "follower") {
                    let _ = c.ctl(i, &["cluster/compact"]);
                }
            }
        }
        if let Err(e) = writer.join().expect("the writer thread") {
            fail(c, &e);
        }
    });
}

/// Checks through server `i`, which answers from its own state machine, that every key of
/// `keys` holds what [`write_while_compacting_followers`] wrote.
fn expect_written(c: &LocalCluster, i: usize, keys: std::ops::Range<usize>) {
    let mut client = c.client(i, PATIENCE).expect("connect");
    for k in keys {
        let key = format!("key{k}");
        let read = KvCommand::Get {
            key: key.as_str().into(),
        };
        let got = match client.call(&read) {
            Ok(KvReply::Value(v)) => v,
            // No leader yet after the restart: retry until there is.
            _ => get(c, i, &key),
        };
        assert_eq!(got, Some(format!("value{k}")), "{key} on server {i}");
    }
}

/// Puts `key` = `value` through the server at `address`, reconnecting and retrying through
/// leader changes (a put is idempotent) until it succeeds or `PATIENCE` runs out.
fn put_retrying(address: std::net::SocketAddr, key: &str, value: &str) -> Result<(), String> {
    let put = KvCommand::Put {
        key: key.into(),
        value: value.into(),
    };
    let mut last = String::new();
    wait_for(PATIENCE, &format!("put {key}"), || {
        let result = raft_mio::kv::KvClient::connect(address, common::CALL)
            .map_err(|e| e.to_string())
            .and_then(|mut client| client.call(&put).map_err(|e| e.to_string()));
        match result {
            Ok(reply) => Some(reply),
            Err(e) => {
                last = e;
                None
            }
        }
    })
    .map_err(|e| format!("{e}; last error: {last}"))
    .and_then(|reply| match reply {
        KvReply::Ok => Ok(()),
        other => Err(format!("put {key}: {other:?}")),
    })
}
