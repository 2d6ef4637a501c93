//! A linearizability checker for client histories of a small replicated key-value store.
//!
//! A simulator records what its clients asked and what they were told into a [`History`], then
//! asks [`check`] whether some sequential order of the operations — each taking effect at one
//! instant between its invocation and its response — explains every response. Operations whose
//! outcome the client never learned may take effect at any instant after their invocation, or
//! never.
//!
//! The check is exact (no false alarms, no missed violations) and bounded: a key whose search
//! exceeds [`Limits`] gets [`Verdict::Unknown`] rather than a guess or a hang. It is
//! deterministic: the same history always gives the same verdict and explanation.
//!
//! How: the history is split by key (a history is linearizable iff each key's sub-history is),
//! values are interned to integers, and each key is searched with the Wing–Gong–Lowe algorithm
//! with Lowe's memoization of visited configurations, plus exact reductions for operations with
//! unknown outcomes and for values that can no longer be produced (see `search.rs`). A violation
//! is then explained by a binary search for the first response no order explains.
//!
//! Cost: histories of thousands of operations over tens of keys take milliseconds. The search is
//! exponential in the worst case, in the number of operations concurrent on one key; it stays
//! fast when every write uses a distinct value (a read then says which write it saw), so
//! simulators should write distinct values, e.g. `"c3-17"` for client 3's 17th write. A single
//! key with tens of concurrent clients and only a few distinct values can exhaust the default
//! step limit and get [`Verdict::Unknown`].
//!
//! ```
//! use raft_sim::linearizability::{check, ClientId, History, Op, Response, Verdict};
//!
//! let mut history = History::new();
//! let put = history.invoke(ClientId(1), Op::put("x", "a"), 0);
//! let get = history.invoke(ClientId(2), Op::get("x"), 5);
//! history.complete(put, Response::Ok, 10);
//! // The read overlaps the write, so it may see either the old or the new value.
//! history.complete(get, Response::Value(None), 12);
//! assert_eq!(check(&history), Verdict::Linearizable);
//! ```

use std::fmt;

mod explain;
mod history;
mod partition;
mod search;

pub use history::{ClientId, History, Op, OpId, Outcome, Record, Response};

use partition::Partition;
use search::Found;

/// Bounds on the work [`check_with`] does per key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// A key with more operations than this (not counting ones that cannot matter: those never
    /// applied, and reads with an unknown outcome) is not searched.
    pub max_ops_per_key: usize,
    /// The most search steps (events visited, roughly 100 ns each) spent deciding one key.
    /// Explaining a violation may spend as many again. Memory grows with the steps too, by up to
    /// (operations on the key) / 4 bytes per step.
    pub max_steps_per_key: u64,
}

impl Default for Limits {
    /// About a second per key at most (a few for keys with thousands of operations): far more
    /// than the Jepsen etcd histories (under a thousand steps each) or 5,000 operations over 20
    /// keys (milliseconds) need.
    fn default() -> Self {
        Self {
            max_ops_per_key: 100_000,
            max_steps_per_key: 5_000_000,
        }
    }
}

/// The result of a check.
#[must_use]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Some order of the operations explains every response.
    Linearizable,
    /// No order of the operations on `key` explains every response.
    NotLinearizable {
        /// The first key (in key order) found to be violated.
        key: String,
        /// The first response no order explains, an order that explains everything before it,
        /// and the other operations that could have gone next.
        explanation: String,
    },
    /// The search hit a [`Limits`] bound before deciding, and no key was found violated.
    Unknown {
        /// Which key and which bound.
        reason: String,
    },
}

impl Verdict {
    /// Whether the verdict is [`Verdict::Linearizable`].
    pub fn is_linearizable(&self) -> bool {
        matches!(self, Self::Linearizable)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Linearizable => f.write_str("linearizable"),
            Self::NotLinearizable { key, explanation } => {
                write!(f, "not linearizable on key {key:?}: {explanation}")
            }
            Self::Unknown { reason } => write!(f, "unknown: {reason}"),
        }
    }
}

/// Checks `history` with the default [`Limits`].
pub fn check(history: &History) -> Verdict {
    check_with(history, Limits::default())
}

/// Checks `history`, giving up on a key (with [`Verdict::Unknown`]) when it exceeds `limits`.
///
/// A violation on any key wins over an unknown verdict on another; keys are checked in order and
/// the first violated one is reported.
pub fn check_with(history: &History, limits: Limits) -> Verdict {
    let mut unknown = None;
    for (key, part) in partition::by_key(history) {
        match check_key(history, key, &part, limits) {
            Verdict::Linearizable => {}
            violated @ Verdict::NotLinearizable { .. } => return violated,
            undecided @ Verdict::Unknown { .. } => {
                unknown.get_or_insert(undecided);
            }
        }
    }
    unknown.unwrap_or(Verdict::Linearizable)
}

fn check_key(history: &History, key: &str, part: &Partition<'_>, limits: Limits) -> Verdict {
    let ops = part.ops.len();
    if ops > limits.max_ops_per_key {
        let limit = limits.max_ops_per_key;
        let reason = format!("key {key:?} has {ops} operations, more than the limit of {limit}");
        return Verdict::Unknown { reason };
    }
    let mut budget = limits.max_steps_per_key;
    match search::linearize(&part.ops, &mut budget) {
        Found::Linearizable(_) => Verdict::Linearizable,
        Found::Impossible => Verdict::NotLinearizable {
            key: key.to_owned(),
            explanation: explain::explain(history, key, part, limits.max_steps_per_key),
        },
        Found::OutOfSteps => {
            let steps = limits.max_steps_per_key;
            let reason = format!("key {key:?} ({ops} operations) not decided in {steps} steps");
            Verdict::Unknown { reason }
        }
    }
}

#[cfg(test)]
mod tests;
