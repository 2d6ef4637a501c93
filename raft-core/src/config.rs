//! Tuning knobs of one server. Protocol parameters that the cluster shares (the election
//! timer) live in the log, not here.

use crate::error::ConfigError;

/// The configuration of one [`crate::Server`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Seeds the server's PRNG (election jitter and new entry ids). Use a different seed for
    /// every process lifetime of a server (raft-mio draws one from the OS; a simulator derives
    /// one per node and restart), or restarted servers would mint the same entry ids again.
    pub seed: u64,
    /// The most entries one append request carries.
    pub max_append_entries: usize,
    /// The most bytes (estimated) one append request carries; one entry is always allowed.
    pub max_append_bytes: usize,
    /// The most append requests with entries in flight to one follower (pipelining window,
    /// like etcd's MaxInflightMsgs).
    pub max_inflight_appends: usize,
    /// The most bytes of entries in flight to one follower (like etcd's MaxInflightBytes).
    pub max_inflight_bytes: usize,
    /// How long a leader waits for an append to carry a new commit index to a follower before
    /// sending an empty one for it alone (R5). Under load the next append carries it and no
    /// extra message is sent; idle, followers learn it this much later. 0 sends the empty
    /// append as soon as the driver polls, like the reference's heartbeat at every commit.
    pub commit_notify_delay_ms: u64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            seed: 0,
            max_append_entries: 1024,
            max_append_bytes: 1 << 20,
            max_inflight_appends: 64,
            max_inflight_bytes: 32 << 20,
            commit_notify_delay_ms: 1,
        }
    }
}

impl Config {
    /// The default configuration with `seed`.
    pub fn with_seed(seed: u64) -> Config {
        Config {
            seed,
            ..Config::default()
        }
    }

    /// Checks that every limit allows progress.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let zero = [
            (self.max_append_entries, "max_append_entries"),
            (self.max_append_bytes, "max_append_bytes"),
            (self.max_inflight_appends, "max_inflight_appends"),
            (self.max_inflight_bytes, "max_inflight_bytes"),
        ];
        match zero.iter().find(|(v, _)| *v == 0) {
            Some((_, name)) => Err(ConfigError::Zero(name)),
            None => Ok(()),
        }
    }
}
