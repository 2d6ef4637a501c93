//! The handle: how other threads talk to a running node.

use std::fmt;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Duration;

use mio::Waker;
use raft_core::{CommandStatus, Data};

use crate::wake::WakeOnce;

/// What a command ends with: the state machine's reply, or why there is none.
pub type CommandResult = Result<Vec<u8>, CommandError>;

/// Called on the node's thread with a command's result. It should be quick: hand the result
/// to another thread (a channel, a queue and a waker) rather than block.
pub type OnDone = Box<dyn FnOnce(CommandResult) + Send>;

/// A command's completion: calls its [`OnDone`] exactly once, with `Stopped` if it is dropped
/// unanswered (the node stopped, or a request was still queued when it went away).
pub(crate) struct Reply(Option<OnDone>);

impl Reply {
    pub(crate) fn new(on_done: OnDone) -> Reply {
        Reply(Some(on_done))
    }

    pub(crate) fn send(mut self, result: CommandResult) {
        if let Some(on_done) = self.0.take() {
            on_done(result);
        }
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        if let Some(on_done) = self.0.take() {
            on_done(Err(CommandError::Stopped));
        }
    }
}

/// A request to the node's thread.
pub(crate) enum Request {
    Execute {
        data: Data,
        reply: Reply,
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
/// administrative requests, stop it.
///
/// Requests queue on a channel and wake the node's poll loop, once per batch: a request sent
/// while the node has not yet taken the previous ones rides on the wake-up already pending,
/// so many threads submitting at once cost the node one wake-up, not one each.
#[derive(Clone)]
pub struct Handle {
    tx: Sender<Request>,
    wake: Arc<WakeOnce>,
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle").finish_non_exhaustive()
    }
}

impl Handle {
    pub(crate) fn new(waker: Arc<Waker>) -> (Handle, Receiver<Request>, Arc<WakeOnce>) {
        let (tx, rx) = mpsc::channel();
        let wake = Arc::new(WakeOnce::new(waker));
        (
            Handle {
                tx,
                wake: wake.clone(),
            },
            rx,
            wake,
        )
    }

    fn submit(&self, request: Request) -> bool {
        self.tx.send(request).is_ok() && self.wake.wake()
    }

    /// Executes `command` through the cluster and calls `on_done` with the state machine's
    /// reply on this server, or the error, without waiting. On a follower the command is
    /// relayed to the leader. `on_done` is called exactly once: on the node's thread, or with
    /// [`CommandError::Stopped`] on whichever thread finds the node gone.
    ///
    /// `command` is anything that becomes [`Data`]: a `Vec<u8>` or a `&[u8]` (the bytes are
    /// copied once, into the entry every follower shares).
    pub fn execute_then(&self, command: impl Into<Data>, on_done: OnDone) {
        let data = command.into();
        // A request the node will never take is dropped here or with the channel, and its
        // Reply answers `Stopped` as it drops.
        self.submit(Request::Execute {
            data,
            reply: Reply::new(on_done),
        });
    }

    /// Executes `command` through the cluster and waits up to `timeout` for the state
    /// machine's reply on this server. On a follower the command is relayed to the leader.
    pub fn execute(&self, command: impl Into<Data>, timeout: Duration) -> CommandResult {
        let (reply, rx) = mpsc::channel();
        self.execute_then(
            command,
            Box::new(move |result| {
                // The caller may have timed out and gone; nothing to do then.
                let _ = reply.send(result);
            }),
        );
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
