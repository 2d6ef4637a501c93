//! Process-level tests of the log on disk: a torn tail is repaired at start, damage in the
//! middle refuses to start with an error naming the file, the offset and the record, the lock
//! keeps a second server off a log, and create refuses an existing file.

mod common;

use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileExt;

use common::{PATIENCE, cluster, fail, frame_offsets, get, log_frames, put};

#[test]
fn a_torn_tail_is_dropped_and_the_server_restarts() {
    let mut c = cluster(1);
    for k in 0..5 {
        put(&c, 0, &format!("k{k}"), "v");
    }
    c.kill(0);
    // Half a frame right after the last one, over the preallocated zeros: a length promising
    // more bytes than were written, as a crash mid-append leaves.
    let db = c.servers[0].db.clone();
    let frames_end = log_frames(&db).len();
    let torn = [200, 0, 0, 0, 1, 2, 3, 4, b'{', b'"'];
    let file = OpenOptions::new().write(true).open(&db).unwrap();
    file.write_all_at(&torn, frames_end as u64).unwrap();
    drop(file);

    c.start(0).unwrap_or_else(|e| fail(&c, &e));
    c.wait_leader(PATIENCE).unwrap_or_else(|e| fail(&c, &e));
    for k in 0..5 {
        assert_eq!(get(&c, 0, &format!("k{k}")).as_deref(), Some("v"));
    }
    let bytes = fs::read(&db).unwrap();
    assert_ne!(
        bytes.get(frames_end..frames_end + torn.len()),
        Some(&torn[..]),
        "the torn tail was truncated (and maybe written over by new records)"
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
    let offsets = frame_offsets(&log_frames(&db));
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
