//! The write-before-send barrier (the reference's `raft_waiter`).
//!
//! Every write the core asks for gets a ticket. The barrier remembers what becomes durable
//! with each ticket (entries, a term and vote) and holds every outgoing message that mentions
//! something not yet durable. `Event::Persisted { ticket }` releases, in order, everything
//! waiting on that ticket or an earlier one.

use std::collections::VecDeque;

use crate::{Index, Message, Rpc, ServerId, Term, WriteTicket};

/// What becomes true, or may go out, once a ticket is durable.
#[derive(Debug)]
pub(crate) enum Waiting {
    /// The log is durable up to this index.
    Entries(Index),
    /// This term and vote are durable.
    TermVote(Term, Option<ServerId>),
    /// A message that mentioned non-durable state; re-checked and sent on release.
    Message(Box<Message>),
}

#[derive(Debug)]
struct Waiter {
    ticket: u64,
    what: Waiting,
}

/// The durable state as far as the core knows, and what waits for more.
#[derive(Debug)]
pub(crate) struct Barrier {
    issued: u64,
    persisted: u64,
    queue: VecDeque<Waiter>,
    synced_term: Term,
    synced_vote: Option<ServerId>,
    log_synced: Index,
}

impl Barrier {
    /// A barrier for state read back from storage, hence durable.
    pub(crate) fn new(term: Term, vote: Option<ServerId>, log_synced: Index) -> Barrier {
        Barrier {
            issued: 0,
            persisted: 0,
            queue: VecDeque::new(),
            synced_term: term,
            synced_vote: vote,
            log_synced,
        }
    }

    /// A ticket for a new write.
    pub(crate) fn issue(&mut self) -> WriteTicket {
        self.issued += 1;
        WriteTicket(self.issued)
    }

    /// The last ticket issued.
    pub(crate) fn last_issued(&self) -> WriteTicket {
        WriteTicket(self.issued)
    }

    /// The last ticket reported durable.
    pub(crate) fn persisted(&self) -> WriteTicket {
        WriteTicket(self.persisted)
    }

    pub(crate) fn log_synced(&self) -> Index {
        self.log_synced
    }

    pub(crate) fn synced_term(&self) -> Term {
        self.synced_term
    }

    /// Remembers what `ticket` makes durable.
    pub(crate) fn wait(&mut self, ticket: WriteTicket, what: Waiting) {
        debug_assert!(
            ticket.0 > self.persisted,
            "waiting on a ticket already persisted"
        );
        self.queue.push_back(Waiter {
            ticket: ticket.0,
            what,
        });
    }

    /// True if `message` mentions a term, vote or entry that is not durable yet.
    pub(crate) fn must_hold(&self, message: &Message) -> bool {
        let rpc = &message.rpc;
        rpc.term().is_some_and(|t| t > self.synced_term)
            || min_sync_index(rpc) > self.log_synced
            || vote_of(rpc).is_some_and(|v| Some(v) != self.synced_vote)
    }

    /// Holds `message` until every write issued so far is durable.
    pub(crate) fn hold(&mut self, message: Box<Message>) {
        let ticket = WriteTicket(self.issued);
        if ticket.0 <= self.persisted {
            // Nothing is pending, yet the message is not synced: a bug in the caller.
            debug_assert!(
                false,
                "holding a message with no write pending: {message:?}"
            );
            return;
        }
        self.wait(ticket, Waiting::Message(message));
    }

    /// Records that `ticket` (and all earlier ones) is durable. Returns false for a ticket
    /// that was never issued, which is ignored.
    pub(crate) fn mark_persisted(&mut self, ticket: WriteTicket) -> bool {
        if ticket.0 > self.issued {
            return false;
        }
        self.persisted = self.persisted.max(ticket.0);
        true
    }

