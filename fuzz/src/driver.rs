//! A one-server driver that follows raft-core's driving contract the way raft-mio does, and
//! checks after every entry point what the core promises:
//!
//! - `Server::check_invariants()` holds;
//! - write before send: no message leaves with a term newer than the durable term, and no
//!   successful append reply vouches for entries that are not durable;
//! - after `Action::Crash` nothing else is emitted;
//! - the log the server wrote (what a crash would leave on disk) always opens again, unless
//!   it says the server left or no longer names it.
//!
//! The disk is a model: writes become durable when the input says `Persisted`, in ticket
//! order, and a restart reopens from the durable part only.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use raft_core::{
    Action, Address, AppendResult, Config, ConnId, EntryId, Event, Header, Message, Millis,
    OpenError, Record, Rpc, Server, WriteTicket,
};

use crate::universe::peer_at;

/// How many recently sent messages are kept for the input to answer.
const RECENT: usize = 16;

/// A write not yet durable.
enum Write {
    Append(Vec<Record>),
    Replace(Header, Vec<Record>),
}

/// The server, its model disk and its connections.
pub struct Driver {
    /// The server.
    pub server: Server,
    /// The driver's clock.
    pub now: Millis,
    /// The durable header.
    header: Header,
    /// The durable records.
    durable: Vec<Record>,
    /// Writes issued and not yet durable, oldest first.
    pending: VecDeque<(WriteTicket, Write)>,
    /// Established connections, and the peer each leads to if known.
    conns: BTreeMap<ConnId, Option<usize>>,
    next_conn: u64,
    /// Addresses the core wants connections to.
    wanted: BTreeSet<Address>,
    /// Recently sent messages with their connection, newest last.
    pub sent: VecDeque<(ConnId, Message)>,
    /// Entry ids of the commands executed on this server.
    pub executed: Vec<EntryId>,
    /// Set once the core asked for a crash; nothing may follow.
    crashed: bool,
    seed: u64,
}

impl Driver {
    /// Opens a server from `header` and `records` and carries out its first actions.
    pub fn open(header: Header, records: Vec<Record>, seed: u64) -> Result<Driver, OpenError> {
        let now = Millis(0);
        let server = Server::open(
            header.clone(),
            records.clone(),
            Config::with_seed(seed),
            now,
        )?;
        let mut d = Driver {
            server,
            now,
            header,
            durable: records,
            pending: VecDeque::new(),
            conns: BTreeMap::new(),
            next_conn: 1,
            wanted: BTreeSet::new(),
            sent: VecDeque::new(),
            executed: Vec::new(),
            crashed: false,
            seed,
        };
        d.settle();
        Ok(d)
    }

    /// Steps the server with `event` now, then settles.
    pub fn step(&mut self, event: Event) {
        self.server.step(self.now, event);
        self.settle();
    }

    /// Runs `f` on the server (a request such as `execute` or an admin call), then settles.
    pub fn call<T>(&mut self, f: impl FnOnce(&mut Server, Millis) -> T) -> T {
        let out = f(&mut self.server, self.now);
        self.settle();
        out
    }

    /// Moves the clock by `ms` (backwards too: the core must not care) and ticks.
    pub fn advance(&mut self, ms: i64) {
        self.now = Millis(self.now.0.saturating_add_signed(ms));
        self.reconnect();
        self.step(Event::Tick);
    }

    /// Reports writes up to `ticket` durable, as a driver would after an fsync.
    pub fn persist(&mut self, ticket: WriteTicket) {
        if ticket <= self.server.tickets().0 {
            while self.pending.front().is_some_and(|(t, _)| *t <= ticket) {
                match self.pending.pop_front().map(|(_, w)| w) {
                    Some(Write::Append(records)) => self.durable.extend(records),
                    Some(Write::Replace(header, records)) => {
                        self.header = header;
                        self.durable = records;
                    }
                    None => {}
                }
            }
        }
        self.step(Event::Persisted { ticket });
    }

    /// True once the core asked for a crash: a real driver aborts the process, so the only
    /// thing left to do is [`Driver::restart`].
    pub fn crashed(&self) -> bool {
        self.crashed
    }

    /// The newest ticket issued.
    pub fn last_ticket(&self) -> WriteTicket {
        self.server.tickets().0
    }

    /// The connection a message from peer `p` arrives on: the one to it, or a new incoming
    /// one (a peer that dialled us).
    pub fn conn_from(&mut self, p: usize) -> ConnId {
        if let Some((c, _)) = self.conns.iter().find(|(_, peer)| **peer == Some(p)) {
            return *c;
        }
        let conn = self.fresh_conn(Some(p));
        self.step(Event::Connected {
            conn,
            incoming: true,
            address: None,
        });
        conn
    }

    /// An established connection by number (any, known or not to the core).
    pub fn some_conn(&self, n: u8) -> ConnId {
        self.conns
            .keys()
            .nth(usize::from(n) % self.conns.len().max(1))
            .copied()
            .unwrap_or(ConnId(u64::from(n)))
    }

