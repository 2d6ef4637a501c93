//! Log replication: append requests and replies, commit, apply (R1–R7, N6).

use std::sync::Arc;

use super::Server;
use crate::log::Log;
use crate::role::{Mode, RoleState};
use crate::waiter::Waiting;
use crate::{
    Action, AppendResult, CommandStatus, Entry, FailureTest, Index, LogLevel, Notice, Payload,
    Record, Rpc, ServerId, Term,
};

/// The parts of an append request the reply needs.
#[derive(Clone, Copy)]
pub(super) struct AppendHeader {
    pub(super) from: ServerId,
    pub(super) prev_index: Index,
    pub(super) prev_term: Term,
    pub(super) leader_commit: Index,
    pub(super) n_entries: u64,
}

/// Entries taken from the log for append requests, kept while a leader sends them to
/// several peers.
#[derive(Clone)]
struct Batch {
    /// The index of the first entry.
    next: Index,
    entries: Arc<[Entry]>,
    /// Their estimated size on the wire, for flow control.
    bytes: usize,
}

impl Batch {
    /// The entries from `next` that one append request may carry.
    fn from_log(log: &Log, next: Index, max_n: usize, max_bytes: usize) -> Batch {
        let (entries, bytes) = log.entries_from(next, max_n, max_bytes);
        Batch {
            next,
            entries,
            bytes,
        }
    }
}

/// Which peers [`Server::send_empty_appends`] sends to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum EmptyAppends {
    /// Every peer.
    Heartbeat,
    /// Only the peers not yet told the commit index.
    CommitNews,
}

impl Server {
    // -------------------------------------------------------------------------------------
    // Follower side.

    /// Raft's AppendEntries receiver (R2), after the term prologue.
    pub(super) fn handle_append_request(
        &mut self,
        rq: AppendHeader,
        term: Term,
        entries: &[Entry],
    ) {
        // A leader's log never goes backwards in term nor holds terms after its own.
        let mut prev = rq.prev_term;
        if !entries
            .iter()
            .all(|e| std::mem::replace(&mut prev, e.term) <= e.term && e.term <= term)
        {
            self.counters.malformed_messages += 1;
            self.send_append_reply(rq, AppendResult::Inconsistency, "malformed request");
            return;
        }
        // Raft §4.1: accept entries from a leader outside our configuration, or a new server
        // could never catch up.
        if !self.update_leader(rq.from) {
            self.send_append_reply(rq, AppendResult::Inconsistency, "usurped leadership");
            return;
        }
        self.reset_election_timer();
        let snap = self.log.snapshot().index;
        let Some(first) = rq.prev_index.checked_add(1) else {
            self.send_append_reply(rq, AppendResult::Inconsistency, "mismatch past end of log");
            return;
        };
        if first >= self.log.start() {
            self.append_entries(rq, rq.prev_index, rq.prev_term, entries);
            return;
        }
        // The request reaches back into what our snapshot covers. `first < start`, so
        // `prev + n` cannot overflow.
        let nth = Index(rq.prev_index.0 + rq.n_entries);
        if nth < snap {
            self.send_append_reply(rq, AppendResult::Ok, "append before log start");
        } else if nth == snap {
            let last_term = entries.last().map_or(rq.prev_term, |e| e.term);
            if last_term == self.log.snapshot().term {
                self.send_append_reply(rq, AppendResult::Ok, "no change");
            } else {
                self.send_append_reply(rq, AppendResult::Inconsistency, "term mismatch");
            }
        } else {
            // Trim the entries our snapshot covers, keeping the term of the last one trimmed.
            let ofs = (self.log.start().0 - first.0) as usize;
            let prev_term = entries[ofs - 1].term;
            self.append_entries(rq, snap, prev_term, &entries[ofs..]);
        }
    }

