//! A sans-IO Raft server whose behaviour follows Open vSwitch's `ovsdb/raft.c`.
//!
//! A [`Server`] is one Raft server as a pure state machine: it consumes events (time,
//! messages, durable-write completions, connections) and requests (commands, administration),
//! and emits [`Action`]s (send a message, write log records, apply committed entries, answer a
//! command). It does no I/O, reads no clock, starts no threads and draws no OS randomness:
//! the same inputs and seed give the same actions, byte for byte.
//!
//! # The driving contract
//!
//! 1. Feed one input with the current time: [`Server::step`] with an [`Event`], or a request
//!    such as [`Server::execute`].
//! 2. Drain [`Server::poll_action`] until it returns `None`, carrying out each action in
//!    order.
//! 3. Report every completion back as an event: a write became durable
//!    (`Event::Persisted`), a connection came up or went away, a message arrived.
//! 4. Call [`Server::step`] again no later than [`Server::next_deadline`] (`Event::Tick` if
//!    nothing else happened).
//!
//! # What the core guarantees
//!
//! - **Write before send.** A message that mentions a term, a vote or an entry that is not yet
//!   durable is held inside the core and released only once the driver reports that write
//!   durable. A leader counts itself toward a commit only once its own write is durable.
//!   `Event::Persisted { ticket }` acknowledges every write up to `ticket`, so a driver may
//!   group many writes into one fsync, or write on another thread.
//! - **Determinism.** Time is [`Millis`] from the driver; randomness comes from a PRNG seeded
//!   by [`Config::seed`]; every collection that decides output order is ordered.
//! - **Untrusted input.** No message, record or call makes the core panic. Stale or malformed
//!   input is answered as the reference answers it, or ignored and counted in [`Counters`].
//! - **Applying.** Committed entries with data reach the application as `Action::Apply` in log
//!   order, after an `Action::ApplySnapshot` whenever the snapshot is unread (N6).
//!
//! # Where it departs from the reference
//!
//! Behaviour follows `ovsdb/raft.c` (the IDs, such as E9, are those of the parity list, and
//! tests are named after them), except where the reference loses liveness or safety, or
//! does needless work. Each departure is commented at its place in the code, with the
//! simulator seed that found it where one did:
//!
//! - **Elections.** A leaving server stands for election, and once elected hands leadership
//!   over as soon as an entry of its term commits (E9; seed 1011807: the leaving servers
//!   held the newest entries, refused their votes to the others and never stood, so no
//!   leader was ever elected). A joining server never stands, even if its log names it
//!   (seed 949). A follower ignores vote requests as disruptive only while it knows a leader
//!   (E7; seed 1494), and ignores them entirely rather than recording a useless vote. A
//!   vote request of a stale term is answered with the current term and vote (E6; seed
//!   8466), where the reference drops it. A leader that removed itself counts a quorum
//!   without itself (E8).
//! - **Membership.** No configuration change before an entry of the new leader's term
//!   commits (M3, the Raft dissertation's errata). "Already gone" only once the removal
//!   commits (M4; seed 201). A server whose log shows a removal committed, and no addition
//!   back since, says so to the removed server when it asks to be removed (seeds 1450,
//!   6702). A follower answering a removal request "not leader" names its leader, and a
//!   leaving server asks that leader too, since its own configuration may be too stale to
//!   name it (M8; seed 15453). A connection dialled while joining belongs to the member at
//!   its address (seed 2175). Servers being added get heartbeats too. A joining server
//!   writes the addresses it learns from refusals to its header, so a restart still knows
//!   them (M7; seeds 6179, 7634).
//! - **Commands.** A duplicate of a relayed command still pending is recognised instead of
//!   being refused (seeds 67, 1903).
//! - **Snapshots.** One that ends inside the log is skipped only if the log holds its last
//!   entry (Raft Figure 13; seed 405). A transfer unanswered for two election timers is
//!   retried instead of waiting for a reconnection. A joining server stays joining across a
//!   restart (seed 1041).
//! - **Opening.** Only a committed removal stops a server from opening its log (seed 785).
//! - **Cost.** The commit index is the median of the match indexes, not a scan of the
//!   uncommitted log; a new commit index rides on the next appends, and only the peers no
//!   append told get a heartbeat for it, where the reference sends one to everyone.
//!
//! # Example: a one-server cluster with an in-memory disk
//!
//! ```
//! use raft_core::*;
//!
//! let (sid, cid) = (ServerId::from_u128(1), ClusterId::from_u128(2));
//! let (header, records) = bootstrap::create_cluster(
//!     sid, cid, "kv", "tcp:127.0.0.1:6641", EntryId::from_u128(3), Data::from("{}"), None,
//! ).unwrap();
//! let mut disk: Vec<Record> = records.clone();
//! let mut server = Server::open(header, records, Config::with_seed(7), Millis(0)).unwrap();
//! let eid = server.execute(Millis(1), Data::from("put a=1"), None);
//! let (mut now, mut applied, mut done) = (Millis(1), Vec::new(), None);
//! while done.is_none() {
//!     while let Some(action) = server.poll_action() {
//!         match action {
//!             Action::WriteLog { ticket, records } => {
//!                 disk.extend(records); // A real driver fsyncs here (or batches, then fsyncs).
//!                 server.step(now, Event::Persisted { ticket });
//!             }
//!             Action::Apply { data, .. } => applied.push(data),
//!             Action::CommandDone { eid: e, status, .. } if e == eid => done = Some(status),
//!             _ => {} // Sends, connections, notices and logs: nothing to do alone.
//!         }
//!     }
//!     now = server.next_deadline().unwrap_or(now).max(now);
//!     server.step(now, Event::Tick);
//! }
//! assert_eq!(done, Some(CommandStatus::Success));
//! assert_eq!(applied, vec![Data::from("put a=1")]);
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

mod action;
mod address;
pub mod bootstrap;
mod config;
mod counters;
mod data;
mod entry;
mod error;
mod event;
mod failure;
mod log;
mod message;
mod quorum;
mod record;
mod rng;
mod role;
mod server;
mod status;
mod timer;
mod types;
mod waiter;

pub use action::{Action, LogLevel, Notice, Role};
pub use address::{Address, AddressError, Scheme};
pub use config::Config;
pub use counters::Counters;
pub use data::Data;
pub use entry::{Configuration, Entry, Payload};
pub use error::{AdminError, BootstrapError, ConfigError, OpenError, SnapshotError};
pub use event::Event;
pub use failure::FailureTest;
pub use message::{
    AppendResult, CommandStatus, LeaderHint, Message, Rpc, ServerChangeStatus, UnknownText,
};
pub use record::{Header, NOTE_LEFT, Record, Snapshot};
pub use server::{DEFAULT_ELECTION_TIMER_MS, MAX_ELECTION_TIMER_MS, MIN_ELECTION_TIMER_MS, Server};
pub use status::{ConnectionStatus, MemberState, ServerStatus, Status};
pub use types::{ClusterId, ConnId, EntryId, Index, Millis, Nickname, ServerId, Term, WriteTicket};
