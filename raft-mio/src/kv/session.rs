//! One client connection of the key-value server: frames in, commands out to the node, and
//! the answers back in the order the commands arrived.

use std::collections::VecDeque;
use std::io;
use std::time::Instant;

use mio::net::TcpStream;

use super::frames::MAX_CLIENT_FRAME;
use super::{KvCommand, KvResponse};
use crate::codec::{FrameDecoder, ReadEnd, encode_frame, read_available, write_available};

/// Commands one connection may have in flight; beyond it the connection is not read until
/// answers go out, so a client cannot queue work without bound.
const MAX_IN_FLIGHT: usize = 64;

/// Encoded answers a connection may hold unwritten before it stops taking requests: a client
/// that sends without reading its answers is not served further until it reads.
const MAX_UNWRITTEN: usize = 1 << 20;

/// Received bytes a connection may hold undecoded before it stops reading the socket. Above
/// the largest frame, so a full buffer always holds a complete request.
const MAX_UNREAD: usize = 2 * MAX_CLIENT_FRAME;

/// A command sent to the node and not yet answered to the client.
struct InFlight {
    /// Unique across the server, to match the node's completion.
    id: u64,
    /// When it is answered with a timeout if the node has not answered.
    deadline: Instant,
    response: Option<KvResponse>,
}

/// A client connection.
pub(super) struct Session {
    pub(super) stream: TcpStream,
    decoder: FrameDecoder,
    /// Encoded responses not yet written.
    out: Vec<u8>,
    in_flight: VecDeque<InFlight>,
    /// The peer closed its side: answer what it sent, then close.
    eof: bool,
    /// The poll reported the peer's close, which a read must not stop short of.
    peer_closed: bool,
    /// The peer sent something unusable: read nothing more, answer, then close.
    refused: bool,
    /// Reading stopped at `MAX_UNREAD` with more maybe waiting in the socket, which will not
    /// signal again (it is edge-triggered): read again once requests were taken.
    paused: bool,
}

impl Session {
    pub(super) fn new(stream: TcpStream) -> Session {
        Session {
            stream,
            decoder: FrameDecoder::new(MAX_CLIENT_FRAME),
            out: Vec::new(),
            in_flight: VecDeque::new(),
            eof: false,
            peer_closed: false,
            refused: false,
            paused: false,
        }
    }

    /// Reads what the socket has (it is edge-triggered), up to `MAX_UNREAD` buffered;
    /// `peer_closed` if the poll event reported the client's close. `Err` means the
    /// connection is broken and should be dropped.
    pub(super) fn read(&mut self, buf: &mut [u8], peer_closed: bool) -> io::Result<()> {
        self.peer_closed |= peer_closed;
        self.paused = self.decoder.buffered() >= MAX_UNREAD;
        if self.paused {
            return Ok(());
        }
        let decoder = &mut self.decoder;
        let end = read_available(&mut self.stream, buf, self.peer_closed, |chunk| {
            decoder.extend(chunk);
            decoder.buffered() < MAX_UNREAD
        })?;
        self.paused = end == ReadEnd::Stopped;
        self.eof |= end == ReadEnd::Closed;
        Ok(())
    }

    /// True if reading stopped at the buffer limit and the buffer has room again.
    pub(super) fn may_read_more(&self) -> bool {
        self.paused && self.decoder.buffered() < MAX_UNREAD
    }

    /// Hands each complete request to `submit` while the in-flight window has room: the
    /// frame's payload, which is the command's JSON; `submit` returns the id under which the
    /// completion will come. An undecodable request is answered in its turn and ends the
    /// connection, since the stream may no longer be in sync.
    pub(super) fn take_requests(
        &mut self,
        deadline: Instant,
        mut submit: impl FnMut(&[u8]) -> u64,
    ) {
        while !self.refused
            && self.in_flight.len() < MAX_IN_FLIGHT
            && self.out.len() < MAX_UNWRITTEN
        {
            let payload = match self.decoder.next_payload() {
                Ok(Some(payload)) => payload,
                Ok(None) => return,
                Err(e) => return self.refuse(deadline, e.to_string()),
            };
            if let Err(e) = serde_json::from_slice::<KvCommand>(payload) {
                return self.refuse(deadline, format!("undecodable command: {e}"));
            }
            let id = submit(payload);
            self.in_flight.push_back(InFlight {
                id,
                deadline,
                response: None,
            });
        }
    }

    /// Queues an error answer after every command in flight, and stops reading.
    fn refuse(&mut self, deadline: Instant, message: String) {
        self.in_flight.push_back(InFlight {
            id: u64::MAX,
            deadline,
            response: Some(KvResponse::Error {
                message,
                certainly_not_applied: true,
            }),
        });
        self.refused = true;
    }

    /// The node answered command `id`. False if this session no longer waits for it (it
    /// timed out).
    pub(super) fn complete(&mut self, id: u64, response: KvResponse) -> bool {
        match self.in_flight.iter_mut().find(|f| f.id == id) {
            Some(f) if f.response.is_none() => {
                f.response = Some(response);
                true
            }
            _ => false,
        }
    }

    /// Answers with a timeout every command whose deadline passed.
    pub(super) fn expire(&mut self, now: Instant) {
        // Deadlines never decrease along the window (each is set when its command is taken).
        for f in self.in_flight.iter_mut().take_while(|f| f.deadline <= now) {
            if f.response.is_none() {
                f.response = Some(KvResponse::Error {
                    message: "no answer in time (the outcome is unknown)".to_owned(),
                    certainly_not_applied: false,
                });
            }
        }
    }

    /// The earliest deadline of a command still unanswered: the first unanswered one's, since
    /// deadlines never decrease along the window. Runs for every session at every turn of the
    /// loop, so it stops there rather than scan the window.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.in_flight
            .iter()
            .find(|f| f.response.is_none())
            .map(|f| f.deadline)
    }

    /// Moves the answers that are next in order out of the in-flight window, encoded, to be
    /// written.
    pub(super) fn encode_answers(&mut self) -> io::Result<()> {
        while let Some(response) = self.in_flight.front_mut().and_then(|f| f.response.take()) {
            self.in_flight.pop_front();
            encode_frame(&response, &mut self.out)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        }
        Ok(())
    }

    /// Writes what the socket takes of the encoded answers. `Ok(false)` when the session is
    /// finished and should be dropped. Call [`encode_answers`](Session::encode_answers) and
    /// then [`take_requests`](Session::take_requests) first, so the window is as free as it
    /// can be and nothing readable is left behind.
    pub(super) fn flush(&mut self) -> io::Result<bool> {
        self.encode_answers()?;
        write_available(&mut self.stream, &mut self.out)?;
        let done = (self.eof || self.refused) && self.out.is_empty() && self.in_flight.is_empty();
        Ok(!done)
    }
}
