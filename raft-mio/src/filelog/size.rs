//! How big the log is, for deciding when to snapshot.

/// A log's size, counting records appended but not yet synced (as the
/// reference counts bytes handed to stdio).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogSize {
    /// Bytes in the log: magic, header and every record.
    pub bytes: u64,
    /// `bytes` just after the header was written or read (at `create`,
    /// `open` or the last `replace`): the reference's "base".
    pub base_bytes: u64,
    /// Records after the header.
    pub records: u64,
}

/// Below this size a log is never worth compacting.
const GREW_LOTS_FLOOR: u64 = 10 * 1024 * 1024;

impl LogSize {
    /// Whether the log has grown enough since its base that compacting it
    /// would be worthwhile: the reference's `ovsdb_log_grew_lots()`, more
    /// than 10 MiB in all and more than twice the base.
    ///
    /// The reference's caller adds its own conditions (at least 100 log
    /// entries, minimum and maximum snapshot intervals); those count Raft
    /// entries and time, which belong to the server, so they are not here.
    pub fn grew_lots(&self) -> bool {
        self.bytes > GREW_LOTS_FLOOR && self.bytes / 2 > self.base_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(bytes: u64, base_bytes: u64) -> LogSize {
        LogSize {
            bytes,
            base_bytes,
            records: 0,
        }
    }

    #[test]
    fn grew_lots_needs_both_the_floor_and_doubling() {
        const MIB: u64 = 1024 * 1024;
        assert!(!size(10 * MIB, 100).grew_lots(), "at the floor, not above");
        assert!(size(10 * MIB + 1, 100).grew_lots());
        assert!(!size(20 * MIB, 10 * MIB).grew_lots(), "exactly double");
        assert!(size(20 * MIB + 2, 10 * MIB).grew_lots());
        assert!(!size(5 * MIB, 100).grew_lots());
    }
}
