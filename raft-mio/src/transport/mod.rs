//! The TCP transport: one listener, outgoing connections kept as the core asks, and every
//! established connection reported to the core under a fresh [`ConnId`].
//!
//! The core decides which outgoing connections exist (`Action::Connect` / `Disconnect`); the
//! transport keeps one per address, reconnecting with exponential backoff. Frames are
//! [`Wire`] values in [`crate::codec`] frames. A connection is dropped, and the core told with
//! `Event::Disconnected`, when the peer closes it, sends a frame above the size limit or one
//! that does not decode, stays silent through an inactivity probe, or lets its backlog grow
//! past the threshold.

mod conn;
mod wire;

pub use wire::{Limits, Wire};

use std::collections::BTreeMap;
use std::io;

use mio::event::Event as PollEvent;
use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Registry, Token};
use raft_core::{Address, ConnId, Event, LogLevel, Message, Millis, Scheme};

use crate::codec::peer_closed;

use conn::Conn;

/// The poll token of the listener.
pub const LISTENER: Token = Token(0);
/// The first token (and connection id) given to a connection; lower ones are the node's.
const FIRST_CONN: u64 = 16;
/// The first reconnect delay.
const MIN_BACKOFF_MS: u64 = 100;
/// The longest reconnect delay.
const MAX_BACKOFF_MS: u64 = 2000;
/// Bytes read per `read` call.
const READ_CHUNK: usize = 64 * 1024;
/// The pause before accepting again after the system refused a connection.
const ACCEPT_RETRY_MS: u64 = 100;

/// An outgoing connection the core wants.
#[derive(Debug)]
struct Dial {
    /// The connection serving it, connecting or established.
    conn: Option<ConnId>,
    /// When to try again, while there is no connection.
    retry_at: Millis,
    backoff_ms: u64,
}

/// The transport. See the [module docs](self).
#[derive(Debug)]
pub struct Transport {
    listener: TcpListener,
    conns: BTreeMap<ConnId, Conn>,
    dials: BTreeMap<Address, Dial>,
    next_id: u64,
    limits: Limits,
    /// The time of the latest entry point, for reconnect delays.
    now: Millis,
    /// What happened, for the core, in order.
    events: Vec<Event>,
    /// Lines for the server's log.
    logs: Vec<(LogLevel, String)>,
    /// Where every connection reads into before decoding: one buffer, allocated once, rather
    /// than a fresh (zeroed) one per readiness event.
    read_buf: Box<[u8]>,
    /// When to try accepting again after the system refused (no descriptors): the listener
    /// is edge-triggered, so it would not signal the connections already queued again.
    accept_retry_at: Option<Millis>,
}

