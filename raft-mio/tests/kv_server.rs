//! The key-value server's client loop and the handle's asynchronous execute, in-process: a
//! one-server cluster, `serve_clients` on a loopback port, and raw client connections that
//! pipeline, half-close and misbehave.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::PATIENCE;
use raft_core::{Header, LogLevel, Payload, Record};
use raft_mio::codec::{FrameDecoder, encode_frame};
use raft_mio::filelog::{Parsed, parse};
use raft_mio::kv::cluster::free_port;
use raft_mio::kv::{KvCommand, KvReply, KvResponse, KvStore, serve_clients};
use raft_mio::{CommandError, Exit, Handle, Node, NodeConfig, create_cluster};

/// A running one-server cluster with its client port.
struct Served {
    dir: PathBuf,
    handle: Handle,
    client: SocketAddr,
    node: Option<thread::JoinHandle<Result<Exit, raft_mio::NodeError>>>,
}

impl Served {
    fn start(name: &str) -> Served {
        let dir = std::env::temp_dir().join(format!("raft-mio-kvs-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("kv.db");
        let local = format!("tcp:127.0.0.1:{}", free_port().unwrap());
        create_cluster(&path, "kv", &local, None, b"{}".to_vec()).unwrap();
        let config = NodeConfig {
            logger: std::sync::Arc::new(|_: LogLevel, _: &str| {}),
            ..NodeConfig::default()
        };
        let node = Node::open(&path, KvStore::default(), config).unwrap();
        let handle = node.handle();
        let node = thread::spawn(move || node.run());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = listener.local_addr().unwrap();
        let h = handle.clone();
        thread::spawn(move || serve_clients(listener, h, PATIENCE));
        Served {
            dir,
            handle,
            client,
            node: Some(node),
        }
    }

    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.client).unwrap();
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        s
    }

    fn stop(&mut self) {
        self.handle.shutdown();
        if let Some(node) = self.node.take() {
            assert_eq!(node.join().unwrap().unwrap(), Exit::Shutdown);
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.stop();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn frames(commands: &[KvCommand]) -> Vec<u8> {
    let mut out = Vec::new();
    for c in commands {
        encode_frame(c, &mut out).unwrap();
    }
    out
}

/// Reads responses until `n` arrived or the server closed the connection.
fn responses(s: &mut TcpStream, n: usize) -> (Vec<KvResponse>, bool) {
    let mut decoder = FrameDecoder::default();
    let mut got = Vec::new();
    let mut buf = [0; 4096];
    while got.len() < n {
        if let Some(r) = decoder.next_frame().unwrap() {
            got.push(r);
            continue;
        }
        match s.read(&mut buf).expect("an answer in time") {
            0 => return (got, true),
            k => decoder.extend(&buf[..k]),
        }
    }
    (got, false)
}

fn put(key: &str, value: &str) -> KvCommand<'static> {
    KvCommand::Put {
        key: key.to_owned().into(),
        value: value.to_owned().into(),
    }
}

fn get(key: &str) -> KvCommand<'static> {
    KvCommand::Get {
        key: key.to_owned().into(),
    }
}

#[test]
fn pipelined_commands_are_answered_in_order() {
    let served = Served::start("pipeline");
    let mut s = served.connect();
    // More than the in-flight window of one connection, in one write.
    let mut commands = Vec::new();
    for i in 0..100 {
        commands.push(put("k", &i.to_string()));
        commands.push(get("k"));
    }
    s.write_all(&frames(&commands)).unwrap();
    let (got, closed) = responses(&mut s, commands.len());
    assert!(!closed);
    assert_each_get_sees_its_put(&got);
}

/// `got` answers pairs of a put of `i` and a get, for i = 0, 1, ...: each put succeeded and
/// each get saw the put just before it.
fn assert_each_get_sees_its_put(got: &[KvResponse]) {
    for (i, pair) in got.chunks(2).enumerate() {
        assert_eq!(pair[0], KvResponse::Reply(KvReply::Ok));
        assert_eq!(
            pair[1],
            KvResponse::Reply(KvReply::Value(Some(i.to_string()))),
            "pair {i}: the get sees the put just before it"
        );
    }
}

/// A client that writes far more than the server's window and buffers hold, reading its
/// answers only as it goes: everything is answered, in order (the server stops reading it
/// while its answers wait unwritten, and resumes as they drain).
#[test]
fn a_flood_of_pipelined_commands_is_answered_in_order() {
    const N: usize = 20_000;
    let served = Served::start("flood");
    let mut s = served.connect();
    let mut writer = s.try_clone().unwrap();
    let sender = thread::spawn(move || {
        // About 5 MB: more than the server's read buffer limit and the sockets' buffers.
        let value = "v".repeat(200);
        let commands: Vec<_> = (0..N)
            .map(|i| put(&format!("k{}", i % 100), &value))
            .collect();
        writer.write_all(&frames(&commands)).unwrap();
    });
    let (got, closed) = responses(&mut s, N);
    sender.join().unwrap();
    assert!(!closed);
    assert_eq!(got.len(), N);
    assert!(got.iter().all(|r| *r == KvResponse::Reply(KvReply::Ok)));
}

/// Commands of several connections arriving together are gathered into shared entries (JSON
/// arrays in the log), and each connection still gets its own answers, in its order.
#[test]
fn commands_of_many_connections_share_entries_and_keep_their_own_answers() {
    const CONNS: usize = 4;
    const PAIRS: usize = 30;
    let mut served = Served::start("batches");
    let mut streams: Vec<TcpStream> = (0..CONNS).map(|_| served.connect()).collect();
    for (c, s) in streams.iter_mut().enumerate() {
        let commands: Vec<_> = (0..PAIRS)
            .flat_map(|i| [put(&format!("c{c}"), &i.to_string()), get(&format!("c{c}"))])
            .collect();
        s.write_all(&frames(&commands)).unwrap();
    }
    for s in &mut streams {
        let (got, closed) = responses(s, 2 * PAIRS);
        assert!(!closed);
        assert_each_get_sees_its_put(&got);
    }
    served.stop();
    let sizes = commands_per_entry(&served.dir.join("kv.db"));
    assert!(
        sizes.iter().any(|&n| n > 1),
        "some entry holds several commands: {sizes:?}"
    );
    assert_eq!(
        sizes.iter().sum::<usize>(),
        CONNS * 2 * PAIRS,
        "every command is in the log once"
    );
}

/// How many key-value commands each data entry of the log at `path` holds, in log order.
fn commands_per_entry(path: &Path) -> Vec<usize> {
    let bytes = fs::read(path).unwrap();
    let parsed: Parsed<Header, Record> = parse(path, &bytes).unwrap();
    let data = parsed
        .recovered
        .records
        .into_iter()
        .filter_map(|r| match r {
            Record::Entry { entry, .. } => match entry.payload {
                Payload::Data { data, .. } => Some(data),
                _ => None,
            },
            _ => None,
        });
    data.map(|d| {
        let one = serde_json::from_slice::<KvCommand>(d.as_bytes()).map(|_| 1);
        one.or_else(|_| serde_json::from_slice::<Vec<KvCommand>>(d.as_bytes()).map(|b| b.len()))
            .expect("every data entry is a command or a batch")
    })
    .collect()
}

#[test]
fn a_half_closed_client_gets_every_answer_then_the_end() {
    let served = Served::start("half-close");
    let mut s = served.connect();
    s.write_all(&frames(&[put("a", "1"), put("b", "2"), get("a")]))
        .unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let (got, closed) = responses(&mut s, 4);
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[2], KvResponse::Reply(KvReply::Value(Some("1".into()))));
    assert!(closed, "the server closes once it answered");
}

