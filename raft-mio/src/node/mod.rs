//! The poll loop: one raft-core server driven by mio, with its log, its transport and the
//! application's state machine. [`Node`] describes a turn of the loop.

mod admin;
mod commands;
mod error;
mod handle;
mod logger;
mod machine;
mod schedule;

pub use error::NodeError;
pub use handle::{Admin, CommandError, CommandResult, Handle, OnDone};
pub use logger::{Logger, stderr_logger};
pub use machine::StateMachine;

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

use mio::{Events, Poll, Token, Waker};
use raft_core::{Action, Config, Data, Index, LogLevel, Millis, Notice, Role, Server};
use uuid::Uuid;

use crate::storage::Storage;
use crate::transport::{Limits, Transport};
use crate::wake::WakeOnce;
use commands::{Commands, Pending};
use error::io_error;
use handle::Request;
use schedule::SnapshotSchedule;

/// The poll token of the handle's waker.
const WAKER: Token = Token(1);

/// Settings of a node beyond what the log holds.
#[derive(Clone)]
pub struct NodeConfig {
    /// The largest frame accepted from or sent to a peer. A snapshot travels in one frame, so
    /// this bounds the application's state too.
    pub max_frame_len: usize,
    /// Where log lines go.
    pub logger: Logger,
    /// The least time between two automatic snapshots; each wait is drawn between this and
    /// twice this. The reference waits 10 to 20 minutes: a snapshot stalls the loop and, on a
    /// leader, costs a leadership transfer, so a busy log is compacted every few minutes, not
    /// every time it doubles. Its cost is memory: the log since the last snapshot stays in
    /// memory, so lower it when entries arrive faster than memory can hold that long.
    pub snapshot_min_interval: Duration,
    /// After this long a snapshot is taken even if the log did not grow a lot (the
    /// reference: one day).
    pub snapshot_max_interval: Duration,
}

impl Default for NodeConfig {
    fn default() -> NodeConfig {
        NodeConfig {
            max_frame_len: 256 << 20,
            logger: stderr_logger(LogLevel::Info),
            snapshot_min_interval: Duration::from_secs(10 * 60),
            snapshot_max_interval: Duration::from_secs(24 * 60 * 60),
        }
    }
}

/// Why [`Node::run`] returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exit {
    /// [`Handle::shutdown`] was called.
    Shutdown,
    /// The server left its cluster (`cluster/leave` or a kick); its log cannot be used again.
    Left,
    /// A failure test asked for a crash (`Action::Crash`): the caller should abort the process
    /// at once, as the reference does.
    Crashed(&'static str),
}

/// A running Raft server with its state machine `S`: one raft-core server driven by a mio
/// poll loop, with its log, its transport, and a syncer thread that makes a leader's batches
/// of writes durable while the loop goes on.
///
/// One turn of the loop: wait for I/O or the next deadline; feed the core what happened
/// (connections, messages, every request waiting from [`Handle`]s, timers, the writes the
/// syncer made durable); carry out its actions in order; make everything appended durable
/// as one batch (on the syncer for a leader, on the spot otherwise); write the messages
/// queued; only then apply what was committed and answer its commands; snapshot when one is
/// due. An idle node sleeps in `poll` until its next deadline.
pub struct Node<S> {
    poll: Poll,
    server: Server,
    storage: Storage,
    transport: Transport,
    machine: S,
    start: Instant,
    requests: Receiver<Request>,
    /// Wakes this loop when a request arrives.
    wake: Arc<WakeOnce>,
    handle: Handle,
    commands: Commands,
    /// The core's `Apply`, `ApplySnapshot` and `CommandDone` actions of this turn, in order,
    /// carried out once the turn's messages are written (see [`Node::apply_committed`]).
    to_apply: Vec<Action>,
    /// The last index applied to `machine`.
    applied: Index,
    /// A snapshot was asked for by `cluster/compact`.
    compact_forced: bool,
    /// When this server, as leader, last handed over leadership to take a snapshot.
    compact_recommended: Option<Millis>,
    /// When the next automatic snapshot is due.
    snapshots: SnapshotSchedule,
    config: NodeConfig,
    exit: Option<Exit>,
}

