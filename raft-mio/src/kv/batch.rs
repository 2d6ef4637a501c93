//! Commands of many clients gathered into one log entry.
//!
//! An entry costs the cluster about the same whatever it holds: a record in every server's
//! log, an entry id, a place in every append, a commit notice and a completion. Under load
//! most of a command's cost was that, so the client loop gathers the commands it reads in one
//! turn into one entry: a JSON array of commands, which the store carries out in order with
//! one reply each ([`KvStore`](super::KvStore) documents the entry format). A command that is
//! alone in its turn goes as itself, so a quiet server's entries are single commands.
//!
//! Nothing a client sees changes: each command still gets its own answer, in the order its
//! connection sent it, and a failure of the entry (no leader, timeout) is the failure of each
//! command in it, all equally applied or not.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use mio::Waker;
use raft_core::Data;

use super::{KvReply, KvResponse};
use crate::wake::WakeOnce;
use crate::{CommandResult, Handle};

/// The most commands in one entry: an entry is replicated and written in one piece, so this
/// bounds how much one of them holds up the others.
const MAX_BATCH_COMMANDS: usize = 1024;

/// The most bytes of commands in one entry (a command alone may be larger, up to the client
/// frame limit).
const MAX_BATCH_BYTES: usize = 1 << 20;

/// A command in a batch: the client session it came from and its id there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Member {
    /// The session's poll token.
    pub(super) token: usize,
    /// The command's id in the session's in-flight window.
    pub(super) id: u64,
}

/// The clients' commands on their way through the node: gathered into an entry, submitted,
/// and remembered until the entry's result comes back.
pub(super) struct Entries {
    handle: Handle,
    completions: Arc<Completions>,
    gathering: Gathering,
    /// The commands of each entry in flight, by batch id (hashed: one insert and one removal
    /// per entry, never iterated).
    in_flight: HashMap<u64, Vec<Member>>,
    next_batch: u64,
}

impl Entries {
    /// Submits through `handle`; `waker` wakes the client loop when results come back.
    pub(super) fn new(handle: Handle, waker: Arc<Waker>) -> Entries {
        Entries {
            handle,
            completions: Arc::new(Completions {
                done: Mutex::new(Vec::new()),
                wake: WakeOnce::new(waker),
            }),
            gathering: Gathering::default(),
            in_flight: HashMap::new(),
            next_batch: 0,
        }
    }

    /// Adds a client's command (its JSON, decodable as a [`KvCommand`](super::KvCommand)) to
    /// the entry being gathered, first submitting that entry if the command does not fit.
    pub(super) fn add(&mut self, member: Member, command: &[u8]) {
        if !self.gathering.has_room_for(command.len()) {
            self.submit();
        }
        self.gathering.push(member, command);
    }

    /// Submits the entry gathered so far, if any, to be executed through the cluster.
    pub(super) fn submit(&mut self) {
        if self.gathering.is_empty() {
            return;
        }
        let (entry, members) = self.gathering.take();
        let batch = self.next_batch;
        self.next_batch += 1;
        self.in_flight.insert(batch, members);
        let completions = self.completions.clone();
        let on_done = Box::new(move |result| completions.push(batch, result));
        self.handle.execute_then(entry, on_done);
    }

    /// The answer of every command whose entry completed since the last call.
    pub(super) fn take_answers(&mut self) -> Vec<(Member, KvResponse)> {
        let mut answers = Vec::new();
        for (batch, result) in self.completions.take() {
            if let Some(members) = self.in_flight.remove(&batch) {
                let responses = responses(result, members.len());
                answers.extend(members.into_iter().zip(responses));
            }
        }
        answers
    }
}

/// Entries the node completed, by batch id, waiting for the client loop.
struct Completions {
    done: Mutex<Vec<(u64, CommandResult)>>,
    wake: WakeOnce,
}

impl Completions {
    fn push(&self, batch: u64, result: CommandResult) {
        self.done
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((batch, result));
        // Fails only if the loop's poll is gone, and the loop with it.
        self.wake.wake();
    }