#[test]
fn garbage_after_a_command_is_refused_after_the_command_is_answered() {
    let served = Served::start("garbage");
    let mut s = served.connect();
    let mut bytes = frames(&[put("x", "1")]);
    bytes.extend_from_slice(b"\0\0\0\x03abc");
    bytes.extend(frames(&[put("never", "1")]));
    s.write_all(&bytes).unwrap();
    let (got, closed) = responses(&mut s, 3);
    assert!(closed, "the server hangs up after the garbage: {got:?}");
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0], KvResponse::Reply(KvReply::Ok));
    let KvResponse::Error {
        message,
        certainly_not_applied,
    } = &got[1]
    else {
        panic!("garbage answered with {:?}", got[1]);
    };
    assert!(message.contains("undecodable command"), "{message}");
    assert!(certainly_not_applied);
    let mut again = served.connect();
    again.write_all(&frames(&[get("never")])).unwrap();
    let (got, _) = responses(&mut again, 1);
    assert_eq!(
        got,
        [KvResponse::Reply(KvReply::Value(None))],
        "nothing after the garbage was executed"
    );
}

#[test]
fn execute_then_answers_exactly_once_even_when_the_node_is_gone() {
    let mut served = Served::start("stopped");
    let (tx, rx) = mpsc::channel();
    let command = serde_json::to_vec(&put("k", "v")).unwrap();
    let done = tx.clone();
    served
        .handle
        .execute_then(command.clone(), Box::new(move |r| done.send(r).unwrap()));
    let reply = rx.recv_timeout(PATIENCE).expect("an answer");
    assert_eq!(
        serde_json::from_slice::<KvReply>(&reply.unwrap()).unwrap(),
        KvReply::Ok
    );

    served.stop();
    for _ in 0..3 {
        let done = tx.clone();
        served
            .handle
            .execute_then(command.clone(), Box::new(move |r| done.send(r).unwrap()));
    }
    drop(tx);
    let answers: Vec<_> = rx.iter().collect();
    assert_eq!(answers.len(), 3, "one answer per command, and no more");
    for a in answers {
        assert_eq!(a, Err(CommandError::Stopped));
    }
    assert_eq!(
        served.handle.execute(command, Duration::from_secs(1)),
        Err(CommandError::Stopped)
    );
}
