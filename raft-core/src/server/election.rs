//! Elections: timeouts, vote requests and replies, role changes (E1–E11).

use super::Server;
use crate::role::{Candidate, Leader, Progress, RoleState};
use crate::timer::Timer;
use crate::{FailureTest, Index, LogLevel, Payload, Record, Rpc, ServerId, Term};

impl Server {
    /// The election timer fired (E1, E8).
    pub(super) fn election_timeout(&mut self) {
        if self.joining.is_some() {
            // Joining servers never elect; keep the timer armed for when the join completes.
            self.reset_election_timer();
            return;
        }
        if self.is_leader() {
            self.check_quorum();
        } else {
            self.start_election(false);
        }
    }

    /// Raft §6.2: a leader that has not heard from a majority within an election timeout
    /// steps down, so clients can find the real leader (E8).
    fn check_quorum(&mut self) {
        let RoleState::Leader(leader) = &mut self.role else {
            return;
        };
        let replied = leader.progress.values().filter(|p| p.replied).count();
        // A leader that removed itself (until the removal commits) needs a majority besides
        // itself.
        let me = usize::from(leader.progress.contains_key(&self.sid));
        if replied + me > leader.progress.len() / 2 {
            leader.progress.values_mut().for_each(|p| p.replied = false);
            self.reset_election_timer();
        } else {
            let text = format!("term {}: no quorum heard, stepping down", self.term);
            self.log(LogLevel::Info, text);
            self.become_follower();
            self.start_election(false);
        }
    }

    /// Starts an election (E2), marked as a leadership transfer if asked (E10).
    pub(super) fn start_election(&mut self, leadership_transfer: bool) {
        // E9: a server outside its configuration never stands. Nor does a joining one, even
        // if its log names it (it replays its log when restarted while joining, beyond the
        // reference): as leader it would never finish joining, so never apply or take a
        // command. Found by raft-sim seed 949 (3 nodes, heavy membership churn).
        //
        // A leaving one does, beyond the reference: it may hold entries the others need, and
        // once leader it hands over (`run_reconfigure`). A kicked leader's configuration
        // without itself reached only a server that then started leaving; both held the
        // newest entry, both refused their votes to the others, neither stood, and no leader
        // was elected for a whole minute. Found by raft-sim seed 1011807 (5 nodes, heavy
        // faults).
        if self.joining.is_some() || !self.members.contains_key(&self.sid) {
            return;
        }
        let Some(term) = self.term.next() else {
            self.log(
                LogLevel::Error,
                "term space exhausted; cannot start an election".into(),
            );
            return;
        };
        debug_assert!(!self.is_leader(), "a leader starting an election");
        self.set_term(term, Some(self.sid));
        self.set_leader(None);
        self.set_role(RoleState::Candidate(Candidate::default()));
        self.election.candidate_retrying = !self.election.had_leader;
        self.election.had_leader = false;
        self.election.started = Some(self.now);
        self.election.won = None;
        self.election.transfer = leadership_transfer;
        let why = if leadership_transfer {
            "leadership transfer"
        } else {
            "timeout expired"
        };
        self.log(
            LogLevel::Info,
            format!("term {term}: {why}, starting election"),
        );
        self.reset_election_timer();
        let rq = Rpc::VoteRequest {
            term,
            last_index: self.log.last_index(),
            last_term: self.log.last_term(),
            leadership_transfer,
        };
        let peers: Vec<ServerId> = self
            .members
            .keys()
            .copied()
            .filter(|s| *s != self.sid)
            .collect();
        if self.failure_test != Some(FailureTest::DontSendVoteRequest) {
            for peer in peers {
                self.send(peer, rq.clone());
            }
        }
        self.accept_vote(self.sid, self.sid);
    }

    /// Counts `voter`'s vote for `vote` (E4).
    fn accept_vote(&mut self, voter: ServerId, vote: ServerId) {
        let RoleState::Candidate(c) = &mut self.role else {
            return;
        };
        if let Some(old) = c.votes.insert(voter, vote).filter(|old| *old != vote) {
            let text = format!(
                "server {} changed its vote from {} to {}",
                voter.nickname(),
                old.nickname(),
                vote.nickname()
            );
            self.log(LogLevel::Warn, text);
        }
        let RoleState::Candidate(c) = &self.role else {
            return;
        };
        let mine = c
            .votes
            .iter()
            .filter(|(s, v)| **v == self.sid && self.members.contains_key(s))
            .count();
        if mine > self.members.len() / 2 {
            self.become_leader(mine);
        }
    }

    /// Disruptive servers (Raft §4.2.3, E7): a leader ignores vote requests; a follower ignores
    /// them within one election timer of hearing from its leader; a transfer is never ignored.
    pub(super) fn suppress_disruptive(&self, rpc: &Rpc) -> bool {
        let Rpc::VoteRequest {
            leadership_transfer: false,
            ..
        } = rpc
        else {
            return false;
        };
        match self.role {
            RoleState::Leader(_) => true,
            // Beyond the reference, whose timer base moves at every reset: only while a leader
            // is known. A server that just stepped down to a candidate's term, or granted a
            // vote, knows none, and ignoring candidates then let a stale member that kept
            // raising the term block every election for a minute (raft-sim seed 1494, 3
            // nodes with heavy churn and doubled faults).
            RoleState::Follower => {
                self.leader.is_some() && self.now < self.election.base.plus(self.election_timer)
            }
            RoleState::Candidate(_) => false,
        }
    }

