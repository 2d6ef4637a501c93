//! Small newtypes shared by every module: terms, indexes, ids, time.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A Raft term. Starts at 0 and only increases (Raft §5.1).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Term(pub u64);

impl Term {
    /// The next term, or `None` when the term space is exhausted (a peer may send `u64::MAX`).
    pub fn next(self) -> Option<Term> {
        self.0.checked_add(1).map(Term)
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A position in the replicated log. Index 1 is the initial snapshot of a new cluster, so the
/// first real entry has index 2 (as in the reference).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Index(pub u64);

impl Index {
    /// The following index, saturating at `u64::MAX` (only reachable with hostile input).
    pub fn next(self) -> Index {
        Index(self.0.saturating_add(1))
    }

    /// The preceding index, saturating at 0.
    pub fn prev(self) -> Index {
        Index(self.0.saturating_sub(1))
    }

    /// `self + n`, or `None` on overflow.
    pub fn checked_add(self, n: u64) -> Option<Index> {
        self.0.checked_add(n).map(Index)
    }

    /// The number of indexes from `earlier` up to (excluding) `self`; 0 if `earlier` is later.
    pub fn distance_from(self, earlier: Index) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl fmt::Display for Index {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

macro_rules! uuid_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        // The same order as the bytes', compared as one integer: ids key the ordered maps
        // the hot paths search, and a 16-byte memcmp call per comparison shows in profiles.
        impl Ord for $name {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                self.0.as_u128().cmp(&other.0.as_u128())
            }
        }

        impl PartialOrd for $name {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }

        impl $name {
            /// Builds an id from 128 bits (handy for tests and simulations: `from_u128(1)`).
            pub const fn from_u128(v: u128) -> Self {
                $name(Uuid::from_u128(v))
            }

            /// The short nickname used in log lines and reports: the first four hex digits.
            pub fn nickname(&self) -> Nickname {
                Nickname::of(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.nickname())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

uuid_newtype!(
    /// The id of one server, immutable for its life.
    ServerId
);
uuid_newtype!(
    /// The id of a cluster, chosen when it is created.
    ClusterId
);
uuid_newtype!(
    /// The id of a log entry that carries data, chosen when the command is executed.
    EntryId
);

/// A four-hex-digit nickname of an id, as the reference prints servers in logs (W2).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Nickname([u8; 4]);

impl Nickname {
    fn of(uuid: &Uuid) -> Nickname {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let b = uuid.as_bytes();
        Nickname([
            HEX[usize::from(b[0] >> 4)],
            HEX[usize::from(b[0] & 15)],
            HEX[usize::from(b[1] >> 4)],
            HEX[usize::from(b[1] & 15)],
        ])
    }

    /// The nickname as text.
    pub fn as_str(&self) -> &str {
        // The bytes are ASCII hex digits by construction.
        std::str::from_utf8(&self.0).unwrap_or("????")
    }
}

impl fmt::Display for Nickname {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl fmt::Debug for Nickname {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Monotonic time in milliseconds since an arbitrary epoch, given by the driver.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Millis(pub u64);

impl Millis {
    /// `self + ms`, saturating.
    pub fn plus(self, ms: u64) -> Millis {
        Millis(self.0.saturating_add(ms))
    }

    /// Milliseconds elapsed from `earlier` to `self` (0 if `earlier` is later).
    pub fn since(self, earlier: Millis) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

/// Identifies one write the core asked for (`Action::WriteLog`/`Action::ReplaceLog`).
///
/// Tickets increase by one per write. Reporting `Event::Persisted { ticket }` says that write
/// and every earlier one is durable, so a driver may group many writes into one fsync.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct WriteTicket(pub u64);

impl fmt::Display for WriteTicket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A connection between this server and another, named by the driver.
///
/// The driver picks a fresh id for every established connection (incoming or outgoing) and
/// reports it with `Event::Connected`; the core sends on it with `Action::Send`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConnId(pub u64);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn w2_nickname_is_first_four_hex_digits() {
        let sid = ServerId(Uuid::parse_str("0a1b2c3d-0000-4000-8000-000000000000").unwrap());
        assert_eq!(sid.nickname().as_str(), "0a1b");
        assert_eq!(format!("{sid:?}"), "0a1b");
    }

    #[test]
    fn ids_order_like_their_bytes() {
        let a = ServerId(Uuid::from_bytes([
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255,
        ]));
        let b = ServerId(Uuid::from_bytes([
            0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0,
        ]));
        assert!(a < b);
        assert_eq!(a.0.as_bytes().cmp(b.0.as_bytes()), a.cmp(&b));
    }

    #[test]
    fn index_arithmetic_saturates_on_hostile_values() {
        assert_eq!(Index(u64::MAX).next(), Index(u64::MAX));
        assert_eq!(Index(0).prev(), Index(0));
        assert_eq!(Index(u64::MAX).checked_add(1), None);
        assert_eq!(Term(u64::MAX).next(), None);
        assert_eq!(Index(3).distance_from(Index(5)), 0);
    }
}
