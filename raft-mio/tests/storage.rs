//! The storage adapter on a full disk: the write fails with ENOSPC, which becomes
//! `Event::PersistFailed`, and a core fed that event enters its failed state (S10). Needs root
//! to mount a tiny tmpfs; skipped with a printed reason otherwise.

use std::path::PathBuf;
use std::process::Command;

use raft_core::{
    ClusterId, Config, Data, Entry, EntryId, Event, Index, Millis, Payload, Record, Server,
    ServerId, Term, WriteTicket, bootstrap,
};
use raft_mio::storage::{RaftLog, Storage};

/// A tmpfs of `size` mounted on a fresh directory, unmounted and removed on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(size: &str) -> Result<Tmpfs, String> {
        let dir = std::env::temp_dir().join(format!("raft-mio-full-{}", std::process::id()));
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
    let fs = match Tmpfs::mount("64k") {
        Ok(fs) => fs,
        Err(why) => {
            println!("SKIPPED: cannot mount a tmpfs (needs root): {why}");
            return;
        }
    };
    let (header, records) = bootstrap::create_cluster(
        ServerId::from_u128(1),
        ClusterId::from_u128(2),
        "kv",
        "tcp:127.0.0.1:1",
        EntryId::from_u128(3),
        Data::default(),
        None,
    )
    .unwrap();
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
    storage.write(WriteTicket(1), &[big]);
    let event = storage.flush().expect("a flush reports something");
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
