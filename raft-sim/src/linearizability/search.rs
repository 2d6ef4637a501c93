//! The Wing–Gong–Lowe search for a linearization of one key's operations, with Lowe's
//! memoization of visited configurations (G. Lowe, "Testing for linearizability", 2017, §4: the
//! algorithm porcupine and knossos' `linear` use), extended for operations with an unknown
//! outcome.
//!
//! A configuration is (linearized completed operations, linearized unknown operations, state).
//! The events of completed operations (invocations and responses) sit in a doubly linked list in
//! time order; the search walks it from the front, trying to linearize each invoked operation
//! next (removing its events from the list). Reaching a response means an operation that must
//! have taken effect by then could not be placed: first the unknown-outcome operations invoked by
//! then are tried, then the search backtracks. Unknown operations have no response, so they never
//! force anything; the ones never placed are taken to have happened after everything else, or
//! never, which no response can contradict. The search therefore succeeds once every completed
//! operation is placed.
//!
//! Three reductions keep the search small, all exact:
//!
//! - Dominance: a configuration with fewer unknown operations linearized (same completed set,
//!   same state) can do everything one with more can, because unplaced unknown operations block
//!   nothing. So a configuration is skipped if one with a subset of its unknown operations was
//!   already visited. (Lowe's equality check is the special case of equal sets.)
//! - Symmetry: two unknown operations with the same effect are interchangeable once both are
//!   invoked, so only the earliest-invoked unplaced one of such twins is ever tried.
//! - Supply: a configuration is hopeless if some unplaced completed operation needs a state
//!   (a read of `v`, a successful cas expecting `v`) that is neither the current state nor
//!   producible by any unplaced operation. With distinct written values this cuts off a wrong
//!   order as soon as it overwrites a value some pending read still has to see.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hash, Hasher};

use super::partition::{KeyOp, State};

/// How a search ended.
#[derive(Debug)]
pub(super) enum Found {
    /// There is a linearization; here is one.
    Linearizable(Witness),
    /// There is none.
    Impossible,
    /// The step budget ran out first.
    OutOfSteps,
}

/// A linearization of the completed operations and of the unknown ones that took effect.
#[derive(Debug)]
pub(super) struct Witness {
    /// Indices into the searched operations, in linearization order.
    pub(super) order: Vec<usize>,
    /// The key's state after `order`.
    pub(super) state: State,
}

/// Searches for a linearization of `ops`, spending at most `budget` steps and deducting the
/// steps taken from it.
///
/// # Panics
///
/// If there are 2^31 operations or more; callers bound that far lower.
pub(super) fn linearize(ops: &[KeyOp], budget: &mut u64) -> Found {
    let mut search = Search::new(ops);
    if search.supply.hopeless(search.state) {
        return Found::Impossible;
    }
    while search.unplaced_completed > 0 {
        let Some(left) = budget.checked_sub(1) else {
            return Found::OutOfSteps;
        };
        *budget = left;
        if !search.step() {
            return Found::Impossible;
        }
    }
    Found::Linearizable(search.witness())
}

/// Marks the end of an event list and "no event".
const NIL: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
struct Event {
    prev: u32,
    next: u32,
    time: u64,
    op: u32,
    /// For an invocation of a completed operation, its response; otherwise `NIL`.
    response: u32,
    is_call: bool,
}

/// A time-ordered doubly linked list of events not yet linearized. `events[0]` is the head
/// sentinel; the other indices are the events' positions in time order, and never change.
#[derive(Debug)]
struct Events {
    events: Vec<Event>,
}

impl Events {
    /// The list of events `(time, is_response, op)`. At equal times invocations sort first, so
    /// equal times count as concurrent: the lenient reading, which cannot turn a correct history
    /// into a reported violation.
    fn new(mut order: Vec<(u64, bool, u32)>, ops: usize) -> Self {
        order.sort_unstable();
        let head = Event {
            prev: NIL,
            next: NIL,
            time: 0,
            op: NIL,
            response: NIL,
            is_call: false,
        };
        let mut events = vec![head; order.len() + 1];
        let mut call_of = vec![NIL; ops];
        for (position, &(time, is_response, op)) in order.iter().enumerate() {
            let index = position as u32 + 1;
            let next = if position + 1 == order.len() {
                NIL
            } else {
                index + 1
            };
            let is_call = !is_response;
            events[index as usize] = Event {
                prev: index - 1,
                next,
                time,
                op,
                response: NIL,
                is_call,
            };
            if is_response {
                events[call_of[op as usize] as usize].response = index;
            } else {
                call_of[op as usize] = index;
            }
        }
        events[0].next = if order.is_empty() { NIL } else { 1 };
        Self { events }
    }

