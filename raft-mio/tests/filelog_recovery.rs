//! Recovery and durability tests for the file log: round trips, group commit,
//! torn tails at every offset, bit flips everywhere, damaged lengths, bad
//! magic, replace, locking (in-process and across processes), and random
//! input that must never panic.

mod common;

use std::fs;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use common::log_frames;
use proptest::prelude::*;
use raft_mio::filelog::{
    FileLog, Frame, LogError, MAGIC, MAGIC_LEN, PREALLOC_CHUNK, Parsed, parse, read_header,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Header {
    cluster: String,
    snapshot: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Record {
    Entry { index: u64, data: String },
    Vote { term: u64 },
}

type Log = FileLog<Header, Record>;

fn header(name: &str) -> Header {
    Header {
        cluster: name.to_string(),
        snapshot: vec![1, 2, 3],
    }
}

fn entry(index: u64) -> Record {
    Record::Entry {
        index,
        data: format!("data-{index}"),
    }
}

/// A directory under the system temp dir, unique per process and test,
/// removed when dropped (also when the test panics).
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "raft-mio-filelog-{name}-{}-{n}",
            std::process::id()
        ));
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Writes a log with `n` records, each synced on its own, and returns the
/// byte offset where each record's frame starts.
fn write_log(path: &Path, n: u64) -> Vec<u64> {
    let mut log = Log::create(path, &header("c")).unwrap();
    let mut starts = Vec::new();
    for i in 0..n {
        starts.push(log.size().bytes);
        log.append(&[entry(i)]).unwrap();
        log.sync().unwrap();
    }
    starts
}

/// Writes `bytes` at `offset` of the file at `path`, as a crash in the
/// middle of a batch written over preallocated zeros could leave them.
fn write_at(path: &Path, bytes: &[u8], offset: u64) {
    let file = fs::OpenOptions::new().write(true).open(path).unwrap();
    file.write_all_at(bytes, offset).unwrap();
}

fn file_len(path: &Path) -> u64 {
    fs::metadata(path).unwrap().len()
}

fn entries(range: std::ops::Range<u64>) -> Vec<Record> {
    range.map(entry).collect()
}

/// A frame built independently of the crate, from the documented format.
fn frame(payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() as u32).to_le_bytes();
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&len);
    hasher.update(payload);
    let mut out = len.to_vec();
    out.extend(hasher.finalize().to_le_bytes());
    out.extend(payload);
    out
}

fn assert_corrupt(err: &LogError, want_frame: Frame, want_offset: u64, context: &str) {
    match err {
        LogError::Corrupt { frame, offset, .. } => {
            assert_eq!(
                (*frame, *offset),
                (want_frame, want_offset),
                "{context}: {err}"
            );
            let text = err.to_string();
            assert!(text.contains("log"), "names the file: {text}");
            assert!(text.contains(&format!("offset {want_offset}")), "{text}");
        }
        other => panic!("{context}: expected corruption, got {other}"),
    }
}

#[test]
fn round_trip_across_reopen() {
    let dir = TempDir::new("roundtrip");
    let path = dir.path("log");
    let mut log = Log::create(&path, &header("one")).unwrap();
    log.append(&[entry(1), Record::Vote { term: 7 }]).unwrap();
    log.sync().unwrap();
    drop(log);

    let (mut log, got) = Log::open(&path).unwrap();
    assert_eq!(got.header, header("one"));
    assert_eq!(got.records, [entry(1), Record::Vote { term: 7 }]);
    assert!(got.warnings.is_empty());
    log.append(&[entry(2)]).unwrap();
    log.sync().unwrap();
    drop(log);

    let (_log, got) = Log::open(&path).unwrap();
    assert_eq!(got.records.len(), 3);
    assert_eq!(got.records[2], entry(2));
    assert_eq!(read_header::<Header>(&path).unwrap(), header("one"));
}

