//! Inputs: what happened, reported by the driver through [`crate::Server::step`].

use crate::{Address, ConnId, Message, WriteTicket};

/// Something that happened outside the core.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Nothing but the passage of time: fires every timer that is due. Send one whenever the
    /// clock reaches [`crate::Server::next_deadline`] (every `step` fires due timers first, so
    /// this is only needed when nothing else happens).
    Tick,
    /// A message arrived on a connection.
    Message {
        /// The connection it arrived on.
        conn: ConnId,
        /// The message (boxed, as in `Action::Send`, so events stay small).
        message: Box<Message>,
    },
    /// Every write up to and including `ticket` is durable.
    Persisted {
        /// The latest durable write.
        ticket: WriteTicket,
    },
    /// A write could not be made durable: the server enters the failed state (S10).
    PersistFailed {
        /// The write that failed.
        ticket: WriteTicket,
        /// What went wrong, for logs and the status report.
        reason: String,
    },
    /// A connection was established.
    Connected {
        /// A fresh id for it.
        conn: ConnId,
        /// True if the other side opened it.
        incoming: bool,
        /// For an outgoing connection, the address of the `Action::Connect` it serves.
        address: Option<Address>,
    },
    /// A connection went away (closed, failed, or dropped by the driver's inactivity probe).
    Disconnected {
        /// The connection.
        conn: ConnId,
    },
}
