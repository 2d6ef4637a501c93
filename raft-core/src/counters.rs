//! Counts of what the server ignored or refused, so nothing is dropped silently.

/// Counters of notable events. Every input the core ignores or refuses is counted here.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counters {
    /// Messages handed to the driver.
    pub messages_sent: u64,
    /// Messages received and accepted for handling.
    pub messages_received: u64,
    /// Messages held until a write was durable (W1 of the barrier).
    pub messages_held: u64,
    /// Held messages dropped on release because the term had moved on.
    pub held_messages_expired: u64,
    /// Messages that could not be sent: no connection to the peer.
    pub sends_without_connection: u64,
    /// Attempts to send to this server itself.
    pub sends_to_self: u64,
    /// Messages for another cluster (W1).
    pub wrong_cluster: u64,
    /// Messages addressed to another server (W1).
    pub misrouted: u64,
    /// Messages whose sender is this server's own id.
    pub from_self: u64,
    /// Messages whose sender differs from the one first seen on the connection.
    pub wrong_sender: u64,
    /// Messages on a connection the driver never reported.
    pub unknown_connection: u64,
    /// Messages refused for a stale term (E6).
    pub stale_terms: u64,
    /// Vote requests ignored as disruptive (E7).
    pub disruptive_votes_ignored: u64,
    /// Replies for the leader that arrived at a non-leader.
    pub replies_not_leader: u64,
    /// Replies from servers neither configured nor being added.
    pub replies_from_unknown: u64,
    /// Replies claiming entries the leader never had.
    pub bogus_replies: u64,
    /// Requests whose contents contradict themselves (entry terms out of order or newer than
    /// the sender's term, a snapshot newer than its sender).
    pub malformed_messages: u64,
    /// Append requests that would have rewritten committed entries.
    pub conflicts_with_committed: u64,
    /// Relayed commands whose entry id is already pending.
    pub duplicate_commands: u64,
    /// Replies for commands this server does not know.
    pub unknown_command_replies: u64,
    /// `Persisted` events for tickets never issued.
    pub bad_tickets: u64,
    /// Inputs ignored because the server has stopped (left, failed, crashed or closed).
    pub ignored_while_stopped: u64,
}
