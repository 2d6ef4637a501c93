//! Snapshots: storing our own, installing the leader's (S9, N1–N7).

use super::{MAX_SNAPSHOT_INDEX, Server};
use crate::role::RoleState;
use crate::waiter::Waiting;
use crate::{
    Action, Data, FailureTest, Header, Index, LogLevel, Millis, Record, Rpc, ServerId, Snapshot,
    SnapshotError, Term,
};

/// The log must exceed this many bytes of entries before "grew a lot" (OVS uses 10 MB).
const GREW_LOTS_MIN_BYTES: u64 = 10 << 20;

impl Server {
    /// Replaces the log up to `index` (default: the last applied index) by a snapshot of the
    /// application's state `data` (N1, S9). The log is replaced with one atomic
    /// `Action::ReplaceLog`.
    ///
    /// Call it only when [`Server::may_snapshot`] is true; a leader should first call
    /// [`Server::notify_snapshot_recommended`] to hand over leadership (N3).
    pub fn store_snapshot(
        &mut self,
        now: Millis,
        data: Data,
        index: Option<Index>,
    ) -> Result<(), SnapshotError> {
        self.snapshot_refusal()?;
        if !self.enter(now) {
            return Err(SnapshotError::Failed);
        }
        let result = self.store_snapshot_now(data, index);
        self.leave_step();
        result
    }

    fn snapshot_refusal(&self) -> Result<(), SnapshotError> {
        // A server not in its own configuration is still joining as far as its log knows
        // (the reply may come before the entry that added it): a snapshot would drop the
        // joining mark from its header, and a restart would then refuse to open.
        if self.joining.is_some() || !self.members.contains_key(&self.sid) {
            Err(SnapshotError::Joining)
        } else if self.leaving {
            Err(SnapshotError::Leaving)
        } else if self.left {
            Err(SnapshotError::Left)
        } else if self.failed.is_some() || self.crashed || self.closed {
            Err(SnapshotError::Failed)
        } else {
            Ok(())
        }
    }

    fn store_snapshot_now(
        &mut self,
        data: Data,
        index: Option<Index>,
    ) -> Result<(), SnapshotError> {
        let index = index.unwrap_or(self.last_applied);
        if index.next() <= self.log.start() {
            return Err(SnapshotError::Duplicate);
        }
        if index > self.last_applied {
            return Err(SnapshotError::NotApplied {
                index,
                applied: self.last_applied,
            });
        }
        // Found by the `core_events` fuzz target: a joining server given entries from index 1
        // by appends (a leader would send a snapshot first; a forged one need not) snapshotted
        // before its first configuration entry and wrote a header it could not reopen.
        if self.log.configuration_at(index).is_empty() {
            return Err(SnapshotError::NoConfiguration { index });
        }
        let snapshot = Snapshot {
            index,
            term: self.log.term_at(index).unwrap_or_default(),
            eid: self.log.eid_at(index),
            servers: self.log.configuration_at(index).clone(),
            election_timer: Some(self.election_timer),
            data,
        };
        self.log.compact(snapshot);
        self.rewrite_log();
        Ok(())
    }

    /// Replaces the log with what this server holds now: its snapshot and entries, its term
    /// and vote, its commit index, under a header that says what it is joining through.
    pub(super) fn rewrite_log(&mut self) {
        let mut records: Vec<Record> = self
            .log
            .iter_from(self.log.start())
            .map(|(index, e)| Record::Entry {
                index,
                entry: e.clone(),
            })
            .collect();
        records.push(self.state_record());
        if self.commit_index >= self.log.start() {
            records.push(Record::CommitIndex {
                index: self.commit_index,
            });
        }
        // The new log holds every entry we have, so once it is durable so are they.
        self.replace_log(records, self.log.last_index());
    }