    /// Opens an incoming connection from an unknown place.
    pub fn connect_incoming(&mut self) {
        let conn = self.fresh_conn(None);
        self.step(Event::Connected {
            conn,
            incoming: true,
            address: None,
        });
    }

    /// Breaks connection number `n`.
    pub fn disconnect(&mut self, n: u8) {
        let conn = self.some_conn(n);
        self.conns.remove(&conn);
        self.step(Event::Disconnected { conn });
    }

    /// A crash and restart: the server is reopened from what is durable, with a new seed.
    /// A log the server wrote itself must open, unless it records that the server left or no
    /// longer names it; then there is nothing more to drive, and this returns false.
    pub fn restart(&mut self) -> bool {
        self.seed = self.seed.wrapping_add(1);
        self.pending.clear();
        self.conns.clear();
        self.wanted.clear();
        self.sent.clear();
        self.crashed = false;
        let config = Config::with_seed(self.seed);
        match Server::open(self.header.clone(), self.durable.clone(), config, self.now) {
            Ok(server) => self.server = server,
            Err(OpenError::Left { .. } | OpenError::NotInConfiguration) => return false,
            Err(e) => panic!(
                "the server's own log does not reopen: {e}\nheader: {:?}\nrecords: {:?}",
                self.header, self.durable
            ),
        }
        self.settle();
        true
    }

    fn fresh_conn(&mut self, peer: Option<usize>) -> ConnId {
        let conn = ConnId(self.next_conn);
        self.next_conn += 1;
        self.conns.insert(conn, peer);
        conn
    }

    /// Establishes a connection for every wanted address that has none, as raft-mio's
    /// transport does with its reconnect timer.
    fn reconnect(&mut self) {
        let missing: Vec<Address> = self
            .wanted
            .iter()
            .filter(|a| {
                let p = peer_at(a);
                !self.conns.values().any(|c| c.is_some() && *c == p)
            })
            .cloned()
            .collect();
        for address in missing {
            let conn = self.fresh_conn(peer_at(&address));
            self.server.step(
                self.now,
                Event::Connected {
                    conn,
                    incoming: false,
                    address: Some(address),
                },
            );
        }
    }

    /// Carries out actions, checking each, until the server asks for nothing more.
    fn settle(&mut self) {
        self.server.check_invariants();
        // Each round of connections can ask for more; a handful of rounds always suffices.
        for _ in 0..4 {
            let before = self.wanted.clone();
            self.drain();
            if before == self.wanted || self.crashed {
                break;
            }
            self.reconnect();
            self.server.check_invariants();
        }
        self.drain();
    }

    fn drain(&mut self) {
        while let Some(action) = self.server.poll_action() {
            assert!(!self.crashed, "an action after Action::Crash: {action:?}");
            self.check_and_record(action);
        }
    }

    fn check_and_record(&mut self, action: Action) {
        match action {
            Action::Send { conn, message } => {
                self.check_durable(&message);
                if self.sent.len() == RECENT {
                    self.sent.pop_front();
                }
                self.sent.push_back((conn, *message));
            }
            Action::WriteLog { ticket, records } => {
                self.pending.push_back((ticket, Write::Append(records)))
            }
            Action::ReplaceLog {
                ticket,
                header,
                records,
            } => self
                .pending
                .push_back((ticket, Write::Replace(*header, records))),
            Action::Connect { address } => {
                self.wanted.insert(address);
            }
            Action::Disconnect { address } => {
                self.wanted.remove(&address);
                let p = peer_at(&address);
                let gone: Vec<ConnId> = self
                    .conns
                    .iter()
                    .filter(|(_, peer)| p.is_some() && **peer == p)
                    .map(|(c, _)| *c)
                    .collect();
                for conn in gone {
                    self.conns.remove(&conn);
                    self.server.step(self.now, Event::Disconnected { conn });
                }
            }
            Action::Crash { .. } => self.crashed = true,
            Action::ApplySnapshot { .. }
            | Action::Apply { .. }
            | Action::CommandDone { .. }
            | Action::Notify(_)
            | Action::Log { .. } => {}
        }
    }

    /// Write before send: what a message vouches for must already be durable.
    fn check_durable(&self, m: &Message) {
        let s = &self.server;
        assert_eq!(m.from, s.server_id(), "a message not from us: {m:?}");
        if let Some(term) = m.rpc.term() {
            assert!(
                term <= s.durable_term(),
                "sent term {term} before it was durable (durable {}): {m:?}",
                s.durable_term()
            );
        }
        if let Rpc::AppendReply {
            prev_index,
            n_entries,
            result: AppendResult::Ok,
            ..
        } = m.rpc
        {
            let last = prev_index.0.saturating_add(n_entries);
            assert!(
                last <= s.durable_index().0,
                "acknowledged entries up to {last} with only {} durable: {m:?}",
                s.durable_index()
            );
        }
    }
}
