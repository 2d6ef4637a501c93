//! Membership: configuration, adding and removing servers, joining and leaving (M1–M11).

use super::{JOIN_RETRY_MS, Member, Server};
use crate::role::{Joiner, Leader, Phase, Progress, RoleState};
use crate::timer::Timer;
use crate::{
    Address, Configuration, ConnId, LeaderHint, LogLevel, Notice, Payload, Record, Rpc,
    ServerChangeStatus, ServerId,
};

/// What became of a removal request, for an administrator waiting on the answer (M9).
pub(super) enum Removal {
    /// Accepted; it completes when the new configuration commits.
    Started,
    /// Answered at once; `success` says how, `text` is the reference's log line.
    Answered { success: bool, text: String },
}

impl Server {
    /// Makes `members` (and a leader's progress) match the configuration at the end of the
    /// log (M5: a configuration is effective as soon as it is appended, and reverts when its
    /// entry is truncated).
    pub(super) fn sync_members_from_log(&mut self) {
        let config = self.log.latest_configuration().clone();
        let gone: Vec<ServerId> = self
            .members
            .keys()
            .copied()
            .filter(|s| !config.contains(*s))
            .collect();
        for sid in gone {
            self.members.remove(&sid);
            self.log(
                LogLevel::Info,
                format!("server {} removed from configuration", sid.nickname()),
            );
        }
        let log_end = self.log.end();
        for (sid, address) in config.iter() {
            if let Some(m) = self.members.get_mut(&sid) {
                m.address = address.clone();
                continue;
            }
            self.members.insert(
                sid,
                Member {
                    address: address.clone(),
                    last_msg: None,
                },
            );
            self.log(
                LogLevel::Info,
                format!("server {} added to configuration", sid.nickname()),
            );
        }
        if let RoleState::Leader(l) = &mut self.role {
            l.progress.retain(|s, _| config.contains(*s));
            for (sid, _) in config.iter() {
                l.progress
                    .entry(sid)
                    .or_insert_with(|| Progress::new(log_end));
            }
        }
        // Beyond the reference: a connection dialled before we knew who is at its address
        // (while joining) belongs to the member configured there. Otherwise, if that member
        // never sends on it (it may not know us yet), we would never send to it either, and a
        // lagging member could never be caught up. Found by raft-sim seed 2175.
        for c in self
            .conns
            .values_mut()
            .filter(|c| c.sid.is_none() && !c.incoming)
        {
            c.sid = c
                .address
                .as_ref()
                .and_then(|a| config.iter().find(|(_, m)| *m == a).map(|(s, _)| s));
        }
        self.wanted_dirty = true;
    }

    // -------------------------------------------------------------------------------------
    // Adding servers (leader side).

    /// M1, M2: the reference's answers to an add-server request, else start the catch-up.
    pub(super) fn handle_add_server_request(&mut self, from: ServerId, address: Address) {
        use ServerChangeStatus::*;
        let log_end = self.log.end();
        let RoleState::Leader(l) = &mut self.role else {
            self.send_add_server_reply(from, &address, false, NotLeader);
            return;
        };
        if let Some(p) = l.progress.get_mut(&from) {
            let (success, status) = match p.phase {
                Phase::Remove => {
                    p.phase = Phase::Stable;
                    (false, Canceled)
                }
                Phase::Stable => (true, AlreadyPresent),
                _ => (false, InProgress),
            };
            self.send_add_server_reply(from, &address, success, status);
            return;
        }
        if l.removing.as_ref().is_some_and(|(s, _)| *s == from) {
            self.send_add_server_reply(from, &address, false, Committing);
            return;
        }
        if l.adding.contains_key(&from) {
            self.send_add_server_reply(from, &address, false, InProgress);
            return;
        }
        let mut progress = Progress::new(log_end);
        progress.phase = Phase::Catchup;
        progress.requester = Some(from);
        l.adding.insert(
            from,
            Joiner {
                address: address.clone(),
                progress,
            },
        );
        let text = format!(
            "starting to add server {} ({} at {address}) to cluster {}",
            from.nickname(),
            from,
            self.cluster_nickname()
        );
        self.log(LogLevel::Info, text);
        // Raft §4.2.1: the first append finds where its log stands; a fresh server quickly
        // degenerates into a snapshot followed by appends.
        self.replicate_or_probe(from);
    }

