//! Commands executed through a handle, from `Server::execute` to the state machine's reply.
//!
//! The reply is the state machine's output for the command's entry, so it exists only once
//! this server applied that entry. The core's `CommandDone` and the `Apply` of the entry come
//! in either order (a follower learns that a relayed command committed before it applies it),
//! so each command waits for both. A command the core refused before appending it (not
//! leader, prerequisite failed) is executed again after a short pause, until a deadline: a
//! follower's prerequisite goes stale whenever the leader appends, and an election leaves
//! every server without a leader for a moment.

use std::collections::HashMap;
use std::fmt;

use raft_core::{CommandStatus, Data, EntryId, Index, Millis};

use super::handle::{CommandError, CommandResult, Reply};

/// The pause before executing a refused command again.
const RETRY_PAUSE_MS: u64 = 20;

/// A command waiting for its outcome.
pub(super) struct Pending {
    pub(super) data: Data,
    reply: Reply,
    /// Where it committed, once the core said so.
    committed_at: Option<Index>,
    /// The state machine's reply, once applied here.
    output: Option<Vec<u8>>,
    /// After this, a refused command is not tried again.
    pub(super) give_up_at: Millis,
}

impl Pending {
    pub(super) fn new(data: Data, reply: Reply, give_up_at: Millis) -> Pending {
        Pending {
            data,
            reply,
            committed_at: None,
            output: None,
            give_up_at,
        }
    }

    fn answer(self, result: CommandResult) {
        self.reply.send(result);
    }
}

impl fmt::Debug for Pending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pending")
            .field("committed_at", &self.committed_at)
            .field("give_up_at", &self.give_up_at)
            .finish_non_exhaustive()
    }
}

/// Every command in progress.
#[derive(Debug, Default)]
pub(super) struct Commands {
    /// Hashed: every command is inserted and removed once, on the loop's hot path, and
    /// nothing depends on their order (each answer goes to its own requester).
    pending: HashMap<EntryId, Pending>,
    /// Refused commands to execute again, with when.
    retry: Vec<(Millis, Pending)>,
}

impl Commands {
    /// Tracks a command just given to the core under `eid`.
    pub(super) fn add(&mut self, eid: EntryId, pending: Pending) {
        self.pending.insert(eid, pending);
    }

    /// The entry `eid` was applied with this `output`.
    pub(super) fn applied(&mut self, eid: EntryId, output: Vec<u8>) {
        let Some(p) = self.pending.get_mut(&eid) else {
            return;
        };
        if p.committed_at.is_some() {
            if let Some(p) = self.pending.remove(&eid) {
                p.answer(Ok(output));
            }
        } else {
            p.output = Some(output);
        }
    }

    /// The core ended command `eid` with `status`; this server applied everything up to
    /// `applied` so far.
    pub(super) fn done(
        &mut self,
        eid: EntryId,
        status: CommandStatus,
        index: Option<Index>,
        applied: Index,
        now: Millis,
    ) {
        let Some(mut p) = self.pending.remove(&eid) else {
            return;
        };
        if let Some(output) = p.output.take() {
            // Applied means committed, whatever the status says (a relay may time out after
            // the leader committed the entry).
            return p.answer(Ok(output));
        }
        match status {
            // Applied past it without its output: a snapshot covered it.
            CommandStatus::Success if index.unwrap_or_default() <= applied => {
                p.answer(Err(CommandError::ReplyLost));
            }
            CommandStatus::Success => {
                p.committed_at = index;
                self.pending.insert(eid, p);
            }
            CommandStatus::NotLeader | CommandStatus::BadPrerequisite if now < p.give_up_at => {
                self.retry.push((now.plus(RETRY_PAUSE_MS), p));
            }
            status => p.answer(Err(CommandError::Status(status))),
        }
    }

    /// This server installed a snapshot up to `applied`: a committed command that got no
    /// output by then never will.
    pub(super) fn snapshot_installed(&mut self, applied: Index) {
        let lost: Vec<EntryId> = self
            .pending
            .iter()
            .filter(|(_, p)| p.output.is_none() && p.committed_at.is_some_and(|i| i <= applied))
            .map(|(eid, _)| *eid)
            .collect();
        for eid in lost {
            if let Some(p) = self.pending.remove(&eid) {
                p.answer(Err(CommandError::ReplyLost));
            }
        }
    }

