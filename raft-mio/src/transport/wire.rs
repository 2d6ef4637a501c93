//! What travels on a peer connection: Raft messages and the inactivity probe.

use raft_core::Message;
use serde::{Deserialize, Serialize};

/// One frame on a peer connection (see [`crate::codec`] for the framing).
///
/// Externally tagged JSON: `{"raft":{…}}`, `"probe"`, `"probe_reply"`. The probe is the
/// transport's own, like the JSON-RPC `echo` of the reference: a connection on which nothing
/// arrived for a while is asked for a sign of life, and dropped if none comes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Wire {
    /// A Raft message for the core.
    Raft(Box<Message>),
    /// "Are you there?" Answered with [`Wire::ProbeReply`].
    Probe,
    /// The answer to a probe; like every frame, it counts as a sign of life.
    ProbeReply,
}

/// The transport's limits and timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The largest frame accepted or sent, in bytes; a peer that sends a bigger one is
    /// disconnected.
    pub max_frame_len: usize,
    /// Send a probe after this long without receiving anything, and drop the connection after
    /// twice this long (the election timer + 1000 ms, as the reference does).
    pub probe_interval_ms: u64,
    /// The most messages queued for one connection before it is dropped.
    pub backlog_messages: usize,
    /// The most bytes queued for one connection before it is dropped.
    pub backlog_bytes: usize,
}

impl Limits {
    /// The limits for a server whose election timer is `election_timer_ms` and whose backlog
    /// threshold is `backlog` (messages, bytes), with frames up to `max_frame_len` bytes.
    pub fn new(election_timer_ms: u64, backlog: (usize, usize), max_frame_len: usize) -> Limits {
        Limits {
            max_frame_len,
            probe_interval_ms: election_timer_ms.saturating_add(1000),
            backlog_messages: backlog.0,
            backlog_bytes: backlog.1,
        }
    }
}
