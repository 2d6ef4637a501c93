//! Splitting a history by key and translating each key's operations to small integers, so that
//! search states are cheap to copy, compare and hash.
//!
//! Splitting is sound because linearizability is compositional (Herlihy & Wing, "locality"): a
//! history is linearizable iff its restriction to every key is.

use std::collections::BTreeMap;

use super::history::{History, Op, OpId, Outcome, Record, Response};

/// A key's value during the search: `None` while missing, else an interned value.
pub(super) type State = Option<u32>;

/// What an operation does to its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Effect {
    Put(u32),
    Delete,
    Get,
    Cas { expected: State, new: u32 },
}

/// What the response tells about the key's state at the linearization point.
#[derive(Clone, Copy, Debug)]
enum Observed {
    /// Nothing: put/delete acknowledgements, and operations with an unknown outcome.
    Nothing,
    /// A get read this value.
    Value(State),
    /// A cas did or did not swap.
    Swapped(bool),
}

/// One operation of a key, ready for the search.
#[derive(Clone, Debug)]
pub(super) struct KeyOp {
    /// Where it came from in the history.
    pub(super) id: OpId,
    /// When it was invoked.
    pub(super) invoked_at: u64,
    /// When it completed; `None` if the outcome is unknown.
    pub(super) returned_at: Option<u64>,
    /// What it does to the key.
    pub(super) effect: Effect,
    observed: Observed,
}

impl KeyOp {
    /// The key's state after this operation takes effect in `state`, or `None` if its response
    /// contradicts `state`.
    pub(super) fn step(&self, state: State) -> Option<State> {
        match (self.effect, self.observed) {
            (Effect::Put(value), _) => Some(Some(value)),
            (Effect::Delete, _) => Some(None),
            (Effect::Get, Observed::Value(read)) => (read == state).then_some(state),
            (Effect::Get, _) => Some(state),
            (Effect::Cas { expected, new }, observed) => {
                let swaps = state == expected;
                let consistent =
                    !matches!(observed, Observed::Swapped(swapped) if swapped != swaps);
                consistent.then_some(if swaps { Some(new) } else { state })
            }
        }
    }

    /// The state this operation may leave behind, if it may change the state at all.
    pub(super) fn writes(&self) -> Option<State> {
        match (self.effect, self.observed) {
            (Effect::Put(value), _) => Some(Some(value)),
            (Effect::Delete, _) => Some(None),
            (Effect::Get, _) | (Effect::Cas { .. }, Observed::Swapped(false)) => None,
            (Effect::Cas { new, .. }, _) => Some(Some(new)),
        }
    }

    /// The state this operation's response proves the key was in when it took effect, if any.
    pub(super) fn needs(&self) -> Option<State> {
        match (self.effect, self.observed) {
            (Effect::Get, Observed::Value(read)) => Some(read),
            (Effect::Cas { expected, .. }, Observed::Swapped(true)) => Some(expected),
            _ => None,
        }
    }

    /// This operation as seen in the history cut off at time `until`: gone if invoked later (or
    /// a read still running then), of unknown outcome if still running.
    pub(super) fn truncated(&self, until: u64) -> Option<Self> {
        if self.invoked_at > until {
            return None;
        }
        match self.returned_at {
            Some(at) if at <= until => Some(self.clone()),
            _ if self.effect == Effect::Get => None,
            _ => Some(Self {
                returned_at: None,
                observed: Observed::Nothing,
                ..self.clone()
            }),
        }
    }
}

/// The operations on one key, with the table to turn interned values back into text.
#[derive(Debug, Default)]
pub(super) struct Partition<'h> {
    /// The operations the search must order, in recording order.
    pub(super) ops: Vec<KeyOp>,
    /// Interned value `i` is `values[i]`.
    values: Vec<&'h str>,
    /// The inverse of `values`.
    ids: BTreeMap<&'h str, u32>,
}

impl<'h> Partition<'h> {
    /// Renders a search state for explanations.
    pub(super) fn describe(&self, state: State) -> String {
        format!("{:?}", state.map(|value| self.values[value as usize]))
    }

    fn intern(&mut self, value: &'h str) -> u32 {
        if let Some(&id) = self.ids.get(value) {
            return id;
        }
        let id = u32::try_from(self.values.len()).expect("fewer than 2^32 distinct values");
        self.values.push(value);
        self.ids.insert(value, id);
        id
    }

    fn push(&mut self, id: OpId, record: &'h Record) {
        let returned_at = match &record.outcome {
            Outcome::Completed { at, .. } => Some(*at),
            Outcome::Pending | Outcome::Unknown | Outcome::NotApplied => None,
        };
        let effect = match &record.op {
            Op::Put { value, .. } => Effect::Put(self.intern(value)),
            Op::Delete { .. } => Effect::Delete,
            Op::Get { .. } => Effect::Get,
            Op::Cas { expected, new, .. } => Effect::Cas {
                expected: expected.as_deref().map(|value| self.intern(value)),
                new: self.intern(new),
            },
        };
        let observed = match &record.outcome {
            Outcome::Completed {
                response: Response::Value(read),
                ..
            } => Observed::Value(read.as_deref().map(|value| self.intern(value))),
            Outcome::Completed {
                response: Response::Cas(swapped),
                ..
            } => Observed::Swapped(*swapped),
            _ => Observed::Nothing,
        };
        let invoked_at = record.invoked_at;
        self.ops.push(KeyOp {
            id,
            invoked_at,
            returned_at,
            effect,
            observed,
        });
    }
}

/// Splits `history` by key, leaving out operations that cannot matter: those never applied, and
/// reads whose result nobody saw.
pub(super) fn by_key(history: &History) -> BTreeMap<&str, Partition<'_>> {
    let mut keys: BTreeMap<&str, Partition<'_>> = BTreeMap::new();
    for (index, record) in history.records().iter().enumerate() {
        if matters(record) {
            keys.entry(record.op.key())
                .or_default()
                .push(OpId(index), record);
        }
    }
    keys
}

fn matters(record: &Record) -> bool {
    match record.outcome {
        Outcome::NotApplied => false,
        Outcome::Pending | Outcome::Unknown => !matches!(record.op, Op::Get { .. }),
        Outcome::Completed { .. } => true,
    }
}