    /// The next item whose ticket is durable, with the durable state updated for it.
    pub(crate) fn pop_ready(&mut self) -> Option<Waiting> {
        if self.queue.front()?.ticket > self.persisted {
            return None;
        }
        let w = self.queue.pop_front()?;
        match &w.what {
            Waiting::Entries(up_to) => self.log_synced = self.log_synced.max(*up_to),
            Waiting::TermVote(term, vote) => {
                self.synced_term = *term;
                self.synced_vote = *vote;
            }
            Waiting::Message(_) => {}
        }
        Some(w.what)
    }

    /// The log was cut back to end at `last`: entries after it are no longer the ones that
    /// were (or are being) written, so neither the durable mark nor a pending write may vouch
    /// for them. (The reference leaves `log_synced` alone on truncation, which lets a reply
    /// acknowledge replacement entries before they are durable; we clamp.)
    pub(crate) fn clamp_log(&mut self, last: Index) {
        self.log_synced = self.log_synced.min(last);
        for w in &mut self.queue {
            if let Waiting::Entries(up_to) = &mut w.what {
                *up_to = (*up_to).min(last);
            }
        }
    }

    /// Number of waiters, for status and tests.
    pub(crate) fn pending(&self) -> usize {
        self.queue.len()
    }
}

/// The highest log index a message vouches for: a successful append reply acknowledges the
/// entries it covered, an install-snapshot reply the snapshot.
fn min_sync_index(rpc: &Rpc) -> Index {
    match rpc {
        Rpc::AppendReply {
            result: crate::AppendResult::Ok,
            prev_index,
            n_entries,
            ..
        } => Index(prev_index.0.saturating_add(*n_entries)),
        Rpc::InstallSnapshotReply { last_index, .. } => *last_index,
        _ => Index(0),
    }
}

fn vote_of(rpc: &Rpc) -> Option<ServerId> {
    match rpc {
        Rpc::VoteReply { vote, .. } => Some(*vote),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AppendResult;

    fn reply(term: u64, prev: u64, n: u64) -> Message {
        Message {
            cluster: None,
            from: ServerId::from_u128(1),
            to: Some(ServerId::from_u128(2)),
            comment: None,
            rpc: Rpc::AppendReply {
                term: Term(term),
                log_end: Index(prev + n + 1),
                prev_index: Index(prev),
                prev_term: Term(term),
                n_entries: n,
                result: AppendResult::Ok,
            },
        }
    }

    #[test]
    fn w2_reply_waits_for_its_entries_and_term() {
        let mut b = Barrier::new(Term(1), None, Index(5));
        assert!(!b.must_hold(&reply(1, 4, 1)));
        assert!(b.must_hold(&reply(1, 5, 1)), "entry 6 not durable");
        assert!(b.must_hold(&reply(2, 4, 1)), "term 2 not durable");
        let t = b.issue();
        b.wait(t, Waiting::Entries(Index(6)));
        b.hold(Box::new(reply(1, 5, 1)));
        assert!(b.pop_ready().is_none());
        assert!(b.mark_persisted(t));
        assert!(matches!(b.pop_ready(), Some(Waiting::Entries(Index(6)))));
        assert!(matches!(b.pop_ready(), Some(Waiting::Message(_))));
        assert!(!b.must_hold(&reply(1, 5, 1)));
    }

    #[test]
    fn truncation_clamps_durable_mark_and_pending_writes() {
        let mut b = Barrier::new(Term(1), None, Index(10));
        let t = b.issue();
        b.wait(t, Waiting::Entries(Index(12)));
        b.clamp_log(Index(7));
        assert_eq!(b.log_synced(), Index(7));
        b.mark_persisted(t);
        assert!(matches!(b.pop_ready(), Some(Waiting::Entries(Index(7)))));
        assert_eq!(b.log_synced(), Index(7));
    }

    #[test]
    fn unknown_tickets_are_ignored() {
        let mut b = Barrier::new(Term(0), None, Index(0));
        assert!(!b.mark_persisted(WriteTicket(1)));
        let t = b.issue();
        assert!(b.mark_persisted(t));
        assert_eq!(b.persisted(), t);
    }
}