    /// Asks the driver to replace the log with a header carrying the current snapshot and
    /// `records`; once durable, the log is durable up to `synced_up_to`.
    fn replace_log(&mut self, records: Vec<Record>, synced_up_to: Index) {
        let header = Header {
            server_id: self.sid,
            cluster_id: self.cid,
            name: self.name.clone(),
            local_address: self.local_address.clone(),
            // Beyond the reference: a joining server keeps saying so, so a restart before the
            // join completes asks again instead of failing "not in configuration". So does a
            // server installing a snapshot from before its addition (only members and servers
            // being added get snapshots). Found by raft-sim seed 1041 (3 nodes, doubled
            // fault rates).
            joining: self.joining.clone().or_else(|| self.joining_mark()),
            // A joining server that has no snapshot yet has none to write either.
            snapshot: (self.log.snapshot().index.0 >= 1).then(|| self.log.snapshot().clone()),
        };
        // The new log carries the commit index (explicitly or as its snapshot).
        self.deferred.commit_record = None;
        let ticket = self.barrier.issue();
        self.emit(Action::ReplaceLog {
            ticket,
            header: Box::new(header),
            records,
        });
        self.barrier.wait(ticket, Waiting::Entries(synced_up_to));
    }

    /// The remotes to ask again after a restart if the log does not name this server.
    fn joining_mark(&self) -> Option<Vec<crate::Address>> {
        let config = self.log.latest_configuration();
        (!config.contains(self.sid)).then(|| config.iter().map(|(_, a)| a.clone()).collect())
    }

    /// The current term and vote as a record.
    fn state_record(&self) -> Record {
        match self.vote {
            Some(vote) => Record::Vote {
                term: self.term,
                vote,
            },
            None => Record::Term { term: self.term },
        }
    }

    /// True if [`Server::store_snapshot`] can work now (N2): not joining, leaving, left or
    /// failed; a follower or a lone server; and something applied beyond the snapshot.
    pub fn may_snapshot(&self) -> bool {
        self.snapshot_refusal().is_ok()
            && (matches!(self.role, RoleState::Follower) || self.members.len() == 1)
            && self.last_applied >= self.log.start()
    }

    /// How many applied entries a snapshot would discard (N7).
    pub fn log_length(&self) -> u64 {
        self.last_applied.next().distance_from(self.log.start())
    }

    /// True if the log grew enough since the last snapshot that one is worth taking (N7):
    /// more than 10 MB of entries and more than the snapshot's own size.
    pub fn grew_lots(&self) -> bool {
        let bytes: u64 = self
            .log
            .iter_from(self.log.start())
            .map(|(_, e)| e.wire_size() as u64)
            .sum();
        bytes > GREW_LOTS_MIN_BYTES && bytes > self.log.snapshot().data.len() as u64
    }

    /// Prepares for a snapshot soon (N3): a leader hands over leadership first, since writing
    /// a snapshot may take long and the cluster should not wait.
    pub fn notify_snapshot_recommended(&mut self, now: Millis) {
        if self.enter(now) {
            self.notify_snapshot_recommended_at();
            self.leave_step();
        }
    }

    pub(super) fn notify_snapshot_recommended_at(&mut self) {
        if self.is_leader() {
            self.log(
                LogLevel::Info,
                "Transferring leadership to write a snapshot.".into(),
            );
            self.transfer_leadership_because("preparing to write snapshot");
            self.become_follower();
        }
    }

    /// Sends our snapshot to `peer`, one at a time (N4).
    pub(super) fn send_snapshot(&mut self, peer: ServerId, comment: Option<&str>) {
        let now = self.now;
        let RoleState::Leader(l) = &mut self.role else {
            return;
        };
        let Some(p) = l.progress_mut(peer) else {
            return;
        };
        if p.snapshot_in_flight.is_some() {
            return;
        }
        let mut snapshot = self.log.snapshot().clone();
        snapshot.election_timer = Some(self.election_timer); // The latest value.
        let text = format!(
            "sending snapshot to server {}, {}:{}",
            peer.nickname(),
            self.term,
            snapshot.index
        );
        let sent = self.send_with_comment(
            peer,
            Rpc::InstallSnapshotRequest {
                term: self.term,
                snapshot,
            },
            comment,
        );
        if let RoleState::Leader(l) = &mut self.role
            && let Some(p) = l.progress_mut(peer)
        {
            p.snapshot_in_flight = sent.then_some(now);
        }
        self.log(LogLevel::Info, text);
    }

