//! Building the status report (A1).

use super::Server;
use crate::Millis;
use crate::role::{Phase, RoleState};
use crate::status::{ConnectionStatus, MemberState, ServerStatus, Status};

impl Server {
    /// The `cluster/status` report as of `now` (A1).
    pub fn status(&self, now: Millis) -> Status {
        let leader = match &self.role {
            RoleState::Leader(l) => Some(l),
            _ => None,
        };
        Status {
            server_id: self.sid,
            name: self.name.clone(),
            cluster_id: self.cid,
            address: self.local_address.clone(),
            state: self.member_state(),
            remotes: self.joining.clone().unwrap_or_default(),
            adding: leader
                .map(|l| {
                    l.adding
                        .iter()
                        .map(|(s, j)| (*s, j.address.clone(), j.progress.phase.as_str()))
                        .collect()
                })
                .unwrap_or_default(),
            removing: leader.and_then(|l| l.removing.as_ref()).map(|(s, _)| {
                // It left `members` when its removal was appended; the configuration before
                // that entry (the last one, as changes go one at a time) still has its address.
                let address = self
                    .log
                    .last_configuration_index()
                    .and_then(|i| self.log.configuration_at(i.prev()).address(*s).cloned());
                (*s, address.unwrap_or_else(|| self.local_address.clone()))
            }),
            role: self.role(),
            term: self.term,
            leader: self.leader,
            vote: self.vote,
            election_started: self
                .election
                .started
                .map(|t| (now.since(t), self.election.transfer)),
            election_won: self.election.won.map(|t| now.since(t)),
            election_timer: self.election_timer,
            election_timer_new: leader.and_then(|l| l.election_timer_new),
            log_start: self.log.start(),
            log_end: self.log.end(),
            uncommitted: self.log.end().distance_from(self.commit_index.next()),
            unapplied: self.log.end().distance_from(self.last_applied.next()),
            connections: self.connection_statuses(),
            disconnections: self.n_disconnections,
            servers: self.server_statuses(now),
        }
    }

    fn member_state(&self) -> MemberState {
        if self.joining.is_some() {
            MemberState::Joining
        } else if self.leaving {
            MemberState::Leaving
        } else if self.left {
            MemberState::Left
        } else if self.failed.is_some() {
            MemberState::Failed
        } else if self.election.candidate_retrying {
            MemberState::Disconnected
        } else {
            MemberState::Member
        }
    }

    fn connection_statuses(&self) -> Vec<ConnectionStatus> {
        let mut out: Vec<ConnectionStatus> = self
            .conns
            .values()
            .map(|c| ConnectionStatus {
                incoming: c.incoming,
                peer: match (c.sid, &c.address) {
                    (Some(s), _) => s.nickname().to_string(),
                    (None, Some(a)) => a.to_string(),
                    (None, None) => "?".to_owned(),
                },
                connected: true,
            })
            .collect();
        for address in &self.wanted {
            let up = self
                .conns
                .values()
                .any(|c| !c.incoming && c.address.as_ref() == Some(address));
            if !up {
                out.push(ConnectionStatus {
                    incoming: false,
                    peer: address.to_string(),
                    connected: false,
                });
            }
        }
        out
    }

    fn server_statuses(&self, now: Millis) -> Vec<ServerStatus> {
        self.members
            .iter()
            .map(|(sid, m)| {
                let (phase, indexes) = match &self.role {
                    RoleState::Leader(l) => match l.progress.get(sid) {
                        Some(p) => (
                            (p.phase != Phase::Stable).then(|| p.phase.as_str()),
                            Some((p.next_index, p.match_index)),
                        ),
                        None => (None, None),
                    },
                    _ => (None, None),
                };
                let vote = match &self.role {
                    RoleState::Candidate(c) => c.votes.get(sid).copied(),
                    _ => None,
                };
                ServerStatus {
                    id: *sid,
                    address: m.address.clone(),
                    is_self: *sid == self.sid,
                    phase,
                    vote,
                    indexes,
                    last_msg_ms_ago: m.last_msg.map(|t| now.since(t)),
                }
            })
            .collect()
    }
}
