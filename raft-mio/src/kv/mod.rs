//! A replicated key-value store on raft-mio: the state machine, its client protocol, a
//! client, and a helper that runs a local cluster of `raft-kv` processes.
//!
//! Every operation, reads included, is a command that goes through the log, so every answer
//! is linearizable: it reflects the state at the point of the log where the operation sits.

mod batch;
mod client;
pub mod cluster;
mod frames;
mod machine;
mod server;
mod session;

pub use client::{ClientError, KvClient};
pub use machine::{KvCommand, KvReply, KvStore};
pub use server::{KvResponse, serve_clients};
