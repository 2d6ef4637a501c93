//! Opening a server from its header and records (S4).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use super::{
    DEFAULT_ELECTION_TIMER_MS, ElectionInfo, JOIN_RETRY_MS, MAX_SNAPSHOT_INDEX, Server,
    sane_election_timer,
};
use crate::log::Log;
use crate::record::NOTE_LEFT;
use crate::rng::Rng;
use crate::role::RoleState;
use crate::timer::{Timer, TimerTable};
use crate::waiter::Barrier;
use crate::{Config, Header, Index, LogLevel, Millis, OpenError, Record, ServerId, Term};

/// The state rebuilt by replaying records.
struct Replay {
    term: Term,
    vote: Option<ServerId>,
    log: Log,
    commit_index: Index,
}

impl Replay {
    /// Applies record number `n` with the reference's validation (`raft_apply_record`).
    fn apply(&mut self, n: u64, record: Record) -> Result<(), OpenError> {
        // A leader may replicate entries of earlier terms, so a record's term may be older
        // than the current one; a newer one advances the current term.
        if let Some(t) = record.term().filter(|t| *t > self.term) {
            self.term = t;
            self.vote = None;
        }
        match record {
            Record::Entry { index, entry } => self.apply_entry(n, index, entry),
            Record::Term { .. } | Record::Leader { .. } => Ok(()),
            Record::Vote { term, vote } => self.apply_vote(n, term, vote),
            Record::Note { note, .. } if note == NOTE_LEFT => Err(OpenError::Left { record: n }),
            Record::Note { .. } => Ok(()),
            Record::CommitIndex { index } => self.apply_commit(n, index),
        }
    }

    fn apply_entry(&mut self, n: u64, index: Index, entry: crate::Entry) -> Result<(), OpenError> {
        let log_end = self.log.end();
        // The reference refuses `index < commit_index`; truncating the entry *at* the commit
        // index is just as wrong (and below the log start it would assert), so we refuse it.
        if index <= self.commit_index {
            return Err(OpenError::TruncatesCommitted {
                record: n,
                log_end,
                index,
                commit_index: self.commit_index,
            });
        }
        if index > log_end {
            return Err(OpenError::SkipsPastEnd {
                record: n,
                index,
                expected: log_end,
            });
        }
        if index < log_end {
            self.log.truncate(index); // S6: an older index truncates.
        }
        let prev_term = self.log.last_term();
        if entry.term < prev_term {
            return Err(OpenError::TermRegresses {
                record: n,
                index,
                term: entry.term,
                prev_term,
            });
        }
        self.log.append(entry);
        Ok(())
    }

    fn apply_vote(&mut self, n: u64, term: Term, vote: ServerId) -> Result<(), OpenError> {
        if term < self.term {
            return Err(OpenError::VoteForOldTerm {
                record: n,
                term,
                current: self.term,
            });
        }
        match self.vote {
            Some(first) if first != vote => Err(OpenError::SecondVote {
                record: n,
                term,
                first: first.nickname(),
                second: vote.nickname(),
            }),
            _ => {
                self.vote = Some(vote);
                Ok(())
            }
        }
    }

    fn apply_commit(&mut self, n: u64, index: Index) -> Result<(), OpenError> {
        if index < self.commit_index {
            return Err(OpenError::CommitRegresses {
                record: n,
                from: self.commit_index,
                to: index,
            });
        }
        if index >= self.log.end() {
            return Err(OpenError::CommitPastEnd {
                record: n,
                index,
                last: self.log.last_index(),
            });
        }
        self.commit_index = index;
        Ok(())
    }
}

impl Server {
    /// Opens a server from the header and records its log holds, replaying them with the
    /// reference's validation (S4). Record numbers in errors count from 1 after the header.
    ///
    /// A server whose configuration holds only itself starts an election at once; a joining
    /// server starts asking to join. Either way, drain [`Server::poll_action`] next: the
    /// first actions apply the snapshot and committed entries, and ask for connections.
    pub fn open(
        header: Header,
        records: impl IntoIterator<Item = Record>,
        config: Config,
        now: Millis,
    ) -> Result<Server, OpenError> {
        config.validate().map_err(OpenError::Config)?;
        let replay = replay(&header, records)?;
        let mut server = Server::new(header, config, replay, now);
        // Beyond the reference, which checks only the latest configuration: a removal is final
        // only once committed. An uncommitted one may yet be truncated, and a server refusing
        // to open over it would stay a member that can never come back (raft-sim seed 785 with
        // 6 clients, 3 keys and no prerequisites). The latest configuration still counts: a
        // newly added server may not know its addition committed.
        let (sid, log) = (server.sid, &server.log);
        let member = log.latest_configuration().contains(sid)
            || log.configuration_at(server.commit_index).contains(sid);
        if server.joining.is_none() && !member {
            return Err(OpenError::NotInConfiguration);
        }
        server.start(now);
        Ok(server)
    }