    /// Sends `peer` an empty append to learn where its log stands.
    fn replicate_or_probe(&mut self, peer: ServerId) {
        let RoleState::Leader(l) = &self.role else {
            return;
        };
        let Some(next) = l.adding.get(&peer).map(|j| j.progress.next_index) else {
            return;
        };
        let rpc = self.append_request_rpc(next, self.no_entries.clone());
        self.send_with_comment(peer, rpc, Some("initialize new server"));
    }

    fn send_add_server_reply(
        &mut self,
        to: ServerId,
        address: &Address,
        success: bool,
        status: ServerChangeStatus,
    ) {
        let outcome = if success { "succeeded" } else { "failed" };
        let text = format!(
            "adding {} ({to} at {address}) to cluster {} {outcome} ({status})",
            to.nickname(),
            self.cluster_nickname()
        );
        self.log(LogLevel::Info, text);
        let remote_addresses = if self.joining.is_some() {
            Vec::new()
        } else {
            self.members
                .iter()
                .filter(|(s, _)| **s != self.sid)
                .map(|(_, m)| m.address.clone())
                .collect()
        };
        self.send(
            to,
            Rpc::AddServerReply {
                success,
                status,
                remote_addresses,
            },
        );
    }

    /// A catching-up server that has everything moves on to its configuration entry (M2).
    pub(super) fn check_caught_up(&mut self, peer: ServerId) {
        let last = self.log.last_index();
        let RoleState::Leader(l) = &mut self.role else {
            return;
        };
        let Some(j) = l.adding.get_mut(&peer) else {
            return;
        };
        if j.progress.phase == Phase::Catchup && j.progress.match_index >= last {
            j.progress.phase = Phase::CaughtUp;
            self.run_reconfigure();
        }
    }

    /// Moves membership changes along, one at a time (M2, M3, M4): answers the change that
    /// just committed, then starts the next.
    pub(super) fn run_reconfigure(&mut self) {
        let commit = self.commit_index;
        let RoleState::Leader(l) = &self.role else {
            return;
        };
        if self
            .log
            .last_configuration_index()
            .is_some_and(|i| i > commit)
        {
            return; // A change is still being committed.
        }
        if commit < l.term_start {
            // Beyond the reference (Raft dissertation errata): a new leader changes nothing
            // until an entry of its own term commits, or two disjoint majorities could form.
            return;
        }
        if self.leaving {
            // Elected while leaving (see `start_election`): now that a majority holds our
            // log, step aside as leaving does.
            self.step_aside_to_leave();
            return;
        }
        if !l.changing_membership() {
            return; // The usual case, on every commit: one cheap pass says so.
        }
        self.finish_committed_changes();
        if let Some(sid) = self.caught_up_server() {
            self.commit_addition(sid);
        } else if let Some(sid) = self.server_to_remove() {
            self.commit_removal(sid);
        }
    }

    /// The committed change is done: answer it.
    fn finish_committed_changes(&mut self) {
        let RoleState::Leader(l) = &mut self.role else {
            return;
        };
        let mut added = Vec::new();
        for (sid, p) in l
            .progress
            .iter_mut()
            .filter(|(_, p)| p.phase == Phase::Committing)
        {
            p.phase = Phase::Stable;
            added.push(*sid);
        }
        let removed = l.removing.take();
        for sid in added {
            let address = self.members.get(&sid).map(|m| m.address.clone());
            if let Some(address) = address {
                self.send_add_server_reply(sid, &address, true, ServerChangeStatus::Completed);
            }
        }
        if let Some((sid, p)) = removed {
            self.send_remove_server_reply(
                sid,
                p.requester,
                false,
                true,
                ServerChangeStatus::Completed,
            );
        }
    }

    fn caught_up_server(&self) -> Option<ServerId> {
        let RoleState::Leader(l) = &self.role else {
            return None;
        };
        l.adding
            .iter()
            .find(|(_, j)| j.progress.phase == Phase::CaughtUp)
            .map(|(s, _)| *s)
    }