    /// The refused commands due for another try.
    pub(super) fn take_due(&mut self, now: Millis) -> Vec<Pending> {
        let (due, wait) = std::mem::take(&mut self.retry)
            .into_iter()
            .partition(|(at, _)| *at <= now);
        self.retry = wait;
        due.into_iter().map(|(_, p)| p).collect()
    }

    /// When the next refused command is due.
    pub(super) fn next_deadline(&self) -> Option<Millis> {
        self.retry.iter().map(|(at, _)| *at).min()
    }

    /// Ends every command with `error` (the node is stopping).
    pub(super) fn fail_all(&mut self, error: &CommandError) {
        for (_, p) in std::mem::take(&mut self.pending) {
            p.answer(Err(error.clone()));
        }
        for (_, p) in std::mem::take(&mut self.retry) {
            p.answer(Err(error.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc::{self, Receiver};

    use super::*;

    const EID: EntryId = EntryId::from_u128(7);

    /// A command waiting in `commands` under `EID`, and where its answer arrives.
    fn waiting(commands: &mut Commands) -> Receiver<CommandResult> {
        let (tx, rx) = mpsc::channel();
        let reply = Reply::new(Box::new(move |r| tx.send(r).unwrap()));
        commands.add(EID, Pending::new(Data::default(), reply, Millis(1000)));
        rx
    }

    /// The core reports `EID` committed at `index` while this server applied up to `applied`.
    fn committed(commands: &mut Commands, index: u64, applied: u64) {
        let status = CommandStatus::Success;
        commands.done(EID, status, Some(Index(index)), Index(applied), Millis(0));
    }

    #[test]
    fn the_answer_waits_for_both_the_commit_and_the_output_in_either_order() {
        let mut commands = Commands::default();
        let rx = waiting(&mut commands);
        committed(&mut commands, 5, 3);
        assert!(rx.try_recv().is_err(), "committed, not applied yet");
        commands.applied(EID, b"out".to_vec());
        assert_eq!(rx.try_recv(), Ok(Ok(b"out".to_vec())));

        let rx = waiting(&mut commands);
        commands.applied(EID, b"first".to_vec());
        assert!(rx.try_recv().is_err(), "applied, not yet confirmed");
        committed(&mut commands, 5, 5);
        assert_eq!(rx.try_recv(), Ok(Ok(b"first".to_vec())));
    }

    #[test]
    fn a_reply_covered_by_a_snapshot_is_lost_whichever_comes_first() {
        let mut commands = Commands::default();
        let rx = waiting(&mut commands);
        committed(&mut commands, 5, 3);
        commands.snapshot_installed(Index(4));
        assert!(rx.try_recv().is_err(), "the snapshot stops short of it");
        commands.snapshot_installed(Index(9));
        assert_eq!(rx.try_recv(), Ok(Err(CommandError::ReplyLost)));

        let rx = waiting(&mut commands);
        committed(&mut commands, 5, 9);
        assert_eq!(
            rx.try_recv(),
            Ok(Err(CommandError::ReplyLost)),
            "applied past it already, without its output"
        );
    }

    #[test]
    fn a_refused_command_is_retried_until_its_deadline() {
        let mut commands = Commands::default();
        let rx = waiting(&mut commands);
        commands.done(EID, CommandStatus::NotLeader, None, Index(0), Millis(10));
        assert!(rx.try_recv().is_err());
        assert_eq!(commands.next_deadline(), Some(Millis(10 + RETRY_PAUSE_MS)));
        let mut due = commands.take_due(Millis(10 + RETRY_PAUSE_MS));
        assert_eq!(due.len(), 1);
        commands.add(EID, due.pop().unwrap());
        commands.done(EID, CommandStatus::NotLeader, None, Index(0), Millis(1000));
        assert_eq!(
            rx.try_recv(),
            Ok(Err(CommandError::Status(CommandStatus::NotLeader))),
            "past its deadline the refusal is the answer"
        );
    }
}