    fn new(header: Header, config: Config, replay: Replay, now: Millis) -> Server {
        let Replay {
            term,
            vote,
            log,
            commit_index,
        } = replay;
        let mut jitter = Rng::new(config.seed);
        let ids = Rng::new(jitter.next_u64());
        let election_timer = log
            .election_timer_at(commit_index)
            .map_or(DEFAULT_ELECTION_TIMER_MS, sane_election_timer);
        let barrier = Barrier::new(term, vote, log.last_index());
        // The header keeps saying "joining" after the join (only a snapshot rewrites it), so
        // a committed configuration that names us ends the join: otherwise every restart
        // would join again, and a cluster grown by joins could never elect a leader again.
        let joining = header.joining.filter(|_| {
            !log.configuration_at(commit_index)
                .contains(header.server_id)
        });
        Server {
            sid: header.server_id,
            cid: header.cluster_id,
            name: header.name,
            local_address: header.local_address,
            config,
            jitter,
            ids,
            term,
            vote,
            barrier,
            commit_index,
            last_applied: log.snapshot().index.prev(),
            log,
            role: RoleState::Follower,
            leader: None,
            members: BTreeMap::new(),
            election_timer,
            timers: TimerTable::default(),
            election: ElectionInfo::default(),
            joining,
            leaving: false,
            leave_hint: None,
            left: false,
            failed: None,
            crashed: false,
            closed: false,
            commands: BTreeMap::new(),
            conns: BTreeMap::new(),
            wanted: BTreeSet::new(),
            wanted_dirty: true,
            n_disconnections: 0,
            failure_test: None,
            backlog: (
                super::admin::DEFAULT_BACKLOG_MESSAGES,
                super::admin::DEFAULT_BACKLOG_BYTES,
            ),
            actions: VecDeque::new(),
            counters: Default::default(),
            deferred: Default::default(),
            peers_buffer: Vec::new(),
            spare_messages: Vec::new(),
            no_entries: Arc::from([]),
            now,
        }
    }

    /// The reference's tail of `raft_open`.
    fn start(&mut self, now: Millis) {
        self.sync_members_from_log();
        let sid = self.sid;
        self.log(
            LogLevel::Info,
            format!("local server ID is {}", sid.nickname()),
        );
        if self.joining.is_some() {
            self.timers.set(Timer::Join, now.plus(JOIN_RETRY_MS));
        } else if self.members.len() == 1 {
            // A lone server elects itself at once so the cluster bootstraps quickly.
            self.start_election(false);
        }
        self.reset_ping_timer();
        self.reset_election_timer();
        self.advance_apply();
        self.update_wanted_connections();
    }
}

fn replay(header: &Header, records: impl IntoIterator<Item = Record>) -> Result<Replay, OpenError> {
    let Some(snapshot) = header.snapshot.clone() else {
        if header.joining.is_none() {
            return Err(OpenError::BadHeader(
                "neither a snapshot nor a joining flag",
            ));
        }
        // A joining server has no log yet; the reference does not read its records.
        return Ok(Replay {
            term: Term(0),
            vote: None,
            log: Log::empty(),
            commit_index: Index(0),
        });
    };
    if snapshot.index == Index(0) {
        return Err(OpenError::BadHeader("snapshot index must be at least 1"));
    }
    // See MAX_SNAPSHOT_INDEX: beyond it the log could grow an entry at u64::MAX (found by the
    // `record_replay` fuzz target).
    if snapshot.index.0 > MAX_SNAPSHOT_INDEX {
        return Err(OpenError::BadHeader("snapshot index beyond any real log"));
    }
    if snapshot.servers.is_empty() {
        return Err(OpenError::BadHeader("snapshot has an empty configuration"));
    }
    let commit_index = snapshot.index;
    let term = snapshot.term;
    let mut state = Replay {
        term,
        vote: None,
        log: Log::new(snapshot),
        commit_index,
    };
    for (i, record) in records.into_iter().enumerate() {
        state.apply(i as u64 + 1, record)?;
    }
    Ok(state)
}