impl<S: StateMachine> Node<S> {
    /// Opens the log at `path` (locking it), recovers the server from it, and listens on the
    /// server's address. `machine` must be in its initial, empty state: the node restores the
    /// snapshot and applies the log into it.
    pub fn open(path: &Path, machine: S, config: NodeConfig) -> Result<Node<S>, NodeError> {
        let (mut storage, recovered) = Storage::open(path)?;
        for warning in &recovered.warnings {
            (config.logger)(LogLevel::Warn, warning);
        }
        let (seed, schedule_seed) = Uuid::new_v4().as_u64_pair();
        let server = Server::open(
            recovered.header,
            recovered.records,
            Config::with_seed(seed),
            Millis(0),
        )
        .map_err(|error| NodeError::Open {
            path: path.to_path_buf(),
            error,
        })?;
        let poll = Poll::new().map_err(io_error("creating the poll"))?;
        let waker = Waker::new(poll.registry(), WAKER).map_err(io_error("creating a waker"))?;
        let waker = Arc::new(waker);
        let (handle, requests, wake) = Handle::new(waker.clone());
        storage
            .sync_in_background(waker)
            .map_err(io_error("starting the syncer thread"))?;
        let limits = Limits::new(
            server.election_timer(),
            server.backlog_threshold(),
            config.max_frame_len,
        );
        let local = server.local_address().clone();
        let transport = Transport::listen(poll.registry(), &local, limits)
            .map_err(io_error(format!("listening on {local}")))?;
        Ok(Node {
            poll,
            server,
            storage,
            transport,
            machine,
            start: Instant::now(),
            requests,
            wake,
            handle,
            commands: Commands::default(),
            to_apply: Vec::new(),
            applied: Index(0),
            compact_forced: false,
            compact_recommended: None,
            snapshots: SnapshotSchedule::new(
                Millis(0),
                config.snapshot_min_interval,
                config.snapshot_max_interval,
                schedule_seed,
            ),
            config,
            exit: None,
        })
    }

