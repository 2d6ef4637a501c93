//! The safety checkers that run after every step: what every server's state and actions must
//! satisfy, remembered across the whole run (restarts included).

use std::collections::BTreeMap;

use raft_core::{Data, EntryId, Index, Payload, Role, Server, ServerId, Term};

use crate::linearizability::Response;
use crate::report::Property;

/// A violated property and what was seen.
pub(crate) type Found = Result<(), (Property, String)>;

fn fail(property: Property, detail: String) -> Found {
    Err((property, detail))
}

/// What the checker remembers about one incarnation of one server.
#[derive(Clone, Debug, Default)]
pub(crate) struct NodeCheck {
    /// Log entries before this index were checked for log matching.
    pub(crate) checked_from: Index,
    /// The highest commit index seen.
    commit: Index,
    /// The term this server was last seen leading.
    leader_term: Option<Term>,
    /// The last index applied (an entry or a snapshot).
    applied: Index,
}

impl NodeCheck {
    /// The state to check a freshly opened server from: its whole log again.
    pub(crate) fn fresh() -> NodeCheck {
        NodeCheck::default()
    }
}

/// What the checker remembers about the whole run.
#[derive(Default)]
pub(crate) struct Checker {
    /// The leader of each term that had one.
    leaders: BTreeMap<Term, ServerId>,
    /// Every entry seen in any log: (index, term) → (payload, term of the entry before).
    seen: BTreeMap<(Index, Term), (Payload, Option<Term>)>,
    /// Every committed entry: index → (term, payload).
    committed: BTreeMap<Index, (Term, Payload)>,
    /// The term each index was first seen committed in (by the leader that committed it).
    committed_in: BTreeMap<Index, Term>,
    /// The entry with data each index applied, across all servers.
    applied: BTreeMap<Index, EntryId>,
    /// What each applied command answered, and where it was applied.
    results: BTreeMap<EntryId, (Index, Response)>,
    /// The id the first snapshot of the cluster carries.
    initial_eid: Option<EntryId>,
}

impl Checker {
    /// A checker for a cluster whose first snapshot carries `initial_eid`.
    pub(crate) fn new(initial_eid: EntryId) -> Checker {
        Checker {
            initial_eid: Some(initial_eid),
            ..Checker::default()
        }
    }

    /// Terms that had a leader so far.
    pub(crate) fn leader_terms(&self) -> u64 {
        self.leaders.len() as u64
    }

    /// The result of command `eid`, once some server applied it.
    pub(crate) fn result(&self, eid: EntryId) -> Option<&(Index, Response)> {
        self.results.get(&eid)
    }

    /// Every check that follows one step of server `s`.
    pub(crate) fn after_step(&mut self, s: &Server, n: &mut NodeCheck) -> Found {
        s.check_invariants();
        self.election_safety(s, n)?;
        self.commit(s, n)?;
        self.log_matching(s, n)
    }

    /// Raft §5.2: one leader per term; on election, Raft §5.4.1: it holds every committed
    /// entry.
    fn election_safety(&mut self, s: &Server, n: &mut NodeCheck) -> Found {
        if s.role() != Role::Leader || s.is_stopped_for_good() {
            return Ok(());
        }
        let (term, sid) = (s.term(), s.server_id());
        let first = *self.leaders.entry(term).or_insert(sid);
        if first != sid {
            return fail(
                Property::ElectionSafety,
                format!("{first:?} and {sid:?} both leaders in term {term}"),
            );
        }
        if n.leader_term == Some(term) {
            return Ok(());
        }
        n.leader_term = Some(term);
        for (index, (t, _)) in self.committed.range(s.log_start()..) {
            // Raft promises an entry only to leaders of terms after the one it was committed
            // in: a stale leader of an older term, elected late by a delayed vote, cannot
            // have it and cannot commit anything either (found by the `sim_schedule` fuzz
            // target).
            if self.committed_in.get(index).is_some_and(|&c| c >= term) {
                continue;
            }
            if s.term_at(*index) != Some(*t) {
                return fail(
                    Property::LeaderCompleteness,
                    format!(
                        "{sid:?} elected in term {term} without committed entry {index} (term {t}); its log has {:?}, ends at {}",
                        s.term_at(*index),
                        s.log_end()
                    ),
                );
            }
        }
        Ok(())
    }