    fn take(&self) -> Vec<(u64, CommandResult)> {
        self.wake.taking();
        std::mem::take(&mut *self.done.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// The entry being gathered.
#[derive(Debug, Default)]
struct Gathering {
    /// `[` and the commands so far, separated by commas; the closing bracket is added when
    /// the batch is taken.
    json: Vec<u8>,
    members: Vec<Member>,
}

impl Gathering {
    /// True if nothing was gathered.
    fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// True if a command of `len` bytes fits after those gathered. Anything fits an empty
    /// batch.
    fn has_room_for(&self, len: usize) -> bool {
        self.is_empty()
            || (self.members.len() < MAX_BATCH_COMMANDS
                && self.json.len() + len + 2 <= MAX_BATCH_BYTES)
    }

    /// Adds `command`, the JSON of one decodable [`KvCommand`](super::KvCommand).
    fn push(&mut self, member: Member, command: &[u8]) {
        self.json.push(if self.is_empty() { b'[' } else { b',' });
        self.json.extend_from_slice(command);
        self.members.push(member);
    }

    /// The entry for what was gathered (the command itself if there is one, else the array)
    /// and its members in order, leaving the gathering empty. Call only when not empty.
    fn take(&mut self) -> (Data, Vec<Member>) {
        assert!(
            !self.is_empty(),
            "a batch is taken only once it holds a command"
        );
        let data = if self.members.len() == 1 {
            Data::from(&self.json[1..])
        } else {
            self.json.push(b']');
            Data::from(self.json.as_slice())
        };
        self.json.clear();
        (data, std::mem::take(&mut self.members))
    }
}

/// The answers to the `n` commands of one entry, in order, from the entry's result.
fn responses(result: CommandResult, n: usize) -> Vec<KvResponse> {
    let output = match result {
        Ok(output) => output,
        Err(e) => {
            let error = KvResponse::Error {
                message: e.to_string(),
                certainly_not_applied: e.certainly_not_applied(),
            };
            return vec![error; n];
        }
    };
    if n > 1
        && let Ok(replies) = serde_json::from_slice::<Vec<KvReply>>(&output)
    {
        if replies.len() == n {
            return replies.into_iter().map(KvResponse::Reply).collect();
        }
        let error = KvResponse::Error {
            message: format!(
                "the state machine gave {} replies for {n} commands",
                replies.len()
            ),
            certainly_not_applied: false,
        };
        return vec![error; n];
    }
    // One command, or a batch the store refused whole (its one reply says why).
    let response = match serde_json::from_slice(&output) {
        Ok(reply) => KvResponse::Reply(reply),
        Err(e) => KvResponse::Error {
            message: format!("undecodable reply from the state machine: {e}"),
            certainly_not_applied: false,
        },
    };
    vec![response; n]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CommandError;
    use crate::kv::KvCommand;

    fn member(id: u64) -> Member {
        Member { token: 7, id }
    }

    fn json(command: &KvCommand) -> Vec<u8> {
        serde_json::to_vec(command).unwrap()
    }

    #[test]
    fn a_lone_command_goes_as_itself_and_many_go_as_an_array() {
        let a = json(&KvCommand::Get { key: "a".into() });
        let b = json(&KvCommand::Delete { key: "b".into() });
        let mut g = Gathering::default();
        g.push(member(1), &a);
        let (data, members) = g.take();
        assert_eq!(data.as_bytes(), a.as_slice());
        assert_eq!(members, [member(1)]);
        assert!(g.is_empty());

        g.push(member(2), &a);
        g.push(member(3), &b);
        let (data, members) = g.take();
        let decoded: Vec<KvCommand> = serde_json::from_slice(data.as_bytes()).unwrap();
        assert_eq!(
            decoded,
            [
                serde_json::from_slice(&a).unwrap(),
                serde_json::from_slice(&b).unwrap()
            ]
        );
        assert_eq!(members, [member(2), member(3)]);
    }

    #[test]
    fn a_batch_stops_at_its_command_and_byte_limits_but_takes_any_first_command() {
        let mut g = Gathering::default();
        let big = vec![b' '; 2 * MAX_BATCH_BYTES];
        assert!(g.has_room_for(big.len()), "an empty batch takes anything");
        let small = json(&KvCommand::Get { key: "k".into() });
        for id in 0..MAX_BATCH_COMMANDS as u64 {
            assert!(g.has_room_for(small.len()));
            g.push(member(id), &small);
        }
        assert!(!g.has_room_for(small.len()), "full by count");
        g.take();
        g.push(member(0), &small);
        assert!(!g.has_room_for(MAX_BATCH_BYTES), "full by bytes");
    }

    #[test]
    fn replies_are_dealt_out_in_order_and_failures_go_to_every_command() {
        let output = serde_json::to_vec(&[KvReply::Ok, KvReply::Value(None)]).unwrap();
        assert_eq!(
            responses(Ok(output), 2),
            [
                KvResponse::Reply(KvReply::Ok),
                KvResponse::Reply(KvReply::Value(None))
            ]
        );
        let one = serde_json::to_vec(&KvReply::Value(Some("v".into()))).unwrap();
        assert_eq!(
            responses(Ok(one), 1),
            [KvResponse::Reply(KvReply::Value(Some("v".into())))]
        );
        let refused = serde_json::to_vec(&KvReply::Invalid("bad".into())).unwrap();
        assert_eq!(
            responses(Ok(refused), 3),
            vec![KvResponse::Reply(KvReply::Invalid("bad".into())); 3]
        );
        let failed = responses(Err(CommandError::Timeout), 2);
        assert!(failed.iter().all(|r| matches!(
            r,
            KvResponse::Error {
                certainly_not_applied: false,
                ..
            }
        )));
        assert_eq!(failed.len(), 2);
        let short = serde_json::to_vec(&[KvReply::Ok]).unwrap();
        assert!(
            responses(Ok(short), 2)
                .iter()
                .all(|r| matches!(r, KvResponse::Error { .. })),
            "a reply count that does not match is an error for each command"
        );
    }
}