    /// A handle for other threads.
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// The server, for queries.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// Runs the poll loop until the node is shut down, leaves its cluster or crashes on a
    /// failure test's request. A disk error does not end it: the server enters its failed
    /// state (S10), says so in its log and status, and refuses commands until restarted.
    pub fn run(mut self) -> Result<Exit, NodeError> {
        let mut events = Events::with_capacity(1024);
        loop {
            let timeout = self.timeout();
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(io_error("poll")(e));
            }
            let now = self.now();
            for event in events.iter() {
                match event.token() {
                    WAKER => {}
                    _ => self.transport.ready(self.poll.registry(), event, now),
                }
            }
            self.turn(now)?;
            if let Some(exit) = self.exit.take() {
                if !matches!(exit, Exit::Crashed(_)) {
                    // Its last records (such as the note that it left) must reach the disk,
                    // and the commands they commit get their answers.
                    self.persist_all(now)?;
                    self.apply_committed(now)?;
                }
                self.commands.fail_all(&CommandError::Stopped);
                return Ok(exit);
            }
        }
    }

    fn now(&self) -> Millis {
        Millis(u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX))
    }

    /// How long `poll` may sleep: until the earliest deadline of the core, the transport and
    /// the commands waiting to be retried; forever if there is none.
    fn timeout(&self) -> Option<Duration> {
        let deadline = [
            self.server.next_deadline(),
            self.transport.next_deadline(),
            self.commands.next_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()?;
        // Measured against the Instant, not the truncated Millis, so the loop never wakes a
        // fraction of a millisecond early and spins until the deadline's millisecond begins.
        let at = self.start + Duration::from_millis(deadline.0);
        Some(at.saturating_duration_since(Instant::now()))
    }

    /// One turn after `poll` returned.
    fn turn(&mut self, now: Millis) -> Result<(), NodeError> {
        self.transport.tick(self.poll.registry(), now);
        self.feed_transport(now)?;
        self.take_requests(now)?;
        for p in self.commands.take_due(now) {
            self.execute(now, p);
        }
        self.server.step(now, raft_core::Event::Tick);
        self.drain(now)?;
        self.persist_and_send(now)?;
        self.apply_committed(now)?;
        if self.maybe_snapshot(now)? {
            self.persist_and_send(now)?;
        }
        self.transport.set_limits(Limits::new(
            self.server.election_timer(),
            self.server.backlog_threshold(),
            self.config.max_frame_len,
        ));
        for (level, text) in self.transport.take_logs() {
            (self.config.logger)(level, &text);
        }
        Ok(())
    }

    /// Makes what the turn appended durable (or starts to) and writes the messages queued,
    /// after taking in what the syncer finished and what the transport gathered meanwhile.
    fn persist_and_send(&mut self, now: Millis) -> Result<(), NodeError> {
        self.take_durable(now)?;
        self.feed_transport(now)?;
        self.make_durable(now)?;
        self.transport.flush_all(self.poll.registry());
        Ok(())
    }

    /// Applies the entries committed during the turn and answers their commands, in the
    /// order the core asked.
    ///
    /// Deferred to here, after the turn's messages are written, because applying is off
    /// the commit path: a follower's acknowledgement (which waits for its write) and a
    /// leader's appends of new commands no longer wait for the state machine. Under
    /// `raft-kv bench` a follower applied about 20-60 commands, tens of microseconds, before
    /// it wrote its log and answered. The core counts entries applied when it asks, so
    /// nothing may read the machine between the asking and here: the snapshot comes after.
    fn apply_committed(&mut self, now: Millis) -> Result<(), NodeError> {
        for action in std::mem::take(&mut self.to_apply) {
            match action {
                Action::ApplySnapshot { index, data, .. } => {
                    self.machine
                        .restore(data.as_bytes())
                        .map_err(NodeError::Restore)?;
                    self.applied = index;
                    self.commands.snapshot_installed(index);
                }
                Action::Apply { index, eid, data } => {
                    let output = self.machine.apply(index, data.as_bytes());
                    self.applied = index;
                    self.commands.applied(eid, output);
                }
                Action::CommandDone { eid, status, index } => {
                    self.commands.done(eid, status, index, self.applied, now)
                }
                other => unreachable!("only applying actions are deferred, not {other:?}"),
            }
        }
        Ok(())
    }

    /// Steps the core with every event the transport gathered, until there are none (carrying
    /// out actions can close connections, which makes more).
    fn feed_transport(&mut self, now: Millis) -> Result<(), NodeError> {
        loop {
            let events = self.transport.take_events();
            if events.is_empty() || self.crashed() {
                return Ok(());
            }
            for event in events {
                self.server.step(now, event);
                self.drain(now)?;
            }
        }
    }

    /// True after a failure test's crash point: nothing more may be carried out.
    fn crashed(&self) -> bool {
        matches!(self.exit, Some(Exit::Crashed(_)))
    }

    /// Makes what this turn appended durable, as one batch.
    ///
    /// A leader hands it to the syncer thread and goes on: its own write runs in parallel
    /// with replication, and the followers' acknowledgements may commit the entries before it
    /// ends. Any other server syncs on this thread, before the turn writes its messages, as
    /// etcd's followers do: its answers wait for the write anyway (the core holds them back
    /// until it is durable), and syncing here saves two thread hand-offs on the commit path
    /// (to the syncer and back). Under `raft-kv bench` at 64 clients, on 2 cores, 13 of 18
    /// alternating runs were faster, by 4-5% commits/s on average, and the followers' CPU per
    /// commit fell by about a tenth.
    fn make_durable(&mut self, now: Millis) -> Result<(), NodeError> {
        if self.server.role() == Role::Leader && !self.crashed() {
            self.storage.start_sync();
            return Ok(());
        }
        self.sync_here(now)
    }

    /// Makes every write durable on this thread, waiting for the disk, and reports it to the
    /// core, until no more writes follow (what the core does on hearing of one may append
    /// another).
    fn sync_here(&mut self, now: Millis) -> Result<(), NodeError> {
        while !self.crashed() {
            let Some(event) = self.storage.flush() else {
                break;
            };
            self.server.step(now, event);
            self.drain(now)?;
        }
        Ok(())
    }

    /// Reports to the core what the syncer made durable since the last turn. The next batch
    /// starts at the end of the turn, with everything appended meanwhile: a busy server
    /// syncs back to back while this thread goes on receiving, appending and sending, and the
    /// core holds back every message that needs an unsynced write.
    fn take_durable(&mut self, now: Millis) -> Result<(), NodeError> {
        while !self.crashed() {
            let Some(event) = self.storage.take_completed() else {
                return Ok(());
            };
            self.server.step(now, event);
            self.drain(now)?;
        }
        Ok(())
    }

    /// Makes every write durable now, waiting for the disk, until no more writes follow;
    /// for a node that is stopping.
    fn persist_all(&mut self, now: Millis) -> Result<(), NodeError> {
        self.sync_here(now)?;
        self.transport.flush_all(self.poll.registry());
        Ok(())
    }

    /// Takes every request waiting in the channel, then carries out the core's actions once:
    /// the commands of one turn thus leave in one append per peer (the core replicates new
    /// entries when actions are polled) and reach the disk in one write.
    fn take_requests(&mut self, now: Millis) -> Result<(), NodeError> {
        self.wake.taking();
        loop {
            let request = match self.requests.try_recv() {
                Ok(request) => request,
                // The node holds a handle itself, so the channel never disconnects.
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return self.drain(now),
            };
            match request {
                Request::Execute { data, reply } => {
                    let window = 4 * self.server.election_timer().max(1000);
                    self.execute(now, Pending::new(data, reply, now.plus(window)));
                }
                Request::Admin { command, reply } => {
                    let answer = self.admin(now, command);
                    let _ = reply.send(answer);
                }
                Request::Shutdown => {
                    self.server.close(now);
                    self.exit = Some(Exit::Shutdown);
                }
            }
        }
    }

    /// Executes a command: as leader directly, as follower relayed with our last entry id as
    /// the prerequisite (C4).
    fn execute(&mut self, now: Millis, p: Pending) {
        let prereq = (self.server.role() != Role::Leader).then(|| self.server.last_eid());
        let eid = self.server.execute(now, p.data.clone(), prereq);
        self.commands.add(eid, p);
    }

    /// Carries out the core's actions in order.
    fn drain(&mut self, now: Millis) -> Result<(), NodeError> {
        while let Some(action) = self.server.poll_action() {
            self.carry_out(now, action)?;
            if self.crashed() {
                // A crash point: nothing after it may happen.
                return Ok(());
            }
        }
        Ok(())
    }

    fn carry_out(&mut self, now: Millis, action: Action) -> Result<(), NodeError> {
        let registry = self.poll.registry();
        match action {
            Action::Send { conn, message } => self.transport.send(registry, conn, message),
            Action::WriteLog { ticket, records } => self.storage.write(ticket, &records),
            Action::ReplaceLog {
                ticket,
                header,
                records,
            } => self.storage.replace(ticket, &header, &records),
            Action::ApplySnapshot { .. } | Action::Apply { .. } | Action::CommandDone { .. } => {
                self.to_apply.push(action)
            }
            Action::Connect { address } => self.transport.connect(registry, address, now),
            Action::Disconnect { address } => self.transport.disconnect(registry, &address),
            Action::Notify(notice) => self.notice(notice),
            Action::Log { level, text } => (self.config.logger)(level, &text),
            Action::Crash { reason } => {
                (self.config.logger)(LogLevel::Error, &format!("failure test: {reason}"));
                self.exit = Some(Exit::Crashed(reason));
            }
        }
        Ok(())
    }

    fn notice(&mut self, notice: Notice) {
        let log = &self.config.logger;
        match notice {
            Notice::RoleChanged { role, term } => {
                log(LogLevel::Info, &format!("term {term}: became {role}"));
            }
            Notice::LeaderChanged { leader, term } => {
                let who = leader.map_or("unknown".to_owned(), |l| l.nickname().to_string());
                log(LogLevel::Info, &format!("term {term}: leader is {who}"));
            }
            Notice::ElectionTimerChanged { ms } => {
                log(LogLevel::Info, &format!("election timer is now {ms} ms"));
            }
            Notice::Joined => log(LogLevel::Info, "joined the cluster"),
            Notice::Left => {
                log(LogLevel::Info, "left the cluster");
                self.exit = Some(Exit::Left);
            }
            Notice::Failed { reason } => log(
                LogLevel::Error,
                &format!(
                    "{}: disk error, server stopped (failed state): {reason}; it refuses \
                     commands until restarted with a working disk",
                    self.storage.path().display()
                ),
            ),
        }
    }

    /// Takes a snapshot when one is due (as the reference's storage layer schedules them:
    /// see [`SnapshotSchedule`]) or was asked for. A leader first hands over leadership, since
    /// writing a snapshot stalls the loop and the cluster should not wait (N3). True if it
    /// gave the core something to do.
    fn maybe_snapshot(&mut self, now: Millis) -> Result<bool, NodeError> {
        let due = self.snapshots.due(
            now,
            self.storage.size().grew_lots(),
            self.server.log_length(),
        );
        if self.exit.is_some() || !(due || self.compact_forced) {
            return Ok(false);
        }
        if self.server.may_snapshot() {
            // The machine must hold everything the core counts as applied.
            self.apply_committed(now)?;
            let data = Data::from(self.machine.snapshot());
            let index = self.server.applied_index();
            let result = self.server.store_snapshot(now, data, None);
            self.snapshots.restart(now, result.is_err());
            match result {
                Ok(()) => (self.config.logger)(
                    LogLevel::Info,
                    &format!("took a snapshot at index {index}"),
                ),
                Err(e) => (self.config.logger)(LogLevel::Info, &format!("no snapshot: {e}")),
            }
            self.compact_forced = false;
            self.drain(now)?;
            return Ok(true);
        }
        if self.server.role() != Role::Leader {
            // Nothing applied since the last snapshot, or joining, leaving or failed.
            self.compact_forced = false;
            return Ok(false);
        }
        let pause = self.server.election_timer();
        if self
            .compact_recommended
            .is_none_or(|t| now.since(t) >= pause)
        {
            self.compact_recommended = Some(now);
            self.server.notify_snapshot_recommended(now);
            self.drain(now)?;
            return Ok(true);
        }
        Ok(false)
    }
}
