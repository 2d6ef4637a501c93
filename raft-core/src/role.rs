//! Role-specific state: only a candidate has votes, only a leader has follower progress.

use std::collections::{BTreeMap, VecDeque};

use crate::{Address, Index, Millis, ServerId};

/// The role of this server with the data only that role has.
#[derive(Debug)]
pub(crate) enum RoleState {
    Follower,
    Candidate(Candidate),
    Leader(Box<Leader>),
}

/// A candidate's tally.
#[derive(Debug, Default)]
pub(crate) struct Candidate {
    /// The vote each server reported in this term (for the status report).
    pub(crate) votes: BTreeMap<ServerId, ServerId>,
}

/// Where a server stands in a membership change (the reference's `raft_server_phase`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// A new server is receiving the log (M2).
    Catchup,
    /// It reached the log end; its configuration entry comes next.
    CaughtUp,
    /// Its configuration entry is appended but not committed.
    Committing,
    /// It is to be removed (M4).
    Remove,
    /// A plain member.
    Stable,
}

impl Phase {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Phase::Catchup => "catchup",
            Phase::CaughtUp => "caught up",
            Phase::Committing => "committing",
            Phase::Remove => "remove",
            Phase::Stable => "stable",
        }
    }
}

/// How the leader sends entries to one server (etcd's probe and replicate states).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Where the server's log matches ours is unknown: one append at a time.
    Probe {
        /// An append is out; wait for its reply (or any reply) before the next.
        paused: bool,
    },
    /// The logs match up to `match_index`: pipeline appends within the flow-control window.
    Replicate,
}

/// The leader's view of one server (Raft's nextIndex/matchIndex plus flow control).
#[derive(Debug)]
pub(crate) struct Progress {
    pub(crate) next_index: Index,
    pub(crate) match_index: Index,
    pub(crate) phase: Phase,
    /// Heard an append reply since the last check-quorum (E8).
    pub(crate) replied: bool,
    /// When an install-snapshot request went out, if it is unanswered (N4: one at a time).
    pub(crate) snapshot_in_flight: Option<Millis>,
    pub(crate) mode: Mode,
    /// Append requests with entries not yet answered: (last index, bytes).
    inflight: VecDeque<(Index, usize)>,
    inflight_bytes: usize,
    /// The highest commit index any append to this server carried.
    pub(crate) commit_sent: Index,
    /// Who asked for this server to be added or removed, to answer on completion.
    pub(crate) requester: Option<ServerId>,
}

impl Progress {
    /// The reference's `raft_server_init_leader`: optimistic next index, nothing matched.
    pub(crate) fn new(log_end: Index) -> Progress {
        Progress {
            next_index: log_end,
            match_index: Index(0),
            phase: Phase::Stable,
            replied: false,
            snapshot_in_flight: None,
            mode: Mode::Probe { paused: false },
            inflight: VecDeque::new(),
            inflight_bytes: 0,
            commit_sent: Index(0),
            requester: None,
        }
    }

    /// True if another append with entries may go out now.
    pub(crate) fn may_send(&self, max_msgs: usize, max_bytes: usize) -> bool {
        match self.mode {
            Mode::Probe { paused } => !paused,
            Mode::Replicate => self.inflight.len() < max_msgs && self.inflight_bytes < max_bytes,
        }
    }

    /// An append carrying entries up to `last` (`bytes` of them) went out.
    ///
    /// A probe leaves `next_index` at the position it asks about until it is answered (as in
    /// etcd and the reference), so heartbeats meanwhile ask about the same position and a
    /// refusal of either is told apart from a stale one. Moving it past the probe made every
    /// request end at `next_index`, and each heartbeat refusal restarted the back-off from
    /// the log end, in parallel with the probe.
    pub(crate) fn sent(&mut self, last: Index, bytes: usize) {
        match &mut self.mode {
            Mode::Probe { paused } => *paused = true,
            Mode::Replicate => {
                self.inflight.push_back((last, bytes));
                self.inflight_bytes += bytes;
                self.next_index = last.next();
            }
        }
    }

    /// Raises the match index to `index`; false if it was not below it.
    pub(crate) fn raise_match(&mut self, index: Index) -> bool {
        if index <= self.match_index {
            return false;
        }
        self.match_index = index;
        true
    }

    /// The server holds our log up to `acked`: pipeline from here on.
    pub(crate) fn acked(&mut self, acked: Index) {
        self.next_index = self.next_index.max(acked.next());
        while let Some(&(last, bytes)) = self.inflight.front() {
            if last > acked {
                break;
            }
            self.inflight.pop_front();
            self.inflight_bytes -= bytes;
        }
        self.mode = Mode::Replicate;
    }

    /// The server refused the append at `prev_index` and reported its log end. Returns false
    /// if the refusal answers an older request and is ignored; otherwise backs off to
    /// `min(prev_index, log_end)` — the reference's `min(next - 1, log_end)` for the request
    /// it answers — and probes from there (R3).
    pub(crate) fn rejected(&mut self, prev_index: Index, log_end: Index) -> bool {
        let current = match self.mode {
            Mode::Probe { .. } => prev_index.next() == self.next_index,
            Mode::Replicate => prev_index >= self.match_index,
        };
        if current {
            self.next_index = prev_index.min(log_end);
            self.reset_flow();
        }
        current
    }

    /// Forgets everything in flight (a refusal, or a lost connection) and probes again.
    pub(crate) fn reset_flow(&mut self) {
        self.inflight.clear();
        self.inflight_bytes = 0;
        self.mode = Mode::Probe { paused: false };
    }

    /// Gives up on an install-snapshot request unanswered for `limit_ms`, so a lost one does
    /// not block the server forever (beyond the reference, which waits for a reconnection).
    pub(crate) fn expire_snapshot(&mut self, now: Millis, limit_ms: u64) {
        if self
            .snapshot_in_flight
            .is_some_and(|at| now.since(at) > limit_ms)
        {
            self.snapshot_in_flight = None;
        }
    }
}

/// A server being added, not yet in the configuration.
#[derive(Debug)]
pub(crate) struct Joiner {
    pub(crate) address: Address,
    pub(crate) progress: Progress,
}

/// A leader's state, reset at every election.
#[derive(Debug)]
pub(crate) struct Leader {
    /// Every server of the configuration, this one included.
    pub(crate) progress: BTreeMap<ServerId, Progress>,
    /// Servers catching up to be added (M2).
    pub(crate) adding: BTreeMap<ServerId, Joiner>,
    /// The server whose removal is being committed, with its progress (M4).
    pub(crate) removing: Option<(ServerId, Progress)>,
    /// A proposed election timer not yet committed (M10).
    pub(crate) election_timer_new: Option<u64>,
    /// The index of this term's no-op: no configuration change before it commits (M3).
    pub(crate) term_start: Index,
}

impl Leader {
    /// True if a server is being added or removed, or a change awaits its answer: anything
    /// for the leader's reconfiguration to do.
    pub(crate) fn changing_membership(&self) -> bool {
        self.removing.is_some()
            || !self.adding.is_empty()
            || self.progress.values().any(|p| p.phase != Phase::Stable)
    }

    /// The progress of a configured server or a server being added.
    pub(crate) fn progress_mut(&mut self, sid: ServerId) -> Option<&mut Progress> {
        if let Some(p) = self.progress.get_mut(&sid) {
            return Some(p);
        }
        self.adding.get_mut(&sid).map(|j| &mut j.progress)
    }
}
