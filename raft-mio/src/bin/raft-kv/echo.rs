//! The client protocol's ceiling on this machine, for `raft-kv bench`: a server that answers
//! every request frame at once with a canned reply, in one poll loop, with no Raft, log or
//! state machine behind it. The load generator against it measures what the clients' TCP
//! round trips alone cost, so the Raft figures can be read against it.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use raft_mio::codec::{FrameDecoder, encode_frame, peer_closed};
use raft_mio::kv::{KvReply, KvResponse};

const LISTENER: Token = Token(usize::MAX);

/// A running echo server; stopped and joined on drop.
pub(crate) struct Echo {
    pub(crate) address: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl Echo {
    pub(crate) fn start() -> io::Result<Echo> {
        let mut listener = TcpListener::bind("127.0.0.1:0".parse().expect("an address"))?;
        let address = listener.local_addr()?;
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = thread::spawn(move || serve(poll, listener, &flag));
        Ok(Echo {
            address,
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(mut poll: Poll, listener: TcpListener, stop: &AtomicBool) -> io::Result<()> {
    let mut reply = Vec::new();
    encode_frame(&KvResponse::Reply(KvReply::Ok), &mut reply).map_err(io::Error::other)?;
    let mut conns: Vec<(TcpStream, FrameDecoder)> = Vec::new();
    let mut events = Events::with_capacity(256);
    let mut buf = vec![0; 64 * 1024];
    let mut out = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        poll.poll(&mut events, Some(Duration::from_millis(50)))?;
        for event in events.iter() {
            if event.token() == LISTENER {
                while let Ok((mut stream, _)) = listener.accept() {
                    stream.set_nodelay(true)?;
                    poll.registry().register(
                        &mut stream,
                        Token(conns.len()),
                        Interest::READABLE,
                    )?;
                    conns.push((stream, FrameDecoder::default()));
                }
                continue;
            }
            let (stream, decoder) = &mut conns[event.token().0];
            // A client that closed is simply no longer answered.
            decoder.read_from(stream, &mut buf, peer_closed(event))?;
            out.clear();
            while decoder.next_payload().map_err(io::Error::other)?.is_some() {
                out.extend_from_slice(&reply);
            }
            if !out.is_empty() {
                // The client waits for this answer before it sends again, so it fits.
                stream.write_all(&out)?;
            }
        }
    }
    Ok(())
}
