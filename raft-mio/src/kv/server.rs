//! The key-value server's client side: one thread with its own poll loop serves every client
//! connection, and executes their commands through a [`Handle`] without waiting for them.
//!
//! A turn of the loop reads whatever the clients sent, submits every complete command to the
//! node (many commands, one wake-up of the node), then writes the answers the node completed
//! meanwhile. The node completes commands on its own thread into a shared queue and wakes
//! this loop at most once per batch, so neither side switches threads per command.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};
use serde::{Deserialize, Serialize};

use super::KvReply;
use super::session::Session;
use crate::wake::WakeOnce;
use crate::{CommandResult, Handle};

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

/// Commands the node completed, waiting for the client loop.
struct Completions {
    done: Mutex<Vec<(u64, CommandResult)>>,
    wake: WakeOnce,
}

impl Completions {
    fn push(&self, id: u64, result: CommandResult) {
        self.done
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((id, result));
        // Fails only if the loop's poll is gone, and the loop with it.
        self.wake.wake();
    }

    fn take(&self) -> Vec<(u64, CommandResult)> {
        self.wake.taking();
        std::mem::take(&mut *self.done.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

struct ClientServer {
    poll: Poll,
    listener: TcpListener,
    handle: Handle,
    timeout: Duration,
    completions: Arc<Completions>,
    sessions: BTreeMap<usize, Session>,
    next_token: usize,
    /// Which session each command in flight belongs to, by command id (hashed: one insert
    /// and one removal per command, never iterated).
    owners: HashMap<u64, usize>,
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
            handle,
            timeout,
            completions: Arc::new(Completions {
                done: Mutex::new(Vec::new()),
                wake: WakeOnce::new(Arc::new(waker)),
            }),
            sessions: BTreeMap::new(),
            next_token: FIRST_SESSION,
            owners: HashMap::new(),
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
                        if event.is_readable() || event.is_read_closed() || event.is_error() {
                            self.read(t);
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

    fn read(&mut self, token: usize) {
        let Some(session) = self.sessions.get_mut(&token) else {
            return;
        };
        if session.read(&mut self.read_buf).is_err() {
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
                self.owners.insert(id, token);
                let completions = self.completions.clone();
                self.handle.execute_then(
                    payload,
                    Box::new(move |result| completions.push(id, result)),
                );
                id
            });
            if !session.may_read_more() {
                break;
            }
            if session.read(&mut self.read_buf).is_err() {
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
        for (id, result) in self.completions.take() {
            let Some(token) = self.owners.remove(&id) else {
                continue;
            };
            if let Some(session) = self.sessions.get_mut(&token)
                && session.complete(id, response(result))
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

/// The client's answer for the node's result.
fn response(result: CommandResult) -> KvResponse {
    match result {
        Ok(output) => match serde_json::from_slice(&output) {
            Ok(reply) => KvResponse::Reply(reply),
            Err(e) => KvResponse::Error {
                message: format!("undecodable reply from the state machine: {e}"),
                certainly_not_applied: false,
            },
        },
        Err(e) => KvResponse::Error {
            message: e.to_string(),
            certainly_not_applied: e.certainly_not_applied(),
        },
    }
}
