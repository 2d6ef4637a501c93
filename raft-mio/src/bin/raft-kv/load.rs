//! The load generator of `raft-kv bench`: closed-loop clients, each its own TCP connection
//! with one command outstanding at a time, all driven by one thread's poll loop, so the
//! generator's cost per command is a read and a write, not two thread switches.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use raft_mio::codec::{FrameDecoder, encode_frame};
use raft_mio::kv::{KvCommand, KvResponse};

/// How long a command may go unanswered before the run is abandoned.
const STALL: Duration = Duration::from_secs(10);

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

/// One closed-loop client.
struct Client {
    number: usize,
    stream: TcpStream,
    decoder: FrameDecoder,
    out: Vec<u8>,
    /// Commands sent so far.
    sent: u64,
    /// When the outstanding command was sent.
    since: Instant,
}

impl Client {
    fn connect(number: usize, address: SocketAddr, poll: &Poll) -> io::Result<Client> {
        let stream = std::net::TcpStream::connect_timeout(&address, STALL)?;
        stream.set_nodelay(true)?;
        stream.set_nonblocking(true)?;
        let mut stream = TcpStream::from_std(stream);
        poll.registry()
            .register(&mut stream, Token(number), Interest::READABLE)?;
        Ok(Client {
            number,
            stream,
            decoder: FrameDecoder::default(),
            out: Vec::new(),
            sent: 0,
            since: Instant::now(),
        })
    }

    /// Sends the next put: 1000 keys per client, so the store stays small.
    fn send_next(&mut self) -> io::Result<()> {
        self.sent += 1;
        let put = KvCommand::Put {
            key: format!("c{}-{}", self.number, self.sent % 1000),
            value: format!("v{}", self.sent),
        };
        self.out.clear();
        encode_frame(&put, &mut self.out).map_err(io::Error::other)?;
        self.since = Instant::now();
        // A frame this small fits an empty socket buffer: one write, or the socket is broken.
        match self.stream.write(&self.out)? {
            n if n == self.out.len() => Ok(()),
            _ => Err(io::Error::other("short write of a small frame")),
        }
    }

    /// Reads the answers that arrived; for each, records it and sends the next command.
    fn receive(&mut self, buf: &mut [u8], tally: &mut Tally) -> io::Result<()> {
        loop {
            match self.stream.read(buf) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => self.decoder.extend(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        while let Some(response) = self
            .decoder
            .next_frame::<KvResponse>()
            .map_err(io::Error::other)?
        {
            match response {
                KvResponse::Reply(_) => tally.latencies.push(self.since.elapsed()),
                KvResponse::Error { .. } => tally.failed += 1,
            }
            self.send_next()?;
        }
        Ok(())
    }
}

/// Runs `clients` closed-loop writers for `duration` against the server that `leader` names
/// among `addresses`, moving every client to the new leader when it changes (commands in
/// flight then are neither counted nor failed). Commands in flight at `stop` are not counted
/// either.
pub(crate) fn run(
    clients: usize,
    addresses: &[SocketAddr],
    leader: &AtomicUsize,
    stop: &AtomicBool,
) -> Result<Tally, String> {
    let mut poll = Poll::new().map_err(|e| format!("poll: {e}"))?;
    let mut tally = Tally::default();
    let mut buf = vec![0; 64 * 1024];
    let mut events = Events::with_capacity(clients.max(16));
    'leaders: loop {
        let at = leader.load(Ordering::Relaxed);
        let mut fleet = connect_all(clients, addresses[at], &poll)?;
        let mut last_answer = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            if leader.load(Ordering::Relaxed) != at {
                continue 'leaders;
            }
            poll.poll(&mut events, Some(Duration::from_millis(10)))
                .map_err(|e| format!("poll: {e}"))?;
            for event in events.iter() {
                let answered = tally.answered();
                fleet[event.token().0]
                    .receive(&mut buf, &mut tally)
                    .map_err(|e| format!("{}: {e}", addresses[at]))?;
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

fn connect_all(clients: usize, address: SocketAddr, poll: &Poll) -> Result<Vec<Client>, String> {
    (0..clients)
        .map(|number| {
            let mut client = Client::connect(number, address, poll)?;
            client.send_next()?;
            Ok(client)
        })
        .collect::<io::Result<_>>()
        .map_err(|e| format!("{address}: {e}"))
}
