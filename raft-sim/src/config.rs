//! What one simulation run does: the seed, the cluster size, how long, the fault knobs (each
//! with its unit in its name), the client workload, and test-only protocol breakers.

use std::fmt;
use std::str::FromStr;

/// The world takes one "step" of faults and client activity every this many simulated
/// milliseconds; knobs named `…_per_million_steps` are probabilities per such step.
pub const STEP_MS: u64 = 10;

/// A named set of fault knobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Preset {
    /// A perfect world: short delays, no loss, no crashes, no administration. Clients only.
    None,
    /// Occasional faults of every kind.
    Light,
    /// Frequent faults of every kind: what the swarm runs by default.
    Heavy,
}

impl Preset {
    /// Every preset, mildest first.
    pub const ALL: [Preset; 3] = [Preset::None, Preset::Light, Preset::Heavy];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Preset::None => "none",
            Preset::Light => "light",
            Preset::Heavy => "heavy",
        }
    }

    /// The knobs of this preset.
    pub fn faults(self) -> Faults {
        match self {
            Preset::None => Faults::NONE,
            Preset::Light => Faults::LIGHT,
            Preset::Heavy => Faults::HEAVY,
        }
    }
}

impl FromStr for Preset {
    type Err = String;

    fn from_str(s: &str) -> Result<Preset, String> {
        Preset::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| format!("unknown fault preset {s:?} (expected none, light or heavy)"))
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Fault knobs. Probabilities are in parts per million; `…_per_million_steps` knobs are
/// rolled once per [`STEP_MS`] (per node or per link where the name says so).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Faults {
    /// Shortest one-way message delay.
    pub delay_ms_min: u64,
    /// Longest one-way message delay; delays are skewed towards the minimum.
    pub delay_ms_max: u64,
    /// A message is silently lost.
    pub drop_per_million: u32,
    /// A message is delivered twice.
    pub duplicate_per_million: u32,
    /// A message ignores the connection's FIFO order and may overtake earlier ones.
    pub reorder_per_million: u32,
    /// Each established connection is reset (both ends see it go away; the dialler redials).
    pub link_reset_per_million_steps: u32,
    /// Longest time to establish a connection (or to notice a failed attempt and retry).
    pub connect_ms_max: u64,
    /// A new partition starts (if none is in force).
    pub partition_per_million_steps: u32,
    /// Longest partition.
    pub partition_ms_max: u64,
    /// Share of partitions that cut one direction only.
    pub one_way_partition_per_million: u32,
    /// Shortest time for a group of writes to become durable.
    pub disk_latency_ms_min: u64,
    /// Longest time for a group of writes to become durable.
    pub disk_latency_ms_max: u64,
    /// A node's disk stalls (per node).
    pub disk_stall_per_million_steps: u32,
    /// Longest disk stall.
    pub disk_stall_ms_max: u64,
    /// A node crashes, losing unsynced writes (per node).
    pub crash_per_million_steps: u32,
    /// On a crash, the first lost write is torn: a prefix of its records survives.
    pub torn_write_per_million: u32,
    /// Longest time a crashed node stays down (at least one step).
    pub down_ms_max: u64,
    /// Share of crashes that are clean shutdowns instead: the server is closed (it hands
    /// over leadership) and its disk flushed before it goes down.
    pub graceful_per_million: u32,
    /// A node's next sync fails (per node): the server enters its failed state and is
    /// restarted like a crashed one.
    pub write_error_per_million_steps: u32,
    /// Leadership moves: the leader is asked to transfer it, or a follower to take it.
    pub transfer_per_million_steps: u32,
    /// A node that may snapshot does (per node).
    pub snapshot_per_million_steps: u32,
    /// The leader is asked to change the election timer.
    pub timer_change_per_million_steps: u32,
    /// A node engages a failure-test scenario of the reference.
    pub failure_test_per_million_steps: u32,
    /// A new server joins (while the cluster has fewer than the most nodes).
    pub join_per_million_steps: u32,
    /// A member leaves (while the cluster has more than the fewest nodes).
    pub leave_per_million_steps: u32,
    /// A member is kicked by another (while the cluster has more than the fewest nodes).
    pub kick_per_million_steps: u32,
}

impl Faults {
    /// No faults at all.
    pub const NONE: Faults = Faults {
        delay_ms_min: 1,
        delay_ms_max: 3,
        drop_per_million: 0,
        duplicate_per_million: 0,
        reorder_per_million: 0,
        link_reset_per_million_steps: 0,
        connect_ms_max: 5,
        partition_per_million_steps: 0,
        partition_ms_max: 0,
        one_way_partition_per_million: 0,
        disk_latency_ms_min: 1,
        disk_latency_ms_max: 2,
        disk_stall_per_million_steps: 0,
        disk_stall_ms_max: 0,
        crash_per_million_steps: 0,
        torn_write_per_million: 0,
        down_ms_max: 0,
        graceful_per_million: 0,
        write_error_per_million_steps: 0,
        transfer_per_million_steps: 0,
        snapshot_per_million_steps: 0,
        timer_change_per_million_steps: 0,
        failure_test_per_million_steps: 0,
        join_per_million_steps: 0,
        leave_per_million_steps: 0,
        kick_per_million_steps: 0,
    };

