//! The key-value server's client side: one thread with its own poll loop serves every client
//! connection, and executes their commands through a [`Handle`] without waiting for them.
//!
//! A turn of the loop reads whatever the clients sent, gathers every complete command into
//! one entry (see [`batch`](super::batch)) and submits it to the node, then writes the
//! answers the node completed meanwhile. The node completes entries on its own thread into a
//! shared queue and wakes this loop at most once per batch, so neither side switches threads
//! per command.

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};
use serde::{Deserialize, Serialize};

use super::KvReply;
use super::batch::{Entries, Member};
use super::session::Session;
use crate::Handle;
use crate::codec::peer_closed;

/// The server's answer to a client's [`KvCommand`](super::KvCommand).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum KvResponse {
    /// The store's reply.
    Reply(KvReply),
    /// The command failed.
    Error {
        /// Why, for people.
        message: String,
        /// True if the command certainly did not take effect (safe to retry); false if it
        /// may have.
        certainly_not_applied: bool,
    },
}

/// The poll token of the listener.
const LISTENER: Token = Token(0);
/// The poll token of the completions' waker.
const WAKER: Token = Token(1);
/// The first token of a client connection.
const FIRST_SESSION: usize = 2;
/// How long to wait before accepting again after the system refused (no descriptors).
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// Accepts clients on `listener` and serves them until the poll fails. Each command waits up
/// to `timeout` for its outcome, then is answered with a timeout error.
pub fn serve_clients(
    listener: std::net::TcpListener,
    handle: Handle,
    timeout: Duration,
) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let mut server = ClientServer::new(TcpListener::from_std(listener), handle, timeout)?;
    server.run()
}

struct ClientServer {
    poll: Poll,
    listener: TcpListener,
    timeout: Duration,
    /// The clients' commands on their way through the node.
    entries: Entries,
    sessions: BTreeMap<usize, Session>,
    next_token: usize,
    /// The id of the next command, unique across sessions.
    next_id: u64,
    read_buf: Vec<u8>,
    /// When to try accepting again after the system refused.
    accept_retry_at: Option<Instant>,
}

impl ClientServer {
    fn new(mut listener: TcpListener, handle: Handle, timeout: Duration) -> io::Result<Self> {
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let waker = Waker::new(poll.registry(), WAKER)?;
        Ok(ClientServer {
            poll,
            listener,
            timeout,
            entries: Entries::new(handle, Arc::new(waker)),
            sessions: BTreeMap::new(),
            next_token: FIRST_SESSION,
            next_id: 0,
            read_buf: vec![0; 64 * 1024],
            accept_retry_at: None,
        })
    }

    fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        loop {
            let timeout = self
                .next_deadline()
                .map(|at| at.saturating_duration_since(Instant::now()));
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            let mut touched = Vec::new();
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept(),
                    WAKER => {}
                    Token(t) => {
                        let closed = peer_closed(event);
                        if event.is_readable() || closed {
                            self.read(t, closed);
                        }
                        touched.push(t);
                    }
                }
            }
            if self.accept_retry_at.is_some_and(|at| at <= Instant::now()) {
                self.accept();
            }
            touched.extend(self.complete());
            touched.extend(self.expire());
            touched.sort_unstable();
            touched.dedup();
            for t in touched {
                self.service(t);
            }
            self.entries.submit();
        }
    }

    fn accept(&mut self) {
        loop {
            let mut stream = match self.listener.accept() {
                Ok((stream, _)) => stream,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                // A client that vanished between connect and accept: others may be waiting.
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
                Err(e) => {
                    // Out of descriptors or memory, for now: the listener will not signal the
                    // connections already waiting again, so try again shortly.
                    if self.accept_retry_at.is_none() {
                        eprintln!("raft-kv: cannot accept a client ({e}); retrying");
                    }
                    self.accept_retry_at = Some(Instant::now() + ACCEPT_RETRY);
                    return;
                }
            };
            self.accept_retry_at = None;
            let _ = stream.set_nodelay(true);
            let token = self.next_token;
            self.next_token += 1;
            let interest = Interest::READABLE | Interest::WRITABLE;
            if self
                .poll
                .registry()
                .register(&mut stream, Token(token), interest)
                .is_ok()
            {
                self.sessions.insert(token, Session::new(stream));
            }
        }
    }

    fn read(&mut self, token: usize, peer_closed: bool) {
        let Some(session) = self.sessions.get_mut(&token) else {
            return;
        };
        if session.read(&mut self.read_buf, peer_closed).is_err() {
            self.close(token);
        }
    }

    /// Submits what the session can take, reading on where a full buffer stopped it, and
    /// writes what it can answer.
    fn service(&mut self, token: usize) {
        let Some(session) = self.sessions.get_mut(&token) else {
            return;
        };
        let deadline = Instant::now() + self.timeout;
        loop {
            if session.encode_answers().is_err() {
                return self.close(token);
            }
            session.take_requests(deadline, |payload| {
                let id = self.next_id;
                self.next_id += 1;
                self.entries.add(Member { token, id }, payload);
                id
            });
            if !session.may_read_more() {
                break;
            }
            if session.read(&mut self.read_buf, false).is_err() {
                return self.close(token);
            }
        }
        if !matches!(session.flush(), Ok(true)) {
            self.close(token);
        }
    }

    /// Hands the node's answers to their sessions; returns the sessions that got one.
    fn complete(&mut self) -> Vec<usize> {
        let mut touched = Vec::new();
        for (Member { token, id }, response) in self.entries.take_answers() {
            if let Some(session) = self.sessions.get_mut(&token)
                && session.complete(id, response)
            {
                touched.push(token);
            }
        }
        touched
    }

    /// Times out the commands whose deadline passed; returns the sessions concerned.
    fn expire(&mut self) -> Vec<usize> {
        let now = Instant::now();
        let mut touched = Vec::new();
        for (&token, session) in &mut self.sessions {
            if session.next_deadline().is_some_and(|at| at <= now) {
                session.expire(now);
                touched.push(token);
            }
        }
        touched
    }

    fn next_deadline(&self) -> Option<Instant> {
        let sessions = self.sessions.values().filter_map(Session::next_deadline);
        sessions.chain(self.accept_retry_at).min()
    }

    fn close(&mut self, token: usize) {
        if let Some(mut session) = self.sessions.remove(&token) {
            let _ = self.poll.registry().deregister(&mut session.stream);
        }
    }
}