    fn server_to_remove(&self) -> Option<ServerId> {
        let RoleState::Leader(l) = &self.role else {
            return None;
        };
        l.progress
            .iter()
            .find(|(_, p)| p.phase == Phase::Remove)
            .map(|(s, _)| *s)
    }

    fn commit_addition(&mut self, sid: ServerId) {
        let RoleState::Leader(l) = &mut self.role else {
            return;
        };
        let Some(mut joiner) = l.adding.remove(&sid) else {
            return;
        };
        joiner.progress.phase = Phase::Committing;
        l.progress.insert(sid, joiner.progress);
        let mut config = self.log.latest_configuration().clone();
        config.0.insert(sid, joiner.address);
        self.append_and_replicate(Payload::Configuration(config));
    }

    fn commit_removal(&mut self, sid: ServerId) {
        let RoleState::Leader(l) = &mut self.role else {
            return;
        };
        let Some(p) = l.progress.remove(&sid) else {
            return;
        };
        l.removing = Some((sid, p));
        let mut config: Configuration = self.log.latest_configuration().clone();
        config.0.remove(&sid);
        self.append_and_replicate(Payload::Configuration(config));
    }

    // -------------------------------------------------------------------------------------
    // Removing servers (leader side).

    /// M4: the reference's answers to a remove-server request, else schedule the removal.
    /// `requester` is `None` for an administrator's request on this server (kick).
    pub(super) fn handle_remove_server_request(
        &mut self,
        requester: Option<ServerId>,
        target: ServerId,
    ) -> Removal {
        use ServerChangeStatus::*;
        let admin = requester.is_none();
        let RoleState::Leader(l) = &mut self.role else {
            // Beyond the reference: a committed removal that no later addition undoes is
            // final, so any server whose log shows it may say so. A leaving server whose
            // success reply was lost asks only the servers of its own, stale configuration,
            // which may not include the current leader: it would ask forever. Found by
            // raft-sim seed 1450 (7 nodes, heavy membership churn). Where the log shows no
            // removal (compacted away, seed 15453), "not leader" names the leader instead.
            if self.joining.is_none() && self.log.removes(target, self.commit_index) {
                return self.answer_removal(target, requester, admin, true, AlreadyGone);
            }
            return self.answer_removal(target, requester, admin, false, NotLeader);
        };
        if let Some(joiner) = l.adding.remove(&target) {
            // Removing a server that is still being added cancels the addition.
            self.send_add_server_reply(target, &joiner.address, false, Canceled);
            return Removal::Answered {
                success: true,
                text: "canceled pending addition".into(),
            };
        }
        let Some(p) = l.progress.get(&target) else {
            // Beyond the reference: "already gone" only once the configuration without the
            // target is committed. Until then the entry may still be truncated and the target,
            // told it is out, would leave for good while still a member. It asks again (M8).
            // Found by raft-sim seed 201.
            let commit = self.commit_index;
            if self
                .log
                .last_configuration_index()
                .is_some_and(|i| i > commit)
            {
                return self.answer_removal(target, requester, admin, false, Committing);
            }
            return self.answer_removal(target, requester, admin, true, AlreadyGone);
        };
        match p.phase {
            Phase::Committing => {
                return self.answer_removal(target, requester, admin, false, Committing);
            }
            Phase::Remove => {
                return self.answer_removal(target, requester, admin, false, InProgress);
            }
            _ => {}
        }
        // Keep at least one server; servers being added do not count, as they may fail.
        let others = l
            .progress
            .iter()
            .filter(|(s, p)| **s != target && p.phase != Phase::Remove)
            .count();
        if others == 0 {
            return self.answer_removal(target, requester, admin, false, Empty);
        }
        if let Some(p) = l.progress.get_mut(&target) {
            p.phase = Phase::Remove;
            p.requester = requester;
        }
        self.run_reconfigure();
        Removal::Started
    }

