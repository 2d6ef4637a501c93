//! Length-delimited JSON frames on a byte stream (TCP).
//!
//! Each frame is `[len u32 big-endian][len bytes of JSON]`. Big-endian
//! because it is network byte order, what tools such as Wireshark's
//! length-prefix dissectors expect; the file log, which only this crate
//! reads, uses little-endian. No checksum: TCP already has one, and a peer
//! that sends garbage is answered by disconnecting, not by recovery.
//!
//! [`FrameDecoder`] takes bytes as they arrive, in chunks of any size, and
//! yields frames. A length above the limit is reported as soon as its four
//! bytes are in, before any of the payload is waited for, so a peer cannot
//! make the decoder buffer more than one read beyond the limit.

use std::fmt;
use std::io;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The default and largest frame payload, in bytes. Generous because an
/// install-snapshot message carries a whole snapshot; the limit only stops a
/// broken or hostile peer from making us buffer without end.
pub const MAX_FRAME_LEN: usize = 1 << 30;

/// Bytes in a frame's length prefix.
const PREFIX_LEN: usize = 4;

/// Why a frame could not be encoded or decoded. Any of these means the
/// stream is unusable or the peer misbehaves: disconnect.
#[derive(Debug)]
#[non_exhaustive]
pub enum FrameError {
    /// A frame's length exceeds the limit.
    TooLarge {
        /// The frame's length.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// A complete frame's payload is not valid JSON for the expected type.
    /// The frame has been consumed.
    Decode(serde_json::Error),
    /// The value could not be serialised as JSON.
    Encode(serde_json::Error),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLarge { len, max } => {
                write!(f, "frame of {len} bytes exceeds the {max}-byte limit")
            }
            FrameError::Decode(e) => write!(f, "undecodable frame: {e}"),
            FrameError::Encode(e) => write!(f, "cannot encode frame: {e}"),
        }
    }
}

impl std::error::Error for FrameError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FrameError::TooLarge { .. } => None,
            FrameError::Decode(e) | FrameError::Encode(e) => Some(e),
        }
    }
}

/// How [`read_available`] stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadEnd {
    /// The socket has nothing more to read now; it signals again when more arrives.
    Emptied,
    /// The taker asked to stop. More may be waiting, which the socket will not signal again
    /// (it is edge-triggered): read again once there is room.
    Stopped,
    /// The peer closed its side after what was read.
    Closed,
}

/// True where mio's poll is epoll or kqueue: there, a read that does not fill its buffer
/// has emptied the socket's receive queue, and data arriving later signals again. tokio
/// relies on the same (tokio-rs/tokio#5866).
const SHORT_READ_EMPTIES: bool = cfg!(any(
    target_os = "linux",
    target_os = "android",
    target_os = "illumos",
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly",
));

/// True if a poll event reports that the peer closed its side or the connection failed:
/// what [`read_available`] needs to know to read on to the end.
pub fn peer_closed(event: &mio::event::Event) -> bool {
    event.is_read_closed() || event.is_error()
}