    fn get(&self, index: u32) -> Event {
        self.events[index as usize]
    }

    fn first(&self) -> u32 {
        self.events[0].next
    }

    /// Removes an invocation and its response: the operation is linearized.
    fn lift(&mut self, call: u32) {
        self.unlink(call);
        let response = self.get(call).response;
        if response != NIL {
            self.unlink(response);
        }
    }

    /// Undoes [`Events::lift`]; lifts must be undone in reverse order.
    fn unlift(&mut self, call: u32) {
        let response = self.get(call).response;
        if response != NIL {
            self.relink(response);
        }
        self.relink(call);
    }

    fn unlink(&mut self, index: u32) {
        let Event { prev, next, .. } = self.get(index);
        self.events[prev as usize].next = next;
        if next != NIL {
            self.events[next as usize].prev = prev;
        }
    }

    /// Puts back an unlinked event; its own `prev`/`next` still point at its old neighbours.
    fn relink(&mut self, index: u32) {
        let Event { prev, next, .. } = self.get(index);
        self.events[prev as usize].next = index;
        if next != NIL {
            self.events[next as usize].prev = index;
        }
    }
}

/// Where the search looks next.
#[derive(Clone, Copy, Debug)]
enum Cursor {
    /// At this event of a completed operation.
    Completed(u32),
    /// At this unknown operation's invocation (or `NIL`), having stopped at response `before`.
    Unknown { call: u32, before: u32 },
}

/// The state of one search.
struct Search<'a> {
    ops: &'a [KeyOp],
    /// Invocations and responses of completed operations.
    completed: Events,
    /// Invocations of unknown operations.
    unknown: Events,
    /// For each unknown operation, the latest earlier one with the same effect (else `NIL`).
    twin: Vec<u32>,
    cursor: Cursor,
    /// The key's state after the placed operations.
    state: State,
    /// Where each placed operation was found, in order, with the state before it.
    placed: Vec<(Cursor, State)>,
    placed_completed: OpSet,
    placed_unknown: OpSet,
    /// For each (completed set, state) visited, the minimal unknown sets it was visited with.
    seen: HashMap<Seen, Vec<Box<[u64]>>, BuildHasherDefault<PassThrough>>,
    supply: Supply,
    unplaced_completed: usize,
}

impl<'a> Search<'a> {
    fn new(ops: &'a [KeyOp]) -> Self {
        let (mut completed, mut unknown) = (Vec::new(), Vec::new());
        for (op, key_op) in ops.iter().enumerate() {
            let op = u32::try_from(op).expect("fewer than 2^31 operations per key");
            match key_op.returned_at {
                Some(at) => completed.extend([(key_op.invoked_at, false, op), (at, true, op)]),
                None => unknown.push((key_op.invoked_at, false, op)),
            }
        }
        let unplaced_completed = completed.len() / 2;
        let (completed, unknown) = (
            Events::new(completed, ops.len()),
            Events::new(unknown, ops.len()),
        );
        Self {
            ops,
            twin: twins(ops, &unknown),
            cursor: Cursor::Completed(completed.first()),
            completed,
            unknown,
            state: None,
            placed: Vec::new(),
            placed_completed: OpSet::new(ops.len()),
            placed_unknown: OpSet::new(ops.len()),
            seen: HashMap::default(),
            supply: Supply::new(ops),
            unplaced_completed,
        }
    }

