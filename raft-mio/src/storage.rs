//! The storage adapter: carries out the core's `WriteLog` and `ReplaceLog` on a [`FileLog`],
//! with group commit.
//!
//! Appends collect in memory and become durable in batches: one `write` and one `fdatasync`
//! for everything appended since the last batch (and, about once a megabyte, a write of
//! zeros that preallocates the file: see [`Batch::write`]), then one `Event::Persisted` for
//! the newest ticket (the core accepts that as covering every earlier one). Two ways to
//! drive it:
//!
//! - [`Storage::flush`] writes and syncs on the calling thread and returns the event;
//! - after [`Storage::sync_in_background`], [`Storage::start_sync`] hands the batch to a
//!   syncer thread and returns at once; the caller goes on (reads messages, appends more) and
//!   collects the event with [`Storage::take_completed`] when the syncer wakes it. One batch
//!   is in flight at a time; whatever is appended meanwhile forms the next, so the batches
//!   grow with the load and a busy server syncs back to back.
//!
//! A `ReplaceLog` is carried out at once (temporary file, fsync, rename, directory fsync),
//! after the batch in flight, since it supersedes every earlier write anyway.
//!
//! The first error of any kind is reported as `Event::PersistFailed`, which puts the core in
//! its failed state (S10); the log is poisoned by then, so nothing is written after it.

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::{self, JoinHandle};

use mio::Waker;
use raft_core::{Event, Header, Record, WriteTicket};

use crate::filelog::{Batch, FileLog, LogError, LogSize, Recovered};

/// The log type raft-mio stores: raft-core's header and records.
pub type RaftLog = FileLog<Header, Record>;

/// A log, the writes not yet reported durable, and maybe a syncer thread.
#[derive(Debug)]
pub struct Storage {
    log: RaftLog,
    syncer: Option<Syncer>,
    /// The newest ticket appended and not yet in a batch.
    unsynced: Option<WriteTicket>,
    /// The ticket of the batch in flight (only with a syncer).
    in_flight: Option<WriteTicket>,
    /// The newest ticket known durable and not yet reported.
    durable: Option<WriteTicket>,
    /// The first failure, reported once.
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

    /// Wraps an open log. It syncs on the caller's thread until
    /// [`sync_in_background`](Storage::sync_in_background).
    pub fn new(log: RaftLog) -> Storage {
        Storage {
            log,
            syncer: None,
            unsynced: None,
            in_flight: None,
            durable: None,
            failure: None,
            failed: false,
        }
    }

    /// Starts a syncer thread that writes batches handed to it by
    /// [`start_sync`](Storage::start_sync) and calls `waker` after each.
    pub fn sync_in_background(&mut self, waker: Arc<Waker>) -> std::io::Result<()> {
        if self.syncer.is_none() {
            self.syncer = Some(Syncer::start(waker)?);
        }
        Ok(())
    }

    /// Queues `records` for the next batch (`Action::WriteLog`).
    pub fn write(&mut self, ticket: WriteTicket, records: &[Record]) {
        if self.failure.is_some() || self.failed {
            return;
        }
        match self.log.append(records) {
            Ok(()) => self.unsynced = Some(ticket),
            Err(e) => self.fail(ticket, e),
        }
    }

    /// Replaces the whole log now (`Action::ReplaceLog`), once the batch in flight is
    /// written; unsynced appends are superseded.
    pub fn replace(&mut self, ticket: WriteTicket, header: &Header, records: &[Record]) {
        self.wait_in_flight();
        if self.failure.is_some() || self.failed {
            return;
        }
        match self.log.replace(header, records) {
            Ok(()) => {
                self.unsynced = None;
                self.durable = Some(ticket);
            }
            Err(e) => self.fail(ticket, e),
        }
    }

    /// True if writes are waiting for a batch, in flight, or durable and unreported.
    pub fn has_pending(&self) -> bool {
        self.unsynced.is_some()
            || self.in_flight.is_some()
            || self.durable.is_some()
            || self.failure.is_some()
    }

    /// Makes every write durable on this thread (after the batch in flight, if any) and
    /// returns the event to report: `Persisted` for the newest ticket, or `PersistFailed` for
    /// the first write that failed. `None` if there was nothing to report.
    pub fn flush(&mut self) -> Option<Event> {
        self.wait_in_flight();
        if let Some(ticket) = self.unsynced.take()
            && self.failure.is_none()
        {
            match self.log.sync() {
                Ok(()) => self.durable = Some(ticket),
                Err(e) => self.fail(ticket, e),
            }
        }
        self.report()
    }