    /// The commit index never decreases; every server commits the same entry at each index.
    fn commit(&mut self, s: &Server, n: &mut NodeCheck) -> Found {
        let commit = s.commit_index();
        if commit < n.commit {
            return fail(
                Property::CommitMonotonic,
                format!(
                    "{:?} commit index went from {} to {commit}",
                    s.server_id(),
                    n.commit
                ),
            );
        }
        let from = n.commit.next().max(s.log_start());
        n.commit = commit;
        for i in from.0..=commit.0 {
            let index = Index(i);
            let Some(entry) = s.entry(index) else {
                continue;
            };
            let mine = (entry.term, &entry.payload);
            self.committed_in.entry(index).or_insert(s.term());
            let first = self
                .committed
                .entry(index)
                .or_insert_with(|| (entry.term, entry.payload.clone()));
            if (first.0, &first.1) != mine {
                return fail(
                    Property::StateMachineSafety,
                    format!(
                        "{:?} committed {} {} at index {index}, another server {} {}",
                        s.server_id(),
                        entry.term,
                        describe(&entry.payload),
                        first.0,
                        describe(&first.1)
                    ),
                );
            }
        }
        Ok(())
    }

    /// Raft §5.3: an (index, term) names one entry, and the entry before it has one term.
    fn log_matching(&mut self, s: &Server, n: &mut NodeCheck) -> Found {
        let from = n.checked_from.max(s.log_start());
        let end = s.log_end();
        n.checked_from = end;
        for i in from.0..end.0 {
            let index = Index(i);
            let (Some(entry), prev) = (s.entry(index), s.term_at(index.prev())) else {
                continue;
            };
            let (payload, first_prev) = self
                .seen
                .entry((index, entry.term))
                .or_insert_with(|| (entry.payload.clone(), prev));
            let prev_differs = matches!((prev, *first_prev), (Some(a), Some(b)) if a != b);
            if *payload != entry.payload || prev_differs {
                return fail(
                    Property::LogMatching,
                    format!(
                        "{:?} holds {} (after term {prev:?}) at index {index} term {}; another log holds {} (after term {first_prev:?})",
                        s.server_id(),
                        describe(&entry.payload),
                        entry.term,
                        describe(payload)
                    ),
                );
            }
        }
        Ok(())
    }

    /// A server applied command `eid` at `index`, answering `response`: every server applies
    /// the same command at each index, in increasing index order, with the same answer.
    pub(crate) fn applied(
        &mut self,
        sid: ServerId,
        n: &mut NodeCheck,
        index: Index,
        eid: EntryId,
        response: Response,
    ) -> Found {
        if index <= n.applied {
            return fail(
                Property::StateMachineSafety,
                format!("{sid:?} applied index {index} after {}", n.applied),
            );
        }
        n.applied = index;
        let first = *self.applied.entry(index).or_insert(eid);
        if first != eid {
            return fail(
                Property::StateMachineSafety,
                format!("{sid:?} applied {eid:?} at index {index}, another server {first:?}"),
            );
        }
        let (at, answer) = self
            .results
            .entry(eid)
            .or_insert_with(|| (index, response.clone()));
        if (*at, &*answer) != (index, &response) {
            return fail(
                Property::StateMachineSafety,
                format!(
                    "{sid:?} applied {eid:?} at {index} answering {response}; another server at {at} answered {answer}"
                ),
            );
        }
        Ok(())
    }