    /// Raft §3.3 (E6): a newer term makes us a follower of it; a stale one is refused.
    /// Returns false if the message must be refused.
    pub(super) fn receive_term(&mut self, term: Term, from: ServerId, what: &str) -> bool {
        if term > self.term {
            self.set_term(term, None);
            self.become_follower();
            true
        } else if term < self.term {
            self.counters.stale_terms += 1;
            let text = format!(
                "rejecting term {term} < current term {} received in {what} message from server {}",
                self.term,
                from.nickname()
            );
            self.log(LogLevel::Info, text);
            false
        } else {
            true
        }
    }

    /// Answers a vote request of a stale term with our term and vote, so its candidate
    /// learns the term (Raft §3.3: current terms are exchanged whenever servers
    /// communicate). Beyond the reference, which drops it: a candidate that the others'
    /// configurations leave out is never sent a newer term, and raised its own term one
    /// election at a time behind a peer doing the same, whose vote it needed, forever.
    /// Found by raft-sim seed 8466 (3 nodes, doubled faults and membership churn).
    pub(super) fn tell_stale_candidate(&mut self, candidate: ServerId, rpc: &Rpc) {
        if let (Rpc::VoteRequest { .. }, Some(vote)) = (rpc, self.vote) {
            let reply = Rpc::VoteReply {
                term: self.term,
                vote,
            };
            self.send(candidate, reply);
        }
    }

    /// Raft Figure 3.1 and §3.6.1: grant at most one vote per term, only to an up-to-date log
    /// (E3). The reply waits until the vote is durable.
    pub(super) fn handle_vote_request(
        &mut self,
        from: ServerId,
        last_index: Index,
        last_term: Term,
    ) {
        match self.vote {
            // Already voted: re-send it (even for someone else, which helps debugging).
            Some(_) => {}
            None => {
                let ours = (self.log.last_term(), self.log.last_index());
                if ours > (last_term, last_index) {
                    return; // Our log is more up to date: withhold the vote.
                }
                self.set_term(self.term, Some(from));
                self.reset_election_timer();
            }
        }
        if let Some(vote) = self.vote {
            self.send(
                from,
                Rpc::VoteReply {
                    term: self.term,
                    vote,
                },
            );
        }
    }

    pub(super) fn handle_vote_reply(&mut self, from: ServerId, vote: ServerId) {
        if matches!(self.role, RoleState::Candidate(_))
            && from != self.sid
            && self.members.contains_key(&from)
        {
            self.accept_vote(from, vote);
        }
    }

    /// A new leader (E5): fresh progress for everyone, a leader record, and a no-op.
    fn become_leader(&mut self, votes: usize) {
        let text = format!(
            "term {}: elected leader by {votes}+ of {} servers",
            self.term,
            self.members.len()
        );
        self.log(LogLevel::Info, text);
        let log_end = self.log.end();
        let progress = self
            .members
            .keys()
            .map(|s| (*s, Progress::new(log_end)))
            .collect();
        let leader = Leader {
            progress,
            adding: Default::default(),
            removing: None,
            election_timer_new: None,
            term_start: log_end,
        };
        self.set_role(RoleState::Leader(Box::new(leader)));
        self.election.won = Some(self.now);
        self.set_leader(Some(self.sid));
        self.reset_election_timer();
        self.reset_ping_timer();
        self.own_log_synced();
        self.write_one(Record::Leader {
            term: self.term,
            leader: self.sid,
        });
        // Raft §6.4: commit a no-op to learn what is committed.
        self.append_and_replicate(Payload::Noop);
    }

    /// Steps down (the reference's `raft_become_follower`). Pending membership changes fail
    /// with "lost leadership" (M6); commands stay, as they may still commit (C6).
    pub(super) fn become_follower(&mut self) {
        self.set_leader(None);
        if matches!(self.role, RoleState::Follower) {
            return;
        }
        let old = std::mem::replace(&mut self.role, RoleState::Follower);
        let role = self.role();
        self.notify(crate::Notice::RoleChanged {
            role,
            term: self.term,
        });
        self.reset_election_timer();
        if let RoleState::Leader(leader) = old {
            self.fail_membership_changes(*leader, crate::ServerChangeStatus::LostLeadership);
        }
        if self.commands.is_empty() {
            self.timers.stop(Timer::Ping);
        }
    }

    /// A leader asked us to take over (E10).
    pub(super) fn handle_become_leader(&mut self, from: ServerId) {
        if matches!(self.role, RoleState::Follower) {
            let text = format!(
                "received leadership transfer from {} in term {}",
                from.nickname(),
                self.term
            );
            self.log(LogLevel::Info, text);
            self.start_election(true);
        }
    }

    /// Asks a stable, connected peer to take over at once (E10). Used when leaving, closing,
    /// before a snapshot, and on request.
    pub(super) fn transfer_leadership_because(&mut self, reason: &str) {
        let RoleState::Leader(leader) = &self.role else {
            return;
        };
        let stable: Vec<ServerId> = leader
            .progress
            .iter()
            .filter(|(s, p)| **s != self.sid && p.phase == crate::role::Phase::Stable)
            .map(|(s, _)| *s)
            .collect();
        let Some(target) = stable.into_iter().find(|s| self.conn_to(*s).is_some()) else {
            return;
        };
        let rpc = Rpc::BecomeLeader { term: self.term };
        self.send_with_comment(target, rpc, Some(reason));
        let comment = format!(
            "transferring leadership to {} because {reason}",
            target.nickname()
        );
        self.write_one(Record::Note {
            note: "transfer leadership".into(),
            comment: comment.clone(),
        });
        self.log(LogLevel::Info, comment);
    }
}