    fn answer_removal(
        &mut self,
        target: ServerId,
        requester: Option<ServerId>,
        admin: bool,
        success: bool,
        status: ServerChangeStatus,
    ) -> Removal {
        let text = self.send_remove_server_reply(target, requester, admin, success, status);
        Removal::Answered { success, text }
    }

    /// Answers a removal to its requester and always to the removed server, so it knows for
    /// sure and stops (M4). Returns the reference's log line.
    fn send_remove_server_reply(
        &mut self,
        target: ServerId,
        requester: Option<ServerId>,
        admin: bool,
        success: bool,
        status: ServerChangeStatus,
    ) -> String {
        let by = match requester {
            Some(r) => format!("by {}", r.nickname()),
            None => "via unixctl".to_owned(),
        };
        let whom = if !admin && requester == Some(target) {
            "itself".to_owned()
        } else if target == self.sid {
            format!("{} (ourselves)", target.nickname())
        } else {
            target.nickname().to_string()
        };
        let outcome = if success { "succeeded" } else { "failed" };
        let text = format!(
            "request {by} to remove {whom} from cluster {} {outcome} ({status})",
            self.cluster_nickname()
        );
        self.log(LogLevel::Info, text.clone());
        if let Some(r) = requester {
            self.send_remove_server_reply_rpc(r, target, success, status);
        }
        if requester != Some(target) {
            self.send_remove_server_reply_rpc(target, target, success, status);
        }
        text
    }

    fn send_remove_server_reply_rpc(
        &mut self,
        to: ServerId,
        target: ServerId,
        success: bool,
        status: ServerChangeStatus,
    ) {
        if to == self.sid {
            if success && target == self.sid {
                self.finished_leaving();
            }
            return;
        }
        let target = (to != target).then_some(target);
        let leader = match status {
            ServerChangeStatus::NotLeader => self.known_leader(),
            _ => None,
        };
        self.send(
            to,
            Rpc::RemoveServerReply {
                success,
                status,
                target,
                leader,
            },
        );
    }

    /// The leader this server follows, with its address, if it knows both.
    fn known_leader(&self) -> Option<LeaderHint> {
        let sid = self.leader.filter(|l| *l != self.sid)?;
        let address = self.members.get(&sid)?.address.clone();
        Some(LeaderHint { sid, address })
    }

    /// A leader stepping down fails the changes it was making (M6).
    pub(super) fn fail_membership_changes(&mut self, leader: Leader, status: ServerChangeStatus) {
        for (sid, joiner) in leader.adding {
            self.send_add_server_reply(sid, &joiner.address, false, status);
        }
        if let Some((sid, p)) = leader.removing {
            self.send_remove_server_reply(sid, p.requester, false, false, status);
        }
    }

    /// Closing or failing: the removal in progress ends with "server shutdown".
    pub(super) fn shut_down_membership(&mut self) {
        let RoleState::Leader(l) = &mut self.role else {
            return;
        };
        if let Some((sid, p)) = l.removing.take() {
            self.send_remove_server_reply(
                sid,
                p.requester,
                false,
                false,
                ServerChangeStatus::Shutdown,
            );
        }
    }

    // -------------------------------------------------------------------------------------
    // Joining and leaving (this server's side).

    /// M7: on success we are a member; on failure, learn more addresses to try.
    pub(super) fn handle_add_server_reply(
        &mut self,
        success: bool,
        remote_addresses: Vec<Address>,
    ) {
        let Some(remotes) = &mut self.joining else {
            self.log(
                LogLevel::Warn,
                "received add_server_reply even though we're already part of the cluster".into(),
            );
            return;
        };
        if success {
            // The entry that added us may have committed without us, so we need not be in our
            // own configuration yet.
            self.joining = None;
            self.timers.stop(Timer::Join);
            self.wanted_dirty = true;
            self.notify(Notice::Joined);
            self.advance_apply();
            return;
        }
        let mut learned = Vec::new();
        for address in remote_addresses {
            if address != self.local_address && !remotes.contains(&address) {
                remotes.push(address.clone());
                learned.push(address);
            }
        }
        if learned.is_empty() {
            return;
        }
        for address in learned {
            self.log(
                LogLevel::Info,
                format!("{address}: learned new server address for joining cluster"),
            );
        }
        self.wanted_dirty = true;
        // Beyond the reference, which keeps learned addresses in memory only: a joining
        // server restarted after every server it was first given had left could reach no
        // one, and never joined. Found by raft-sim churn seeds 6179 and 7634 (3 nodes).
        self.rewrite_log();
    }