#[test]
fn file_matches_the_documented_format() {
    let dir = TempDir::new("format");
    let path = dir.path("log");
    let mut log = Log::create(&path, &header("f")).unwrap();
    log.append(&[Record::Vote { term: 3 }]).unwrap();
    log.sync().unwrap();
    let mut want = b"RAFTLOG 0001\n".to_vec();
    want.extend(frame(&serde_json::to_vec(&header("f")).unwrap()));
    want.extend(frame(br#"{"Vote":{"term":3}}"#));
    let bytes = fs::read(&path).unwrap();
    assert_eq!(bytes[..want.len()], want);
    assert!(
        bytes[want.len()..].iter().all(|&b| b == 0),
        "then preallocated zeros"
    );
    assert_eq!(bytes.len() as u64, PREALLOC_CHUNK);
}

#[test]
fn group_commit_makes_every_append_durable() {
    let dir = TempDir::new("group");
    let path = dir.path("log");
    let mut log = Log::create(&path, &header("g")).unwrap();
    let len_after_create = fs::metadata(&path).unwrap().len();
    for i in 0..500 {
        log.append(&[entry(i)]).unwrap();
    }
    log.append(&entries(500..1000)).unwrap();
    assert_eq!(
        fs::metadata(&path).unwrap().len(),
        len_after_create,
        "append alone writes nothing"
    );
    log.sync().unwrap();
    drop(log);
    let (_log, got) = Log::open(&path).unwrap();
    assert_eq!(got.records, entries(0..1000));
}

#[test]
fn unsynced_appends_are_lost_on_drop() {
    let dir = TempDir::new("unsynced");
    let path = dir.path("log");
    let mut log = Log::create(&path, &header("u")).unwrap();
    log.append(&[entry(1)]).unwrap();
    log.sync().unwrap();
    log.append(&[entry(2)]).unwrap();
    drop(log);
    let (_log, got) = Log::open(&path).unwrap();
    assert_eq!(got.records, [entry(1)]);
}

#[test]
fn create_refuses_an_existing_file() {
    let dir = TempDir::new("exists");
    let path = dir.path("log");
    fs::write(&path, b"anything").unwrap();
    let err = Log::create(&path, &header("x")).unwrap_err();
    assert!(matches!(err, LogError::AlreadyExists { .. }), "{err}");
    assert!(err.to_string().contains("already exists"));
    assert_eq!(fs::read(&path).unwrap(), b"anything", "left untouched");
}

#[test]
fn open_of_a_missing_file_names_it() {
    let dir = TempDir::new("missing");
    let path = dir.path("nope");
    let err = Log::open(&path).unwrap_err();
    assert!(matches!(err, LogError::Io { .. }), "{err}");
    assert!(err.to_string().contains("nope"), "{err}");
}

#[test]
fn torn_tail_at_every_offset_of_the_last_record() {
    let dir = TempDir::new("torn");
    let source = dir.path("source");
    let starts = write_log(&source, 4);
    let bytes = log_frames(&source);
    let last = *starts.last().unwrap() as usize;
    let path = dir.path("log");
    for cut in last + 1..bytes.len() {
        fs::write(&path, &bytes[..cut]).unwrap();
        let (mut log, got) = Log::open(&path).unwrap();
        assert_eq!(got.records, entries(0..3), "cut {cut}");
        assert_eq!(got.warnings.len(), 1, "cut {cut}");
        let warning = &got.warnings[0];
        for needle in [
            path.display().to_string(),
            format!("offset {last}"),
            "record 3".to_string(),
        ] {
            assert!(warning.contains(&needle), "cut {cut}: {warning}");
        }
        assert_eq!(fs::metadata(&path).unwrap().len(), last as u64, "truncated");

        log.append(&[entry(99)]).unwrap();
        log.sync().unwrap();
        drop(log);
        let (_log, got) = Log::open(&path).unwrap();
        assert!(got.warnings.is_empty(), "cut {cut}: {:?}", got.warnings);
        let mut want = entries(0..3);
        want.push(entry(99));
        assert_eq!(got.records, want, "cut {cut}");
    }
}

#[test]
fn a_cleanly_closed_log_reopens_with_its_zero_tail_and_writes_over_it() {
    let dir = TempDir::new("zerotail");
    let path = dir.path("log");
    write_log(&path, 3);
    let frames_end = log_frames(&path).len() as u64;
    let len = file_len(&path);
    assert!(frames_end < len, "{frames_end} bytes of frames in {len}");

    let (mut log, got) = Log::open(&path).unwrap();
    assert_eq!(got.records, entries(0..3));
    assert!(got.warnings.is_empty(), "{:?}", got.warnings);
    assert_eq!(file_len(&path), len, "open keeps the zeros");
    assert_eq!(log.size().bytes, frames_end, "the zeros are not log bytes");
    assert_eq!(read_header::<Header>(&path).unwrap(), header("c"));

    log.append(&[entry(3)]).unwrap();
    log.sync().unwrap();
    drop(log);
    assert_eq!(file_len(&path), len, "written over the zeros");
    let written = frame(&serde_json::to_vec(&entry(3)).unwrap());
    let bytes = log_frames(&path);
    assert_eq!(bytes.len() as u64, frames_end + written.len() as u64);
    assert_eq!(
        bytes[frames_end as usize..],
        written,
        "right after the last frame"
    );
    let (_log, got) = Log::open(&path).unwrap();
    assert_eq!(got.records, entries(0..4));
    assert!(got.warnings.is_empty(), "{:?}", got.warnings);
}

#[test]
fn a_torn_frame_followed_by_zeros_is_dropped_and_truncated() {
    let dir = TempDir::new("tornzeros");
    let path = dir.path("log");
    write_log(&path, 3);
    let frames_end = log_frames(&path).len() as u64;
    let torn = frame(&serde_json::to_vec(&entry(3)).unwrap());
    write_at(&path, &torn[..torn.len() / 2], frames_end);
    assert_eq!(
        file_len(&path),
        PREALLOC_CHUNK,
        "zeros after the torn frame"
    );

    let (mut log, got) = Log::open(&path).unwrap();
    assert_eq!(got.records, entries(0..3));
    assert_eq!(got.warnings.len(), 1, "{:?}", got.warnings);
    assert!(
        got.warnings[0].contains(&format!("record 3 at byte offset {frames_end}")),
        "{:?}",
        got.warnings
    );
    assert_eq!(file_len(&path), frames_end, "truncated");

    log.append(&[entry(4)]).unwrap();
    log.sync().unwrap();
    drop(log);
    assert_eq!(file_len(&path), PREALLOC_CHUNK, "preallocated again");
    let (_log, got) = Log::open(&path).unwrap();
    let mut want = entries(0..3);
    want.push(entry(4));
    assert_eq!(got.records, want);
    assert!(got.warnings.is_empty(), "{:?}", got.warnings);
}

#[test]
fn zeros_followed_by_a_frame_are_corruption() {
    let dir = TempDir::new("zerosframe");
    let path = dir.path("log");
    write_log(&path, 3);
    let frames_end = log_frames(&path).len() as u64;
    let stray = frame(&serde_json::to_vec(&entry(3)).unwrap());
    write_at(&path, &stray, frames_end + 10_000);
    let err = Log::open(&path).unwrap_err();
    assert_corrupt(&err, Frame::Record(3), frames_end, "zeros, then a frame");
    assert!(err.to_string().contains("intact frames follow"), "{err}");
}

#[test]
fn the_file_grows_in_whole_chunks_and_its_size_counts_frames() {
    let dir = TempDir::new("chunks");
    let path = dir.path("log");
    let mut log = Log::create(&path, &header("g")).unwrap();
    let big = |index| Record::Entry {
        index,
        data: "x".repeat(50_000),
    };
    let check = |log: &Log, context: &str| {
        let (len, frames_end) = (file_len(&path), log.size().bytes);
        assert_eq!(len % PREALLOC_CHUNK, 0, "{context}: {len}");
        assert!(len >= frames_end, "{context}: {len} < {frames_end}");
        assert!(
            len - frames_end < PREALLOC_CHUNK,
            "{context}: whole chunks of zeros"
        );
        assert_eq!(log_frames(&path).len() as u64, frames_end, "{context}");
    };
    let mut lens = Vec::new();
    for batch in 0..8 {
        log.append(&(batch * 10..batch * 10 + 10).map(big).collect::<Vec<_>>())
            .unwrap();
        log.sync().unwrap();
        check(&log, &format!("batch {batch}"));
        lens.push(file_len(&path));
    }
    assert!(
        lens.windows(2).any(|w| w[0] == w[1]),
        "a batch within the zeros: {lens:?}"
    );
    assert!(
        *lens.last().unwrap() > PREALLOC_CHUNK,
        "grew past one chunk: {lens:?}"
    );
    log.append(&(80..140).map(big).collect::<Vec<_>>()).unwrap();
    log.sync().unwrap();
    check(&log, "a batch of three chunks");
    drop(log);
    let (_log, got) = Log::open(&path).unwrap();
    assert_eq!(got.records, (0..140).map(big).collect::<Vec<_>>());
    assert!(got.warnings.is_empty(), "{:?}", got.warnings);
}

#[test]
fn a_flipped_bit_anywhere_is_an_error_or_a_torn_tail() {
    let dir = TempDir::new("flip");
    let source = dir.path("source");
    let n = 4;
    let starts = write_log(&source, n);
    let bytes = log_frames(&source);
    let path = dir.path("log");
    // The frame, and its start, that each byte belongs to.
    let locate = |pos: usize| -> (Frame, u64) {
        match starts.iter().rposition(|&s| s as usize <= pos) {
            Some(i) => (Frame::Record(i as u64), starts[i]),
            None => (Frame::Header, MAGIC_LEN as u64),
        }
    };
    for pos in 0..bytes.len() {
        for bit in 0..8 {
            let mut damaged = bytes.clone();
            damaged[pos] ^= 1 << bit;
            fs::write(&path, &damaged).unwrap();
            let context = format!("byte {pos} bit {bit}");
            let result = Log::open(&path);
            if pos < MAGIC_LEN {
                let err = result.err().unwrap_or_else(|| panic!("{context}: opened"));
                assert!(
                    matches!(
                        err,
                        LogError::NotALog { .. } | LogError::UnsupportedVersion { .. }
                    ),
                    "{context}: {err}"
                );
                continue;
            }
            match locate(pos) {
                (Frame::Record(i), start) if i == n - 1 => {
                    let (_log, got) = result.unwrap_or_else(|e| panic!("{context}: {e}"));
                    assert_eq!(got.records, entries(0..n - 1), "{context}");
                    assert!(
                        got.warnings[0].contains(&format!("record {i} at byte offset {start}")),
                        "{context}: {:?}",
                        got.warnings
                    );
                }
                (frame, start) => {
                    let err = result.err().unwrap_or_else(|| panic!("{context}: opened"));
                    assert_corrupt(&err, frame, start, &context);
                }
            }
        }
    }
}

#[test]
fn a_damaged_length_in_the_middle_is_corruption() {
    let dir = TempDir::new("length");
    let source = dir.path("source");
    let starts = write_log(&source, 5);
    let bytes = log_frames(&source);
    let path = dir.path("log");
    let victim = starts[2] as usize;
    let file_len = bytes.len() as u32;
    let left = file_len - victim as u32 - 8;
    let original = u32::from_le_bytes(bytes[victim..victim + 4].try_into().unwrap());
    let lengths = [
        file_len * 4, // runs past the end, like a torn tail would
        left + 1,     // just past the end
        u32::MAX,     // beyond the frame limit
        original - 1, // one short: the checksum covers a different range
        original + 8, // swallows the next frame's header
        0,            // impossible
        left - 5,     // ends inside the last frame
    ];
    for len in lengths {
        let mut damaged = bytes.clone();
        damaged[victim..victim + 4].copy_from_slice(&len.to_le_bytes());
        fs::write(&path, &damaged).unwrap();
        let err = Log::open(&path).unwrap_err();
        assert_corrupt(&err, Frame::Record(2), victim as u64, &format!("len {len}"));
        assert!(err.to_string().contains("intact frames follow"), "{err}");
    }
}

#[test]
fn a_length_past_the_end_in_the_last_frame_is_a_torn_tail() {
    let dir = TempDir::new("lastlen");
    let path = dir.path("log");
    let starts = write_log(&path, 3);
    let mut bytes = log_frames(&path);
    let last = starts[2] as usize;
    bytes[last..last + 4].copy_from_slice(&1000u32.to_le_bytes());
    fs::write(&path, &bytes).unwrap();
    let (_log, got) = Log::open(&path).unwrap();
    assert_eq!(got.records, entries(0..2));
    assert!(
        got.warnings[0].contains("runs past the end"),
        "{:?}",
        got.warnings
    );
}

#[test]
fn an_intact_but_undecodable_frame_is_an_error() {
    let dir = TempDir::new("decode");
    let path = dir.path("log");
    let starts = write_log(&path, 1);
    let mut bytes = log_frames(&path);
    let bad_start = bytes.len() as u64;
    bytes.extend(frame(br#"{"Unknown":1}"#));
    let mut tail = bytes.clone();
    tail.extend(frame(&serde_json::to_vec(&entry(5)).unwrap()));
    for (image, what) in [(&bytes, "last"), (&tail, "middle")] {
        fs::write(&path, image).unwrap();
        let err = Log::open(&path).unwrap_err();
        assert_corrupt(&err, Frame::Record(1), bad_start, what);
        assert!(err.to_string().contains("does not decode"), "{err}");
    }
    assert_eq!(starts.len(), 1);
}

#[test]
fn wrong_magic_is_not_a_raft_log() {
    let dir = TempDir::new("magic");
    let path = dir.path("log");
    for content in [
        &b""[..],
        b"hello world, this is not a log",
        b"RAFT",
        b"raftlog 0001\n",
    ] {
        fs::write(&path, content).unwrap();
        let err = Log::open(&path).unwrap_err();
        assert!(matches!(err, LogError::NotALog { .. }), "{err}");
        assert!(err.to_string().contains("is not a raft log"), "{err}");
        let err = read_header::<Header>(&path).unwrap_err();
        assert!(matches!(err, LogError::NotALog { .. }), "{err}");
    }
}

#[test]
fn another_version_is_unsupported() {
    let dir = TempDir::new("version");
    let path = dir.path("log");
    write_log(&path, 1);
    let mut bytes = fs::read(&path).unwrap();
    bytes[..MAGIC_LEN].copy_from_slice(b"RAFTLOG 0002\n");
    fs::write(&path, &bytes).unwrap();
    let err = Log::open(&path).unwrap_err();
    assert!(
        matches!(err, LogError::UnsupportedVersion { version: 2, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("unsupported raft log version 2"));
}

#[test]
fn a_log_without_its_header_is_refused() {
    let dir = TempDir::new("noheader");
    let path = dir.path("log");
    write_log(&path, 0);
    let bytes = fs::read(&path).unwrap();
    for cut in MAGIC_LEN..bytes.len() {
        fs::write(&path, &bytes[..cut]).unwrap();
        let err = Log::open(&path).unwrap_err();
        assert_corrupt(&err, Frame::Header, MAGIC_LEN as u64, &format!("cut {cut}"));
        let err = read_header::<Header>(&path).unwrap_err();
        assert_corrupt(&err, Frame::Header, MAGIC_LEN as u64, &format!("cut {cut}"));
    }
}

#[test]
fn read_header_reads_only_the_header() {
    let dir = TempDir::new("readheader");
    let path = dir.path("log");
    write_log(&path, 3);
    let mut bytes = fs::read(&path).unwrap();
    let frames_end = log_frames(&path).len();
    bytes[frames_end - 1] ^= 0xff; // damage the records: not read_header's business
    fs::write(&path, &bytes).unwrap();
    assert_eq!(read_header::<Header>(&path).unwrap(), header("c"));
}

#[test]
fn replace_then_reopen() {
    let dir = TempDir::new("replace");
    let path = dir.path("log");
    let mut log = Log::create(&path, &header("old")).unwrap();
    log.append(&entries(0..10)).unwrap();
    log.sync().unwrap();
    log.append(&[entry(10)]).unwrap(); // pending: superseded by the replace
    log.replace(&header("new"), &entries(8..10)).unwrap();
    assert_eq!(log.size().records, 2);
    log.append(&[entry(11)]).unwrap();
    log.sync().unwrap();
    assert!(!dir.path("log.tmp").exists(), "temporary file renamed away");
    drop(log);

    let (mut log, got) = Log::open(&path).unwrap();
    assert_eq!(got.header, header("new"));
    assert_eq!(got.records, [entry(8), entry(9), entry(11)]);
    assert!(got.warnings.is_empty());
    // A stale temporary file from a crash in an earlier replace is harmless.
    fs::write(dir.path("log.tmp"), b"stale").unwrap();
    log.replace(&header("newer"), &[]).unwrap();
    drop(log);
    let (_log, got) = Log::open(&path).unwrap();
    assert_eq!(got.header, header("newer"));
    assert!(got.records.is_empty());
}

#[test]
fn a_held_lock_refuses_a_second_open() {
    let dir = TempDir::new("lock");
    let path = dir.path("log");
    let log = Log::create(&path, &header("l")).unwrap();
    let err = Log::open(&path).unwrap_err();
    assert!(matches!(err, LogError::Locked { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!("log {} is locked by another server", path.display())
    );
    let err = Log::create(&path, &header("l")).unwrap_err();
    assert!(matches!(err, LogError::Locked { .. }), "{err}");
    assert_eq!(
        read_header::<Header>(&path).unwrap(),
        header("l"),
        "no lock needed"
    );
    drop(log);
    let (log, _) = Log::open(&path).unwrap();
    assert!(Log::open(&path).is_err());
    drop(log);
}

const PROBE_PATH: &str = "RAFT_MIO_LOCK_PROBE_PATH";
const PROBE_EXPECT: &str = "RAFT_MIO_LOCK_PROBE_EXPECT";

/// Runs `lock_probe_child` in a child process of this test binary.
fn run_probe(path: &Path, expect: &str) {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "lock_probe_child",
            "--exact",
            "--ignored",
            "--test-threads=1",
        ])
        .env(PROBE_PATH, path)
        .env(PROBE_EXPECT, expect)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("test lock_probe_child ... ok"),
        "child expecting {expect}: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_held_lock_refuses_another_process() {
    let dir = TempDir::new("lockproc");
    let path = dir.path("log");
    let log = Log::create(&path, &header("p")).unwrap();
    run_probe(&path, "locked");
    drop(log);
    run_probe(&path, "free");
}

/// The child half of `a_held_lock_refuses_another_process`; does nothing
/// when run directly.
#[test]
#[ignore = "run as a child process by a_held_lock_refuses_another_process"]
fn lock_probe_child() {
    let (Ok(path), Ok(expect)) = (std::env::var(PROBE_PATH), std::env::var(PROBE_EXPECT)) else {
        return;
    };
    match (Log::open(&path), expect.as_str()) {
        (Err(LogError::Locked { .. }), "locked") | (Ok(_), "free") => {}
        (Err(e), _) => panic!("expected {expect}, got: {e}"),
        (Ok(_), _) => panic!("expected {expect}, but the open succeeded"),
    }
}

/// A small valid log image and its records, built in memory.
fn image(n: u64) -> (Vec<u8>, Vec<Record>) {
    let mut bytes = MAGIC.to_vec();
    bytes.extend(frame(&serde_json::to_vec(&header("p")).unwrap()));
    let records = entries(0..n);
    for r in &records {
        bytes.extend(frame(&serde_json::to_vec(r).unwrap()));
    }
    (bytes, records)
}

fn parse_bytes(bytes: &[u8]) -> Result<Parsed<Header, Record>, LogError> {
    parse(Path::new("prop.log"), bytes)
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse_bytes(&bytes);
        let mut with_magic = MAGIC.to_vec();
        with_magic.extend(&bytes);
        let _ = parse_bytes(&with_magic);
    }

    /// Damage to a valid log never yields records that were not written:
    /// recovery returns a prefix of them, or an error.
    #[test]
    fn damage_yields_a_prefix_or_an_error(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let (mut bytes, records) = image(6);
        for (at, value) in edits {
            let at = at.index(bytes.len());
            bytes[at] = value;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        if let Ok(parsed) = parse_bytes(&bytes) {
            let got = parsed.recovered.records;
            prop_assert_eq!(&got[..], &records[..got.len()]);
            prop_assert!(parsed.valid_len <= bytes.len() as u64);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn open_of_random_files_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let dir = TempDir::new("propopen");
        let path = dir.path("log");
        let mut with_magic = MAGIC.to_vec();
        with_magic.extend(&bytes);
        for content in [&bytes, &with_magic] {
            fs::write(&path, content).unwrap();
            let _ = Log::open(&path);
            let _ = read_header::<Header>(&path);
        }
    }
}

/// Prints the median cost of appending and syncing one 128-byte record.
/// Run with `cargo test -p raft-mio --release --test filelog_recovery --
/// --ignored --nocapture append_sync_cost`.
#[test]
#[ignore = "timing, not a check"]
fn append_sync_cost() {
    let dir = TempDir::new("bench");
    let path = dir.path("log");
    let mut log = Log::create(&path, &header("b")).unwrap();
    let record = Record::Entry {
        index: 0,
        data: "x".repeat(128 - r#"{"Entry":{"index":0,"data":""}}"#.len()),
    };
    assert_eq!(serde_json::to_vec(&record).unwrap().len(), 128);
    let mut times = Vec::with_capacity(1000);
    for _ in 0..1000 {
        let start = Instant::now();
        log.append(std::slice::from_ref(&record)).unwrap();
        log.sync().unwrap();
        times.push(start.elapsed());
    }
    times.sort();
    println!(
        "append+sync of a 128-byte record: median {:?}, p90 {:?}, max {:?}",
        times[500], times[900], times[999]
    );
}
