//! The load generator of `raft-kv bench`: closed-loop clients, each with one command
//! outstanding at a time, spread over a number of TCP connections (as etcd's benchmark
//! spreads `--clients` over `--conns`), all driven by one thread's poll loop.
//!
//! With one connection per client, every command costs a read and a write on each side.
//! Clients sharing a connection pipeline on it: the answers that arrive together are read
//! together, and the commands that follow them go out in one write, which is what a client
//! library multiplexing its callers over one connection does.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use raft_mio::codec::{FrameDecoder, ReadEnd, encode_frame, peer_closed, write_available};
use raft_mio::kv::{KvCommand, KvResponse};

/// How long a command may go unanswered before the run is abandoned.
const STALL: Duration = Duration::from_secs(10);

/// The shape of a load: how many closed-loop clients, over how many connections.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shape {
    pub(crate) clients: usize,
    pub(crate) conns: usize,
}

/// What the clients measured.
#[derive(Default)]
pub(crate) struct Tally {
    /// The latency of every committed command.
    pub(crate) latencies: Vec<Duration>,
    /// Commands the servers answered with an error (such as a leadership change).
    pub(crate) failed: u64,
}

impl Tally {
    fn answered(&self) -> usize {
        self.latencies.len() + self.failed as usize
    }
}

/// One connection and the clients on it.
struct Conn {
    stream: TcpStream,
    decoder: FrameDecoder,
    /// Encoded commands not yet written.
    out: Vec<u8>,
    /// The clients whose commands are in flight, in the order they were sent (the server
    /// answers in that order), with when each was sent.
    waiting: VecDeque<(usize, Instant)>,
}

impl Conn {
    fn connect(token: usize, address: SocketAddr, poll: &Poll) -> io::Result<Conn> {
        let stream = std::net::TcpStream::connect_timeout(&address, STALL)?;
        stream.set_nodelay(true)?;
        stream.set_nonblocking(true)?;
        let mut stream = TcpStream::from_std(stream);
        poll.registry().register(
            &mut stream,
            Token(token),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        Ok(Conn {
            stream,
            decoder: FrameDecoder::default(),
            out: Vec::new(),
            waiting: VecDeque::new(),
        })
    }

    /// Queues client `client`'s next put, sent `now` (the commands queued together go out
    /// in one write): 1000 keys per client, so the store stays small.
    fn queue(&mut self, client: usize, sent: &mut u64, now: Instant) -> io::Result<()> {
        *sent += 1;
        let put = KvCommand::Put {
            key: format!("c{client}-{}", *sent % 1000).into(),
            value: format!("v{sent}").into(),
        };
        encode_frame(&put, &mut self.out).map_err(io::Error::other)?;
        self.waiting.push_back((client, now));
        Ok(())
    }

    /// Writes what the socket takes of the queued commands; the rest goes out when the
    /// socket signals it is writable again.
    fn flush(&mut self) -> io::Result<()> {
        write_available(&mut self.stream, &mut self.out)
    }

    /// Reads the answers that arrived; for each, records it and queues that client's next
    /// command; then writes them all.
    /// `peer_closed` if the poll event reported the server's close.
    fn receive(
        &mut self,
        buf: &mut [u8],
        peer_closed: bool,
        sent: &mut [u64],
        tally: &mut Tally,
    ) -> io::Result<()> {
        if self.decoder.read_from(&mut self.stream, buf, peer_closed)? == ReadEnd::Closed {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        // One clock reading for the answers read together: they arrived together, and the
        // commands that follow them leave together, in the write below.
        let now = Instant::now();
        while let Some(response) = self
            .decoder
            .next_frame::<KvResponse>()
            .map_err(io::Error::other)?
        {
            let (client, since) = self
                .waiting
                .pop_front()
                .ok_or_else(|| io::Error::other("an answer to no command"))?;
            match response {
                KvResponse::Reply(_) => tally.latencies.push(now - since),
                KvResponse::Error { .. } => tally.failed += 1,
            }
            self.queue(client, &mut sent[client], now)?;
        }
        self.flush()
    }
}

/// Runs `shape.clients` closed-loop writers, spread round-robin over `shape.conns`
/// connections, against the server that `leader` names among `addresses`, moving every
/// connection to the new leader when it changes (commands in flight then are neither counted
/// nor failed). Commands in flight at `stop` are not counted either.
pub(crate) fn run(
    shape: Shape,
    addresses: &[SocketAddr],
    leader: &AtomicUsize,
    stop: &AtomicBool,
) -> Result<Tally, String> {
    let mut poll = Poll::new().map_err(|e| format!("poll: {e}"))?;
    let mut tally = Tally::default();
    let mut buf = vec![0; 64 * 1024];
    let mut sent = vec![0; shape.clients];
    let mut events = Events::with_capacity(shape.conns.max(16));
    'leaders: loop {
        let at = leader.load(Ordering::Relaxed);
        let mut conns = connect_all(shape, addresses[at], &poll, &mut sent)?;
        let mut last_answer = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            if leader.load(Ordering::Relaxed) != at {
                continue 'leaders;
            }
            poll.poll(&mut events, Some(Duration::from_millis(10)))
                .map_err(|e| format!("poll: {e}"))?;
            for event in events.iter() {
                let answered = tally.answered();
                let conn = &mut conns[event.token().0];
                let closed = peer_closed(event);
                let result = if event.is_readable() || closed {
                    conn.receive(&mut buf, closed, &mut sent, &mut tally)
                } else {
                    conn.flush()
                };
                result.map_err(|e| format!("{}: {e}", addresses[at]))?;
                if tally.answered() > answered {
                    last_answer = Instant::now();
                }
            }
            if last_answer.elapsed() > STALL {
                return Err(format!("no answer from {} in {STALL:?}", addresses[at]));
            }
        }
        return Ok(tally);
    }
}

/// Connects `shape.conns` connections and sends every client's first command.
fn connect_all(
    shape: Shape,
    address: SocketAddr,
    poll: &Poll,
    sent: &mut [u64],
) -> Result<Vec<Conn>, String> {
    let conns = shape.conns.clamp(1, shape.clients.max(1));
    let mut all = (0..conns)
        .map(|token| Conn::connect(token, address, poll))
        .collect::<io::Result<Vec<_>>>()
        .map_err(|e| format!("{address}: {e}"))?;
    let now = Instant::now();
    for client in 0..shape.clients {
        all[client % conns]
            .queue(client, &mut sent[client], now)
            .map_err(|e| format!("{address}: {e}"))?;
    }
    for conn in &mut all {
        conn.flush().map_err(|e| format!("{address}: {e}"))?;
    }
    Ok(all)
}
