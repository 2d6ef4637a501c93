//! Shared helpers of the process-level tests: clusters of real `raft-kv` processes on
//! 127.0.0.1 and clients that retry until a deadline.

#![allow(dead_code)]

use std::fs;
use std::path::Path;
use std::time::Duration;

use raft_mio::filelog::MAGIC_LEN;
use raft_mio::kv::cluster::{LocalCluster, wait_for};
use raft_mio::kv::{KvCommand, KvReply};

/// Long enough for an election and a reconnect on a loaded 2-core machine.
pub const PATIENCE: Duration = Duration::from_secs(20);
/// One client call.
pub const CALL: Duration = Duration::from_secs(5);

/// A cluster of `n` servers of the `raft-kv` built with these tests, created and joined.
pub fn cluster(n: usize) -> LocalCluster {
    let mut c =
        LocalCluster::new(env!("CARGO_BIN_EXE_raft-kv").as_ref(), None).expect("scratch directory");
    if let Err(e) = c.create(n) {
        fail(&c, &format!("creating a {n}-server cluster: {e}"));
    }
    c
}

/// Panics with `msg` and the tail of every server's log.
pub fn fail(c: &LocalCluster, msg: &str) -> ! {
    let mut text = format!("{msg}\n");
    for i in 0..c.servers.len() {
        text.push_str(&format!("--- server {i} log tail: {}\n", c.log_tail(i, 15)));
    }
    panic!("{text}");
}

/// Runs `command` through server `i`, retrying on errors that say it did not take effect,
/// until it succeeds or `PATIENCE` runs out.
pub fn call(c: &LocalCluster, i: usize, command: &KvCommand) -> KvReply {
    let mut last = String::new();
    let result = wait_for(PATIENCE, &format!("{command:?} through server {i}"), || {
        let mut client = c.client(i, CALL).map_err(|e| last = e.to_string()).ok()?;
        match client.call(command) {
            Ok(reply) => Some(reply),
            Err(e) => {
                last = e.to_string();
                None
            }
        }
    });
    match result {
        Ok(reply) => reply,
        Err(e) => fail(c, &format!("{e}; last error: {last}")),
    }
}

/// Puts `key` = `value` through server `i`.
pub fn put(c: &LocalCluster, i: usize, key: &str, value: &str) {
    let reply = call(
        c,
        i,
        &KvCommand::Put {
            key: key.into(),
            value: value.into(),
        },
    );
    assert_eq!(reply, KvReply::Ok, "put {key} through server {i}");
}

/// The log file at `path` up to the end of its last frame, without the zeros preallocated
/// after it: a frame ends with JSON text, never with a zero byte.
pub fn log_frames(path: &Path) -> Vec<u8> {
    let mut bytes = fs::read(path).expect("read the log");
    let end = bytes
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |last| last + 1);
    bytes.truncate(end);
    bytes
}

/// The byte offsets of the frames after the magic in `frames` (a log as [`log_frames`]
/// returns it): the header's, then each record's.
pub fn frame_offsets(frames: &[u8]) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut at = MAGIC_LEN;
    while at + 8 <= frames.len() {
        offsets.push(at);
        at += 8 + u32::from_le_bytes(frames[at..at + 4].try_into().unwrap()) as usize;
    }
    offsets
}

/// Reads `key` through server `i` (through the log, so linearizable).
pub fn get(c: &LocalCluster, i: usize, key: &str) -> Option<String> {
    match call(c, i, &KvCommand::Get { key: key.into() }) {
        KvReply::Value(v) => v,
        other => fail(c, &format!("get {key} through server {i}: {other:?}")),
    }
}
