//! Recording what clients asked a key-value store and what it answered.

use std::fmt;

/// Identifies a client. The checker does not need it; explanations show it so that a failure can
/// be traced back to the simulated client that saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientId(pub u64);

/// Identifies an operation recorded in a [`History`]; returned by [`History::invoke`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OpId(pub(super) usize);

impl OpId {
    /// The position of the operation in [`History::records`] (invocation order).
    pub fn index(self) -> usize {
        self.0
    }
}

/// An operation on the replicated key-value store. Every key starts out missing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Sets `key` to `value`; answered by [`Response::Ok`].
    Put {
        /// The key written.
        key: String,
        /// The new value.
        value: String,
    },
    /// Reads `key`; answered by [`Response::Value`] (`None` if the key is missing).
    Get {
        /// The key read.
        key: String,
    },
    /// Sets `key` to `new` if its current value equals `expected` (`None`: the key is missing);
    /// answered by [`Response::Cas`] saying whether it did.
    Cas {
        /// The key compared and maybe written.
        key: String,
        /// The value the key must have, `None` for "missing", for the swap to happen.
        expected: Option<String>,
        /// The value written if the comparison holds.
        new: String,
    },
    /// Removes `key` (whether or not it exists); answered by [`Response::Ok`].
    Delete {
        /// The key removed.
        key: String,
    },
}

impl Op {
    /// A [`Op::Put`].
    pub fn put(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self::Put {
            key: key.into(),
            value: value.into(),
        }
    }

    /// A [`Op::Get`].
    pub fn get(key: impl Into<String>) -> Self {
        Self::Get { key: key.into() }
    }

    /// A [`Op::Cas`]; `expected: None` means "only if the key is missing".
    pub fn cas(key: impl Into<String>, expected: Option<&str>, new: impl Into<String>) -> Self {
        Self::Cas {
            key: key.into(),
            expected: expected.map(str::to_owned),
            new: new.into(),
        }
    }

    /// A [`Op::Delete`].
    pub fn delete(key: impl Into<String>) -> Self {
        Self::Delete { key: key.into() }
    }

    /// The key the operation reads or writes.
    pub fn key(&self) -> &str {
        match self {
            Self::Put { key, .. }
            | Self::Get { key }
            | Self::Cas { key, .. }
            | Self::Delete { key } => key,
        }
    }

    /// Whether `response` is the kind of answer this operation gets.
    fn accepts(&self, response: &Response) -> bool {
        matches!(
            (self, response),
            (Self::Put { .. } | Self::Delete { .. }, Response::Ok)
                | (Self::Get { .. }, Response::Value(_))
                | (Self::Cas { .. }, Response::Cas(_))
        )
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Put { key, value } => write!(f, "put({key:?}, {value:?})"),
            Self::Get { key } => write!(f, "get({key:?})"),
            Self::Cas { key, expected, new } => write!(f, "cas({key:?}, {expected:?} -> {new:?})"),
            Self::Delete { key } => write!(f, "delete({key:?})"),
        }
    }
}

/// The store's answer to a completed operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    /// A [`Op::Put`] or [`Op::Delete`] took effect.
    Ok,
    /// What a [`Op::Get`] read; `None` if the key was missing.
    Value(Option<String>),
    /// Whether a [`Op::Cas`] swapped.
    Cas(bool),
}

impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ok => f.write_str("ok"),
            Self::Value(value) => write!(f, "{value:?}"),
            Self::Cas(swapped) => write!(f, "{swapped}"),
        }
    }
}

/// How an operation ended, as far as its client knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Invoked and not (yet) completed. The checker treats it like [`Outcome::Unknown`], so a
    /// history can be checked while the simulation still has requests in flight.
    Pending,
    /// The client got `response` at time `at`.
    Completed {
        /// When the response arrived.
        at: u64,
        /// What the store answered.
        response: Response,
    },
    /// The client gave up (timeout, crash, lost connection): the operation may have taken effect
    /// at any moment after its invocation, or never.
    Unknown,
    /// The store answered with an error that proves the operation was never applied. The
    /// checker ignores such operations.
    NotApplied,
}

/// One recorded operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The client that invoked it.
    pub client: ClientId,
    /// What it asked.
    pub op: Op,
    /// When the client sent it.
    pub invoked_at: u64,
    /// How it ended.
    pub outcome: Outcome,
}

