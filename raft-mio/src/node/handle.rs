//! The handle: how other threads talk to a running node.

use std::fmt;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Duration;

use mio::Waker;
use raft_core::{CommandStatus, Data};

/// A request to the node's thread.
#[derive(Debug)]
pub(crate) enum Request {
    Execute {
        data: Data,
        reply: Sender<Result<Vec<u8>, CommandError>>,
    },
    Admin {
        command: Admin,
        reply: Sender<Result<String, String>>,
    },
    Shutdown,
}

/// An administrative request, as `raft-kv ctl` names them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Admin {
    /// `cluster/status`: the report.
    Status,
    /// `cluster/cid`: the cluster id.
    ClusterId,
    /// `cluster/sid`: this server's id.
    ServerId,
    /// `cluster/leave`: leave the cluster for good.
    Leave,
    /// `cluster/kick SERVER`: remove another server (by address or id prefix).
    Kick(String),
    /// `cluster/change-election-timer MS`.
    ChangeElectionTimer(u64),
    /// `cluster/set-backlog-threshold N BYTES`.
    SetBacklogThreshold(u64, u64),
    /// `cluster/transfer-leadership`.
    TransferLeadership,
    /// `cluster/failure-test NAME` (or `clear`).
    FailureTest(String),
    /// `cluster/compact`: take a snapshot as soon as the server may (a leader hands over
    /// leadership first).
    Compact,
}

/// Why a command did not produce a reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandError {
    /// The core ended the command with this status (never `Success`).
    Status(CommandStatus),
    /// No answer within the time given: the command may or may not take effect.
    Timeout,
    /// The command committed, but this server installed a snapshot covering it instead of
    /// applying it, so its reply is lost.
    ReplyLost,
    /// The node is not running.
    Stopped,
}

impl CommandError {
    /// True if the command certainly did not and will not take effect.
    pub fn certainly_not_applied(&self) -> bool {
        matches!(
            self,
            CommandError::Status(CommandStatus::NotLeader | CommandStatus::BadPrerequisite)
        )
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::Status(s) => write!(f, "command failed: {s}"),
            CommandError::Timeout => f.write_str("no answer in time (the outcome is unknown)"),
            CommandError::ReplyLost => {
                f.write_str("committed, but the reply was lost to a snapshot")
            }
            CommandError::Stopped => f.write_str("the server is not running"),
        }
    }
}

impl std::error::Error for CommandError {}

/// A cloneable, thread-safe handle to a running [`crate::Node`]: execute commands, run
/// administrative requests, stop it. Each call wakes the node's poll loop.
#[derive(Clone, Debug)]
pub struct Handle {
    tx: Sender<Request>,
    waker: Arc<Waker>,
}

impl Handle {
    pub(crate) fn new(waker: Arc<Waker>) -> (Handle, Receiver<Request>) {
        let (tx, rx) = mpsc::channel();
        (Handle { tx, waker }, rx)
    }

    fn submit(&self, request: Request) -> bool {
        self.tx.send(request).is_ok() && self.waker.wake().is_ok()
    }

    /// Executes `command` through the cluster and waits up to `timeout` for the state
    /// machine's reply on this server. On a follower the command is relayed to the leader.
    pub fn execute(&self, command: Vec<u8>, timeout: Duration) -> Result<Vec<u8>, CommandError> {
        let (reply, rx) = mpsc::channel();
        let data = Data::from(command);
        if !self.submit(Request::Execute { data, reply }) {
            return Err(CommandError::Stopped);
        }
        match rx.recv_timeout(timeout) {
            Ok(result) => result,
            Err(mpsc::RecvTimeoutError::Timeout) => Err(CommandError::Timeout),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(CommandError::Stopped),
        }
    }

    /// Runs an administrative request and returns its answer text.
    pub fn admin(&self, command: Admin) -> Result<String, String> {
        let (reply, rx) = mpsc::channel();
        if !self.submit(Request::Admin { command, reply }) {
            return Err(CommandError::Stopped.to_string());
        }
        rx.recv()
            .unwrap_or_else(|_| Err(CommandError::Stopped.to_string()))
    }

    /// Asks the node to stop: it hands over leadership, ends pending commands and returns
    /// from [`crate::Node::run`].
    pub fn shutdown(&self) {
        self.submit(Request::Shutdown);
    }
}
