//! A real Raft server around [`raft_core`]: a mio poll loop, a TCP transport, a file log with
//! group commit, and a small replicated key-value store as the runnable example (`raft-kv`).
//!
//! raft-mio makes no protocol decisions; it carries out the core's actions:
//!
//! - [`storage`]: `WriteLog` and `ReplaceLog` on a [`filelog::FileLog`]; everything appended
//!   in a turn of the loop goes out in one write and one fdatasync (group commit), then
//!   `Event::Persisted`. A leader syncs on a syncer thread, in parallel with replication, and
//!   batches what it appends meanwhile; other servers sync in their loop, since their answers
//!   wait for the write anyway. A disk error becomes `Event::PersistFailed` (the failed
//!   state, S10).
//! - [`transport`]: `Connect`, `Disconnect` and `Send` over TCP with [`codec`] frames, a frame
//!   size limit, reconnect with backoff, inactivity probes and backlog limits.
//! - [`Node`]: the poll loop; a [`StateMachine`] receives `Apply` and `ApplySnapshot`, in
//!   order, at the end of each turn, once the turn's writes and messages are out (applying
//!   is off the commit path); a [`Handle`] lets other threads execute commands (waiting, or
//!   with a callback) and run administrative requests.
//!
//! # Embedding
//!
//! ```no_run
//! use raft_mio::{Node, NodeConfig, StateMachine};
//! use raft_core::Index;
//!
//! #[derive(Default)]
//! struct Counter(u64);
//!
//! impl StateMachine for Counter {
//!     fn apply(&mut self, _index: Index, _command: &[u8]) -> Vec<u8> {
//!         self.0 += 1;
//!         self.0.to_string().into_bytes()
//!     }
//!     fn snapshot(&self) -> Vec<u8> {
//!         self.0.to_string().into_bytes()
//!     }
//!     fn restore(&mut self, snapshot: &[u8]) -> Result<(), String> {
//!         let text = std::str::from_utf8(snapshot).map_err(|e| e.to_string())?;
//!         self.0 = text.parse().map_err(|e| format!("{e}"))?;
//!         Ok(())
//!     }
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let path = std::path::Path::new("counter.db");
//! raft_mio::create_cluster(path, "counter", "tcp:127.0.0.1:6641", None, b"0".to_vec())?;
//! let node = Node::open(path, Counter::default(), NodeConfig::default())?;
//! let handle = node.handle();
//! std::thread::spawn(move || {
//!     let reply = handle.execute(b"+1".to_vec(), std::time::Duration::from_secs(5));
//!     println!("{reply:?}");
//! });
//! node.run()?;
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

mod bootstrap;
pub mod codec;
pub mod control;
pub mod filelog;
pub mod kv;
pub mod lockfile;
mod node;
pub mod storage;
pub mod transport;
mod wake;

pub use bootstrap::{create_cluster, join_cluster};
pub use node::{
    Admin, CommandError, CommandResult, Exit, Handle, Logger, Node, NodeConfig, NodeError, OnDone,
    StateMachine, stderr_logger,
};
