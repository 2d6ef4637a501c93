//! Process-level tests of the log on disk: a torn tail is repaired at start, damage in the
//! middle refuses to start with an error naming the file, the offset and the record, the lock
//! keeps a second server off a log, and create refuses an existing file.

mod common;

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use common::{PATIENCE, cluster, fail, get, put};
use raft_mio::filelog::MAGIC_LEN;

/// The byte offsets of the frames after the magic: the header's, then each record's.
fn frame_offsets(path: &Path) -> Vec<usize> {
    let bytes = fs::read(path).expect("read the log");
    let mut offsets = Vec::new();
    let mut at = MAGIC_LEN;
    while at + 8 <= bytes.len() {
        offsets.push(at);
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        at += 8 + len;
    }
    offsets
}

#[test]
fn a_torn_tail_is_dropped_and_the_server_restarts() {
    let mut c = cluster(1);
    for k in 0..5 {
        put(&c, 0, &format!("k{k}"), "v");
    }
    c.kill(0);
    // Half a frame: a length promising more bytes than follow, as a crash mid-append leaves.
    let db = c.servers[0].db.clone();
    let mut file = OpenOptions::new().append(true).open(&db).unwrap();
    file.write_all(&[200, 0, 0, 0, 1, 2, 3, 4, b'{', b'"'])
        .unwrap();
    drop(file);
    let torn_len = fs::metadata(&db).unwrap().len();

    c.start(0).unwrap_or_else(|e| fail(&c, &e));
    c.wait_leader(PATIENCE).unwrap_or_else(|e| fail(&c, &e));
    for k in 0..5 {
        assert_eq!(get(&c, 0, &format!("k{k}")).as_deref(), Some("v"));
    }
    assert!(
        fs::metadata(&db).unwrap().len() != torn_len,
        "the torn tail was truncated"
    );
    let log = fs::read_to_string(&c.servers[0].log).unwrap();
    assert!(
        log.contains("is torn"),
        "a warning names the torn frame: {log}"
    );
}

#[test]
fn a_damaged_middle_record_refuses_to_start_naming_file_offset_and_record() {
    let mut c = cluster(1);
    for k in 0..5 {
        put(&c, 0, &format!("k{k}"), "v");
    }
    c.kill(0);
    let db = c.servers[0].db.clone();
    let offsets = frame_offsets(&db);
    assert!(offsets.len() > 4, "header and several records: {offsets:?}");
    // Record 1 (the frame after record 0), one byte inside its JSON.
    let target = offsets[2];
    let mut bytes = fs::read(&db).unwrap();
    bytes[target + 10] ^= 0x20;
    fs::write(&db, &bytes).unwrap();

    let db_arg = db.to_string_lossy().into_owned();
    let control = c.servers[0].control.to_string_lossy().into_owned();
    let err = c
        .run_tool(&[
            "serve",
            "--db",
            &db_arg,
            "--control",
            &control,
            "--client",
            "127.0.0.1:1",
        ])
        .expect_err("a damaged log must not be served");
    assert!(err.contains(&db_arg), "names the file: {err}");
    assert!(
        err.contains(&format!("byte offset {target}")),
        "names the offset: {err}"
    );
    assert!(err.contains("record 1"), "names the record: {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
}

#[test]
fn the_lock_keeps_a_second_server_off_the_log_and_create_refuses_existing_files() {
    let mut c = cluster(1);
    let s = &c.servers[0];
    let (db, raft) = (s.db.to_string_lossy().into_owned(), s.raft.clone());
    let control = format!("{}-2", s.control.display());
    let err = c
        .run_tool(&[
            "serve",
            "--db",
            &db,
            "--control",
            &control,
            "--client",
            "127.0.0.1:1",
        ])
        .expect_err("a second server on one log");
    assert!(err.contains("locked"), "{err}");
    c.kill(0);
    let err = c
        .run_tool(&[
            "create-cluster",
            "--db",
            &db,
            "--name",
            "kv",
            "--local",
            &raft,
        ])
        .expect_err("create over an existing log");
    assert!(err.contains("already exists"), "{err}");
}
