//! Memory: the bytes raft-core holds per log entry beyond its payload, and what a stopped
//! follower costs its leader.
//!
//! One raft-core leader runs in this process; its two followers are simulated by answering
//! its messages directly (a vote for its election, an acknowledgement for every append), so
//! the heap counted by [`crate::alloc`] is the leader's alone. A stopped follower stays
//! connected but silent from the first measured entry on: it was caught up, so the leader was
//! pipelining to it when it stopped, which is when flow control has to bound what piles up.
//!
//! No snapshots: without them the leader keeps every entry, in both runs alike, so the
//! difference between the runs is exactly what the stopped follower costs; snapshots would
//! shrink both runs' logs and add the state machine's snapshot to the figures, which says
//! nothing about flow control.

use raft_core::{Action, AppendResult, ConnId, Event, Index, Message, Millis, Role, Rpc, Server};

use crate::alloc;
use crate::core_throughput::{PAYLOAD, address, cluster_id, command, open_server, sid};

/// Commands executed per round, as in the core benchmark's batch=64 phase.
const BATCH: u64 = 64;
/// The leader's connection to each simulated follower (its number in the cluster).
const FOLLOWERS: [usize; 2] = [1, 2];
/// The follower that stops in the stopped-follower run.
const STOPPING: usize = 2;

/// Runs the leader through `entries` commands with both followers, then with one stopped,
/// and prints the figures.
pub(crate) fn run(entries: u64) {
    let both = measure(entries, false);
    let stopped = measure(entries, true);
    println!(
        "# memory: bytes requested from the allocator by one raft-core leader (not RSS); \
         {PAYLOAD}-byte commands, {BATCH} per round, no snapshots"
    );
    println!(
        "mem_bytes_per_entry_beyond_payload {:.1}",
        both.log_growth as f64 / entries as f64 - PAYLOAD as f64
    );
    println!(
        "mem_leader_peak_bytes both_followers entries={entries} {}",
        both.peak
    );
    println!(
        "mem_leader_peak_bytes stopped_follower entries={entries} {}",
        stopped.peak
    );
    println!(
        "mem_stopped_follower_cost_bytes entries={entries} {}",
        stopped.peak - both.peak
    );
}

/// What one run measured, in bytes.
struct Usage {
    /// Live heap after the entries minus live heap before them.
    log_growth: isize,
    /// The leader's largest heap at any moment, from its creation on.
    peak: isize,
}

fn measure(entries: u64, stop_one: bool) -> Usage {
    alloc::start();
    let mut leader = LoneLeader::elected();
    let before = alloc::live();
    leader.stopped = stop_one.then_some(STOPPING);
    let mut executed = 0;
    while executed < entries {
        let n = BATCH.min(entries - executed);
        for _ in 0..n {
            leader.server.execute(leader.now, command(), None);
        }
        executed += n;
        // A millisecond per round lets the leader's timers (heartbeats) run as they would.
        leader.now = leader.now.plus(1);
        leader.server.step(leader.now, Event::Tick);
        leader.settle();
    }
    assert_eq!(leader.applied, entries, "every command applied");
    assert_eq!(leader.server.role(), Role::Leader, "leadership kept");
    let usage = Usage {
        log_growth: alloc::live() - before,
        peak: alloc::peak(),
    };
    drop(leader);
    alloc::stop();
    usage
}

/// Server 0 of a three-server cluster; servers 1 and 2 exist only as answers to its
/// messages.
struct LoneLeader {
    server: Server,
    now: Millis,
    /// The follower that is silent, if any.
    stopped: Option<usize>,
    /// Entries applied since the election.
    applied: u64,
}

impl LoneLeader {
    /// Opens server 0, connects it to its followers and lets its election timer fire until
    /// it leads.
    fn elected() -> LoneLeader {
        let mut l = LoneLeader {
            server: open_server(0, 1),
            now: Millis(0),
            stopped: None,
            applied: 0,
        };
        for j in FOLLOWERS {
            let connected = Event::Connected {
                conn: ConnId(j as u64),
                incoming: false,
                address: Some(address(j)),
            };
            l.server.step(l.now, connected);
        }
        while l.server.role() != Role::Leader {
            l.now = l.now.plus(10);
            l.server.step(l.now, Event::Tick);
            l.settle();
        }
        l.applied = 0;
        l
    }

    /// Carries out the leader's actions and delivers the followers' answers until neither
    /// has anything left to do.
    fn settle(&mut self) {
        loop {
            let mut answers = Vec::new();
            let mut last_ticket = None;
            while let Some(action) = self.server.poll_action() {
                match action {
                    Action::Send { conn, message } => {
                        let j = conn.0 as usize;
                        if self.stopped != Some(j)
                            && let Some(answer) = answer(j, &message)
                        {
                            answers.push((conn, answer));
                        }
                    }
                    Action::WriteLog { ticket, .. } | Action::ReplaceLog { ticket, .. } => {
                        last_ticket = Some(ticket)
                    }
                    Action::Apply { .. } => self.applied += 1,
                    _ => {}
                }
            }
            if last_ticket.is_none() && answers.is_empty() {
                return;
            }
            if let Some(ticket) = last_ticket {
                self.server.step(self.now, Event::Persisted { ticket });
            }
            for (conn, message) in answers {
                self.server.step(self.now, Event::Message { conn, message });
            }
        }
    }
}

/// Follower `j`'s answer to `message` from the leader: its vote, or an acknowledgement of
/// every entry (its log always matches, since it takes every append at once).
fn answer(j: usize, message: &Message) -> Option<Box<Message>> {
    let rpc = match message.rpc {
        Rpc::VoteRequest { term, .. } => Rpc::VoteReply {
            term,
            vote: message.from,
        },
        Rpc::AppendRequest {
            term,
            prev_index,
            prev_term,
            ref entries,
            ..
        } => {
            let n_entries = entries.len() as u64;
            Rpc::AppendReply {
                term,
                log_end: Index(prev_index.0 + n_entries + 1),
                prev_index,
                prev_term,
                n_entries,
                result: AppendResult::Ok,
            }
        }
        _ => return None,
    };
    Some(Box::new(Message {
        cluster: Some(cluster_id()),
        from: sid(j),
        to: Some(message.from),
        comment: None,
        rpc,
    }))
}
