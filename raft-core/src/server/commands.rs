//! Commands: execute, relay, complete, expire (C1–C8).

use super::Server;
use crate::role::RoleState;
use crate::timer::Timer;
use crate::{
    Action, CommandStatus, Data, EntryId, FailureTest, Index, LogLevel, Millis, Payload, Rpc,
    ServerId,
};

/// A command in progress, in one of the reference's three cases: executed here as leader
/// (`index` set), relayed by us as follower (`index` unset), or relayed to us by `requester`.
#[derive(Clone, Debug)]
pub(super) struct Command {
    pub(super) index: Option<Index>,
    /// When it was issued or last pinged, for expiry (C7).
    pub(super) timestamp: Millis,
    /// The follower that relayed it to us (case 3); `None` for our own client's commands.
    pub(super) requester: Option<ServerId>,
}

impl Server {
    /// Executes a command (C1): appends `data` to the log as a new entry if this server is
    /// the leader, or relays it to the leader (C4). `prereq`, if given, must be the id of the
    /// last entry with data (C3). Returns the new entry's id; the outcome arrives later as
    /// `Action::CommandDone` with that id (sometimes at once, for an immediate refusal).
    pub fn execute(&mut self, now: Millis, data: Data, prereq: Option<EntryId>) -> EntryId {
        let eid = EntryId(self.ids.uuid());
        if !self.enter(now) {
            self.command_done(eid, CommandStatus::Shutdown, None);
            return eid;
        }
        self.execute_now(eid, data, prereq);
        self.leave_step();
        eid
    }

    fn execute_now(&mut self, eid: EntryId, data: Data, prereq: Option<EntryId>) {
        if self.joining.is_some() || self.leaving {
            self.command_done(eid, CommandStatus::Shutdown, None);
            return;
        }
        if !self.is_leader() {
            self.relay(eid, data, prereq);
            return;
        }
        let current = self.current_eid();
        if prereq.is_some_and(|p| p != current) {
            self.log(
                LogLevel::Info,
                format!(
                    "current entry eid {} does not match prerequisite",
                    current.0
                ),
            );
            self.command_done(eid, CommandStatus::BadPrerequisite, None);
            return;
        }
        self.initiate(eid, data, None);
    }

    /// A follower relays commands with a prerequisite to a known leader (C4). Commands
    /// without one are refused: in OVSDB an entry makes no sense without its context.
    fn relay(&mut self, eid: EntryId, data: Data, prereq: Option<EntryId>) {
        let (Some(leader), Some(prereq), RoleState::Follower) = (self.leader, prereq, &self.role)
        else {
            self.command_done(eid, CommandStatus::NotLeader, None);
            return;
        };
        if self.crash_point(
            FailureTest::CrashBeforeSendExecuteRequest,
            "crash before sending execute_command_request",
        ) {
            return;
        }
        if !self.send(
            leader,
            Rpc::ExecuteCommandRequest {
                data,
                prereq,
                result: eid,
            },
        ) {
            self.command_done(eid, CommandStatus::NotLeader, None);
            return;
        }
        if self.crash_point(
            FailureTest::CrashAfterSendExecuteRequest,
            "crash after sending execute_command_request",
        ) {
            return;
        }
        self.add_command(eid, None, None);
    }

    /// Appends a command's entry as leader and sends it out (the reference's
    /// `raft_command_initiate`).
    fn initiate(&mut self, eid: EntryId, data: Data, requester: Option<ServerId>) {
        let index = self.append_entry(Payload::Data { id: eid, data });
        self.add_command(eid, Some(index), requester);
        if self.crash_point(
            FailureTest::CrashBeforeSendAppendRequest,
            "crash before sending append_request",
        ) {
            return;
        }
        self.deferred.replicate = true;
        self.reset_ping_timer();
    }

    fn add_command(&mut self, eid: EntryId, index: Option<Index>, requester: Option<ServerId>) {
        self.commands.insert(
            eid,
            Command {
                index,
                timestamp: self.now,
                requester,
            },
        );
        if self.timers.get(Timer::Ping).is_none() {
            self.reset_ping_timer();
        }
    }

    /// The id of the last entry with data (C3).
    pub(super) fn current_eid(&self) -> EntryId {
        self.log.eid_at(self.log.last_index())
    }

    /// Tells the client of a command of ours how it ended.
    fn command_done(&mut self, eid: EntryId, status: CommandStatus, index: Option<Index>) {
        self.emit(Action::CommandDone { eid, status, index });
    }