    /// Occasional faults.
    pub const LIGHT: Faults = Faults {
        delay_ms_min: 1,
        delay_ms_max: 20,
        drop_per_million: 1_000,
        duplicate_per_million: 500,
        reorder_per_million: 1_000,
        link_reset_per_million_steps: 100,
        connect_ms_max: 50,
        partition_per_million_steps: 300,
        partition_ms_max: 3_000,
        one_way_partition_per_million: 300_000,
        disk_latency_ms_min: 1,
        disk_latency_ms_max: 10,
        disk_stall_per_million_steps: 50,
        disk_stall_ms_max: 1_000,
        crash_per_million_steps: 100,
        torn_write_per_million: 300_000,
        down_ms_max: 3_000,
        graceful_per_million: 200_000,
        write_error_per_million_steps: 10,
        transfer_per_million_steps: 200,
        snapshot_per_million_steps: 500,
        timer_change_per_million_steps: 50,
        failure_test_per_million_steps: 50,
        join_per_million_steps: 100,
        leave_per_million_steps: 50,
        kick_per_million_steps: 50,
    };

    /// Frequent faults.
    pub const HEAVY: Faults = Faults {
        delay_ms_min: 1,
        delay_ms_max: 80,
        drop_per_million: 10_000,
        duplicate_per_million: 5_000,
        reorder_per_million: 10_000,
        link_reset_per_million_steps: 500,
        connect_ms_max: 200,
        partition_per_million_steps: 1_500,
        partition_ms_max: 5_000,
        one_way_partition_per_million: 400_000,
        disk_latency_ms_min: 1,
        disk_latency_ms_max: 30,
        disk_stall_per_million_steps: 200,
        disk_stall_ms_max: 3_000,
        crash_per_million_steps: 500,
        torn_write_per_million: 500_000,
        down_ms_max: 5_000,
        graceful_per_million: 300_000,
        write_error_per_million_steps: 50,
        transfer_per_million_steps: 1_000,
        snapshot_per_million_steps: 2_000,
        timer_change_per_million_steps: 300,
        failure_test_per_million_steps: 300,
        join_per_million_steps: 500,
        leave_per_million_steps: 250,
        kick_per_million_steps: 250,
    };

    /// The knobs as `name=value` pairs, for failure reports.
    pub fn knobs(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("delay_ms_min", self.delay_ms_min),
            ("delay_ms_max", self.delay_ms_max),
            ("drop_per_million", self.drop_per_million.into()),
            ("duplicate_per_million", self.duplicate_per_million.into()),
            ("reorder_per_million", self.reorder_per_million.into()),
            (
                "link_reset_per_million_steps",
                self.link_reset_per_million_steps.into(),
            ),
            ("connect_ms_max", self.connect_ms_max),
            (
                "partition_per_million_steps",
                self.partition_per_million_steps.into(),
            ),
            ("partition_ms_max", self.partition_ms_max),
            (
                "one_way_partition_per_million",
                self.one_way_partition_per_million.into(),
            ),
            ("disk_latency_ms_min", self.disk_latency_ms_min),
            ("disk_latency_ms_max", self.disk_latency_ms_max),
            (
                "disk_stall_per_million_steps",
                self.disk_stall_per_million_steps.into(),
            ),
            ("disk_stall_ms_max", self.disk_stall_ms_max),
            (
                "crash_per_million_steps",
                self.crash_per_million_steps.into(),
            ),
            ("torn_write_per_million", self.torn_write_per_million.into()),
            ("down_ms_max", self.down_ms_max),
            ("graceful_per_million", self.graceful_per_million.into()),
            (
                "write_error_per_million_steps",
                self.write_error_per_million_steps.into(),
            ),
            (
                "transfer_per_million_steps",
                self.transfer_per_million_steps.into(),
            ),
            (
                "snapshot_per_million_steps",
                self.snapshot_per_million_steps.into(),
            ),
            (
                "timer_change_per_million_steps",
                self.timer_change_per_million_steps.into(),
            ),
            (
                "failure_test_per_million_steps",
                self.failure_test_per_million_steps.into(),
            ),
            ("join_per_million_steps", self.join_per_million_steps.into()),
            (
                "leave_per_million_steps",
                self.leave_per_million_steps.into(),
            ),
            ("kick_per_million_steps", self.kick_per_million_steps.into()),
        ]
    }
}

