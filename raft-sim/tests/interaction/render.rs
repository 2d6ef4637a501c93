//! Compact, stable text for actions, messages, entries and records.
//!
//! Indexes and terms are written `index/term`; data is quoted; servers are `n1`, entry ids
//! `e1`. A change here changes every golden file, so keep the forms short and unambiguous.

use raft_core::{
    Action, AppendResult, Data, Entry, Index, Message, Notice, Payload, Record, Rpc, Snapshot,
};

use crate::names::{CLUSTER, Names};

/// The name of an RPC as scripts write it (`deliver type=VoteRequest`).
pub fn kind(rpc: &Rpc) -> &'static str {
    match rpc {
        Rpc::Hello { .. } => "Hello",
        Rpc::AppendRequest { .. } => "AppendRequest",
        Rpc::AppendReply { .. } => "AppendReply",
        Rpc::VoteRequest { .. } => "VoteRequest",
        Rpc::VoteReply { .. } => "VoteReply",
        Rpc::AddServerRequest { .. } => "AddServerRequest",
        Rpc::AddServerReply { .. } => "AddServerReply",
        Rpc::RemoveServerRequest { .. } => "RemoveServerRequest",
        Rpc::RemoveServerReply { .. } => "RemoveServerReply",
        Rpc::InstallSnapshotRequest { .. } => "InstallSnapshotRequest",
        Rpc::InstallSnapshotReply { .. } => "InstallSnapshotReply",
        Rpc::BecomeLeader { .. } => "BecomeLeader",
        Rpc::ExecuteCommandRequest { .. } => "ExecuteCommandRequest",
        Rpc::ExecuteCommandReply { .. } => "ExecuteCommandReply",
    }
}

/// `"text"` for UTF-8 data, else its length.
pub fn data(data: &Data) -> String {
    match std::str::from_utf8(data.as_bytes()) {
        Ok(text) => format!("{text:?}"),
        Err(_) => format!("<{} bytes>", data.len()),
    }
}

/// `3/2 data e1 "x"`: the entry at `index`, with its term and payload.
pub fn entry(names: &Names, index: Index, entry: &Entry) -> String {
    format!("{index}/{} {}", entry.term, payload(names, &entry.payload))
}

fn payload(names: &Names, payload: &Payload) -> String {
    match payload {
        Payload::Noop => "noop".to_owned(),
        Payload::Data { id, data: d } => format!("data {} {}", names.label(*id), data(d)),
        Payload::Configuration(c) => format!("config {}", names.configuration(c)),
        Payload::ElectionTimer(ms) => format!("election-timer {ms}"),
    }
}

fn entries(names: &Names, first: Index, list: &[Entry]) -> String {
    let items: Vec<String> = list
        .iter()
        .enumerate()
        .map(|(k, e)| entry(names, Index(first.0 + k as u64), e))
        .collect();
    format!("[{}]", items.join(", "))
}

/// `snapshot 5/2 e3 [n1,n2] "x,y"` (with the election timer when it is set).
pub fn snapshot(names: &Names, s: &Snapshot) -> String {
    let timer = s
        .election_timer
        .map_or(String::new(), |ms| format!(" election-timer={ms}"));
    format!(
        "snapshot {}/{} {} {}{timer} {}",
        s.index,
        s.term,
        names.label(s.eid),
        names.configuration(&s.servers),
        data(&s.data)
    )
}

/// One RPC, without its sender and receiver.
pub fn rpc(names: &Names, rpc: &Rpc) -> String {
    let name = kind(rpc);
    match rpc {
        Rpc::Hello { address } => format!("{name} {}", names.address(address)),
        Rpc::AppendRequest {
            term,
            prev_index,
            prev_term,
            leader_commit,
            entries: list,
        } => {
            let list = match list.is_empty() {
                true => String::new(),
                false => format!(" {}", entries(names, prev_index.next(), list)),
            };
            format!("{name} term={term} prev={prev_index}/{prev_term} commit={leader_commit}{list}")
        }
        Rpc::AppendReply {
            term,
            log_end,
            prev_index,
            prev_term,
            n_entries,
            result,
        } => {
            let result = match result {
                AppendResult::Ok => "ok",
                AppendResult::Inconsistency => "inconsistency",
                AppendResult::IoError => "io-error",
            };
            format!(
                "{name} term={term} {result} prev={prev_index}/{prev_term} n={n_entries} log_end={log_end}"
            )
        }
        Rpc::VoteRequest {
            term,
            last_index,
            last_term,
            leadership_transfer,
        } => {
            let transfer = if *leadership_transfer {
                " transfer"
            } else {
                ""
            };
            format!("{name} term={term} last={last_index}/{last_term}{transfer}")
        }
        Rpc::VoteReply { term, vote } => format!("{name} term={term} vote={}", names.server(*vote)),
        Rpc::AddServerRequest { address } => format!("{name} {}", names.address(address)),
        Rpc::AddServerReply {
            success,
            status,
            remote_addresses,
        } => {
            let remotes: Vec<String> = remote_addresses.iter().map(|a| names.address(a)).collect();
            format!(
                "{name} success={success} status={:?} remotes=[{}]",
                status.as_str(),
                remotes.join(",")
            )
        }
        Rpc::RemoveServerRequest { server } => format!("{name} {}", names.server(*server)),
        Rpc::RemoveServerReply {
            success,
            status,
            target,
            leader,
        } => {
            let target = target.map_or(String::new(), |t| format!(" target={}", names.server(t)));
            let leader = leader.as_ref().map_or(String::new(), |h| {
                format!(
                    " leader={}@{}",
                    names.server(h.sid),
                    names.address(&h.address)
                )
            });
            format!(
                "{name} success={success} status={:?}{target}{leader}",
                status.as_str()
            )
        }
        Rpc::InstallSnapshotRequest { term, snapshot: s } => {
            format!("{name} term={term} {}", snapshot(names, s))
        }
        Rpc::InstallSnapshotReply {
            term,
            last_index,
            last_term,
        } => format!("{name} term={term} last={last_index}/{last_term}"),
        Rpc::BecomeLeader { term } => format!("{name} term={term}"),
        Rpc::ExecuteCommandRequest {
            data: d,
            prereq,
            result,
        } => format!(
            "{name} {} {} prereq={}",
            names.label(*result),
            data(d),
            names.label(*prereq)
        ),
        Rpc::ExecuteCommandReply {
            result,
            status,
            commit_index,
        } => format!(
            "{name} {} {:?} commit={commit_index}",
            names.label(*result),
            status.as_str()
        ),
    }
}

