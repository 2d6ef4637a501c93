//! Administrative requests (A2, A3, E10, M8–M10) and read-only queries.

use super::membership::Removal;
use super::{MAX_ELECTION_TIMER_MS, MIN_ELECTION_TIMER_MS, Server};
use crate::role::RoleState;
use crate::{
    Address, AdminError, ClusterId, CommandStatus, Counters, FailureTest, Index, LogLevel, Millis,
    Payload, Record, Rpc, ServerId, Term,
};

/// The reference's default backlog limit per connection, in messages.
pub(super) const DEFAULT_BACKLOG_MESSAGES: usize = 500;
/// The reference's default backlog limit per connection, in bytes.
pub(super) const DEFAULT_BACKLOG_BYTES: usize = u32::MAX as usize;
/// The smallest backlog limit in messages that `set_backlog_threshold` accepts.
const MIN_BACKLOG_MESSAGES: u64 = 50;

impl Server {
    /// Starts leaving the cluster (M8): hand over leadership, then ask every server to remove
    /// this one until one says it is done. Watch for `Notice::Left`.
    pub fn leave(&mut self, now: Millis) -> Result<(), AdminError> {
        if !self.enter(now) {
            return Err(AdminError::Stopped);
        }
        let result = self.leave_now();
        self.leave_step();
        result
    }

    fn leave_now(&mut self) -> Result<(), AdminError> {
        if self.leaving {
            return Err(AdminError::AlreadyLeaving);
        }
        if self.joining.is_some() {
            return Err(AdminError::LeaveWhileJoining);
        }
        let text = format!(
            "{}: starting to leave cluster {}",
            self.sid.nickname(),
            self.cluster_nickname()
        );
        self.log(LogLevel::Info, text);
        self.leaving = true;
        self.step_aside_to_leave();
        Ok(())
    }

    /// Removes another server by request on any server (M9): `server` is its address or a
    /// unique prefix of its id. Kicking this server means leaving.
    pub fn kick(&mut self, now: Millis, server: &str) -> Result<String, AdminError> {
        if !self.enter(now) {
            return Err(AdminError::Stopped);
        }
        let result = self.kick_now(server);
        self.leave_step();
        result
    }

    fn kick_now(&mut self, server: &str) -> Result<String, AdminError> {
        let target = self
            .lookup_server(server)
            .ok_or(AdminError::UnknownServer)?;
        if target == self.sid {
            return self.leave_now().map(|()| "leaving cluster".to_owned());
        }
        if self.is_leader() {
            return match self.handle_remove_server_request(None, target) {
                Removal::Started => Ok("started removal".to_owned()),
                Removal::Answered {
                    success: true,
                    text,
                } => Ok(text),
                Removal::Answered {
                    success: false,
                    text,
                } => Err(AdminError::RemovalFailed(text)),
            };
        }
        let sent = self.leader.is_some_and(|leader| {
            self.send_with_comment(
                leader,
                Rpc::RemoveServerRequest { server: target },
                Some("via unixctl"),
            )
        });
        if sent {
            Ok("sent removal request to leader".to_owned())
        } else {
            Err(AdminError::RemovalNotSent)
        }
    }

    /// The configured server named by `name`: an exact address, or the one server whose id
    /// starts with `name` (case-insensitive). Unlike the reference, a name that matches
    /// nothing never picks the only server.
    fn lookup_server(&self, name: &str) -> Option<ServerId> {
        if let Some((sid, _)) = self
            .members
            .iter()
            .find(|(_, m)| m.address.as_str() == name)
        {
            return Some(*sid);
        }
        let name = name.to_ascii_lowercase();
        if name.is_empty() {
            return None;
        }
        let mut matches = self
            .members
            .keys()
            .filter(|s| s.0.hyphenated().to_string().starts_with(&name));
        match (matches.next(), matches.next()) {
            (Some(sid), None) => Some(*sid),
            _ => None,
        }
    }