    /// Ends a pending command: answers the follower that relayed it, or our own client.
    pub(super) fn complete_command(&mut self, eid: EntryId, status: CommandStatus) {
        if let Some(cmd) = self.commands.remove(&eid) {
            self.finish_command(eid, cmd, status);
        }
    }

    /// Answers a command already taken out of the pending set.
    pub(super) fn finish_command(&mut self, eid: EntryId, cmd: Command, status: CommandStatus) {
        let index = cmd.index.filter(|_| status == CommandStatus::Success);
        match cmd.requester {
            Some(requester) => {
                self.send_execute_reply(requester, eid, status, index.unwrap_or_default())
            }
            None => self.command_done(eid, status, index),
        }
    }

    /// Ends every pending command with `status` (C8).
    pub(super) fn complete_all_commands(&mut self, status: CommandStatus) {
        let eids: Vec<EntryId> = self.commands.keys().copied().collect();
        for eid in eids {
            self.complete_command(eid, status);
        }
    }

    /// Commands older than two election timers end (C7): with "lost leadership" if we took
    /// them as leader and lost it, else with "timeout". Twice the timer lets a command finish
    /// across one leader election.
    pub(super) fn expire_commands(&mut self) {
        let limit = self.election_timer * 2;
        let leader = self.is_leader();
        let expired: Vec<(EntryId, CommandStatus)> = self
            .commands
            .iter()
            .filter(|(_, c)| self.now.since(c.timestamp) > limit)
            .map(|(eid, c)| {
                let lost = c.index.is_some() && !leader;
                (
                    *eid,
                    if lost {
                        CommandStatus::LostLeadership
                    } else {
                        CommandStatus::Timeout
                    },
                )
            })
            .collect();
        for (eid, status) in expired {
            self.complete_command(eid, status);
        }
    }

    /// Pings followers waiting on commands they relayed (R6), so they do not expire them.
    pub(super) fn ping_relayed_commands(&mut self) {
        let waiting: Vec<(EntryId, ServerId)> = self
            .commands
            .iter()
            .filter_map(|(eid, c)| c.requester.map(|r| (*eid, r)))
            .collect();
        for (eid, requester) in waiting {
            self.send_execute_reply(requester, eid, CommandStatus::Incomplete, Index(0));
        }
    }

    fn send_execute_reply(
        &mut self,
        to: ServerId,
        eid: EntryId,
        status: CommandStatus,
        commit_index: Index,
    ) {
        if self.crash_point(
            FailureTest::CrashBeforeSendExecuteReply,
            "crash before sending execute_command_reply",
        ) {
            return;
        }
        self.send(
            to,
            Rpc::ExecuteCommandReply {
                result: eid,
                status,
                commit_index,
            },
        );
        self.crash_point(
            FailureTest::CrashAfterSendExecuteReply,
            "crash after sending execute_command_reply",
        );
    }

    /// The leader's side of a relayed command (C5): answer at once on failure, else on commit.
    pub(super) fn handle_execute_command_request(
        &mut self,
        from: ServerId,
        data: Data,
        prereq: EntryId,
        eid: EntryId,
    ) {
        let status = if self.commands.contains_key(&eid) {
            // The same entry id twice: a duplicated request or a confused peer. Appending it
            // again would give two entries one id; refusing it (its own entry moved the
            // current eid past `prereq`, or we stepped down since) would contradict the first
            // copy's outcome. Beyond the reference, which has no such check. Found by
            // raft-sim seeds 67 and 1903.
            self.counters.duplicate_commands += 1;
            return;
        } else if !self.is_leader() {
            CommandStatus::NotLeader
        } else if prereq != self.current_eid() {
            let text = format!(
                "current entry eid {} does not match prerequisite {} in execute_command_request",
                self.current_eid().0,
                prereq.0
            );
            self.log(LogLevel::Info, text);
            CommandStatus::BadPrerequisite
        } else {
            self.initiate(eid, data, Some(from));
            return;
        };
        self.send_execute_reply(from, eid, status, Index(0));
    }

    /// The leader answered (or pinged) a command we relayed.
    pub(super) fn handle_execute_command_reply(
        &mut self,
        from: ServerId,
        eid: EntryId,
        status: CommandStatus,
        commit_index: Index,
    ) {
        let now = self.now;
        let Some(cmd) = self.commands.get_mut(&eid) else {
            self.counters.unknown_command_replies += 1;
            let text = format!(
                "received \"{status}\" reply from {} for unknown command",
                from.nickname()
            );
            self.log(LogLevel::Info, text);
            return;
        };
        if status == CommandStatus::Incomplete {
            cmd.timestamp = now;
        } else {
            cmd.index = Some(commit_index);
            self.complete_command(eid, status);
        }
    }
}