/// One message: its RPC, the sender's remark, and any id that is not the usual one (W1).
pub fn message(names: &Names, m: &Message) -> String {
    let mut text = rpc(names, &m.rpc);
    if let Some(comment) = &m.comment {
        text.push_str(&format!(" ({comment:?})"));
    }
    if m.cluster.is_some_and(|c| c != CLUSTER) {
        text.push_str(" [foreign cluster]");
    }
    text
}

/// One record of a write.
pub fn record(names: &Names, r: &Record) -> String {
    match r {
        Record::Entry { index, entry: e } => format!("Entry {}", entry(names, *index, e)),
        Record::Term { term } => format!("Term {term}"),
        Record::Vote { term, vote } => format!("Vote {term} {}", names.server(*vote)),
        Record::Note { note, .. } => format!("Note {note:?}"),
        Record::CommitIndex { index } => format!("Commit {index}"),
        Record::Leader { term, leader } => format!("Leader {term} {}", names.server(*leader)),
    }
}

fn records(names: &Names, list: &[Record]) -> String {
    let items: Vec<String> = list.iter().map(|r| record(names, r)).collect();
    format!("[{}]", items.join(", "))
}

/// One notice.
pub fn notice(names: &Names, notice: &Notice) -> String {
    match notice {
        Notice::RoleChanged { role, term } => format!("became {role} term={term}"),
        Notice::LeaderChanged { leader, term } => {
            let leader = leader.map_or("none".to_owned(), |l| names.server(l));
            format!("leader is {leader} term={term}")
        }
        Notice::ElectionTimerChanged { ms } => format!("election timer is {ms}"),
        Notice::Joined => "joined".to_owned(),
        Notice::Left => "left".to_owned(),
        Notice::Failed { reason } => format!("failed: {reason}"),
    }
}

/// One action of node `n`, or `None` for connection plumbing (`Connect`, `Disconnect`), which
/// the environment carries out without comment. Sends are rendered by the caller, which
/// knows where they go.
pub fn action(names: &Names, a: &Action) -> Option<String> {
    Some(match a {
        Action::Send { message: m, .. } => message(names, m),
        Action::WriteLog { ticket, records: r } => {
            format!("WriteLog {ticket} {}", records(names, r))
        }
        Action::ReplaceLog {
            ticket,
            header,
            records: r,
        } => {
            let snap = header
                .snapshot
                .as_ref()
                .map_or("no snapshot".to_owned(), |s| snapshot(names, s));
            format!("ReplaceLog {ticket} {snap} {}", records(names, r))
        }
        Action::ApplySnapshot {
            index,
            eid,
            data: d,
        } => {
            format!("ApplySnapshot {index} {} {}", names.label(*eid), data(d))
        }
        Action::Apply {
            index,
            eid,
            data: d,
        } => {
            format!("Apply {index} {} {}", names.label(*eid), data(d))
        }
        Action::CommandDone { eid, status, index } => {
            let index = index.map_or(String::new(), |i| format!(" index={i}"));
            format!(
                "CommandDone {} {:?}{index}",
                names.label(*eid),
                status.as_str()
            )
        }
        Action::Connect { .. } | Action::Disconnect { .. } => return None,
        Action::Notify(n) => notice(names, n),
        Action::Log { level, text } => format!("{level} {}", names.humanize(text)),
        Action::Crash { reason } => format!("Crash {reason:?}"),
    })
}