/// Reads what an edge-triggered nonblocking stream has, through `buf`, handing each chunk to
/// `take`, which returns false to stop reading (after taking its chunk). An error means the
/// stream is broken.
///
/// It stops at the first read that does not fill `buf`, without the extra read that would
/// only report `WouldBlock`: under load that read is a third of all reads. Except when
/// `peer_closed`, which the poll event reports: a short read may leave the peer's close
/// unread, and a close already signalled is not signalled again, so it reads on to the end.
pub fn read_available(
    stream: &mut impl io::Read,
    buf: &mut [u8],
    peer_closed: bool,
    mut take: impl FnMut(&[u8]) -> bool,
) -> io::Result<ReadEnd> {
    loop {
        match stream.read(buf) {
            Ok(0) => return Ok(ReadEnd::Closed),
            Ok(n) => {
                let wants_more = take(&buf[..n]);
                if n < buf.len() && SHORT_READ_EMPTIES && !peer_closed {
                    return Ok(ReadEnd::Emptied);
                }
                if !wants_more {
                    return Ok(ReadEnd::Stopped);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(ReadEnd::Emptied),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Writes as much of `out` as a nonblocking stream takes now and removes what was written
/// from its front; the rest waits for the stream to signal it is writable. An error means
/// the stream is broken.
pub fn write_available(stream: &mut impl io::Write, out: &mut Vec<u8>) -> io::Result<()> {
    let mut written = 0;
    while written < out.len() {
        match stream.write(&out[written..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    out.drain(..written);
    Ok(())
}

/// Appends one frame holding `value` as JSON to `out`. On error `out` is left
/// as it was.
pub fn encode_frame<T: Serialize>(value: &T, out: &mut Vec<u8>) -> Result<(), FrameError> {
    let start = out.len();
    out.extend_from_slice(&[0; PREFIX_LEN]);
    if let Err(e) = serde_json::to_writer(&mut *out, value) {
        out.truncate(start);
        return Err(FrameError::Encode(e));
    }
    let len = out.len() - start - PREFIX_LEN;
    // MAX_FRAME_LEN is below u32::MAX, so a length that passes fits the prefix.
    let Some(len) = u32::try_from(len)
        .ok()
        .filter(|&l| l as usize <= MAX_FRAME_LEN)
    else {
        out.truncate(start);
        return Err(FrameError::TooLarge {
            len: len as u64,
            max: MAX_FRAME_LEN,
        });
    };
    out[start..start + PREFIX_LEN].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

/// Reassembles frames from a byte stream.
///
/// Feed it with [`extend`](FrameDecoder::extend) and then call
/// [`next_frame`](FrameDecoder::next_frame) until it returns `Ok(None)`.
/// Consumed frames are not removed one by one: the buffer is compacted once
/// consumed bytes make up at least half of it, so many small frames in one
/// chunk cost one copy of the leftover, not one copy each.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    /// Bytes of `buf` before this offset have been consumed.
    start: usize,
    max_frame_len: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        FrameDecoder::new(MAX_FRAME_LEN)
    }
}

impl FrameDecoder {
    /// A decoder that rejects frames longer than `max_frame_len` bytes.
    pub fn new(max_frame_len: usize) -> Self {
        FrameDecoder {
            buf: Vec::new(),
            start: 0,
            max_frame_len,
        }
    }

    /// Reads everything `stream` has into the decoder through `buf`, with no limit of its
    /// own (the frame limit still applies when frames are taken): [`read_available`] with
    /// the decoder as the taker.
    pub fn read_from(
        &mut self,
        stream: &mut impl io::Read,
        buf: &mut [u8],
        peer_closed: bool,
    ) -> io::Result<ReadEnd> {
        read_available(stream, buf, peer_closed, |chunk| {
            self.extend(chunk);
            true
        })
    }

    /// Adds bytes received from the stream.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.compact();
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, decoded, or `None` if more bytes are needed.
    pub fn next_frame<T: DeserializeOwned>(&mut self) -> Result<Option<T>, FrameError> {
        match self.next_payload()? {
            None => Ok(None),
            Some(payload) => serde_json::from_slice(payload)
                .map(Some)
                .map_err(FrameError::Decode),
        }
    }

    /// The next complete frame's payload, undecoded, or `None` if more bytes
    /// are needed. A length above the limit is an error as soon as its
    /// prefix has arrived, and stays one: the stream cannot be resynced.
    pub fn next_payload(&mut self) -> Result<Option<&[u8]>, FrameError> {
        let pending = &self.buf[self.start..];
        let Some((prefix, rest)) = pending.split_first_chunk::<PREFIX_LEN>() else {
            return Ok(None);
        };
        let len = u32::from_be_bytes(*prefix) as usize;
        if len > self.max_frame_len {
            return Err(FrameError::TooLarge {
                len: len as u64,
                max: self.max_frame_len,
            });
        }
        if rest.len() < len {
            return Ok(None);
        }
        let payload_start = self.start + PREFIX_LEN;
        self.start = payload_start + len;
        Ok(Some(&self.buf[payload_start..self.start]))
    }

    /// Bytes received but not yet returned as frames: a partial frame, if
    /// the stream ends with this non-zero.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Drops consumed bytes once they are at least half the buffer, which
    /// keeps the total copying linear in the bytes received.
    fn compact(&mut self) {
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_layout_is_big_endian_length_then_json() {
        let mut out = Vec::new();
        encode_frame(&[1, 2], &mut out).unwrap();
        assert_eq!(out, b"\0\0\0\x05[1,2]");
    }

    #[test]
    fn oversized_prefix_is_rejected_before_the_payload() {
        let mut decoder = FrameDecoder::new(10);
        decoder.extend(&11u32.to_be_bytes()[..3]);
        assert!(decoder.next_payload().unwrap().is_none());
        decoder.extend(&[11]);
        let err = decoder.next_payload().unwrap_err();
        assert!(matches!(err, FrameError::TooLarge { len: 11, max: 10 }));
        assert!(decoder.next_payload().is_err(), "the error is sticky");
    }

    #[test]
    fn compaction_keeps_partial_frame() {
        let mut bytes = Vec::new();
        for i in 0..3 {
            encode_frame(&i, &mut bytes).unwrap();
        }
        let mut decoder = FrameDecoder::default();
        decoder.extend(&bytes[..bytes.len() - 1]);
        assert_eq!(decoder.next_frame::<u32>().unwrap(), Some(0));
        assert_eq!(decoder.next_frame::<u32>().unwrap(), Some(1));
        assert_eq!(decoder.next_frame::<u32>().unwrap(), None);
        decoder.extend(&bytes[bytes.len() - 1..]);
        assert_eq!(decoder.start, 0, "consumed bytes were dropped");
        assert_eq!(decoder.next_frame::<u32>().unwrap(), Some(2));
        assert_eq!(decoder.buffered(), 0);
    }

    /// A socket that takes `room` more bytes, at most `per_call` a write, then would block.
    struct Socket {
        taken: Vec<u8>,
        room: usize,
        per_call: usize,
    }

    impl io::Write for Socket {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(self.room).min(self.per_call);
            if n == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            self.taken.extend_from_slice(&buf[..n]);
            self.room -= n;
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn write_available_keeps_what_the_socket_did_not_take() {
        let mut socket = Socket {
            taken: Vec::new(),
            room: 7,
            per_call: 3,
        };
        let mut out = b"0123456789".to_vec();
        write_available(&mut socket, &mut out).unwrap();
        assert_eq!(socket.taken, b"0123456");
        assert_eq!(out, b"789");
        socket.room = 100;
        write_available(&mut socket, &mut out).unwrap();
        assert_eq!(socket.taken, b"0123456789");
        assert!(out.is_empty());
    }

    #[test]
    fn a_socket_taking_nothing_without_blocking_is_broken() {
        struct Closed;
        impl io::Write for Closed {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Ok(0)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut out = b"x".to_vec();
        let error = write_available(&mut Closed, &mut out).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::WriteZero);
        assert_eq!(out, b"x");
    }

    /// A nonblocking socket that has `queued` bytes, then the peer's close if `closed`,
    /// counting the reads made.
    struct Incoming {
        queued: Vec<u8>,
        closed: bool,
        interrupt_first: bool,
        reads: usize,
    }

    impl Incoming {
        fn new(queued: &[u8], closed: bool) -> Incoming {
            Incoming {
                queued: queued.to_vec(),
                closed,
                interrupt_first: false,
                reads: 0,
            }
        }
    }

    impl io::Read for Incoming {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.reads += 1;
            if std::mem::take(&mut self.interrupt_first) {
                return Err(io::ErrorKind::Interrupted.into());
            }
            if self.queued.is_empty() {
                return match self.closed {
                    true => Ok(0),
                    false => Err(io::ErrorKind::WouldBlock.into()),
                };
            }
            let n = buf.len().min(self.queued.len());
            buf[..n].copy_from_slice(&self.queued[..n]);
            self.queued.drain(..n);
            Ok(n)
        }
    }

    /// Reads `socket` through a 4-byte buffer; returns how it ended and what was taken.
    fn read_all(socket: &mut Incoming, peer_closed: bool, limit: usize) -> (ReadEnd, Vec<u8>) {
        let mut taken = Vec::new();
        let end = read_available(socket, &mut [0; 4], peer_closed, |chunk| {
            taken.extend_from_slice(chunk);
            taken.len() < limit
        })
        .unwrap();
        (end, taken)
    }

    #[test]
    fn a_short_read_ends_reading_without_asking_again() {
        let mut socket = Incoming::new(b"0123456789", false);
        let (end, taken) = read_all(&mut socket, false, usize::MAX);
        assert_eq!(end, ReadEnd::Emptied);
        assert_eq!(taken, b"0123456789");
        let expected = if SHORT_READ_EMPTIES { 3 } else { 4 };
        assert_eq!(
            socket.reads, expected,
            "4 + 4 + a short 2, then no WouldBlock read"
        );
    }

    #[test]
    fn a_full_read_reads_again_until_the_socket_would_block() {
        let mut socket = Incoming::new(b"01234567", false);
        socket.interrupt_first = true;
        let (end, taken) = read_all(&mut socket, false, usize::MAX);
        assert_eq!(end, ReadEnd::Emptied);
        assert_eq!(taken, b"01234567");
        assert_eq!(socket.reads, 4, "interrupted, 4, 4, WouldBlock");
    }

    #[test]
    fn a_reported_close_is_read_past_a_short_read() {
        let mut socket = Incoming::new(b"012345", true);
        let (end, taken) = read_all(&mut socket, true, usize::MAX);
        assert_eq!(end, ReadEnd::Closed);
        assert_eq!(taken, b"012345");
    }

    #[test]
    fn a_taker_that_is_full_stops_reading_with_more_waiting() {
        let mut socket = Incoming::new(b"0123456789", false);
        let (end, taken) = read_all(&mut socket, false, 4);
        assert_eq!(end, ReadEnd::Stopped);
        assert_eq!(taken, b"0123");
        assert_eq!(
            socket.queued, b"456789",
            "left in the socket for the next read"
        );
    }
}
