//! When a node takes a snapshot on its own: the reference storage layer's schedule.
//!
//! After a snapshot (or at start) none is taken for a minimum interval, drawn at random
//! between the configured minimum and twice it so that the servers of a cluster do not all
//! snapshot at once; after that, one is taken when the log has at least 100 entries and grew
//! a lot, or, once the maximum interval has passed, when it has any entry at all. A failed
//! attempt is retried after a tenth of the interval. `cluster/compact` ignores the schedule.

use std::time::Duration;

use raft_core::Millis;

/// Before the maximum interval, a snapshot is worth taking only with at least this many
/// entries to discard.
const MIN_ENTRIES: u64 = 100;

/// The snapshot schedule of one node.
#[derive(Debug)]
pub(super) struct SnapshotSchedule {
    min_interval_ms: u64,
    max_interval_ms: u64,
    /// No automatic snapshot before this.
    earliest: Millis,
    /// A snapshot is due from this on even if the log did not grow a lot.
    latest: Millis,
    /// The state of the jitter's generator (splitmix64).
    rng: u64,
}

impl SnapshotSchedule {
    pub(super) fn new(now: Millis, min: Duration, max: Duration, seed: u64) -> SnapshotSchedule {
        let mut schedule = SnapshotSchedule {
            min_interval_ms: millis(min),
            max_interval_ms: millis(max),
            earliest: now,
            latest: now,
            rng: seed,
        };
        schedule.restart(now, false);
        schedule
    }

    /// Whether a snapshot is due now, given whether the log grew a lot and how many entries
    /// it holds beyond the last snapshot.
    pub(super) fn due(&self, now: Millis, grew_lots: bool, entries: u64) -> bool {
        if now < self.earliest {
            false
        } else if now < self.latest {
            grew_lots && entries >= MIN_ENTRIES
        } else {
            entries > 0
        }
    }

    /// A snapshot was just taken (`failed`: attempted and refused); schedule the next.
    pub(super) fn restart(&mut self, now: Millis, failed: bool) {
        let base = if failed {
            self.min_interval_ms / 10
        } else {
            self.min_interval_ms
        };
        self.earliest = now.plus(base.saturating_add(self.jitter(base)));
        self.latest = now.plus(self.max_interval_ms);
    }

    /// A number in `0..range` (0 if `range` is 0).
    fn jitter(&mut self, range: u64) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        z.checked_rem(range).unwrap_or(0)
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(600);
    const DAY: Duration = Duration::from_secs(86_400);

    #[test]
    fn nothing_is_due_before_the_minimum_however_much_the_log_grew() {
        let s = SnapshotSchedule::new(Millis(0), MIN, DAY, 7);
        assert!(!s.due(Millis(599_999), true, 1000));
        assert!(
            s.due(Millis(1_200_000), true, 100),
            "due by twice the minimum"
        );
        assert!(
            !s.due(Millis(1_200_000), true, 99),
            "too few entries to bother"
        );
        assert!(
            !s.due(Millis(1_200_000), false, 1000),
            "not grown, not a day yet"
        );
        assert!(
            s.due(Millis(86_400_000), false, 1),
            "a day passed: any entry will do"
        );
        assert!(!s.due(Millis(86_400_000), false, 0));
    }

    #[test]
    fn the_jitter_spreads_servers_between_the_minimum_and_twice_it() {
        let earliest: Vec<u64> = (0..50)
            .map(|seed| SnapshotSchedule::new(Millis(0), MIN, DAY, seed).earliest.0)
            .collect();
        assert!(earliest.iter().all(|&e| (600_000..1_200_000).contains(&e)));
        let distinct: std::collections::BTreeSet<_> = earliest.iter().collect();
        assert!(distinct.len() > 40, "{distinct:?}");
    }

    #[test]
    fn a_failed_snapshot_is_retried_after_a_tenth_of_the_interval() {
        let mut s = SnapshotSchedule::new(Millis(0), MIN, DAY, 1);
        s.restart(Millis(2_000_000), true);
        assert!(
            s.earliest.0 >= 2_060_000 && s.earliest.0 < 2_120_000,
            "{s:?}"
        );
        assert_eq!(
            s.latest,
            Millis(2_000_000 + 86_400_000),
            "a day from the attempt"
        );
    }

    #[test]
    fn a_zero_minimum_snapshots_whenever_the_log_grew() {
        let s = SnapshotSchedule::new(Millis(5), Duration::ZERO, DAY, 3);
        assert!(s.due(Millis(5), true, 100));
        assert!(!s.due(Millis(5), false, 100));
    }
}