    /// Advances by one event; `false` once every order has failed.
    fn step(&mut self) -> bool {
        match self.cursor {
            Cursor::Completed(index) => {
                // Some unplaced completed operation's response lies ahead: every event before
                // the cursor is an invocation (see `backtrack`).
                assert_ne!(index, NIL, "the search ran past the last response");
                let event = self.completed.get(index);
                self.cursor = if !event.is_call {
                    Cursor::Unknown {
                        call: self.unknown.first(),
                        before: index,
                    }
                } else if self.try_place(event.op) {
                    Cursor::Completed(self.completed.first())
                } else {
                    Cursor::Completed(event.next)
                };
            }
            Cursor::Unknown { call, before } => {
                if call == NIL || self.unknown.get(call).time > self.completed.get(before).time {
                    return self.backtrack();
                }
                let op = self.unknown.get(call).op;
                let twin = self.twin[op as usize];
                let redundant = twin != NIL && !self.placed_unknown.contains(twin);
                self.cursor = if !redundant && self.try_place(op) {
                    Cursor::Completed(self.completed.first())
                } else {
                    Cursor::Unknown {
                        call: self.unknown.get(call).next,
                        before,
                    }
                };
            }
        }
        true
    }

    /// Linearizes `op`, found at the cursor, next if its response allows it and the resulting
    /// configuration is neither hopeless nor dominated by one already visited.
    fn try_place(&mut self, op: u32) -> bool {
        let Some(next_state) = self.ops[op as usize].step(self.state) else {
            return false;
        };
        self.toggle(op);
        if self.supply.hopeless(next_state) || !self.visit(next_state) {
            self.toggle(op);
            return false;
        }
        self.placed.push((self.cursor, self.state));
        self.state = next_state;
        match self.cursor {
            Cursor::Completed(call) => self.completed.lift(call),
            Cursor::Unknown { call, .. } => self.unknown.lift(call),
        }
        true
    }

    /// At a response whose operation could not be placed: undo the last placement and look
    /// further along from where it was found. The events before that invocation were all
    /// invocations when it was placed, and they are again, which keeps the invariant `step`
    /// relies on.
    fn backtrack(&mut self) -> bool {
        let Some((cursor, state)) = self.placed.pop() else {
            return false;
        };
        self.state = state;
        self.cursor = match cursor {
            Cursor::Completed(call) => {
                self.completed.unlift(call);
                self.toggle(self.completed.get(call).op);
                Cursor::Completed(self.completed.get(call).next)
            }
            Cursor::Unknown { call, before } => {
                self.unknown.unlift(call);
                self.toggle(self.unknown.get(call).op);
                Cursor::Unknown {
                    call: self.unknown.get(call).next,
                    before,
                }
            }
        };
        true
    }

    /// Places `op` if unplaced, unplaces it if placed (the event lists aside).
    fn toggle(&mut self, op: u32) {
        let key_op = &self.ops[op as usize];
        let placed = if key_op.returned_at.is_some() {
            self.placed_completed.toggle(op);
            let placed = self.placed_completed.contains(op);
            if placed {
                self.unplaced_completed -= 1;
            } else {
                self.unplaced_completed += 1;
            }
            placed
        } else {
            self.placed_unknown.toggle(op);
            self.placed_unknown.contains(op)
        };
        self.supply.update(key_op, placed);
    }

    /// Records the current sets with `state`; `false` if a configuration dominating it (same
    /// completed set and state, a subset of its unknown operations) was visited before.
    fn visit(&mut self, state: State) -> bool {
        let unknown = &self.placed_unknown.words;
        let minimal = self
            .seen
            .entry(Seen::new(&self.placed_completed, state))
            .or_default();
        if minimal.iter().any(|visited| is_subset(visited, unknown)) {
            return false;
        }
        minimal.retain(|visited| !is_subset(unknown, visited));
        minimal.push(unknown.clone().into_boxed_slice());
        true
    }

    /// The order of the placed operations.
    fn witness(&self) -> Witness {
        let op_at = |&(cursor, _): &(Cursor, State)| match cursor {
            Cursor::Completed(call) => self.completed.get(call).op as usize,
            Cursor::Unknown { call, .. } => self.unknown.get(call).op as usize,
        };
        Witness {
            order: self.placed.iter().map(op_at).collect(),
            state: self.state,
        }
    }
}

/// Which states the unplaced operations still need and can still produce.
#[derive(Debug)]
struct Supply {
    /// Per state slot (see [`slot`]): how many unplaced operations may leave that state behind
    /// (`[PRODUCERS]`), and how many unplaced completed ones must take effect in it
    /// (`[CONSUMERS]`).
    counts: Vec<[u32; 2]>,
    /// How many slots are needed but no longer producible ("dead").
    dead: u32,
    /// The XOR of the dead slots: the dead slot itself when there is exactly one.
    dead_xor: usize,
}