/// The clients' workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Workload {
    /// Clients, each with at most one request outstanding.
    pub clients: usize,
    /// Keys the requests touch (`k0`, `k1`, …).
    pub keys: usize,
    /// Longest pause of a client between its requests.
    pub think_ms_max: u64,
    /// A request carries a prerequisite (the last entry its server applied).
    pub prereq_per_million: u32,
}

impl Default for Workload {
    fn default() -> Workload {
        Workload {
            clients: 4,
            keys: 4,
            think_ms_max: 100,
            prereq_per_million: 500_000,
        }
    }
}

/// Deliberate protocol breakers, for showing that each checker catches the bug it exists for.
/// All off by default; never use them outside tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bugs {
    /// A voter that grants a vote also forges a second grant, in the same term, to another
    /// candidate (a server voting twice in one term). Election safety should catch it.
    pub vote_twice: bool,
    /// Disks report writes durable as soon as they are issued, but really sync them a second
    /// later, so messages go out before what they mention is durable (send before persist).
    /// A crash then loses votes and entries that peers were told about.
    pub ack_before_durable: bool,
    /// A restarting node loses its last durable write. The commit-index checker should
    /// catch it.
    pub lose_durable_write: bool,
    /// Append requests are delivered with their commit index raised to the sender's log
    /// end, so followers commit entries no majority holds.
    pub forge_commit: bool,
    /// Append requests are delivered with the data of their entries altered, so two logs
    /// hold different entries at the same index and term. Log matching should catch it.
    pub corrupt_entries: bool,
    /// Reads are answered from the receiving server's state instead of through the log.
    /// Linearizability should catch it.
    pub stale_reads: bool,
}

/// Everything that decides one simulation run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimConfig {
    /// Decides every random choice of the run.
    pub seed: u64,
    /// The servers the cluster starts with (3–7).
    pub nodes: usize,
    /// How long the faulty phase lasts, in simulated milliseconds.
    pub time_ms: u64,
    /// How long the healed phase may take to converge, in simulated milliseconds.
    pub heal_ms_max: u64,
    /// The preset the knobs came from (for the replay command).
    pub preset: Preset,
    /// The fault knobs.
    pub faults: Faults,
    /// The client workload.
    pub workload: Workload,
    /// Test-only protocol breakers.
    pub bugs: Bugs,
    /// Record every event's full rendering (for `--trace` and determinism tests) instead of a
    /// compact digest; slower.
    pub full_trace: bool,
}

/// The fewest servers a cluster has.
pub const MIN_NODES: usize = 3;
/// The most servers a cluster has (joins stop there).
pub const MAX_NODES: usize = 7;

impl SimConfig {
    /// A run of `seed` with the `preset` faults and defaults for the rest: 5 servers, 20
    /// simulated seconds of faults, up to 60 to converge.
    pub fn new(seed: u64, preset: Preset) -> SimConfig {
        SimConfig {
            seed,
            nodes: 5,
            time_ms: 20_000,
            heal_ms_max: 60_000,
            preset,
            faults: preset.faults(),
            workload: Workload::default(),
            bugs: Bugs::default(),
            full_trace: false,
        }
    }

    /// The one-line command that replays this run.
    pub fn replay_command(&self) -> String {
        format!(
            "cargo run --release -p raft-sim -- run --seed {} --nodes {} --time-ms {} --faults {}",
            self.seed, self.nodes, self.time_ms, self.preset
        )
    }

    /// Checks the settings make sense.
    pub fn validate(&self) -> Result<(), String> {
        if !(MIN_NODES..=MAX_NODES).contains(&self.nodes) {
            return Err(format!(
                "--nodes must be between {MIN_NODES} and {MAX_NODES}, not {}",
                self.nodes
            ));
        }
        if self.workload.keys == 0 {
            return Err("the workload needs at least one key".into());
        }
        let f = &self.faults;
        if f.delay_ms_min > f.delay_ms_max || f.disk_latency_ms_min > f.disk_latency_ms_max {
            return Err("a minimum knob exceeds its maximum".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_parse_and_validate() {
        for p in Preset::ALL {
            assert_eq!(p.name().parse::<Preset>(), Ok(p));
            SimConfig::new(1, p).validate().unwrap();
        }
        assert!("medium".parse::<Preset>().is_err());
        let mut c = SimConfig::new(1, Preset::Heavy);
        c.nodes = 8;
        assert!(c.validate().unwrap_err().contains("--nodes"));
    }

    #[test]
    fn replay_command_names_everything_that_decides_the_run() {
        let c = SimConfig::new(42, Preset::Light);
        assert_eq!(
            c.replay_command(),
            "cargo run --release -p raft-sim -- run --seed 42 --nodes 5 --time-ms 20000 --faults light"
        );
    }
}
