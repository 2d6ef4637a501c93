//! The storage adapter: batches written by the syncer thread are reported in order, a replace
//! waits for the batch in flight, and on a full disk the write fails with ENOSPC, which
//! becomes `Event::PersistFailed`, and a core fed that event enters its failed state (S10).
//! The full-disk test needs root to mount a tiny tmpfs; it is skipped with a printed reason
//! otherwise.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use mio::{Events, Poll, Token, Waker};

use raft_core::{
    ClusterId, Config, Data, Entry, EntryId, Event, Index, Millis, Payload, Record, Server,
    ServerId, Term, WriteTicket, bootstrap,
};
use raft_mio::filelog::FileLog;
use raft_mio::storage::{RaftLog, Storage};

/// A tmpfs of `size` mounted on a fresh directory, unmounted and removed on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(size: &str, name: &str) -> Result<Tmpfs, String> {
        let dir = std::env::temp_dir().join(format!("raft-mio-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            let _ = std::fs::remove_dir(&dir);
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
        }
        Ok(Tmpfs(dir))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[test]
fn a_full_disk_becomes_persist_failed_and_the_server_fails() {
    full_disk(false);
}

#[test]
fn a_full_disk_fails_a_batch_written_in_the_background_the_same_way() {
    full_disk(true);
}

/// Writes a record too big for a 64 KiB tmpfs, syncing on this thread or on the syncer's.
fn full_disk(background: bool) {
    let name = if background { "full-bg" } else { "full" };
    let fs = match Tmpfs::mount("64k", name) {
        Ok(fs) => fs,
        Err(why) => {
            println!("SKIPPED: cannot mount a tmpfs (needs root): {why}");
            return;
        }
    };
    let (header, records) = cluster_log();
    let log = RaftLog::create(fs.0.join("kv.db"), &header).unwrap();
    let mut storage = Storage::new(log);
    let big = Record::Entry {
        index: Index(2),
        entry: Entry {
            term: Term(1),
            payload: Payload::Data {
                id: EntryId::from_u128(4),
                data: Data::from(vec![7u8; 256 << 10]),
            },
        },
    };
    let mut poll = Poll::new().unwrap();
    if background {
        let waker = Arc::new(Waker::new(poll.registry(), Token(0)).unwrap());
        storage.sync_in_background(waker).unwrap();
    }
    storage.write(WriteTicket(1), &[big]);
    let event = if background {
        storage.start_sync();
        completed(&mut storage, &mut poll)
    } else {
        storage.flush().expect("a flush reports something")
    };
    let Event::PersistFailed { ticket, reason } = &event else {
        panic!("expected PersistFailed, got {event:?}");
    };
    assert_eq!(*ticket, WriteTicket(1));
    assert!(reason.contains("No space left"), "{reason}");
    assert!(reason.contains("kv.db"), "names the file: {reason}");

    let mut server = Server::open(header, records, Config::with_seed(1), Millis(0)).unwrap();
    server.step(Millis(1), event);
    assert!(server.has_failed(), "the core is in its failed state");
    // Nothing more is written once the failure was reported.
    storage.write(WriteTicket(2), &[]);
    assert_eq!(storage.flush(), None);
}

/// A new cluster's header and records, and an entry record at `index`.
fn cluster_log() -> (raft_core::Header, Vec<Record>) {
    bootstrap::create_cluster(
        ServerId::from_u128(1),
        ClusterId::from_u128(2),
        "kv",
        "tcp:127.0.0.1:1",
        EntryId::from_u128(3),
        Data::default(),
        None,
    )
    .unwrap()
}

fn entry(index: u64) -> Record {
    Record::Entry {
        index: Index(index),
        entry: Entry {
            term: Term(1),
            payload: Payload::Data {
                id: EntryId::from_u128(u128::from(index) + 100),
                data: Data::from(vec![7u8; 100]),
            },
        },
    }
}

/// Waits for the syncer's wake-up on `poll`, then takes what completed.
fn completed(storage: &mut Storage, poll: &mut Poll) -> Event {
    let mut events = Events::with_capacity(4);
    loop {
        if let Some(event) = storage.take_completed() {
            return event;
        }
        poll.poll(&mut events, Some(Duration::from_secs(10)))
            .unwrap();
        assert!(!events.is_empty(), "the syncer did not wake the poll");
    }
}

/// A storage syncing in the background in a fresh directory, and the poll its syncer wakes.
struct Background {
    dir: PathBuf,
    storage: Storage,
    poll: Poll,
}

impl Background {
    fn new(name: &str) -> Background {
        let dir = std::env::temp_dir().join(format!("raft-mio-bg-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (header, _) = cluster_log();
        let log = RaftLog::create(dir.join("kv.db"), &header).unwrap();
        let poll = Poll::new().unwrap();
        let waker = Arc::new(Waker::new(poll.registry(), Token(0)).unwrap());
        let mut storage = Storage::new(log);
        storage.sync_in_background(waker).unwrap();
        Background { dir, storage, poll }
    }

    fn completed(&mut self) -> Event {
        completed(&mut self.storage, &mut self.poll)
    }

    /// The records of the log as a restart reads them, after dropping the storage.
    fn reopen(self) -> Vec<Record> {
        let path = self.dir.join("kv.db");
        drop(self.storage);
        let (_, recovered) = FileLog::<raft_core::Header, Record>::open(&path).unwrap();
        let _ = std::fs::remove_dir_all(&self.dir);
        recovered.records
    }
}

#[test]
fn appends_during_a_batch_in_flight_form_the_next_batch() {
    let mut bg = Background::new("batches");
    bg.storage.write(WriteTicket(1), &[entry(2)]);
    bg.storage.start_sync();
    bg.storage.write(WriteTicket(2), &[entry(3)]);
    bg.storage.write(WriteTicket(3), &[entry(4)]);
    bg.storage.start_sync(); // A batch is in flight: this waits for the next.
    assert_eq!(
        bg.completed(),
        Event::Persisted {
            ticket: WriteTicket(1)
        }
    );
    assert!(
        bg.storage.has_pending(),
        "tickets 2 and 3 are not durable yet"
    );
    assert_eq!(
        bg.storage.take_completed(),
        None,
        "nothing else is in flight"
    );
    bg.storage.start_sync();
    assert_eq!(
        bg.completed(),
        Event::Persisted {
            ticket: WriteTicket(3)
        }
    );
    assert!(!bg.storage.has_pending());
    assert_eq!(bg.reopen(), [entry(2), entry(3), entry(4)]);
}

#[test]
fn a_write_of_no_records_is_durable_without_a_batch() {
    let mut bg = Background::new("empty");
    bg.storage.write(WriteTicket(1), &[]);
    bg.storage.start_sync();
    assert_eq!(
        bg.storage.take_completed(),
        Some(Event::Persisted {
            ticket: WriteTicket(1)
        }),
        "reported at once, nothing handed to the syncer"
    );
    assert!(!bg.storage.has_pending());
    assert_eq!(bg.reopen(), []);
}

#[test]
fn a_replace_waits_for_the_batch_in_flight_and_supersedes_it() {
    let mut bg = Background::new("replace");
    bg.storage.write(WriteTicket(1), &[entry(2)]);
    bg.storage.start_sync();
    bg.storage.write(WriteTicket(2), &[entry(3)]);
    let (header, records) = cluster_log();
    bg.storage.replace(WriteTicket(3), &header, &records);
    assert_eq!(
        bg.storage.take_completed(),
        Some(Event::Persisted {
            ticket: WriteTicket(3)
        }),
        "the replace is durable when it returns, and covers the tickets before it"
    );
    bg.storage.write(WriteTicket(4), &[entry(2)]);
    assert_eq!(
        bg.storage.flush(),
        Some(Event::Persisted {
            ticket: WriteTicket(4)
        })
    );
    let mut expected = records;
    expected.push(entry(2));
    assert_eq!(bg.reopen(), expected);
}