    /// The join timer: ask every connected server again (M7).
    pub(super) fn join_timeout(&mut self) {
        if self.joining.is_none() {
            return;
        }
        let conns: Vec<ConnId> = self.conns.keys().copied().collect();
        for conn in conns {
            self.send_add_server_request(conn);
        }
        self.timers.set(Timer::Join, self.now.plus(JOIN_RETRY_MS));
    }

    pub(super) fn send_add_server_request(&mut self, conn: ConnId) {
        let rpc = Rpc::AddServerRequest {
            address: self.local_address.clone(),
        };
        self.send_on_conn(conn, rpc, None);
    }

    /// The steps of leaving (M8): hand leadership over if we hold it, follow, and ask every
    /// other server to remove us.
    pub(super) fn step_aside_to_leave(&mut self) {
        self.transfer_leadership_because("this server is leaving the cluster");
        self.become_follower();
        self.send_remove_server_requests();
    }

    /// Asks every other server to remove this one (M8). We may not know the leader, and a
    /// removal may already have committed without us hearing, so ask everyone.
    pub(super) fn send_remove_server_requests(&mut self) {
        let text = format!(
            "sending remove request (joining={}, leaving={})",
            self.joining.is_some(),
            self.leaving
        );
        self.log(LogLevel::Info, text);
        let others: Vec<ServerId> = self
            .members
            .keys()
            .copied()
            .filter(|s| *s != self.sid)
            .collect();
        let hinted = (self.leave_hint.as_ref())
            .map(|h| h.sid)
            .filter(|s| !self.members.contains_key(s));
        for sid in others.into_iter().chain(hinted) {
            self.send(sid, Rpc::RemoveServerRequest { server: self.sid });
        }
        self.timers
            .set(Timer::Leave, self.now.plus(self.election_timer));
    }

    pub(super) fn leave_timeout(&mut self) {
        if self.leaving {
            self.send_remove_server_requests();
        }
    }

    /// A removal of us committed (M8), whether we asked (leave) or not (kick). While leaving,
    /// a "not leader" answer naming a leader our configuration lacks sends us to ask it too.
    pub(super) fn handle_remove_server_reply(
        &mut self,
        success: bool,
        target: Option<ServerId>,
        leader: Option<LeaderHint>,
    ) {
        if success && target.is_none_or(|t| t == self.sid) {
            self.finished_leaving();
            return;
        }
        let Some(hint) = leader.filter(|h| self.leaving && target.is_none() && h.sid != self.sid)
        else {
            return;
        };
        if self.members.contains_key(&hint.sid) || self.leave_hint.as_ref() == Some(&hint) {
            return;
        }
        self.leave_hint = Some(hint);
        self.wanted_dirty = true;
    }

    /// Records "left" and stops for good; the log can never be opened again (M8).
    pub(super) fn finished_leaving(&mut self) {
        if self.left {
            return;
        }
        let cluster = self.cluster_nickname();
        self.log(
            LogLevel::Info,
            format!(
                "{}: finished leaving cluster {cluster}",
                self.sid.nickname()
            ),
        );
        let note = Record::Note {
            note: crate::record::NOTE_LEFT.into(),
            comment: "this server left the cluster".into(),
        };
        self.write_one(note);
        self.leaving = false;
        self.left = true;
        self.complete_all_commands(crate::CommandStatus::Shutdown);
        self.shut_down_membership();
        self.notify(Notice::Left);
        self.drop_all_connections();
    }

    /// The cluster id's nickname, or "(unknown)" before a joining server learns it.
    pub(super) fn cluster_nickname(&self) -> String {
        self.cid
            .map_or_else(|| "(unknown)".to_owned(), |c| c.nickname().to_string())
    }
}