impl Transport {
    /// Listens on `local` and registers the listener with `registry`.
    pub fn listen(registry: &Registry, local: &Address, limits: Limits) -> io::Result<Transport> {
        if local.scheme() == Scheme::Ssl {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("{local}: ssl is not supported by raft-mio, use tcp:"),
            ));
        }
        let mut listener = TcpListener::bind(local.socket_addr())?;
        registry.register(&mut listener, LISTENER, Interest::READABLE)?;
        Ok(Transport {
            listener,
            conns: BTreeMap::new(),
            dials: BTreeMap::new(),
            next_id: FIRST_CONN,
            limits,
            now: Millis(0),
            events: Vec::new(),
            logs: Vec::new(),
            read_buf: vec![0; READ_CHUNK].into_boxed_slice(),
            accept_retry_at: None,
        })
    }

    /// Updates the probe interval and backlog limits (they follow the core's settings).
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Takes the events for the core gathered so far.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// Takes the log lines gathered so far.
    pub fn take_logs(&mut self) -> Vec<(LogLevel, String)> {
        std::mem::take(&mut self.logs)
    }

    /// The number of open connections (connecting or established).
    pub fn n_connections(&self) -> usize {
        self.conns.len()
    }

    // -------------------------------------------------------------------------------------
    // The core's actions.

    /// `Action::Connect`: keep a connection to `address`.
    pub fn connect(&mut self, registry: &Registry, address: Address, now: Millis) {
        self.now = self.now.max(now);
        if self.dials.contains_key(&address) {
            return;
        }
        if address.scheme() == Scheme::Ssl {
            self.log(
                LogLevel::Error,
                format!("{address}: ssl is not supported by raft-mio; not connecting"),
            );
            return;
        }
        self.dials.insert(
            address.clone(),
            Dial {
                conn: None,
                retry_at: now,
                backoff_ms: MIN_BACKOFF_MS,
            },
        );
        self.dial(registry, &address, now);
    }

    /// `Action::Disconnect`: stop keeping the connection to `address`, closing it.
    pub fn disconnect(&mut self, registry: &Registry, address: &Address) {
        if let Some(conn) = self.dials.remove(address).and_then(|d| d.conn) {
            self.close(
                registry,
                conn,
                "no longer wanted".to_owned(),
                LogLevel::Debug,
            );
        }
    }

    /// `Action::Send`: queues `message` on `conn`, dropped if the connection is gone.
    pub fn send(&mut self, registry: &Registry, conn: ConnId, message: Box<Message>) {
        self.queue(registry, conn, &Wire::Raft(message));
    }

    // -------------------------------------------------------------------------------------
    // Poll events and timers.

    /// Handles a poll event for one of the transport's tokens.
    pub fn ready(&mut self, registry: &Registry, event: &PollEvent, now: Millis) {
        self.now = self.now.max(now);
        let token = event.token();
        if token == LISTENER {
            self.accept(registry, now);
            return;
        }
        let id = ConnId(token.0 as u64);
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        if !c.established {
            match c.finish_connect() {
                Ok(false) => return,
                Ok(true) => self.established(id, now),
                Err(why) => return self.close(registry, id, why, LogLevel::Debug),
            }
        }
        self.read(registry, id, now, peer_closed(event));
        self.flush(registry, id);
    }

    /// Writes whatever is queued on every connection (once per turn, so that the messages of a
    /// turn share system calls and packets).
    pub fn flush_all(&mut self, registry: &Registry) {
        let ids: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.established && c.has_output())
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.flush(registry, id);
        }
    }

    /// Fires the transport's timers: reconnects, connect timeouts and inactivity probes.
    pub fn tick(&mut self, registry: &Registry, now: Millis) {
        self.now = self.now.max(now);
        if self.accept_retry_at.is_some_and(|at| at <= now) {
            self.accept(registry, now);
        }
        let due: Vec<Address> = self
            .dials
            .iter()
            .filter(|(_, d)| d.conn.is_none() && d.retry_at <= now)
            .map(|(a, _)| a.clone())
            .collect();
        for address in due {
            self.dial(registry, &address, now);
        }
        let interval = self.limits.probe_interval_ms;
        let mut close = Vec::new();
        let mut probe = Vec::new();
        for (id, c) in &self.conns {
            let idle = now.since(c.last_recv);
            if !c.established && idle >= interval {
                close.push((*id, format!("connect timed out after {idle} ms")));
            } else if c.established && idle >= 2 * interval {
                close.push((*id, format!("no response to inactivity probe in {idle} ms")));
            } else if c.established && idle >= interval && !c.probe_sent {
                probe.push(*id);
            }
        }
        for (id, why) in close {
            self.close(registry, id, why, LogLevel::Info);
        }
        for id in probe {
            if let Some(c) = self.conns.get_mut(&id) {
                c.probe_sent = true;
            }
            self.queue(registry, id, &Wire::Probe);
        }
    }

    /// When [`Transport::tick`] must run next.
    pub fn next_deadline(&self) -> Option<Millis> {
        let interval = self.limits.probe_interval_ms;
        let dials = self
            .dials
            .values()
            .filter(|d| d.conn.is_none())
            .map(|d| d.retry_at);
        let conns = self.conns.values().map(|c| {
            let wait = if c.established && c.probe_sent {
                2 * interval
            } else {
                interval
            };
            c.last_recv.plus(wait)
        });
        dials.chain(conns).chain(self.accept_retry_at).min()
    }

    // -------------------------------------------------------------------------------------
    // Internals.

    fn log(&mut self, level: LogLevel, text: String) {
        self.logs.push((level, text));
    }

    fn fresh_id(&mut self) -> ConnId {
        let id = ConnId(self.next_id);
        self.next_id += 1;
        id
    }

    fn accept(&mut self, registry: &Registry, now: Millis) {
        self.accept_retry_at = None;
        loop {
            match self.listener.accept() {
                Ok((mut stream, peer)) => {
                    let id = self.fresh_id();
                    let _ = stream.set_nodelay(true);
                    if let Err(e) = registry.register(
                        &mut stream,
                        Token(id.0 as usize),
                        Interest::READABLE | Interest::WRITABLE,
                    ) {
                        self.log(LogLevel::Warn, format!("{peer}: cannot register: {e}"));
                        continue;
                    }
                    let max = self.limits.max_frame_len;
                    let conn = Conn::new(stream, None, peer, true, now, max);
                    self.conns.insert(id, conn);
                    self.log(LogLevel::Debug, format!("{id}: accepted from {peer}"));
                    self.events.push(Event::Connected {
                        conn: id,
                        incoming: true,
                        address: None,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // Typically EMFILE: keep serving existing connections, and try again
                    // shortly for the ones queued.
                    if self.accept_retry_at.is_none() {
                        self.log(LogLevel::Warn, format!("accept failed: {e}; retrying"));
                    }
                    self.accept_retry_at = Some(now.plus(ACCEPT_RETRY_MS));
                    return;
                }
            }
        }
    }

    fn dial(&mut self, registry: &Registry, address: &Address, now: Millis) {
        let peer = address.socket_addr();
        let id = self.fresh_id();
        let stream = TcpStream::connect(peer).and_then(|mut s| {
            registry.register(
                &mut s,
                Token(id.0 as usize),
                Interest::READABLE | Interest::WRITABLE,
            )?;
            Ok(s)
        });
        let Some(dial) = self.dials.get_mut(address) else {
            return;
        };
        match stream {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                dial.conn = Some(id);
                let max = self.limits.max_frame_len;
                let conn = Conn::new(stream, Some(address.clone()), peer, false, now, max);
                self.conns.insert(id, conn);
            }
            Err(e) => {
                dial.retry_at = now.plus(dial.backoff_ms);
                dial.backoff_ms = (dial.backoff_ms * 2).min(MAX_BACKOFF_MS);
                self.log(LogLevel::Debug, format!("{address}: connect failed: {e}"));
            }
        }
    }

    fn established(&mut self, id: ConnId, now: Millis) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        c.established = true;
        c.last_recv = now;
        let address = c.address.clone();
        if let Some(d) = address.as_ref().and_then(|a| self.dials.get_mut(a)) {
            d.backoff_ms = MIN_BACKOFF_MS;
        }
        self.log(
            LogLevel::Debug,
            format!(
                "{id}: connected to {}",
                address.as_ref().map_or("?", |a| a.as_str())
            ),
        );
        self.events.push(Event::Connected {
            conn: id,
            incoming: false,
            address,
        });
    }

    fn read(&mut self, registry: &Registry, id: ConnId, now: Millis, peer_closed: bool) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        let (frames, close) = c.read(now, &mut self.read_buf, peer_closed);
        let mut replies = 0;
        for frame in frames {
            match frame {
                Wire::Raft(message) => self.events.push(Event::Message { conn: id, message }),
                Wire::Probe => replies += 1,
                Wire::ProbeReply => {}
            }
        }
        for _ in 0..replies {
            self.queue(registry, id, &Wire::ProbeReply);
        }
        if let Some(why) = close {
            let level = if why.starts_with("protocol") {
                LogLevel::Warn
            } else {
                LogLevel::Info
            };
            self.close(registry, id, why, level);
        }
    }

    fn queue(&mut self, registry: &Registry, id: ConnId, frame: &Wire) {
        let limits = self.limits;
        let Some(c) = self.conns.get_mut(&id).filter(|c| c.established) else {
            return;
        };
        if let Err(why) = c.queue(frame, &limits) {
            self.close(registry, id, why, LogLevel::Warn);
        }
    }

    fn flush(&mut self, registry: &Registry, id: ConnId) {
        let Some(c) = self.conns.get_mut(&id).filter(|c| c.established) else {
            return;
        };
        if let Err(why) = c.flush() {
            self.close(registry, id, why, LogLevel::Info);
        }
    }

    /// Closes connection `id`, telling the core if it knew of it, and schedules a reconnect if
    /// its address is still wanted.
    fn close(&mut self, registry: &Registry, id: ConnId, why: String, level: LogLevel) {
        let Some(mut c) = self.conns.remove(&id) else {
            return;
        };
        let _ = registry.deregister(&mut c.stream);
        let who = c
            .address
            .as_ref()
            .map_or(c.peer.to_string(), Address::to_string);
        self.log(level, format!("{id} ({who}): closing: {why}"));
        if c.established {
            self.events.push(Event::Disconnected { conn: id });
        }
        let now = self.now;
        if let Some(d) = c.address.as_ref().and_then(|a| self.dials.get_mut(a))
            && d.conn == Some(id)
        {
            d.conn = None;
            d.retry_at = now.plus(d.backoff_ms);
            d.backoff_ms = (d.backoff_ms * 2).min(MAX_BACKOFF_MS);
        }
    }
}
