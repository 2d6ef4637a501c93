//! Bad input at every entry point of the adapter, against a real `raft-kv serve` process and
//! against `Node::open` in-process: oversized frames, garbage and half-open connections on the
//! Raft and client ports, more clients than descriptors, nonsense on the control socket, and
//! damaged log files (truncated at every byte of the last record, a flipped bit in every
//! record, a header of another format, version or application, a log held by another server).
//! Each gets a clear error, the server keeps serving where it can, and no acknowledged write
//! is lost.
//!
//! The file log's own recovery rules are tested byte by byte in `filelog_recovery.rs`, the
//! transport's limits against a raw peer in `transport.rs`, and the lock across processes in
//! `recovery.rs`; these tests are about what a server does with the same input.

mod common;

use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{PATIENCE, cluster, fail, frame_offsets, get, log_frames, put};
use raft_core::{LogLevel, Message, Rpc, ServerId};
use raft_mio::codec::encode_frame;
use raft_mio::filelog::{FileLog, MAGIC_LEN};
use raft_mio::kv::KvStore;
use raft_mio::kv::cluster::{Host, LocalCluster, free_port, wait_for};
use raft_mio::transport::Wire;
use raft_mio::{Node, NodeConfig, create_cluster};

/// How long the server may take to hang up on a misbehaving peer: the inactivity probe of a
/// server with the default election timer gives up after 2 × (1000 + 1000) ms.
const HANG_UP: Duration = Duration::from_secs(10);

/// Connects to `addr`, sends `bytes`, and waits until the server closes the connection.
fn send_and_expect_close(addr: SocketAddr, bytes: &[u8]) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(HANG_UP)).unwrap();
    s.write_all(bytes).expect("send");
    let mut buf = [0; 4096];
    // Anything the server sends first (a probe) is read and ignored; the end is EOF or reset.
    loop {
        match s.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("{addr}: the server did not hang up on {bytes:?} in {HANG_UP:?}")
            }
            Err(_) => return,
        }
    }
}

/// A frame of the peer protocol holding `wire`.
fn frame(wire: &Wire) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(wire, &mut out).unwrap();
    out
}

fn raft_addr(c: &LocalCluster) -> SocketAddr {
    c.servers[0]
        .raft
        .trim_start_matches("tcp:")
        .parse()
        .expect("a tcp: address")
}

/// Sends one request line to the control socket and returns the answer line, without
/// `control::call`'s unbounded waits.
fn control_raw(path: &Path, request: &[u8]) -> String {
    let mut s = UnixStream::connect(path).expect("connect to the control socket");
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    // A request the server refuses half way may fail to send in full; the answer still comes.
    let _ = s.write_all(request);
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut answer = String::new();
    s.read_to_string(&mut answer)
        .unwrap_or_else(|e| panic!("no answer to {request:?}: {e}"));
    answer
}