    /// The follower's side of InstallSnapshot (N4): ignore a snapshot older than ours or
    /// inside our log; replace the log with a newer one.
    pub(super) fn handle_install_snapshot_request(
        &mut self,
        from: ServerId,
        term: Term,
        snapshot: Snapshot,
    ) {
        // A snapshot must end at an index a log header may hold (0 is before the first entry),
        // so the header written for it reopens and the log after it cannot overflow (see
        // MAX_SNAPSHOT_INDEX). Found by the `core_events` fuzz target.
        let index_ok = (1..=MAX_SNAPSHOT_INDEX).contains(&snapshot.index.0);
        if snapshot.term > term || snapshot.servers.is_empty() || !index_ok {
            self.counters.malformed_messages += 1;
            return;
        }
        // A newer term made us a follower before this; in our own term the sender claims a
        // leadership that is ours. Installing would replace the leader's log under its own
        // replication state, so refuse, as an append from it is refused (found by the
        // `core_events` fuzz target).
        if self.is_leader() {
            self.counters.malformed_messages += 1;
            let text = format!(
                "this server is leader but server {} claims to be",
                from.nickname()
            );
            self.log(LogLevel::Error, text);
            return;
        }
        if self.crash_point(
            FailureTest::CrashBeforeSendSnapshotReply,
            "crash before sending install_snapshot_reply",
        ) {
            return;
        }
        self.reset_election_timer();
        let (last_index, last_term) = (snapshot.index, snapshot.term);
        // Raft Figure 13 (steps 6-7), beyond the reference: a snapshot that ends inside our
        // log is skipped only if our log holds its last entry; an uncommitted entry of another
        // term there means the log diverged, and keeping it would make the leader, told the
        // snapshot is in place, send appends we refuse and the snapshot again, forever. Found
        // by raft-sim seed 405 (3 nodes).
        // Only an uncommitted entry can have diverged: a snapshot that contradicts a committed
        // one is bogus, and installing it would move the commit index back below what was
        // applied (found by the `core_events` fuzz target).
        let diverged = last_index > self.commit_index
            && last_index >= self.log.start()
            && self.log.term_at(last_index) != Some(last_term);
        if last_index.next() >= self.log.end() || diverged {
            self.install_snapshot(snapshot);
        }
        self.send(
            from,
            Rpc::InstallSnapshotReply {
                term: self.term,
                last_index,
                last_term,
            },
        );
    }

    /// Discards our whole log for `snapshot`, which reaches past its end.
    fn install_snapshot(&mut self, snapshot: Snapshot) {
        let index = snapshot.index;
        self.log.reset(snapshot);
        // Nothing of the old log vouches for the snapshot until the new log is durable.
        self.barrier.clamp_log(index.prev());
        self.replace_log(vec![self.state_record()], index);
        self.commit_index = index;
        if self.last_applied < index {
            self.last_applied = index.prev(); // The snapshot is unread.
        }
        self.sync_members_from_log();
        if let Some(ms) = self.log.snapshot().election_timer {
            self.election_timer = super::sane_election_timer(ms);
        }
        self.advance_apply();
    }

    /// The leader's side (N5): start over if the follower installed an obsolete snapshot,
    /// else continue with appends from the log start.
    pub(super) fn handle_install_snapshot_reply(
        &mut self,
        from: ServerId,
        last_index: Index,
        last_term: Term,
    ) {
        let snap = (self.log.snapshot().index, self.log.snapshot().term);
        // The reference does not check the role here and would assert in the append below.
        let RoleState::Leader(l) = &mut self.role else {
            self.counters.replies_not_leader += 1;
            return;
        };
        let Some(p) = l.progress_mut(from) else {
            self.counters.replies_from_unknown += 1;
            return;
        };
        p.snapshot_in_flight = None;
        if (last_index, last_term) != snap {
            let text = format!(
                "server {} installed out-of-date snapshot, starting over",
                from.nickname()
            );
            self.log(LogLevel::Info, text);
            self.send_snapshot(from, Some("installed obsolete snapshot"));
            return;
        }
        // The follower now holds our log up to the snapshot: replicate from there.
        p.acked(snap.0);
        let text = format!(
            "installed snapshot on server {} up to {last_term}:{last_index}",
            from.nickname()
        );
        self.log(LogLevel::Info, text);
        self.update_match(from, snap.0);
        self.replicate(from);
        self.check_caught_up(from);
    }
}
