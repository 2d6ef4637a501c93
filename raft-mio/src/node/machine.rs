//! The application's side of a node.

use raft_core::Index;

/// The replicated application: a deterministic state machine fed with committed commands.
///
/// Every server applies the same commands in the same order, so every `apply` must depend only
/// on the state and the command (no clock, no randomness, no I/O whose result can differ).
pub trait StateMachine {
    /// Applies the committed command at `index` and returns the reply for the client that
    /// executed it (ignored on the other servers). A command the application cannot decode must
    /// still be answered deterministically, for example with an error reply.
    fn apply(&mut self, index: Index, command: &[u8]) -> Vec<u8>;

    /// The whole state, to be stored as a snapshot (and sent to servers that lag behind).
    fn snapshot(&self) -> Vec<u8>;

    /// Replaces the whole state with a snapshot taken by [`StateMachine::snapshot`] on this or
    /// another server. An error stops the node: its state would no longer match the cluster's.
    fn restore(&mut self, snapshot: &[u8]) -> Result<(), String>;
}