impl fmt::Display for Record {
    /// Renders as `client 3 [40, 55] get("x") -> Some("b")`; `?` marks an unknown end.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "client {} [{}, ", self.client.0, self.invoked_at)?;
        match &self.outcome {
            Outcome::Completed { at, response } => write!(f, "{at}] {} -> {response}", self.op),
            Outcome::Pending | Outcome::Unknown => write!(f, "?] {} -> unknown", self.op),
            Outcome::NotApplied => write!(f, "?] {} -> not applied", self.op),
        }
    }
}

/// A client history of a key-value store: what each client invoked, when, and how it ended.
///
/// A simulator records into it as requests happen:
///
/// 1. [`History::invoke`] when a client sends a request (keep the returned [`OpId`]);
/// 2. then exactly one of [`History::complete`] when the answer arrives,
///    [`History::fail_unknown`] when the client gives up without knowing whether the request
///    took effect, or [`History::fail_not_applied`] when the store's error proves it was not
///    applied (for example "not leader" before the request reached the log). Operations that
///    were definitely not applied may also simply never be recorded.
///
/// Times are plain ordered numbers (simulated milliseconds, nanoseconds, or event counters).
/// An operation precedes another only if its response time is strictly less than the other's
/// invocation time; equal times count as concurrent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    records: Vec<Record>,
}

impl History {
    /// An empty history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `client` sent `op` at time `at`.
    pub fn invoke(&mut self, client: ClientId, op: Op, at: u64) -> OpId {
        self.records.push(Record {
            client,
            op,
            invoked_at: at,
            outcome: Outcome::Pending,
        });
        OpId(self.records.len() - 1)
    }

    /// Records that operation `id` got `response` at time `at`.
    ///
    /// # Panics
    ///
    /// If `id` already ended, `at` is before its invocation, or `response` is not the kind of
    /// answer the operation gets (`Ok` for put/delete, `Value` for get, `Cas` for cas): these
    /// are bugs in the recorder, not in the system under test.
    pub fn complete(&mut self, id: OpId, response: Response, at: u64) {
        let record = self.pending_mut(id);
        assert!(
            at >= record.invoked_at,
            "{id:?} completed at {at}, before it was invoked"
        );
        assert!(
            record.op.accepts(&response),
            "{id:?}: {response:?} cannot answer {}",
            record.op
        );
        record.outcome = Outcome::Completed { at, response };
    }

    /// Records that operation `id` may or may not have taken effect (timeout, crash).
    ///
    /// # Panics
    ///
    /// If `id` already ended.
    pub fn fail_unknown(&mut self, id: OpId) {
        self.pending_mut(id).outcome = Outcome::Unknown;
    }

    /// Records that operation `id` was definitely not applied; the checker ignores it.
    ///
    /// # Panics
    ///
    /// If `id` already ended.
    pub fn fail_not_applied(&mut self, id: OpId) {
        self.pending_mut(id).outcome = Outcome::NotApplied;
    }

    /// All recorded operations, in invocation-recording order.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// The record of operation `id`.
    pub fn record(&self, id: OpId) -> &Record {
        &self.records[id.0]
    }

    /// The record of `id`, which must not have ended yet.
    fn pending_mut(&mut self, id: OpId) -> &mut Record {
        let record = &mut self.records[id.0];
        assert_eq!(record.outcome, Outcome::Pending, "{id:?} already ended");
        record
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_render_with_client_times_and_response() {
        let mut history = History::new();
        let put = history.invoke(ClientId(1), Op::put("x", "a"), 10);
        let cas = history.invoke(ClientId(2), Op::cas("x", None, "b"), 11);
        history.complete(put, Response::Ok, 20);
        history.fail_unknown(cas);
        assert_eq!(
            history.record(put).to_string(),
            r#"client 1 [10, 20] put("x", "a") -> ok"#
        );
        assert_eq!(
            history.record(cas).to_string(),
            r#"client 2 [11, ?] cas("x", None -> "b") -> unknown"#
        );
    }

    #[test]
    #[should_panic(expected = "cannot answer")]
    fn completing_with_the_wrong_kind_of_response_panics() {
        let mut history = History::new();
        let get = history.invoke(ClientId(1), Op::get("x"), 0);
        history.complete(get, Response::Ok, 1);
    }

    #[test]
    #[should_panic(expected = "already ended")]
    fn ending_an_operation_twice_panics() {
        let mut history = History::new();
        let put = history.invoke(ClientId(1), Op::put("x", "a"), 0);
        history.complete(put, Response::Ok, 1);
        history.fail_unknown(put);
    }
}