#[test]
fn garbage_on_every_port_is_refused_and_the_server_keeps_serving() {
    let c = cluster(1);
    put(&c, 0, "before", "1");
    let raft = raft_addr(&c);
    let client = c.servers[0].client;

    // The Raft port. A half-open connection first: half a frame, then silence, held open
    // while everything else happens; the server must neither stall nor keep it for ever.
    let mut half_open = TcpStream::connect(raft).unwrap();
    half_open.write_all(&[0, 0, 0, 50, b'{']).unwrap();
    let half_open_since = Instant::now();
    let stranger = Message {
        cluster: Some(raft_core::ClusterId::from_u128(99)),
        from: ServerId::from_u128(99),
        to: None,
        comment: None,
        rpc: Rpc::BecomeLeader {
            term: raft_core::Term(u64::MAX),
        },
    };
    for (what, bytes) in [
        ("an oversized frame", (1u32 << 31).to_be_bytes().to_vec()),
        ("HTTP", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        ("a frame that is not JSON", b"\0\0\0\x05hello".to_vec()),
        ("a JSON frame of another kind", b"\0\0\0\x02{}".to_vec()),
        (
            "a wire frame in the wrong case",
            b"\0\0\0\x07\"PROBE\"".to_vec(),
        ),
    ] {
        send_and_expect_close(raft, &bytes);
        put(&c, 0, what, "survived");
    }
    // A well-formed order from a server of another cluster is ignored, not obeyed.
    let mut s = TcpStream::connect(raft).unwrap();
    s.write_all(&frame(&Wire::Raft(Box::new(stranger))))
        .unwrap();
    put(&c, 0, "stranger", "ignored");
    assert_eq!(
        c.brief(0).map(|b| b.role),
        Some("leader".to_owned()),
        "a stranger cannot make the server step down"
    );
    drop(s);

    // The client port: its frames are limited to 1 MiB.
    let mut client_half_open = TcpStream::connect(client).unwrap();
    client_half_open.write_all(&[0, 0]).unwrap();
    for bytes in [
        (1u32 << 21).to_be_bytes().to_vec(),
        b"\0\0\0\x03abc".to_vec(),
        b"\0\0\0\x02{}".to_vec(),
    ] {
        send_and_expect_close(client, &bytes);
    }
    put(&c, 0, "client", "survived");

    // The half-open Raft connection is dropped by the inactivity probe.
    half_open.set_read_timeout(Some(HANG_UP)).unwrap();
    let mut rest = Vec::new();
    let _ = half_open.read_to_end(&mut rest);
    assert!(
        half_open_since.elapsed() < HANG_UP + Duration::from_secs(5),
        "the half-open connection was kept for {:?}",
        half_open_since.elapsed()
    );
    drop(client_half_open);

    // The log says why each connection was closed (its lines may trail the close a little).
    for reason in ["exceeds", "undecodable frame", "inactivity probe"] {
        wait_for(Duration::from_secs(5), reason, || {
            let log = fs::read_to_string(&c.servers[0].log).ok()?;
            log.contains(reason).then_some(())
        })
        .unwrap_or_else(|e| fail(&c, &e));
    }
    for key in ["before", "HTTP", "stranger", "client"] {
        assert!(get(&c, 0, key).is_some(), "{key} was acknowledged");
    }
}

/// Opens 100 connections to `addr`, more than server 0 has descriptors for, waits until its
/// log says `complaint`, and keeps only the last one (queued, not accepted): the others
/// leave, freeing the server's descriptors.
fn last_of_a_crowd(c: &LocalCluster, addr: SocketAddr, complaint: &str) -> TcpStream {
    let crowd: Vec<TcpStream> = (0..100)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    wait_for(HANG_UP, complaint, || {
        let log = fs::read_to_string(&c.servers[0].log).ok()?;
        log.contains(complaint).then_some(())
    })
    .unwrap_or_else(|e| fail(c, &e));
    let last = crowd.into_iter().last().unwrap();
    last.set_read_timeout(Some(HANG_UP)).unwrap();
    last
}

/// Clients and peers beyond the server's descriptor limit wait in the listen queues; the
/// server says it cannot accept, retries, and serves them once earlier ones leave (the
/// listeners, being edge-triggered, would not signal those waiting connections again).
#[test]
fn connections_beyond_the_descriptor_limit_are_served_once_others_leave() {
    if std::process::Command::new("prlimit")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("SKIPPED: no prlimit (util-linux) to lower the server's descriptor limit");
        return;
    }
    let mut c = LocalCluster::new(env!("CARGO_BIN_EXE_raft-kv").as_ref(), None).unwrap();
    let host = Host {
        prefix: ["prlimit", "--nofile=64", "--"].map(String::from).to_vec(),
        ..Host::default()
    };
    if let Err(e) = c.create_on(vec![host]) {
        fail(&c, &format!("creating a server under prlimit: {e}"));
    }
    put(&c, 0, "before", "1");
    let mut last = last_of_a_crowd(&c, c.servers[0].client, "cannot accept a client");
    let mut request = Vec::new();
    let get = raft_mio::kv::KvCommand::Get {
        key: "before".into(),
    };
    encode_frame(&get, &mut request).unwrap();
    last.write_all(&request).unwrap();
    let mut answer = [0; 64];
    let n = last
        .read(&mut answer)
        .unwrap_or_else(|e| fail(&c, &format!("the last client was never served: {e}")));
    assert!(
        String::from_utf8_lossy(&answer[..n]).contains(r#"{"reply":{"value":"1"}}"#),
        "{:?}",
        String::from_utf8_lossy(&answer[..n])
    );
    drop(last);

    // The Raft port the same way: the last of a crowd is accepted once the others leave, and
    // then hung up on by the inactivity probe, since it says nothing.
    let mut last = last_of_a_crowd(&c, raft_addr(&c), "accept failed");
    let mut rest = Vec::new();
    if let Err(e) = last.read_to_end(&mut rest)
        && matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
    {
        fail(&c, "the last Raft connection was never accepted");
    }
    put(&c, 0, "after", "1");
}

#[test]
fn nonsense_on_the_control_socket_gets_an_error_and_stalls_nothing() {
    let mut c = cluster(1);
    put(&c, 0, "k", "v");
    let control = c.servers[0].control.clone();

    // A client that connects and says nothing must not hold up the operator.
    let _silent = UnixStream::connect(&control).unwrap();
    let mut partial = UnixStream::connect(&control).unwrap();
    partial.write_all(b"[\"cluster/st").unwrap();

    for (request, want) in [
        (&b"hello\n"[..], "bad request"),
        (b"{\"cluster/status\":1}\n", "bad request"),
        (b"[1, 2]\n", "bad request"),
        (b"\xff\xfe\n", "bad request"),
        (b"[]\n", "no command given"),
        (b"[\"cluster/nope\"]\n", "unknown command"),
        (b"[\"cluster/kick\"]\n", "missing argument"),
        (
            b"[\"cluster/change-election-timer\", \"soon\"]\n",
            "must be a number",
        ),
        (b"[\"cluster/status\", \"extra\"]\n", "too many arguments"),
        (b"[\"cluster/failure-test\", \"no-such-test\"]\n", "error"),
    ] {
        let answer = control_raw(&control, request);
        assert!(
            answer.starts_with("{\"error\":") && answer.contains(want),
            "{request:?}: {answer}"
        );
    }
    // A line without end: refused once it is too long, not buffered for ever.
    let answer = control_raw(&control, &vec![b'['; 1 << 20]);
    assert!(answer.contains("longer than"), "{answer}");
    // A client that connects and hangs up at once.
    drop(UnixStream::connect(&control).unwrap());

    let status = c.ctl(0, &["cluster/status"]).expect("status still answers");
    assert!(status.contains("Role: leader"), "{status}");
    assert!(c.is_running(0));
    assert_eq!(get(&c, 0, "k").as_deref(), Some("v"));
    drop(partial);
}

// ---------------------------------------------------------------------------------------------
// Damaged logs, opened in-process with `Node::open`, the adapter's entry point for a log.

/// A one-server log with acknowledged puts, written by a real node, and where it lives.
struct Written {
    dir: PathBuf,
    path: PathBuf,
    keys: Vec<String>,
}

impl Drop for Written {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn quiet() -> NodeConfig {
    NodeConfig {
        logger: std::sync::Arc::new(|_: LogLevel, _: &str| {}),
        ..NodeConfig::default()
    }
}

/// Creates a cluster in a scratch directory, runs its node, puts `n` keys (each one
/// acknowledged) and shuts it down.
fn written(name: &str, n: usize) -> Written {
    let dir = std::env::temp_dir().join(format!("raft-mio-bad-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join("kv.db");
    let port = free_port().unwrap();
    create_cluster(
        &path,
        "kv",
        &format!("tcp:127.0.0.1:{port}"),
        None,
        b"{}".to_vec(),
    )
    .unwrap();
    let keys: Vec<String> = (0..n).map(|i| format!("key{i}")).collect();
    let node = Node::open(&path, KvStore::default(), quiet()).unwrap();
    let handle = node.handle();
    let runner = std::thread::spawn(move || node.run());
    for k in &keys {
        let put = raft_mio::kv::KvCommand::Put {
            key: k.as_str().into(),
            value: "v".into(),
        };
        handle
            .execute(serde_json::to_vec(&put).unwrap(), PATIENCE)
            .unwrap_or_else(|e| panic!("put {k}: {e}"));
    }
    handle.shutdown();
    runner.join().unwrap().unwrap();
    Written { dir, path, keys }
}

/// Opens the node on `path`, runs it, and reads back every key of `w`.
fn all_keys_readable(path: &Path, w: &Written) {
    let node = Node::open(path, KvStore::default(), quiet()).unwrap();
    let handle = node.handle();
    let runner = std::thread::spawn(move || node.run());
    for k in &w.keys {
        let get = raft_mio::kv::KvCommand::Get {
            key: k.as_str().into(),
        };
        let reply = handle
            .execute(serde_json::to_vec(&get).unwrap(), PATIENCE)
            .unwrap_or_else(|e| panic!("get {k}: {e}"));
        let reply: raft_mio::kv::KvReply = serde_json::from_slice(&reply).unwrap();
        assert_eq!(
            reply,
            raft_mio::kv::KvReply::Value(Some("v".into())),
            "{k} was acknowledged"
        );
    }
    handle.shutdown();
    runner.join().unwrap().unwrap();
}

fn open_error(path: &Path) -> String {
    match Node::open(path, KvStore::default(), quiet()) {
        Ok(_) => panic!("{} opened", path.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_log_cut_anywhere_in_its_last_record_opens_with_every_acknowledged_write() {
    let w = written("cut", 3);
    let bytes = log_frames(&w.path);
    let last = *frame_offsets(&bytes).last().unwrap();
    let copy = w.dir.join("cut.db");
    for cut in last + 1..bytes.len() {
        fs::write(&copy, &bytes[..cut]).unwrap();
        let node = Node::open(&copy, KvStore::default(), quiet())
            .unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        drop(node);
        assert_eq!(
            fs::metadata(&copy).unwrap().len(),
            last as u64,
            "cut at {cut}: the torn record was truncated away"
        );
    }
    // Every acknowledged put's entry comes before the last record, and the lone server
    // commits it again.
    fs::write(&copy, &bytes[..last + 1]).unwrap();
    all_keys_readable(&copy, &w);
}

#[test]
fn a_flipped_bit_in_any_record_is_refused_naming_file_offset_and_record() {
    let w = written("flip", 3);
    let bytes = log_frames(&w.path);
    let offsets = frame_offsets(&bytes);
    let copy = w.dir.join("flip.db");
    let copy_name = copy.display().to_string();
    for (n, &start) in offsets.iter().enumerate() {
        let end = offsets.get(n + 1).copied().unwrap_or(bytes.len());
        // A bit in the middle of the frame's JSON.
        let mut damaged = bytes.clone();
        damaged[(start + 8 + end) / 2] ^= 0x04;
        fs::write(&copy, &damaged).unwrap();
        if n + 1 == offsets.len() {
            // The last record looks like a torn write: dropped, and the log opens.
            drop(Node::open(&copy, KvStore::default(), quiet()).unwrap());
            continue;
        }
        let err = open_error(&copy);
        let frame = if n == 0 {
            "header".to_owned()
        } else {
            format!("record {}", n - 1)
        };
        for needle in [copy_name.as_str(), &format!("offset {start}"), &frame] {
            assert!(err.contains(needle), "frame {n}: {err}");
        }
    }
    all_keys_readable(&w.path, &w);
}

#[test]
fn a_file_of_another_format_version_or_application_is_refused() {
    let w = written("format", 1);
    let bytes = fs::read(&w.path).unwrap();
    let copy = w.dir.join("other.db");

    let mut v2 = bytes.clone();
    v2[..MAGIC_LEN].copy_from_slice(b"RAFTLOG 0002\n");
    let ovsdb = b"OVSDB JSON 38 0\n{\"name\":\"kv\"}\n".to_vec();
    for (content, want) in [
        (v2, "unsupported raft log version 2"),
        (ovsdb, "is not a raft log"),
        (b"SQLite format 3\0".to_vec(), "is not a raft log"),
        (Vec::new(), "is not a raft log"),
    ] {
        fs::write(&copy, &content).unwrap();
        let err = open_error(&copy);
        assert!(err.contains(want) && err.contains("other.db"), "{err}");
    }

    // The right magic, but the header of another application using the same file log.
    let _ = fs::remove_file(&copy);
    drop(FileLog::<Vec<u32>, String>::create(&copy, &vec![1, 2, 3]).unwrap());
    let err = open_error(&copy);
    assert!(
        err.contains("header") && err.contains("does not decode"),
        "{err}"
    );

    // A log still held by a running server.
    let running = Node::open(&w.path, KvStore::default(), quiet()).unwrap();
    let err = open_error(&w.path);
    assert!(err.contains("locked by another server"), "{err}");
    drop(running);
    all_keys_readable(&w.path, &w);
}
