//! Work deferred to the next [`Server::poll_action`], so that everything one turn of the driver
//! produced leaves together: the entries of many commands in one append per peer, a new commit
//! index in the appends that carry them instead of a heartbeat of its own, and the commit-index
//! record in the next write instead of a write (and an fsync) of its own.
//!
//! A driver drains actions after every input, so nothing waits long: at most until the driver
//! polls, which the contract requires right after each input.

use super::Server;
use super::replication::EmptyAppends;
use crate::timer::Timer;
use crate::{Action, FailureTest, Index, Record};

/// What the next poll must do first.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Deferred {
    /// New entries to send to every peer that can take them (R7).
    pub(super) replicate: bool,
    /// The commit index advanced; peers that no append told must hear it (R5).
    pub(super) notify_commit: bool,
    /// A commit-index record not yet written (S7).
    pub(super) commit_record: Option<Index>,
}

impl Server {
    /// Does the deferred work. Runs at the start of every `poll_action`, cheaply when idle.
    /// Kept out of line: inlined, it made every `poll_action` set up a frame for it, and most
    /// polls find nothing deferred.
    #[inline(never)]
    pub(super) fn flush_deferred(&mut self) {
        let deferred = std::mem::take(&mut self.deferred);
        if self.is_stopped() {
            return;
        }
        if deferred.replicate && self.is_leader() {
            self.replicate_to_all();
            self.after_appends_sent();
        }
        if deferred.notify_commit && self.is_leader() {
            self.notify_commit();
        }
        self.deferred.commit_record = deferred.commit_record;
        self.attach_commit_record();
    }

    /// The failure tests that fire once a new entry's appends are out (A3).
    fn after_appends_sent(&mut self) {
        if self.crash_point(
            FailureTest::CrashAfterSendAppendRequest,
            "crash after sending append_request",
        ) {
            return;
        }
        if self.failure_test == Some(FailureTest::TransferLeadershipAfterSendAppendRequest) {
            self.failure_test = Some(FailureTest::TransferLeadership);
        }
    }

    /// Arranges for followers to hear a new commit index: with the appends that follow within
    /// `commit_notify_delay_ms`, or else an empty append (see `notify_commit`).
    pub(super) fn schedule_commit_notify(&mut self) {
        match self.config.commit_notify_delay_ms {
            0 => self.deferred.notify_commit = true,
            delay if self.timers.get(Timer::CommitNotify).is_none() => {
                self.timers.set(Timer::CommitNotify, self.now.plus(delay));
            }
            _ => {}
        }
    }

    /// Sends an empty append to every peer that has not been told the commit index yet. The
    /// reference sends heartbeats to everyone at every commit; appends sent meanwhile already
    /// carry it.
    pub(super) fn notify_commit(&mut self) {
        if self.is_leader() {
            self.send_empty_appends(EmptyAppends::CommitNews);
        }
    }

    /// Adds the pending commit-index record to the last queued write, if there is one with no
    /// log replacement after it; otherwise it waits for the next write.
    fn attach_commit_record(&mut self) {
        let Some(index) = self.deferred.commit_record else {
            return;
        };
        for action in self.actions.iter_mut().rev() {
            match action {
                Action::ReplaceLog { .. } => return,
                Action::WriteLog { records, .. } => {
                    records.push(Record::CommitIndex { index });
                    self.deferred.commit_record = None;
                    return;
                }
                _ => {}
            }
        }
    }
}
