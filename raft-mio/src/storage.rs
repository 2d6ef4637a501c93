//! The storage adapter: carries out the core's `WriteLog` and `ReplaceLog` on a [`FileLog`],
//! with group commit.
//!
//! Writes are collected for the length of one turn of the poll loop and made durable together
//! by [`Storage::flush`]: one `write` and one `fdatasync` for everything appended, then one
//! `Event::Persisted` for the newest ticket (the core accepts that as covering every earlier
//! one). A `ReplaceLog` is carried out at once (temporary file, fsync, rename, directory
//! fsync), since it supersedes every earlier write anyway.
//!
//! The first error of any kind is reported as `Event::PersistFailed`, which puts the core in
//! its failed state (S10); the log is poisoned by then, so nothing is written after it.

use std::path::Path;

use raft_core::{Event, Header, Record, WriteTicket};

use crate::filelog::{FileLog, LogError, LogSize, Recovered};

/// The log type raft-mio stores: raft-core's header and records.
pub type RaftLog = FileLog<Header, Record>;

/// A log plus the writes of the current turn.
#[derive(Debug)]
pub struct Storage {
    log: RaftLog,
    /// The newest ticket whose write has been handed to the log but not yet reported.
    unreported: Option<WriteTicket>,
    /// The first failure, reported once by the next flush.
    failure: Option<(WriteTicket, String)>,
    /// True once a failure was reported: later writes are refused silently (the core is
    /// stopped and asks for none).
    failed: bool,
}

impl Storage {
    /// Opens the log at `path` (taking its lock), returning its recovered contents.
    pub fn open(path: &Path) -> Result<(Storage, Recovered<Header, Record>), LogError> {
        let (log, recovered) = FileLog::open(path)?;
        Ok((Storage::new(log), recovered))
    }

    /// Wraps an open log.
    pub fn new(log: RaftLog) -> Storage {
        Storage {
            log,
            unreported: None,
            failure: None,
            failed: false,
        }
    }

    /// Queues `records` for the next flush (`Action::WriteLog`).
    pub fn write(&mut self, ticket: WriteTicket, records: &[Record]) {
        if self.failure.is_some() || self.failed {
            return;
        }
        match self.log.append(records) {
            Ok(()) => self.unreported = Some(ticket),
            Err(e) => self.failure = Some((ticket, e.to_string())),
        }
    }

    /// Replaces the whole log now (`Action::ReplaceLog`); unsynced appends are superseded.
    pub fn replace(&mut self, ticket: WriteTicket, header: &Header, records: &[Record]) {
        if self.failure.is_some() || self.failed {
            return;
        }
        match self.log.replace(header, records) {
            Ok(()) => self.unreported = Some(ticket),
            Err(e) => self.failure = Some((ticket, e.to_string())),
        }
    }

    /// True if a flush has something to do.
    pub fn has_pending(&self) -> bool {
        self.unreported.is_some() || self.failure.is_some()
    }

    /// Makes this turn's writes durable with one write and one fdatasync, and returns the
    /// event to report: `Persisted` for the newest ticket, or `PersistFailed` for the first
    /// write that failed. `None` if there was nothing to do.
    pub fn flush(&mut self) -> Option<Event> {
        if let Some((ticket, reason)) = self.failure.take() {
            self.failed = true;
            self.unreported = None;
            return Some(Event::PersistFailed { ticket, reason });
        }
        let ticket = self.unreported.take()?;
        match self.log.sync() {
            Ok(()) => Some(Event::Persisted { ticket }),
            Err(e) => {
                self.failed = true;
                Some(Event::PersistFailed {
                    ticket,
                    reason: e.to_string(),
                })
            }
        }
    }

    /// The log's size, for deciding when to snapshot.
    pub fn size(&self) -> LogSize {
        self.log.size()
    }

    /// The log file's path.
    pub fn path(&self) -> &Path {
        self.log.path()
    }
}