    /// A server reset its state to a snapshot up to `index` whose last command is `eid`.
    pub(crate) fn applied_snapshot(
        &mut self,
        sid: ServerId,
        n: &mut NodeCheck,
        index: Index,
        eid: EntryId,
    ) -> Found {
        n.applied = n.applied.max(index);
        let last = self.applied.range(..=index).next_back().map(|(_, e)| *e);
        if last.or(self.initial_eid).is_some_and(|e| e != eid) {
            return fail(
                Property::StateMachineSafety,
                format!(
                    "{sid:?} installed a snapshot up to {index} ending with {eid:?}, but {last:?} was applied last up to there"
                ),
            );
        }
        Ok(())
    }

    /// A restarted server recovered at least the commit index its disk made durable.
    pub(crate) fn restarted(s: &Server, durable_commit: Index) -> Found {
        if s.commit_index() < durable_commit {
            return fail(
                Property::CommitMonotonic,
                format!(
                    "{:?} restarted with commit index {} although {durable_commit} was durably committed",
                    s.server_id(),
                    s.commit_index()
                ),
            );
        }
        Ok(())
    }

    /// The index command `eid` was applied at, if any server applied it.
    pub(crate) fn applied_at(&self, eid: EntryId) -> Option<Index> {
        self.results.get(&eid).map(|(i, _)| *i)
    }
}

/// A short rendering of a payload for violation reports.
fn describe(p: &Payload) -> String {
    match p {
        Payload::Noop => "no-op".into(),
        Payload::Data { id, data } => format!("{id:?} {}", text(data)),
        Payload::Configuration(c) => format!("configuration of {}", c.len()),
        Payload::ElectionTimer(ms) => format!("election timer {ms}"),
    }
}

fn text(d: &Data) -> String {
    String::from_utf8_lossy(d.as_bytes()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eid(n: u128) -> EntryId {
        EntryId::from_u128(n)
    }

    #[test]
    fn applying_different_commands_at_one_index_is_caught() {
        let mut c = Checker::new(eid(1));
        let (a, b) = (ServerId::from_u128(10), ServerId::from_u128(11));
        let (mut na, mut nb) = (NodeCheck::fresh(), NodeCheck::fresh());
        c.applied(a, &mut na, Index(2), eid(5), Response::Ok)
            .unwrap();
        let err = c
            .applied(b, &mut nb, Index(2), eid(6), Response::Ok)
            .unwrap_err();
        assert_eq!(err.0, Property::StateMachineSafety);
        let err = c
            .applied(a, &mut na, Index(2), eid(5), Response::Ok)
            .unwrap_err();
        assert!(err.1.contains("after"), "{}", err.1);
    }

    #[test]
    fn the_same_command_must_answer_the_same() {
        let mut c = Checker::new(eid(1));
        let (a, b) = (ServerId::from_u128(10), ServerId::from_u128(11));
        let (mut na, mut nb) = (NodeCheck::fresh(), NodeCheck::fresh());
        c.applied(a, &mut na, Index(2), eid(5), Response::Cas(true))
            .unwrap();
        let err = c
            .applied(b, &mut nb, Index(2), eid(5), Response::Cas(false))
            .unwrap_err();
        assert_eq!(err.0, Property::StateMachineSafety);
    }

    #[test]
    fn snapshots_must_end_with_the_last_applied_command() {
        let mut c = Checker::new(eid(1));
        let a = ServerId::from_u128(10);
        let mut n = NodeCheck::fresh();
        c.applied_snapshot(a, &mut n, Index(1), eid(1)).unwrap();
        assert!(c.applied_snapshot(a, &mut n, Index(1), eid(2)).is_err());
        c.applied(a, &mut n, Index(3), eid(7), Response::Ok)
            .unwrap();
        c.applied_snapshot(a, &mut NodeCheck::fresh(), Index(4), eid(7))
            .unwrap();
        assert!(
            c.applied_snapshot(a, &mut NodeCheck::fresh(), Index(4), eid(1))
                .is_err()
        );
    }
}
