//! The Raft server: state, entry points, and the helpers every handler shares.
//!
//! The handlers live in submodules by concern: `open` (replay, S4), `election` (E*),
//! `replication` (R*), `commands` (C*), `membership` (M*), `snapshot` (N*), `conns` (M11 and
//! message intake), `admin` (A2, A3).

mod admin;
mod commands;
mod conns;
mod deferred;
mod election;
mod membership;
mod open;
mod replication;
mod snapshot;
mod status;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use crate::rng::Rng;
use crate::role::RoleState;
use crate::timer::{Timer, TimerTable};
use crate::waiter::{Barrier, Waiting};
use crate::{
    Action, Address, ClusterId, CommandStatus, Config, ConnId, Counters, Entry, EntryId, Event,
    FailureTest, Index, LeaderHint, LogLevel, Message, Millis, Notice, Record, Role, Rpc, ServerId,
    Term, WriteTicket,
};

/// The reference's default election timer, in milliseconds.
pub const DEFAULT_ELECTION_TIMER_MS: u64 = 1000;
/// The smallest election timer accepted (M10).
pub const MIN_ELECTION_TIMER_MS: u64 = 100;
/// The largest election timer accepted (M10).
pub const MAX_ELECTION_TIMER_MS: u64 = 600_000;
/// The random part of an election timeout, in milliseconds (E1).
const ELECTION_RANGE_MS: u64 = 1000;
/// How often a joining server asks again to be added (M7).
const JOIN_RETRY_MS: u64 = 1000;
/// The highest snapshot index taken from a log header or a leader. No real log gets near it
/// (a billion entries a second would take 146 years), and a log starting below it can never
/// grow an entry at `u64::MAX`, where its end would overflow; only snapshots jump indexes, so
/// this one bound keeps every index in range (found by the fuzz targets in `fuzz/`).
const MAX_SNAPSHOT_INDEX: u64 = 1 << 62;
/// The most message boxes kept for reuse: enough for a leader's appends to a large cluster,
/// few enough that a burst of incoming messages leaves little memory behind.
const MAX_SPARE_MESSAGES: usize = 16;

/// One Raft server: a pure state machine driven by events, emitting actions.
///
/// See the crate documentation for the driving contract.
pub struct Server {
    // Identity.
    sid: ServerId,
    cid: Option<ClusterId>,
    name: String,
    local_address: Address,
    config: Config,
    /// Election jitter. A separate stream from `ids` so the workload does not move elections.
    jitter: Rng,
    /// New entry ids.
    ids: Rng,

    // Persistent state (Raft Figure 3.1), possibly on its way to disk.
    term: Term,
    vote: Option<ServerId>,
    log: crate::log::Log,
    barrier: Barrier,

    // Volatile state.
    commit_index: Index,
    /// The last index handed to the application; `snapshot.index - 1` while the snapshot
    /// itself is unread (N6).
    last_applied: Index,
    role: RoleState,
    leader: Option<ServerId>,
    members: BTreeMap<ServerId, Member>,
    election_timer: u64,
    timers: TimerTable,
    election: ElectionInfo,
    joining: Option<Vec<Address>>,
    leaving: bool,
    /// A leader that a follower named while we were leaving, and that our configuration may
    /// not include: we ask it too (see `Rpc::RemoveServerReply::leader`).
    leave_hint: Option<LeaderHint>,
    left: bool,
    failed: Option<String>,
    crashed: bool,
    closed: bool,
    commands: BTreeMap<EntryId, commands::Command>,
    conns: BTreeMap<ConnId, conns::Conn>,
    /// Outgoing connections asked of the driver (M11).
    wanted: BTreeSet<Address>,
    wanted_dirty: bool,
    n_disconnections: u64,
    failure_test: Option<FailureTest>,
    backlog: (usize, usize),
    actions: VecDeque<Action>,
    counters: Counters,
    /// Work left for the next `poll_action` (see the `deferred` module).
    deferred: deferred::Deferred,
    /// A buffer lent out by `leader_peers`, so replicating allocates nothing.
    peers_buffer: Vec<ServerId>,
    /// Boxes of messages received and handled, reused for messages sent: a server answers
    /// most messages it receives, so in the steady state sending allocates nothing. The
    /// boxes themselves are the point, hence `Vec<Box<_>>`.
    #[allow(clippy::vec_box)]
    spare_messages: Vec<Box<Message>>,
    /// The entries of every empty append: sharing one spares heartbeats an allocation.
    no_entries: Arc<[Entry]>,
    /// The time of the current entry point.
    now: Millis,
}

/// A member of the configuration as this server sees it.
#[derive(Clone, Debug)]
struct Member {
    address: Address,
    /// When it last sent us a message (for the status report).
    last_msg: Option<Millis>,
}

