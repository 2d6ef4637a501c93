//! One TCP connection: non-blocking reads into a frame decoder, an output buffer with backlog
//! accounting, and the inactivity probe's bookkeeping.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::net::SocketAddr;

use mio::net::TcpStream;
use raft_core::{Address, Millis};

use super::wire::{Limits, Wire};
use crate::codec::{FrameDecoder, ReadEnd, encode_frame};

/// Why a connection must be closed.
pub(super) type Close = String;

/// A connection, connecting or established.
#[derive(Debug)]
pub(super) struct Conn {
    pub(super) stream: TcpStream,
    /// For an outgoing connection, the address dialled.
    pub(super) address: Option<Address>,
    pub(super) peer: SocketAddr,
    /// False while an outgoing connection is still connecting.
    pub(super) established: bool,
    /// When the connection started (for the connect timeout) or last received a frame.
    pub(super) last_recv: Millis,
    pub(super) probe_sent: bool,
    decoder: FrameDecoder,
    /// Encoded frames not yet written, from `out_pos`.
    out: Vec<u8>,
    out_pos: usize,
    /// The end offset in `out` of every queued frame, to count the backlog in messages.
    frame_ends: VecDeque<usize>,
}

impl Conn {
    pub(super) fn new(
        stream: TcpStream,
        address: Option<Address>,
        peer: SocketAddr,
        established: bool,
        now: Millis,
        max_frame_len: usize,
    ) -> Conn {
        Conn {
            stream,
            address,
            peer,
            established,
            last_recv: now,
            probe_sent: false,
            decoder: FrameDecoder::new(max_frame_len),
            out: Vec::new(),
            out_pos: 0,
            frame_ends: VecDeque::new(),
        }
    }

    /// Checks whether a connect in progress finished: `Ok(true)` once connected.
    pub(super) fn finish_connect(&mut self) -> Result<bool, Close> {
        if let Ok(Some(e)) | Err(e) = self.stream.take_error() {
            return Err(format!("connect failed: {e}"));
        }
        match self.stream.peer_addr() {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) => Err(format!("connect failed: {e}")),
        }
    }

    /// Reads everything available (the poll is edge-triggered) through `buf` and decodes it;
    /// `peer_closed` if the poll event reported the peer's close. Returns the frames, and a
    /// reason to close if the stream ended or misbehaved after them.
    pub(super) fn read(
        &mut self,
        now: Millis,
        buf: &mut [u8],
        peer_closed: bool,
    ) -> (Vec<Wire>, Option<Close>) {
        let mut close = match self.decoder.read_from(&mut self.stream, buf, peer_closed) {
            Ok(ReadEnd::Closed) => Some("connection closed by peer".to_owned()),
            Ok(ReadEnd::Emptied | ReadEnd::Stopped) => None,
            Err(e) => Some(format!("read failed: {e}")),
        };
        let mut frames = Vec::new();
        loop {
            match self.decoder.next_frame::<Wire>() {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(e) => {
                    close = Some(format!("protocol error: {e}"));
                    break;
                }
            }
        }
        if !frames.is_empty() {
            self.last_recv = now;
            self.probe_sent = false;
        }
        (frames, close)
    }

    /// Queues `frame`, writing what the socket takes at once if the backlog would exceed
    /// `limits`; an error if it still does, or if the frame is too big to send.
    pub(super) fn queue(&mut self, frame: &Wire, limits: &Limits) -> Result<(), Close> {
        let start = self.out.len();
        encode_frame(frame, &mut self.out).map_err(|e| format!("cannot send: {e}"))?;
        if self.out.len() - start - 4 > limits.max_frame_len {
            self.out.truncate(start);
            return Err(format!(
                "refusing to send a frame of {} bytes, above the {}-byte limit",
                self.out.len() - start,
                limits.max_frame_len
            ));
        }
        self.frame_ends.push_back(self.out.len());
        if self.over_backlog(limits) {
            self.flush()?;
            if self.over_backlog(limits) {
                return Err(format!(
                    "backlog of {} messages and {} bytes exceeds the threshold of {} messages \
                     or {} bytes",
                    self.frame_ends.len(),
                    self.out.len() - self.out_pos,
                    limits.backlog_messages,
                    limits.backlog_bytes
                ));
            }
        }
        Ok(())
    }

    fn over_backlog(&self, limits: &Limits) -> bool {
        self.frame_ends.len() > limits.backlog_messages
            || self.out.len() - self.out_pos > limits.backlog_bytes
    }

    /// True if frames wait to be written.
    pub(super) fn has_output(&self) -> bool {
        self.out_pos < self.out.len()
    }

    /// Writes as much queued output as the socket takes, in as few calls as it allows.
    pub(super) fn flush(&mut self) -> Result<(), Close> {
        while self.out_pos < self.out.len() {
            match self.stream.write(&self.out[self.out_pos..]) {
                Ok(0) => return Err("write returned 0".to_owned()),
                Ok(n) => self.out_pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("write failed: {e}")),
            }
        }
        while self
            .frame_ends
            .front()
            .is_some_and(|&end| end <= self.out_pos)
        {
            self.frame_ends.pop_front();
        }
        if self.out_pos == self.out.len() {
            self.out.clear();
            self.out_pos = 0;
            self.frame_ends.clear();
        } else if self.out_pos > self.out.len() / 2 {
            // Keep copying linear in the bytes sent: compact only once half is dead.
            self.out.drain(..self.out_pos);
            for end in &mut self.frame_ends {
                *end -= self.out_pos;
            }
            self.out_pos = 0;
        }
        Ok(())
    }
}