    /// With a syncer: hands everything appended to it as one batch, unless a batch is in
    /// flight already (the appends then wait for the next). Without one: does nothing.
    pub fn start_sync(&mut self) {
        if self.in_flight.is_some() || self.failure.is_some() || self.failed {
            return;
        }
        let Some(syncer) = &self.syncer else {
            return;
        };
        let Some(ticket) = self.unsynced.take() else {
            return;
        };
        match self.log.take_batch() {
            Ok(Some(batch)) => {
                syncer.submit(batch);
                self.in_flight = Some(ticket);
            }
            // Appends of no records: durable already.
            Ok(None) => self.durable = Some(ticket),
            Err(e) => self.fail(ticket, e),
        }
    }

    /// The event to report for what became durable (or failed) since the last report, without
    /// waiting; `None` if there is nothing new.
    pub fn take_completed(&mut self) -> Option<Event> {
        if let Some(syncer) = &self.syncer
            && self.in_flight.is_some()
            && let Some((batch, result)) = syncer.try_take()
        {
            self.finish(batch, result);
        }
        self.report()
    }

    /// The log's size, for deciding when to snapshot.
    pub fn size(&self) -> LogSize {
        self.log.size()
    }

    /// The log file's path.
    pub fn path(&self) -> &Path {
        self.log.path()
    }

    /// Waits for the batch in flight, if any, and takes its outcome in.
    fn wait_in_flight(&mut self) {
        if self.in_flight.is_none() {
            return;
        }
        let syncer = self
            .syncer
            .as_ref()
            .expect("a batch in flight has a syncer");
        let (batch, result) = syncer.wait();
        self.finish(batch, result);
    }

    fn finish(&mut self, batch: Batch, result: Result<(), LogError>) {
        let ticket = self
            .in_flight
            .take()
            .expect("a finished batch was in flight");
        match self.log.finish_batch(batch, result) {
            Ok(()) => self.durable = Some(ticket),
            Err(e) => self.fail(ticket, e),
        }
    }

    fn fail(&mut self, ticket: WriteTicket, error: LogError) {
        if self.failure.is_none() {
            self.failure = Some((ticket, error.to_string()));
        }
    }

    fn report(&mut self) -> Option<Event> {
        if let Some((ticket, reason)) = self.failure.take() {
            self.failed = true;
            self.unsynced = None;
            self.durable = None;
            return Some(Event::PersistFailed { ticket, reason });
        }
        let ticket = self.durable.take()?;
        Some(Event::Persisted { ticket })
    }
}

/// The thread that writes and syncs batches.
#[derive(Debug)]
struct Syncer {
    /// `None` only while dropping.
    jobs: Option<Sender<Batch>>,
    done: Receiver<(Batch, Result<(), LogError>)>,
    thread: Option<JoinHandle<()>>,
}

impl Syncer {
    fn start(waker: Arc<Waker>) -> std::io::Result<Syncer> {
        let (jobs, todo) = mpsc::channel::<Batch>();
        let (finished, done) = mpsc::channel();
        let thread = thread::Builder::new()
            .name("raft-mio-sync".to_owned())
            .spawn(move || {
                for batch in todo {
                    let result = batch.write();
                    if finished.send((batch, result)).is_err() {
                        return;
                    }
                    // Fails only if the poll is gone, and the storage with it.
                    let _ = waker.wake();
                }
            })?;
        Ok(Syncer {
            jobs: Some(jobs),
            done,
            thread: Some(thread),
        })
    }

    fn submit(&self, batch: Batch) {
        let sent = self.jobs.as_ref().map(|jobs| jobs.send(batch));
        assert!(
            matches!(sent, Some(Ok(()))),
            "the syncer thread ended while the storage lives"
        );
    }

    fn try_take(&self) -> Option<(Batch, Result<(), LogError>)> {
        self.done.try_recv().ok()
    }

    fn wait(&self) -> (Batch, Result<(), LogError>) {
        self.done
            .recv()
            .expect("the syncer thread ended with a batch in flight")
    }
}

impl Drop for Syncer {
    /// Lets the batch in flight finish, as the disk would have, and stops the thread.
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