/// Bookkeeping about elections for E1, E11 and the status report.
#[derive(Clone, Debug, Default)]
struct ElectionInfo {
    /// When we last heard from a leader (or granted a vote).
    base: Millis,
    started: Option<Millis>,
    won: Option<Millis>,
    transfer: bool,
    candidate_retrying: bool,
    had_leader: bool,
    ever_had_leader: bool,
}

impl Server {
    // ---------------------------------------------------------------------------------------
    // The driving contract.

    /// Feeds one event that happened at `now`, then fires every timer due at `now`.
    ///
    /// Afterwards drain [`Server::poll_action`] until it returns `None`.
    pub fn step(&mut self, now: Millis, event: Event) {
        if !self.enter(now) {
            return;
        }
        match event {
            Event::Tick => {}
            Event::Message { conn, message } => self.receive(conn, message),
            Event::Persisted { ticket } => self.persisted(ticket),
            Event::PersistFailed { ticket, reason } => {
                self.fail(format!("write {ticket} failed: {reason}"))
            }
            Event::Connected {
                conn,
                incoming,
                address,
            } => self.connected(conn, incoming, address),
            Event::Disconnected { conn } => self.disconnected(conn),
        }
        self.leave_step();
    }

    /// The next thing the driver must do, in order. Call until `None` after every entry point.
    pub fn poll_action(&mut self) -> Option<Action> {
        if self.deferred.replicate
            || self.deferred.notify_commit
            || self.deferred.commit_record.is_some()
        {
            self.flush_deferred();
        }
        self.actions.pop_front()
    }

    /// The time by which the driver must call [`Server::step`] again (with `Event::Tick` if
    /// nothing else happened). `None` once the server has stopped.
    ///
    /// May change after any entry point.
    pub fn next_deadline(&self) -> Option<Millis> {
        if self.is_stopped() {
            return None;
        }
        let ping = self.timers.get(Timer::Ping).filter(|_| self.ping_matters());
        [
            Timer::Election,
            Timer::Join,
            Timer::Leave,
            Timer::CommitNotify,
        ]
        .into_iter()
        .filter_map(|t| self.timers.get(t))
        .chain(ping)
        .min()
    }

