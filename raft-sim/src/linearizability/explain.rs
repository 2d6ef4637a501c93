//! Turning a failed search into text a person can act on.
//!
//! Linearizability is prefix-closed: if the history cut off at time `t` has no linearization,
//! neither has any longer cut. So a binary search over response times finds the first response
//! that no order explains, and the search of the cut just before it yields an order that explains
//! everything earlier: the two together say where the history goes wrong.

use std::fmt::Write as _;

use super::history::History;
use super::partition::{KeyOp, Partition};
use super::search::{self, Found, Witness};

/// How many operations of each list an explanation shows.
const SHOWN: usize = 10;

/// Explains why `key`'s operations, known to have no linearization, have none, spending at most
/// `budget` search steps in all.
pub(super) fn explain(
    history: &History,
    key: &str,
    part: &Partition<'_>,
    mut budget: u64,
) -> String {
    let cut = first_unexplained(&part.ops, &mut budget);
    let unexplained: Vec<usize> = (0..part.ops.len())
        .filter(|&op| {
            part.ops[op]
                .returned_at
                .is_some_and(|at| cut.is_unexplained(at))
        })
        .collect();
    let mut open = vec![true; part.ops.len()];
    for &op in cut.witness.order.iter().chain(&unexplained) {
        open[op] = false;
    }
    let open: Vec<usize> = (0..part.ops.len())
        .filter(|&op| open[op] && part.ops[op].invoked_at <= cut.until)
        .collect();

    let lines = Lines { history, part };
    let mut text = cut.heading();
    lines.push(&mut text, &unexplained);
    let order = &cut.witness.order;
    let shown = order.len().min(SHOWN);
    let state = part.describe(cut.witness.state);
    let _ = write!(
        text,
        "\nthe order ({} operations, last {shown} shown), leaving {key:?} = {state}:",
        order.len()
    );
    lines.push(&mut text, &order[order.len() - shown..]);
    let _ = write!(
        text,
        "\noperations invoked by t={} and not in the order ({}):",
        cut.until,
        open.len()
    );
    lines.push(&mut text, &open);
    text
}

/// Where the history stops being explainable.
struct Cut {
    /// The last response time up to which some order explains every response, if any.
    explained: Option<u64>,
    /// An order explaining every response up to `explained`.
    witness: Witness,
    /// A response time up to which no order explains every response.
    until: u64,
    /// Whether `until` is the first response time after `explained` (the search did not run out
    /// of steps).
    exact: bool,
}

impl Cut {
    fn is_unexplained(&self, at: u64) -> bool {
        self.explained.is_none_or(|explained| at > explained) && at <= self.until
    }

    fn heading(&self) -> String {
        let until = self.until;
        let before = match self.explained {
            Some(t) => format!("the responses up to t={t} are explained by the order below"),
            None => "no earlier response needs explaining".to_owned(),
        };
        if self.exact {
            format!("{before}, but no order also explains the response at t={until} of:")
        } else {
            format!(
                "{before}; no order explains those up to t={until} (finding the first unexplained \
                 one ran out of steps), which adds the responses of:"
            )
        }
    }
}

/// Binary search for the first response time whose cut has no linearization, given that the
/// whole history (the cut at the last response time) has none.
fn first_unexplained(ops: &[KeyOp], budget: &mut u64) -> Cut {
    let mut times: Vec<u64> = ops.iter().filter_map(|op| op.returned_at).collect();
    times.sort_unstable();
    times.dedup();
    // Invariant: the cut at `times[failing]` has no linearization; the cut at
    // `times[lower - 1]` has `witness` (for `lower == 0`, the empty history has the empty one).
    let (mut lower, mut failing) = (0, times.len().saturating_sub(1));
    let mut witness = Witness {
        order: Vec::new(),
        state: None,
    };
    let mut exact = true;
    while lower < failing {
        let middle = usize::midpoint(lower, failing);
        match search_cut(ops, times[middle], budget) {
            Found::Linearizable(found) => (lower, witness) = (middle + 1, found),
            Found::Impossible => failing = middle,
            Found::OutOfSteps => {
                exact = false;
                break;
            }
        }
    }
    let explained = lower.checked_sub(1).map(|index| times[index]);
    let until = times.get(failing).copied().unwrap_or(0);
    Cut {
        explained,
        witness,
        until,
        exact,
    }
}

/// Searches the history cut off at `until`; a witness refers to indices of `ops`.
fn search_cut(ops: &[KeyOp], until: u64, budget: &mut u64) -> Found {
    let (cut, index): (Vec<KeyOp>, Vec<usize>) = ops
        .iter()
        .enumerate()
        .filter_map(|(op, key_op)| key_op.truncated(until).map(|cut| (cut, op)))
        .unzip();
    match search::linearize(&cut, budget) {
        Found::Linearizable(Witness { order, state }) => {
            let order = order.into_iter().map(|op| index[op]).collect();
            Found::Linearizable(Witness { order, state })
        }
        other => other,
    }
}

/// Renders operations of a key, one per line.
struct Lines<'a> {
    history: &'a History,
    part: &'a Partition<'a>,
}

impl Lines<'_> {
    /// Appends the first [`SHOWN`] of `ops`, saying how many were left out.
    fn push(&self, text: &mut String, ops: &[usize]) {
        for &op in ops.iter().take(SHOWN) {
            let id = self.part.ops[op].id;
            let _ = write!(text, "\n  #{} {}", id.index(), self.history.record(id));
        }
        if ops.len() > SHOWN {
            let _ = write!(text, "\n  ... and {} more", ops.len() - SHOWN);
        }
    }
}