    /// Whether `prev_index` is in our log with `prev_term`, else why not.
    fn mismatch(&self, prev_index: Index, prev_term: Term) -> Option<&'static str> {
        let snap = self.log.snapshot().index;
        if prev_index < snap {
            Some("mismatch before start of log")
        } else if prev_index >= self.log.end() {
            Some("mismatch past end of log")
        } else if self.log.term_at(prev_index) != Some(prev_term) {
            Some(if prev_index == snap {
                "prev_term mismatch"
            } else {
                "term mismatch"
            })
        } else {
            None
        }
    }

    /// Raft Figure 3.1, receiver steps 2–4.
    fn append_entries(
        &mut self,
        rq: AppendHeader,
        prev_index: Index,
        prev_term: Term,
        entries: &[Entry],
    ) {
        if let Some(why) = self.mismatch(prev_index, prev_term) {
            let text = format!(
                "rejecting append_request because previous entry {prev_term},{prev_index} not in local log ({why})"
            );
            self.log(LogLevel::Info, text);
            self.send_append_reply(rq, AppendResult::Inconsistency, why);
            return;
        }
        // Skip what we already have; truncate at the first conflict.
        let mut skip = 0;
        let mut config_changed = false;
        for entry in entries {
            let index = Index(prev_index.0 + 1 + skip as u64);
            match self.log.term_at(index) {
                None => break,
                Some(t) if t == entry.term => skip += 1,
                Some(_) if index <= self.commit_index => {
                    // Only a broken leader rewrites committed entries; refuse.
                    self.counters.conflicts_with_committed += 1;
                    self.send_append_reply(
                        rq,
                        AppendResult::Inconsistency,
                        "conflicts with committed entry",
                    );
                    return;
                }
                Some(_) => {
                    let n = self.log.end().distance_from(index);
                    self.log(
                        LogLevel::Info,
                        format!("truncating {n} entries from end of log"),
                    );
                    config_changed |= self.log.truncate(index);
                    self.barrier.clamp_log(index.prev());
                    break;
                }
            }
        }
        if skip == entries.len() {
            let note = if rq.n_entries == 0 {
                "heartbeat"
            } else {
                "no change"
            };
            if config_changed {
                self.sync_members_from_log();
            }
            self.send_append_reply(rq, AppendResult::Ok, note);
            return;
        }
        if self.crash_point(
            FailureTest::CrashAfterReceiveAppendRequestUpdate,
            "crash after receiving append_request with update",
        ) {
            return;
        }
        let mut records = Vec::with_capacity(entries.len() - skip + 1); // + a commit record
        for entry in &entries[skip..] {
            config_changed |= matches!(entry.payload, Payload::Configuration(_));
            let index = self.log.append(entry.clone());
            let entry = entry.clone();
            records.push(Record::Entry { index, entry });
        }
        let ticket = self.write(records);
        self.barrier
            .wait(ticket, Waiting::Entries(self.log.last_index()));
        if config_changed {
            self.sync_members_from_log();
        }
        self.send_append_reply(rq, AppendResult::Ok, "log updated");
    }

    /// Raft §3.4: an append request names the leader of our term (the reference's
    /// `raft_update_leader`). A leader hearing another leader of its term refuses it (R2).
    fn update_leader(&mut self, sid: ServerId) -> bool {
        if self.is_leader() {
            self.log(
                LogLevel::Error,
                format!(
                    "this server is leader but server {} claims to be",
                    sid.nickname()
                ),
            );
            return false;
        }
        if self.leader != Some(sid) {
            let text = match self.leader {
                Some(old) => format!(
                    "leader for term {} changed from {} to {}",
                    self.term,
                    old.nickname(),
                    sid.nickname()
                ),
                None => format!("server {} is leader for term {}", sid.nickname(), self.term),
            };
            self.log(LogLevel::Info, text);
            self.set_leader(Some(sid));
            self.write_one(Record::Leader {
                term: self.term,
                leader: sid,
            });
        }
        if matches!(self.role, RoleState::Candidate(_)) {
            self.set_role(RoleState::Follower);
        }
        true
    }

    /// Answers an append request, first advancing the commit index on success (R5).
    pub(super) fn send_append_reply(
        &mut self,
        rq: AppendHeader,
        result: AppendResult,
        comment: &str,
    ) {
        if result == AppendResult::Ok && rq.leader_commit > self.commit_index {
            let last_new = Index(rq.prev_index.0.saturating_add(rq.n_entries));
            self.update_commit_index(rq.leader_commit.min(last_new));
        }
        let reply = Rpc::AppendReply {
            term: self.term,
            log_end: self.log.end(),
            prev_index: rq.prev_index,
            prev_term: rq.prev_term,
            n_entries: rq.n_entries,
            result,
        };
        // Successful replies are the hot path; keep them free of allocation.
        let comment = (result != AppendResult::Ok).then_some(comment);
        self.send_with_comment(rq.from, reply, comment);
    }

    // -------------------------------------------------------------------------------------
    // Leader side.

    /// Appends an entry of the current term as leader and sends it to every peer that can take
    /// it now (R7). Returns its index.
    pub(super) fn append_entry(&mut self, payload: Payload) -> Index {
        let entry = Entry {
            term: self.term,
            payload,
        };
        let config = matches!(entry.payload, Payload::Configuration(_));
        let index = self.log.append(entry.clone());
        let ticket = self.write_one(Record::Entry { index, entry });
        self.barrier.wait(ticket, Waiting::Entries(index));
        if config {
            self.sync_members_from_log();
        }
        index
    }

    /// Appends an entry as leader and sends it out at once (R7).
    pub(super) fn append_and_replicate(&mut self, payload: Payload) -> Index {
        let index = self.append_entry(payload);
        self.deferred.replicate = true;
        self.reset_ping_timer();
        index
    }

    /// Sends what the peers are missing, after new entries (R7).
    pub(super) fn replicate_to_all(&mut self) {
        let peers = self.leader_peers();
        // Peers in step need the same entries: the first one's batch serves them all.
        let mut batch = None;
        for &peer in &peers {
            self.replicate_sharing(peer, &mut batch);
        }
        self.return_peers(peers);
    }

    /// Every server the leader replicates to: configured peers and servers being added.
    /// Borrows a buffer kept for the purpose (give it back with `return_peers`), since this
    /// runs for every new entry.
    pub(super) fn leader_peers(&mut self) -> Vec<ServerId> {
        let mut peers = std::mem::take(&mut self.peers_buffer);
        peers.clear();
        if let RoleState::Leader(l) = &self.role {
            // Plain loops: a chained, filtered iterator cost twice as much.
            for &sid in l.progress.keys() {
                if sid != self.sid {
                    peers.push(sid);
                }
            }
            for &sid in l.adding.keys() {
                if sid != self.sid {
                    peers.push(sid);
                }
            }
        }
        peers
    }

    pub(super) fn return_peers(&mut self, peers: Vec<ServerId>) {
        self.peers_buffer = peers;
    }

    /// Sends `peer` the entries it lacks, as far as flow control allows, or the snapshot if
    /// it is behind the log start (R3).
    pub(super) fn replicate(&mut self, peer: ServerId) {
        self.replicate_sharing(peer, &mut None);
    }

    /// [`Server::replicate`], reusing `batch` if `peer` needs the entries it holds, and
    /// leaving the last batch sent in it. The log must not change while a batch is kept.
    fn replicate_sharing(&mut self, peer: ServerId, batch: &mut Option<Batch>) {
        loop {
            let (start, end) = (self.log.start(), self.log.end());
            let (max_n, max_bytes) = (self.config.max_append_entries, self.config.max_append_bytes);
            let (max_msgs, max_inflight) = (
                self.config.max_inflight_appends,
                self.config.max_inflight_bytes,
            );
            let RoleState::Leader(l) = &mut self.role else {
                return;
            };
            let Some(p) = l.progress_mut(peer) else {
                return;
            };
            if p.snapshot_in_flight.is_some() || p.next_index >= end {
                return;
            }
            if p.next_index < start {
                self.send_snapshot(peer, None);
                return;
            }
            if !p.may_send(max_msgs, max_inflight) {
                return;
            }
            let next = p.next_index;
            // Straight from the log, not through `&self`, so `p` stays borrowed: looking it up
            // again cost more than the rest of the loop.
            let Batch { entries, bytes, .. } = match batch {
                Some(b) if b.next == next => b.clone(),
                _ => batch
                    .insert(Batch::from_log(&self.log, next, max_n, max_bytes))
                    .clone(),
            };
            let n = entries.len() as u64;
            let last = Index(next.0 + n - 1);
            p.sent(last, bytes);
            p.commit_sent = p.commit_sent.max(self.commit_index.min(last));
            // A probe waits for its answer; a pipelined peer that now has everything needs
            // no second look (sending changes neither the log nor the progress).
            let done = matches!(p.mode, Mode::Probe { .. }) || p.next_index >= end;
            let rpc = self.append_request_rpc(next, entries);
            self.send(peer, rpc);
            if done {
                return;
            }
        }
    }

    /// An append request for `entries` starting at `next`.
    pub(super) fn append_request_rpc(&self, next: Index, entries: Arc<[Entry]>) -> Rpc {
        let prev_index = next.prev();
        // Below the log start the snapshot's term stands in (only a heartbeat to a server
        // that needs the snapshot gets here, and it is refused).
        let prev_term = self
            .log
            .term_at(prev_index)
            .unwrap_or(self.log.snapshot().term);
        Rpc::AppendRequest {
            term: self.term,
            prev_index,
            prev_term,
            leader_commit: self.commit_index,
            entries,
        }
    }

    /// Heartbeats to every peer (R6), and pings to followers waiting on relayed commands.
    /// Servers being added get them too (beyond the reference), so a lost reply cannot stall
    /// their catch-up.
    pub(super) fn send_heartbeats(&mut self) {
        self.send_empty_appends(EmptyAppends::Heartbeat);
        self.ping_relayed_commands();
        self.reset_ping_timer();
    }

    /// An empty append to each peer: to all of them as heartbeats (expiring a snapshot
    /// transfer unanswered too long), or only to those not yet told the commit index. Each
    /// records the commit index it conveys (R5: a follower takes it only up to the request's
    /// last entry).
    pub(super) fn send_empty_appends(&mut self, which: EmptyAppends) {
        let (now, limit) = (self.now, 2 * self.election_timer);
        let (commit, start) = (self.commit_index, self.log.start());
        let peers = self.leader_peers();
        for &peer in &peers {
            let RoleState::Leader(l) = &mut self.role else {
                break;
            };
            let Some(p) = l.progress_mut(peer) else {
                continue;
            };
            let next = p.next_index.max(start);
            let conveyed = commit.min(next.prev());
            match which {
                EmptyAppends::Heartbeat => p.expire_snapshot(now, limit),
                EmptyAppends::CommitNews if p.commit_sent >= conveyed => continue,
                EmptyAppends::CommitNews => {}
            }
            p.commit_sent = p.commit_sent.max(conveyed);
            let rpc = self.append_request_rpc(next, self.no_entries.clone());
            self.send(peer, rpc);
        }
        self.return_peers(peers);
    }

    /// Raft Figure 3.1: the leader's handling of an append reply (R3).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn handle_append_reply(
        &mut self,
        from: ServerId,
        log_end: Index,
        prev_index: Index,
        n_entries: u64,
        result: AppendResult,
    ) {
        let last_index = self.log.last_index();
        let RoleState::Leader(l) = &mut self.role else {
            self.counters.replies_not_leader += 1;
            return;
        };
        let Some(p) = l.progress_mut(from).filter(|_| from != self.sid) else {
            self.counters.replies_from_unknown += 1;
            return;
        };
        p.replied = true;
        let acked = Index(prev_index.0.saturating_add(n_entries));
        match result {
            AppendResult::Ok if acked > last_index => {
                // A follower cannot hold entries we never had: ignore the lie.
                self.counters.bogus_replies += 1;
                return;
            }
            AppendResult::Ok => {
                p.acked(acked);
                // A follower acknowledging entries it could not yet be told are committed
                // (a probe answered after the commit) hears the commit index now.
                let bump = p.commit_sent < self.commit_index.min(acked);
                // `update_match` with the progress already at hand.
                if p.raise_match(acked) {
                    self.consider_commit();
                }
                if bump {
                    self.schedule_commit_notify();
                }
            }
            AppendResult::Inconsistency | AppendResult::IoError => {
                // A stale refusal (of an older request) changes nothing, but still lets a
                // peer that needs the snapshot get it below.
                let current = p.rejected(prev_index, log_end);
                if current && result == AppendResult::IoError {
                    let text = format!("{} reported I/O error", from.nickname());
                    self.log(LogLevel::Info, text);
                    return; // No point in re-sending at once.
                }
            }
        }
        self.replicate(from);
        self.check_caught_up(from);
    }

    /// Raises `peer`'s match index and commits what a majority holds.
    pub(super) fn update_match(&mut self, peer: ServerId, index: Index) {
        let RoleState::Leader(l) = &mut self.role else {
            return;
        };
        let Some(p) = l.progress_mut(peer) else {
            return;
        };
        if p.raise_match(index) {
            self.consider_commit();
        }
    }

    /// Our own log became durable further: as leader, count ourselves (R4).
    pub(super) fn own_log_synced(&mut self) {
        let synced = self.barrier.log_synced().min(self.log.last_index());
        self.update_match(self.sid, synced);
    }

    /// Raft Figure 3.1 (R4): commit the highest index a majority holds, if it is of the
    /// current term. The majority index is the median of the sorted match indexes, so this
    /// costs O(servers), not O(uncommitted log) as the reference's loop does.
    fn consider_commit(&mut self) {
        let RoleState::Leader(l) = &self.role else {
            return;
        };
        let matches = l.progress.values().map(|p| p.match_index);
        let Some(majority) = crate::quorum::majority_index(matches) else {
            return;
        };
        if majority > self.commit_index && self.log.term_at(majority) == Some(self.term) {
            self.update_commit_index(majority);
            self.schedule_commit_notify();
        }
    }

    // -------------------------------------------------------------------------------------
    // Commit and apply.

    /// Advances the commit index to `new` (S7): completes commands, applies election timers,
    /// lets reconfiguration proceed, and hands entries to the application.
    pub(super) fn update_commit_index(&mut self, new: Index) -> bool {
        let new = new.min(self.log.last_index());
        if new <= self.commit_index {
            return false;
        }
        for index in self.commit_index.0 + 1..=new.0 {
            let index = Index(index);
            let Some(entry) = self.log.get(index) else {
                break;
            };
            match entry.payload {
                Payload::Data { id, .. } if !self.commands.is_empty() => {
                    self.complete_on_commit(id, index)
                }
                Payload::ElectionTimer(ms) => self.election_timer_committed(ms),
                _ => {}
            }
        }
        self.commit_index = new;
        // S7: recorded with the next write, as OVS writes it without a commit of its own.
        self.deferred.commit_record = Some(new);
        self.advance_apply();
        if self.is_leader() {
            // Reconfiguration also waits for this term's first commit (M3), so try on every
            // commit, not only on configuration entries.
            self.run_reconfigure();
        }
        true
    }

    fn election_timer_committed(&mut self, ms: u64) {
        let ms = super::sane_election_timer(ms);
        if let RoleState::Leader(l) = &mut self.role {
            l.election_timer_new = None;
        }
        if ms != self.election_timer {
            let text = format!(
                "Election timer changed from {} to {ms}",
                self.election_timer
            );
            self.log(LogLevel::Info, text);
            self.election_timer = ms;
            self.notify(Notice::ElectionTimerChanged { ms });
        }
    }

    /// Hands the application what is committed and unread: the snapshot first if unread, then
    /// each entry with data (N6). Nothing while joining or failed.
    pub(super) fn advance_apply(&mut self) {
        if self.joining.is_some() || self.failed.is_some() {
            return;
        }
        let snap = self.log.snapshot();
        if snap.index.0 >= 1 && self.last_applied.next() == snap.index {
            let action = Action::ApplySnapshot {
                index: snap.index,
                eid: snap.eid,
                data: snap.data.clone(),
            };
            self.last_applied = snap.index;
            self.emit(action);
        }
        while self.last_applied < self.commit_index {
            let index = self.last_applied.next();
            self.last_applied = index;
            if let Some(Entry {
                payload: Payload::Data { id, data },
                ..
            }) = self.log.get(index)
            {
                let action = Action::Apply {
                    index,
                    eid: *id,
                    data: data.clone(),
                };
                self.emit(action);
            }
        }
    }

    /// Completes a command whose entry committed (C6), whatever our role now.
    fn complete_on_commit(&mut self, eid: crate::EntryId, index: Index) {
        let Some(mut cmd) = self.commands.remove(&eid) else {
            return;
        };
        match (
            cmd.index.is_some(),
            cmd.requester.is_some(),
            self.is_leader(),
        ) {
            (false, _, true) => {
                let text = format!(
                    "command completed after role change from follower to leader (eid: {}, commit index: {index})",
                    eid.0
                );
                self.log(LogLevel::Info, text);
            }
            // A follower relayed it to us and we lost leadership after replicating it: that
            // follower learns of the commit itself, and no client of ours waits.
            (true, true, false) => return,
            _ => {}
        }
        cmd.index = Some(index);
        self.finish_command(eid, cmd, CommandStatus::Success);
    }
}