    /// Checks the invariants that must hold between any two entry points, panicking with the
    /// name of the broken one. Cheap enough for a simulator to call after every step.
    pub fn check_invariants(&self) {
        let log = &self.log;
        assert!(
            self.commit_index >= log.snapshot().index,
            "commit index below the snapshot"
        );
        assert!(
            self.commit_index < log.end(),
            "commit index past the log end"
        );
        assert!(
            self.last_applied <= self.commit_index,
            "applied past the commit index"
        );
        assert!(
            self.last_applied.next() >= log.snapshot().index,
            "applied below the snapshot"
        );
        assert!(
            self.barrier.persisted() <= self.barrier.last_issued(),
            "persisted an unissued ticket"
        );
        assert!(
            log.last_term() <= self.term || self.joining.is_some(),
            "log term ahead of current term"
        );
        if let RoleState::Leader(l) = &self.role {
            assert_eq!(
                self.leader,
                Some(self.sid),
                "a leader must know itself as leader"
            );
            assert_eq!(
                self.vote,
                Some(self.sid),
                "a leader voted for itself in its term"
            );
            for (sid, p) in &l.progress {
                assert!(
                    p.match_index <= log.last_index(),
                    "match index of {sid:?} past the log end"
                );
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // Entry and exit of every public entry point.

    /// Starts an entry point at `now`; false if the server no longer does anything.
    fn enter(&mut self, now: Millis) -> bool {
        // Time never goes backwards, even if a driver's clock does.
        self.now = self.now.max(now);
        if self.is_stopped() {
            self.counters.ignored_while_stopped += 1;
            return false;
        }
        if self.failure_test == Some(FailureTest::TransferLeadership) {
            self.failure_test = None;
            self.notify_snapshot_recommended_at();
        }
        true
    }

    /// Ends an entry point: fires due timers and asks for the connections needed.
    fn leave_step(&mut self) {
        while !self.is_stopped() {
            let Some(timer) = self.timers.pop_due(self.now) else {
                break;
            };
            match timer {
                Timer::Election => self.election_timeout(),
                Timer::Ping => self.ping_timeout(),
                Timer::Join => self.join_timeout(),
                Timer::Leave => self.leave_timeout(),
                Timer::CommitNotify => self.notify_commit(),
            }
        }
        // Checked here, not in the callee: most steps change no connection.
        if self.wanted_dirty {
            self.update_wanted_connections();
        }
    }

    fn is_stopped(&self) -> bool {
        self.left || self.failed.is_some() || self.crashed || self.closed
    }

    // ---------------------------------------------------------------------------------------
    // Helpers shared by the handlers.

    // Inlined so each caller builds its action in place: passed by pointer, the action was
    // read back before the caller's stores had landed, a stall that made this the hottest
    // function of the commit path.
    #[inline]
    fn emit(&mut self, action: Action) {
        // After a crash point nothing may reach the driver, not even from the rest of the
        // handler that hit it (found by the `core_events` fuzz target).
        if !self.crashed {
            self.actions.push_back(action);
        }
    }

    fn log(&mut self, level: LogLevel, text: String) {
        self.emit(Action::Log { level, text });
    }

    fn notify(&mut self, notice: Notice) {
        self.emit(Action::Notify(notice));
    }

    /// Asks the driver to append `records`; returns the write's ticket.
    ///
    /// A write queued right behind another unread write joins it under the newer ticket, so a
    /// burst of small writes reaches the driver as one (its ticket covers both).
    fn write(&mut self, mut records: Vec<Record>) -> WriteTicket {
        // A commit-index record waiting for a write goes first: the entries it covers were
        // written before it advanced.
        if let Some(index) = self.deferred.commit_record.take() {
            records.insert(0, Record::CommitIndex { index });
        }
        let ticket = self.barrier.issue();
        if let Some(Action::WriteLog {
            ticket: t,
            records: pending,
        }) = self.actions.back_mut()
        {
            *t = ticket;
            pending.append(&mut records);
        } else {
            self.emit(Action::WriteLog { ticket, records });
        }
        ticket
    }

    /// Writes one record (see [`Server::write`]), with room for the records that usually join
    /// it, so a step's writes cost one allocation.
    fn write_one(&mut self, record: Record) -> WriteTicket {
        let mut records = Vec::with_capacity(4);
        records.push(record);
        self.write(records)
    }

    /// Records `term` and `vote` (E2, E3, E6): durable before any message mentions them.
    fn set_term(&mut self, term: Term, vote: Option<ServerId>) {
        let record = match vote {
            Some(vote) => Record::Vote { term, vote },
            None => Record::Term { term },
        };
        let ticket = self.write_one(record);
        self.barrier.wait(ticket, Waiting::TermVote(term, vote));
        self.term = term;
        self.vote = vote;
    }

    /// A message from this server to `to` with `rpc`, in a recycled box if there is one.
    fn message(&mut self, to: Option<ServerId>, rpc: Rpc) -> Box<Message> {
        let message = Message {
            cluster: self.cid,
            from: self.sid,
            to,
            comment: None,
            rpc,
        };
        match self.spare_messages.pop() {
            Some(mut spare) => {
                *spare = message;
                spare
            }
            None => Box::new(message),
        }
    }

    /// Takes the RPC out of a message that was handled and keeps its box for a later
    /// message, since allocating one costs more than the rest of sending it.
    fn recycle(&mut self, mut message: Box<Message>) -> Rpc {
        // A heartbeat-sized placeholder: cheap to write and to drop when the box is reused.
        let rpc = std::mem::replace(&mut message.rpc, Rpc::BecomeLeader { term: Term(0) });
        if self.spare_messages.len() < MAX_SPARE_MESSAGES {
            message.comment = None;
            self.spare_messages.push(message);
        }
        rpc
    }

    /// Sends `rpc` to server `to`, holding it until what it mentions is durable (the
    /// reference's `raft_send`). Returns false if there is no connection to `to`.
    fn send(&mut self, to: ServerId, rpc: Rpc) -> bool {
        self.send_with_comment(to, rpc, None)
    }

    fn send_with_comment(&mut self, to: ServerId, rpc: Rpc, comment: Option<&str>) -> bool {
        if to == self.sid {
            self.counters.sends_to_self += 1;
            return false;
        }
        if self.failure_test == Some(FailureTest::StopRaftRpc) {
            return true;
        }
        let Some(conn) = self.conn_to(to) else {
            self.counters.sends_without_connection += 1;
            return false;
        };
        let mut message = self.message(Some(to), rpc);
        message.comment = comment.map(str::to_owned);
        if self.barrier.must_hold(&message) {
            self.counters.messages_held += 1;
            self.barrier.hold(message);
        } else {
            self.counters.messages_sent += 1;
            self.emit(Action::Send { conn, message });
        }
        true
    }

    /// Everything up to `ticket` is durable: release what waited for it.
    fn persisted(&mut self, ticket: WriteTicket) {
        if !self.barrier.mark_persisted(ticket) {
            self.counters.bad_tickets += 1;
            return;
        }
        // A message whose state was rewritten while it waited (a snapshot installed twice,
        // say) may become sendable only with a later item of this batch: retry it at the end.
        let mut retry = Vec::new();
        while let Some(ready) = self.barrier.pop_ready() {
            match ready {
                Waiting::Entries(_) => self.own_log_synced(),
                Waiting::TermVote(..) => {}
                Waiting::Message(message) => {
                    if let Err(message) = self.release(message) {
                        retry.push(message);
                    }
                }
            }
        }
        for message in retry {
            if let Err(message) = self.release(message) {
                self.hold_again(message);
            }
        }
    }

    /// Sends a held message if it is still current (the reference's waiter completion).
    /// Gives the message back if what it mentions is still not durable.
    fn release(&mut self, message: Box<Message>) -> Result<(), Box<Message>> {
        if message.rpc.term().is_some_and(|t| t < self.term) {
            self.counters.held_messages_expired += 1;
            return Ok(());
        }
        if self.barrier.must_hold(&message) {
            return Err(message);
        }
        let Some(conn) = message.to.and_then(|to| self.conn_to(to)) else {
            self.counters.sends_without_connection += 1;
            return Ok(());
        };
        self.counters.messages_sent += 1;
        self.emit(Action::Send { conn, message });
        Ok(())
    }

    /// Waits for the writes still pending, or drops the message if there are none.
    fn hold_again(&mut self, message: Box<Message>) {
        if self.barrier.last_issued() > self.barrier.persisted() {
            self.barrier.hold(message);
        } else {
            self.counters.held_messages_expired += 1;
        }
    }

    /// Arms the election timer: election timer plus 0..1000 ms (E1).
    fn reset_election_timer(&mut self) {
        let mut duration = self.election_timer + self.jitter.below(ELECTION_RANGE_MS);
        if self.failure_test == Some(FailureTest::DelayElection) {
            duration += self.election_timer;
        }
        self.election.base = self.now;
        self.timers.set(Timer::Election, self.now.plus(duration));
    }

    fn reset_ping_timer(&mut self) {
        self.timers
            .set(Timer::Ping, self.now.plus(self.election_timer / 3));
    }

    /// The ping timer only matters to a leader or to a server with pending commands.
    fn ping_matters(&self) -> bool {
        matches!(self.role, RoleState::Leader(_)) || !self.commands.is_empty()
    }

    fn ping_timeout(&mut self) {
        if matches!(self.role, RoleState::Leader(_)) {
            self.send_heartbeats();
        }
        self.expire_commands();
        self.reset_ping_timer();
    }

    /// The public role.
    pub fn role(&self) -> Role {
        match self.role {
            RoleState::Follower => Role::Follower,
            RoleState::Candidate(_) => Role::Candidate,
            RoleState::Leader(_) => Role::Leader,
        }
    }

    fn is_leader(&self) -> bool {
        matches!(self.role, RoleState::Leader(_))
    }

    /// Moves to `role`, telling the application.
    fn set_role(&mut self, role: RoleState) {
        let before = self.role();
        self.role = role;
        if self.role() != before {
            let role = self.role();
            self.notify(Notice::RoleChanged {
                role,
                term: self.term,
            });
        }
    }

    /// Sets the known leader (the reference's `raft_set_leader` when `Some`).
    fn set_leader(&mut self, leader: Option<ServerId>) {
        if leader.is_some() {
            self.election.ever_had_leader = true;
            self.election.had_leader = true;
            self.election.candidate_retrying = false;
        }
        if self.leader != leader {
            self.leader = leader;
            self.notify(Notice::LeaderChanged {
                leader,
                term: self.term,
            });
        }
    }

    /// Enters the failed state after a write error (S10): nothing more happens.
    fn fail(&mut self, reason: String) {
        if self.failed.is_some() {
            return;
        }
        let text = format!(
            "{}: entering failure mode due to I/O error ({reason})",
            self.name
        );
        self.log(LogLevel::Warn, text);
        self.failed = Some(reason.clone());
        self.complete_all_commands(CommandStatus::IoError);
        self.shut_down_membership();
        self.notify(Notice::Failed { reason });
        self.drop_all_connections();
    }

    /// A crash point of a failure test (A3): tell the driver to abort, then do nothing more.
    fn crash(&mut self, reason: &'static str) {
        self.emit(Action::Crash { reason });
        self.crashed = true;
    }

    /// True if the engaged failure test is `test`; a crash test crashes here.
    fn crash_point(&mut self, test: FailureTest, reason: &'static str) -> bool {
        if self.failure_test == Some(test) {
            self.crash(reason);
            return true;
        }
        false
    }
}

/// Clamps an election timer from a log or a peer into the accepted range, so no input can
/// make the timers spin.
fn sane_election_timer(ms: u64) -> u64 {
    ms.clamp(MIN_ELECTION_TIMER_MS, MAX_ELECTION_TIMER_MS)
}