    /// Changes the cluster's election timer (M10): leader only, one change at a time,
    /// 100..=600000 ms, at most doubling at once. It is an entry and takes effect on commit.
    pub fn change_election_timer(
        &mut self,
        now: Millis,
        ms: u64,
    ) -> Result<&'static str, AdminError> {
        if !self.enter(now) {
            return Err(AdminError::Stopped);
        }
        let result = self.change_election_timer_now(ms);
        self.leave_step();
        result
    }

    fn change_election_timer_now(&mut self, ms: u64) -> Result<&'static str, AdminError> {
        let RoleState::Leader(l) = &mut self.role else {
            return Err(AdminError::TimerNotLeader);
        };
        if l.election_timer_new.is_some() {
            return Err(AdminError::TimerChangePending);
        }
        if ms == self.election_timer {
            return Ok("change election timer to current value.");
        }
        if !(MIN_ELECTION_TIMER_MS..=MAX_ELECTION_TIMER_MS).contains(&ms) {
            return Err(AdminError::TimerOutOfRange);
        }
        // Grow gradually, so a follower that has not applied the new value yet does not time
        // out under a leader that has.
        if ms > self.election_timer.saturating_mul(2) {
            return Err(AdminError::TimerIncreaseTooLarge);
        }
        l.election_timer_new = Some(ms);
        self.append_and_replicate(Payload::ElectionTimer(ms));
        Ok("change of election timer initiated.")
    }

    /// Hands leadership to another server if this one leads (E10).
    pub fn transfer_leadership(&mut self, now: Millis) {
        if self.enter(now) {
            self.transfer_leadership_because("an administrator asked");
            self.leave_step();
        }
    }

    /// Takes leadership from the current leader by starting an election marked as a transfer,
    /// which no server ignores (E10).
    pub fn take_leadership(&mut self, now: Millis) {
        if self.enter(now) {
            if !self.is_leader() {
                self.start_election(true);
            }
            self.leave_step();
        }
    }

    /// Sets the per-connection backlog limit the adapter enforces (A2); at least 50 messages.
    pub fn set_backlog_threshold(&mut self, messages: u64, bytes: u64) -> Result<(), AdminError> {
        let (Ok(m), Ok(b)) = (usize::try_from(messages), usize::try_from(bytes)) else {
            return Err(AdminError::BacklogOutOfRange);
        };
        if messages < MIN_BACKLOG_MESSAGES {
            return Err(AdminError::BacklogOutOfRange);
        }
        self.backlog = (m, b);
        Ok(())
    }

    /// The per-connection backlog limit (messages, bytes) for the adapter to enforce.
    pub fn backlog_threshold(&self) -> (usize, usize) {
        self.backlog
    }

    /// Engages a failure-test scenario by the reference's name, or `clear` (A3).
    pub fn set_failure_test(
        &mut self,
        now: Millis,
        name: &str,
    ) -> Result<&'static str, AdminError> {
        if name == "clear" {
            self.failure_test = None;
            self.wanted_dirty = true;
            return Ok("test dismissed");
        }
        let test: FailureTest = name.parse()?;
        self.failure_test = Some(test);
        if test == FailureTest::DelayElection && self.enter(now) {
            if matches!(self.role, RoleState::Follower) {
                self.reset_election_timer();
            }
            self.leave_step();
        }
        Ok("test engaged")
    }

    /// Closes the server (the reference's `raft_close`): hands over leadership, ends every
    /// pending command with "server shutdown", and does nothing afterwards. The cluster sees
    /// a closed server as failed; membership does not change.
    pub fn close(&mut self, now: Millis) {
        if !self.enter(now) {
            return;
        }
        self.transfer_leadership_because("this server is shutting down");
        self.complete_all_commands(CommandStatus::Shutdown);
        self.shut_down_membership();
        self.drop_all_connections();
        // A clean close leaves the commit index on disk, so a restart applies everything.
        if let Some(index) = self.deferred.commit_record.take() {
            self.write_one(Record::CommitIndex { index });
        }
        self.closed = true;
    }

    // -------------------------------------------------------------------------------------
    // Queries.

    /// This server's id.
    pub fn server_id(&self) -> ServerId {
        self.sid
    }

    /// The cluster's id; `None` while a joining server has not learned it.
    pub fn cluster_id(&self) -> Option<ClusterId> {
        self.cid
    }

    /// The cluster's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// This server's address.
    pub fn local_address(&self) -> &Address {
        &self.local_address
    }

    /// The current term.
    pub fn term(&self) -> Term {
        self.term
    }

    /// The leader, if known.
    pub fn leader(&self) -> Option<ServerId> {
        self.leader
    }

    /// The server this one voted for in the current term.
    pub fn vote(&self) -> Option<ServerId> {
        self.vote
    }

    /// The highest index known to be committed.
    pub fn commit_index(&self) -> Index {
        self.commit_index
    }

    /// The id of the last entry with data in the log (or the snapshot's): the prerequisite a
    /// follower gives [`Server::execute`] to relay a command (C3, C4).
    pub fn last_eid(&self) -> crate::EntryId {
        self.current_eid()
    }

    /// The last index handed to the application.
    pub fn applied_index(&self) -> Index {
        self.last_applied
    }

    /// The first index held in the log (one past the snapshot).
    pub fn log_start(&self) -> Index {
        self.log.start()
    }

    /// One past the last index in the log.
    pub fn log_end(&self) -> Index {
        self.log.end()
    }

    /// The term of the entry at `index`, if it is held (or is the snapshot's).
    pub fn term_at(&self, index: Index) -> Option<Term> {
        self.log.term_at(index)
    }

    /// The entry at `index`, if it is held.
    pub fn entry(&self, index: Index) -> Option<&crate::Entry> {
        self.log.get(index)
    }

    /// The current configuration (the latest in the log).
    pub fn configuration(&self) -> &crate::Configuration {
        self.log.latest_configuration()
    }

    /// The election timer in effect, in milliseconds.
    pub fn election_timer(&self) -> u64 {
        self.election_timer
    }

    /// E11: joined, not leaving, left or failed, has had a leader, and is not retrying a
    /// failed election. Clients use it to decide whether to try another server.
    pub fn is_connected(&self) -> bool {
        !self.election.candidate_retrying
            && self.joining.is_none()
            && !self.leaving
            && !self.left
            && self.failed.is_none()
            && self.election.ever_had_leader
    }

    /// True while joining a cluster.
    pub fn is_joining(&self) -> bool {
        self.joining.is_some()
    }

    /// True while leaving.
    pub fn is_leaving(&self) -> bool {
        self.leaving
    }

    /// True once the server has left its cluster.
    pub fn has_left(&self) -> bool {
        self.left
    }

    /// True once a write failed (S10).
    pub fn has_failed(&self) -> bool {
        self.failed.is_some()
    }

    /// True once the server does nothing more: left, failed, crashed or closed.
    pub fn is_stopped_for_good(&self) -> bool {
        self.is_stopped()
    }

    /// Counts of what was ignored or refused.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The last write ticket issued and the last one reported durable.
    pub fn tickets(&self) -> (crate::WriteTicket, crate::WriteTicket) {
        (self.barrier.last_issued(), self.barrier.persisted())
    }

    /// The highest log index known durable on this server.
    pub fn durable_index(&self) -> Index {
        self.barrier.log_synced()
    }

    /// The term and vote known durable on this server.
    pub fn durable_term(&self) -> Term {
        self.barrier.synced_term()
    }

    /// The number of pending items behind the write barrier.
    pub fn waiting(&self) -> usize {
        self.barrier.pending()
    }
}
