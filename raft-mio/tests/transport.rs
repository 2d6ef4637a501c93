//! The transport against a raw TCP peer: oversized frames, inactivity probes and backlog
//! limits each end the connection with `Event::Disconnected`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use mio::{Events, Poll};
use raft_core::{Address, ConnId, Event, Message, Millis, Rpc, ServerId};
use raft_mio::kv::cluster::free_port;
use raft_mio::transport::{Limits, Transport};

const DEADLINE: Duration = Duration::from_secs(10);

struct Rig {
    poll: Poll,
    transport: Transport,
    start: Instant,
}

impl Rig {
    fn new(limits: Limits) -> (Rig, std::net::SocketAddr) {
        let poll = Poll::new().unwrap();
        let port = free_port().unwrap();
        let local = Address::parse(&format!("tcp:127.0.0.1:{port}")).unwrap();
        let transport = Transport::listen(poll.registry(), &local, limits).unwrap();
        let rig = Rig {
            poll,
            transport,
            start: Instant::now(),
        };
        (rig, local.socket_addr())
    }

    fn now(&self) -> Millis {
        Millis(self.start.elapsed().as_millis() as u64)
    }

    /// Polls and ticks until an event matching `want` arrives; panics at the deadline.
    fn until(&mut self, what: &str, mut want: impl FnMut(&Event) -> bool) -> Event {
        let mut events = Events::with_capacity(64);
        while self.start.elapsed() < DEADLINE {
            self.poll
                .poll(&mut events, Some(Duration::from_millis(10)))
                .unwrap();
            let now = self.now();
            for e in events.iter() {
                self.transport.ready(self.poll.registry(), e, now);
            }
            self.transport.tick(self.poll.registry(), now);
            self.transport.flush_all(self.poll.registry());
            if let Some(e) = self.transport.take_events().into_iter().find(&mut want) {
                return e;
            }
        }
        panic!("timed out waiting for {what}");
    }

    fn accept(&mut self) -> ConnId {
        match self.until("a connection", |e| matches!(e, Event::Connected { .. })) {
            Event::Connected { conn, incoming, .. } => {
                assert!(incoming);
                conn
            }
            _ => unreachable!(),
        }
    }

    fn disconnected(&mut self, conn: ConnId) {
        self.until("the disconnection", |e| *e == Event::Disconnected { conn });
    }
}

fn limits() -> Limits {
    Limits::new(1000, (500, usize::MAX), 1 << 16)
}

#[test]
fn a_frame_above_the_limit_disconnects_the_peer() {
    let (mut rig, addr) = Rig::new(limits());
    let mut peer = TcpStream::connect(addr).unwrap();
    let conn = rig.accept();
    peer.write_all(&(1u32 << 20).to_be_bytes()).unwrap();
    rig.disconnected(conn);
    let mut buf = [0; 16];
    assert_eq!(peer.read(&mut buf).unwrap_or(0), 0, "the socket was closed");
}

#[test]
fn a_silent_peer_is_probed_and_then_dropped() {
    let mut l = limits();
    l.probe_interval_ms = 100;
    let (mut rig, addr) = Rig::new(l);
    let mut peer = TcpStream::connect(addr).unwrap();
    let conn = rig.accept();
    rig.disconnected(conn);
    let mut got = Vec::new();
    let _ = peer.read_to_end(&mut got);
    assert_eq!(got, b"\0\0\0\x07\"probe\"", "one probe, then the close");
}

#[test]
fn a_backlog_above_the_threshold_disconnects() {
    let (mut rig, addr) = Rig::new(Limits::new(1000, (50, 64 << 10), 1 << 16));
    // A peer that never reads: the kernel's buffers fill, then the backlog grows.
    let _peer = TcpStream::connect(addr).unwrap();
    let conn = rig.accept();
    let message = Message {
        cluster: None,
        from: ServerId::from_u128(1),
        to: None,
        comment: Some("x".repeat(4000)),
        rpc: Rpc::Hello {
            address: Address::parse("tcp:127.0.0.1:1").unwrap(),
        },
    };
    for _ in 0..20_000 {
        rig.transport
            .send(rig.poll.registry(), conn, Box::new(message.clone()));
    }
    rig.disconnected(conn);
}