const PRODUCERS: usize = 0;
const CONSUMERS: usize = 1;

impl Supply {
    fn new(ops: &[KeyOp]) -> Self {
        let slots = ops
            .iter()
            .flat_map(|op| [op.writes(), op.needs()])
            .flatten()
            .map(slot);
        let len = slots.max().unwrap_or(0) + 1;
        let mut supply = Self {
            counts: vec![[0; 2]; len],
            dead: 0,
            dead_xor: 0,
        };
        for op in ops {
            supply.update(op, false);
        }
        supply
    }

    /// Takes `op` out of the counts when it is `placed`, puts it back when it is not.
    fn update(&mut self, op: &KeyOp, placed: bool) {
        if let Some(state) = op.writes() {
            self.adjust(slot(state), PRODUCERS, placed);
        }
        if let Some(state) = op.needs() {
            self.adjust(slot(state), CONSUMERS, placed);
        }
    }

    fn adjust(&mut self, slot: usize, which: usize, placed: bool) {
        let was_dead = self.is_dead(slot);
        let count = &mut self.counts[slot][which];
        *count = if placed { *count - 1 } else { *count + 1 };
        if self.is_dead(slot) != was_dead {
            self.dead = if was_dead {
                self.dead - 1
            } else {
                self.dead + 1
            };
            self.dead_xor ^= slot;
        }
    }

    fn is_dead(&self, slot: usize) -> bool {
        let [producers, consumers] = self.counts[slot];
        consumers > 0 && producers == 0
    }

    /// Whether no continuation from `state` can satisfy every unplaced completed operation.
    fn hopeless(&self, state: State) -> bool {
        self.dead > 1 || (self.dead == 1 && self.dead_xor != slot(state))
    }
}

/// Numbers the states 0 (missing), 1 (value 0), 2 (value 1), ...
fn slot(state: State) -> usize {
    state.map_or(0, |value| value as usize + 1)
}

/// For each unknown operation in `unknown` (by op index), the latest earlier one in the list
/// with the same effect, or `NIL`.
fn twins(ops: &[KeyOp], unknown: &Events) -> Vec<u32> {
    let mut twin = vec![NIL; ops.len()];
    let mut latest = BTreeMap::new();
    let mut call = unknown.first();
    while call != NIL {
        let op = unknown.get(call).op;
        if let Some(previous) = latest.insert(ops[op as usize].effect, op) {
            twin[op as usize] = previous;
        }
        call = unknown.get(call).next;
    }
    twin
}

fn is_subset(small: &[u64], large: &[u64]) -> bool {
    small
        .iter()
        .zip(large)
        .all(|(small, large)| small & !large == 0)
}

/// A set of operations with an incrementally maintained Zobrist hash, so that memoization
/// lookups hash in O(1) instead of hashing the whole bitset.
#[derive(Debug)]
struct OpSet {
    words: Vec<u64>,
    hash: u64,
}

impl OpSet {
    fn new(len: usize) -> Self {
        Self {
            words: vec![0; len.div_ceil(64)],
            hash: 0,
        }
    }

    fn toggle(&mut self, op: u32) {
        self.words[op as usize / 64] ^= 1 << (op % 64);
        self.hash ^= splitmix64(u64::from(op));
    }

    fn contains(&self, op: u32) -> bool {
        self.words[op as usize / 64] & (1 << (op % 64)) != 0
    }
}

/// A memoization key: a set of completed operations and a state.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    hash: u64,
    state: State,
    words: Box<[u64]>,
}

impl Seen {
    fn new(set: &OpSet, state: State) -> Self {
        let state_hash = splitmix64(state.map_or(u64::MAX, u64::from));
        let words = set.words.clone().into_boxed_slice();
        Self {
            hash: set.hash ^ state_hash.rotate_left(1),
            state,
            words,
        }
    }
}

impl Hash for Seen {
    fn hash<H: Hasher>(&self, hasher: &mut H) {
        hasher.write_u64(self.hash);
    }
}

/// A hasher for keys that already carry a good 64-bit hash ([`Seen`]).
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not reached through `Seen`, but the trait requires it: fold bytes in FNV-1a style.
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A fixed, well-mixed 64-bit value per input (Vigna's splitmix64 finalizer).
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
