//! Connections and message intake (M11, W1): which connections the core wants, greeting on
//! connect, and validating every message before it reaches a handler.

use std::collections::BTreeSet;

use super::Server;
use super::replication::AppendHeader;
use crate::role::RoleState;
use crate::{Action, Address, AppendResult, ConnId, FailureTest, LogLevel, Message, Rpc, ServerId};

/// A connection the driver reported.
#[derive(Clone, Debug)]
pub(super) struct Conn {
    /// The server at the other end, once known (from the address we dialled, or learned from
    /// its first message).
    pub(super) sid: Option<ServerId>,
    pub(super) incoming: bool,
    /// The address dialled, or the one the other end announced.
    pub(super) address: Option<Address>,
}

impl Server {
    /// The connection to send to `sid` on: the first one known to lead there.
    pub(super) fn conn_to(&self, sid: ServerId) -> Option<ConnId> {
        self.conns
            .iter()
            .find(|(_, c)| c.sid == Some(sid))
            .map(|(id, _)| *id)
    }

    /// The server listening at `address`, as far as we know: a member, or the leader we were
    /// told of while leaving.
    fn sid_at(&self, address: &Address) -> Option<ServerId> {
        let member = self.members.iter().find(|(_, m)| &m.address == address);
        match (member, &self.leave_hint) {
            (Some((sid, _)), _) => Some(*sid),
            (None, Some(hint)) if &hint.address == address => Some(hint.sid),
            _ => None,
        }
    }

    /// A connection came up. Outgoing ones greet the other end (M11): a joining server asks to
    /// be added, a leaving one to be removed, anyone else says hello.
    pub(super) fn connected(&mut self, conn: ConnId, incoming: bool, address: Option<Address>) {
        let sid = match (&address, incoming) {
            (Some(a), false) => self.sid_at(a),
            _ => None,
        };
        self.conns.insert(
            conn,
            Conn {
                sid,
                incoming,
                address,
            },
        );
        if let Some(sid) = sid {
            self.peer_connection_reset(sid);
        }
        if incoming || self.failure_test == Some(FailureTest::StopRaftRpc) {
            return;
        }
        if self.joining.is_some() {
            self.send_add_server_request(conn);
        } else if self.leaving {
            self.send_on_conn(conn, Rpc::RemoveServerRequest { server: self.sid }, sid);
        } else {
            self.send_on_conn(
                conn,
                Rpc::Hello {
                    address: self.local_address.clone(),
                },
                sid,
            );
        }
    }

    /// A connection went away. A joining server that disconnects is forgotten, so its next
    /// request starts over (M11).
    pub(super) fn disconnected(&mut self, conn: ConnId) {
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        self.n_disconnections += 1;
        let Some(sid) = c.sid else { return };
        let cluster = self.cluster_nickname();
        if let RoleState::Leader(l) = &mut self.role
            && let Some(j) = l.adding.remove(&sid)
        {
            let text = format!(
                "cluster {cluster}: server {} ({}) disconnected while joining",
                sid.nickname(),
                j.address
            );
            self.log(LogLevel::Info, text);
        }
        self.peer_connection_reset(sid);
    }

    /// Whatever was in flight to `sid` may be lost: probe again, and allow a new snapshot
    /// (N4: one in flight per peer, reset on reconnect).
    fn peer_connection_reset(&mut self, sid: ServerId) {
        if let RoleState::Leader(l) = &mut self.role
            && let Some(p) = l.progress_mut(sid)
        {
            p.snapshot_in_flight = None;
            p.reset_flow();
        }
    }

    /// Sends on a specific connection, for greetings whose receiver may be unknown. These
    /// carry no term, vote or entry, so they never wait for the disk.
    pub(super) fn send_on_conn(&mut self, conn: ConnId, rpc: Rpc, to: Option<ServerId>) {
        let to = to.or_else(|| self.conns.get(&conn).and_then(|c| c.sid));
        let message = self.message(to, rpc);
        debug_assert!(
            !self.barrier.must_hold(&message),
            "greeting mentions non-durable state"
        );
        self.counters.messages_sent += 1;
        self.emit(Action::Send { conn, message });
    }

