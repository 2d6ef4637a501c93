//! What a run found: the first violated property, if any, and what happened along the way.

use std::fmt;

use crate::config::SimConfig;

/// A property the simulator checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Property {
    /// At most one leader per term, across the whole run (Raft §5.2).
    ElectionSafety,
    /// Two logs holding an entry with the same index and term hold the same entry there, and
    /// agree on the term of the entry before it (Raft §5.3).
    LogMatching,
    /// A committed entry is in the log of every later leader (Raft §5.4).
    LeaderCompleteness,
    /// Every server applies the same entry at each index, with the same result (Raft §5.4.3).
    StateMachineSafety,
    /// A server's commit index never decreases, and a restart recovers at least what was
    /// durably committed.
    CommitMonotonic,
    /// Every command reported successful is applied by every live member at the end.
    AckedCommandLost,
    /// The client history is linearizable.
    Linearizability,
    /// After healing, the cluster converges: one leader, everyone applied the same entries,
    /// every command answered.
    Liveness,
    /// `Server::check_invariants` held, the core did not panic, and every restart opened.
    CoreInvariant,
}

impl Property {
    /// A short stable name.
    pub fn name(self) -> &'static str {
        match self {
            Property::ElectionSafety => "election safety",
            Property::LogMatching => "log matching",
            Property::LeaderCompleteness => "leader completeness",
            Property::StateMachineSafety => "state-machine safety",
            Property::CommitMonotonic => "monotonic commit index",
            Property::AckedCommandLost => "no acknowledged command lost",
            Property::Linearizability => "linearizability",
            Property::Liveness => "liveness after healing",
            Property::CoreInvariant => "core invariants",
        }
    }
}

impl fmt::Display for Property {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A violated property, where and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Which property.
    pub property: Property,
    /// Simulated time of the discovery, in milliseconds.
    pub at_ms: u64,
    /// What exactly was seen.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} violated at {}ms: {}",
            self.property, self.at_ms, self.detail
        )
    }
}

/// Counts of what a run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Events the world processed (deliveries, syncs, timers, steps).
    pub events: u64,
    /// Simulated time at the end, in milliseconds.
    pub sim_ms: u64,
    /// Messages delivered.
    pub messages: u64,
    /// Crashes (random and by failure tests).
    pub crashes: u64,
    /// Restarts.
    pub restarts: u64,
    /// Terms that had a leader.
    pub leader_terms: u64,
    /// Client requests invoked.
    pub ops_invoked: u64,
    /// Client requests that succeeded.
    pub ops_ok: u64,
    /// Client requests with an unknown outcome.
    pub ops_unknown: u64,
    /// Client requests definitely not applied.
    pub ops_refused: u64,
    /// Servers that joined.
    pub joins: u64,
    /// Servers that left or were kicked out.
    pub removals: u64,
    /// Snapshots taken.
    pub snapshots: u64,
    /// Highest commit index reached.
    pub max_commit: u64,
    /// Simulated milliseconds the healed phase needed to converge.
    pub converge_ms: u64,
}

/// The result of one run.
#[derive(Clone, Debug)]
pub struct Report {
    /// The run's settings.
    pub config: SimConfig,
    /// The first violated property, if any.
    pub violation: Option<Violation>,
    /// What happened.
    pub stats: Stats,
    /// A hash of the event trace: equal seeds and settings give equal hashes.
    pub trace_hash: u64,
    /// Remarks that are not violations (for example a linearizability check that ran out of
    /// steps).
    pub notes: Vec<String>,
}

impl Report {
    /// True if no property was violated.
    pub fn ok(&self) -> bool {
        self.violation.is_none()
    }

    /// The violated property, if any.
    pub fn violated(&self) -> Option<Property> {
        self.violation.as_ref().map(|v| v.property)
    }

    /// A multi-line account of a failure: the seed, the knobs, the violation and the replay
    /// command.
    pub fn failure_text(&self) -> String {
        let Some(v) = &self.violation else {
            return format!("seed {}: ok", self.config.seed);
        };
        let c = &self.config;
        let knobs: Vec<String> = c
            .faults
            .knobs()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!(
            "seed {} FAILED: {v}\n  nodes={} time_ms={} faults={} {:?}\n  knobs: {}\n  replay: {}",
            c.seed,
            c.nodes,
            c.time_ms,
            c.preset,
            c.workload,
            knobs.join(" "),
            c.replay_command()
        )
    }
}