    /// A message arrived: check it is for us (W1) and from whom it says, then handle it.
    pub(super) fn receive(&mut self, conn: ConnId, message: Box<Message>) {
        if self.failure_test == Some(FailureTest::StopRaftRpc) {
            return;
        }
        // Who the connection leads to, looked up once for all the checks below.
        let Some(known) = self.conns.get(&conn).map(|c| c.sid) else {
            self.counters.unknown_connection += 1;
            return;
        };
        if !self.accept_ids(conn, known, &message) {
            return;
        }
        if let Rpc::Hello { address } | Rpc::AddServerRequest { address } = &message.rpc
            && let Some(c) = self.conns.get_mut(&conn)
        {
            c.address.get_or_insert_with(|| address.clone());
        }
        self.counters.messages_received += 1;
        let from = message.from;
        let rpc = self.recycle(message);
        self.handle_rpc(from, rpc);
    }

    /// W1: refuse (and count) a message for another cluster or server, or from an impostor.
    /// `known` is the server `conn` is known to lead to.
    fn accept_ids(&mut self, conn: ConnId, known: Option<ServerId>, message: &Message) -> bool {
        let from = message.from;
        match (message.cluster, self.cid) {
            (Some(theirs), Some(ours)) if theirs != ours => {
                self.counters.wrong_cluster += 1;
                let text = format!(
                    "{}: ignoring message for cluster {} (ours is {})",
                    from.nickname(),
                    theirs.nickname(),
                    ours.nickname()
                );
                self.log(LogLevel::Warn, text);
                return false;
            }
            (Some(theirs), None) => {
                // A joining server learns its cluster's id from the first message.
                self.log(LogLevel::Info, format!("learned cluster ID {}", theirs.0));
                self.cid = Some(theirs);
            }
            _ => {}
        }
        if message.to.is_some_and(|to| to != self.sid) {
            self.counters.misrouted += 1;
            let text = format!(
                "{}: ignoring misrouted message (addressed to another server)",
                from.nickname()
            );
            self.log(LogLevel::Warn, text);
            return false;
        }
        if from == self.sid {
            self.counters.from_self += 1;
            return false;
        }
        match known {
            None => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.sid = Some(from);
                }
            }
            Some(sid) if sid != from => {
                self.counters.wrong_sender += 1;
                let text = format!(
                    "{conn}: ignoring message with unexpected server ID {} (expected {})",
                    from.nickname(),
                    sid.nickname()
                );
                self.log(LogLevel::Warn, text);
                return false;
            }
            Some(_) => {}
        }
        true
    }

    /// The common prologue of every RPC (the reference's `raft_handle_rpc`), then dispatch.
    fn handle_rpc(&mut self, from: ServerId, rpc: Rpc) {
        if let Some(m) = self.members.get_mut(&from) {
            m.last_msg = Some(self.now);
        }
        if let Some(term) = rpc.term() {
            if self.suppress_disruptive(&rpc) {
                // The reference falls through and may record a vote in its own, older term
                // that no candidate can use; ignoring the request entirely is cleaner.
                self.counters.disruptive_votes_ignored += 1;
                // Say why, as the reference does: a follower may ignore a request within an
                // election timer of its last reset (a vote it granted, say) with no leader known.
                let why = if self.is_leader() {
                    "received as leader".to_owned()
                } else {
                    format!(
                        "received after only {} ms (minimum election time is {} ms)",
                        self.now.since(self.election.base),
                        self.election_timer
                    )
                };
                let text = format!("ignoring vote request from {} {why}", from.nickname());
                self.log(LogLevel::Warn, text);
                return;
            }
            if !self.receive_term(term, from, rpc.name()) {
                self.tell_stale_candidate(from, &rpc);
                if let Rpc::AppendRequest {
                    prev_index,
                    prev_term,
                    leader_commit,
                    entries,
                    ..
                } = &rpc
                {
                    let rq = AppendHeader {
                        from,
                        prev_index: *prev_index,
                        prev_term: *prev_term,
                        leader_commit: *leader_commit,
                        n_entries: entries.len() as u64,
                    };
                    // Raft §3.3: a stale request is rejected, explicitly.
                    self.send_append_reply(rq, AppendResult::Inconsistency, "stale term");
                }
                return;
            }
        }
        self.dispatch(from, rpc);
    }

    fn dispatch(&mut self, from: ServerId, rpc: Rpc) {
        match rpc {
            Rpc::Hello { .. } => {}
            Rpc::AppendRequest {
                term,
                prev_index,
                prev_term,
                leader_commit,
                entries,
            } => {
                let n_entries = entries.len() as u64;
                let rq = AppendHeader {
                    from,
                    prev_index,
                    prev_term,
                    leader_commit,
                    n_entries,
                };
                self.handle_append_request(rq, term, &entries);
            }
            Rpc::AppendReply {
                log_end,
                prev_index,
                n_entries,
                result,
                ..
            } => self.handle_append_reply(from, log_end, prev_index, n_entries, result),
            Rpc::VoteRequest {
                last_index,
                last_term,
                ..
            } => self.handle_vote_request(from, last_index, last_term),
            Rpc::VoteReply { vote, .. } => self.handle_vote_reply(from, vote),
            Rpc::AddServerRequest { address } => self.handle_add_server_request(from, address),
            Rpc::AddServerReply {
                success,
                remote_addresses,
                ..
            } => self.handle_add_server_reply(success, remote_addresses),
            Rpc::RemoveServerRequest { server } => {
                self.handle_remove_server_request(Some(from), server);
            }
            Rpc::RemoveServerReply {
                success,
                target,
                leader,
                ..
            } => self.handle_remove_server_reply(success, target, leader),
            Rpc::InstallSnapshotRequest { term, snapshot } => {
                self.handle_install_snapshot_request(from, term, snapshot)
            }
            Rpc::InstallSnapshotReply {
                last_index,
                last_term,
                ..
            } => self.handle_install_snapshot_reply(from, last_index, last_term),
            Rpc::BecomeLeader { .. } => self.handle_become_leader(from),
            Rpc::ExecuteCommandRequest {
                data,
                prereq,
                result,
            } => self.handle_execute_command_request(from, data, prereq, result),
            Rpc::ExecuteCommandReply {
                result,
                status,
                commit_index,
            } => self.handle_execute_command_reply(from, result, status, commit_index),
        }
    }

    /// Asks the driver for the outgoing connections the core wants (M11): one to every
    /// configured server, plus the remote addresses while joining. A server outside its own
    /// configuration keeps what it has, since a configuration naming it is probably coming.
    pub(super) fn update_wanted_connections(&mut self) {
        if !self.wanted_dirty
            || self.is_stopped()
            || self.failure_test == Some(FailureTest::StopRaftRpc)
        {
            return;
        }
        self.wanted_dirty = false;
        let mut want: BTreeSet<Address> =
            self.members.values().map(|m| m.address.clone()).collect();
        if let Some(remotes) = &self.joining {
            want.extend(remotes.iter().cloned());
        }
        // Set only while leaving, which ends only by stopping.
        if let Some(hint) = &self.leave_hint {
            want.insert(hint.address.clone());
        }
        if !self.members.contains_key(&self.sid) {
            want.extend(self.wanted.iter().cloned());
        }
        want.remove(&self.local_address);
        let gone: Vec<Address> = self.wanted.difference(&want).cloned().collect();
        let new: Vec<Address> = want.difference(&self.wanted).cloned().collect();
        for address in gone {
            self.emit(Action::Disconnect { address });
        }
        for address in new {
            self.emit(Action::Connect { address });
        }
        self.wanted = want;
    }

    /// Stopping for good: let go of every outgoing connection.
    pub(super) fn drop_all_connections(&mut self) {
        for address in std::mem::take(&mut self.wanted) {
            self.emit(Action::Disconnect { address });
        }
    }
}
