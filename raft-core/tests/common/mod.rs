//! A small multi-node harness for raft-core's integration tests: an in-memory message queue
//! (FIFO per connection, like TCP), in-memory disks with manual or automatic persistence, a
//! manual clock, crashes and restarts, partitions and message filters.
//!
//! Every server's invariants are checked after every step.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use raft_core::*;

/// A write issued but not yet durable.
#[derive(Clone, Debug)]
pub enum Write {
    Append(WriteTicket, Vec<Record>),
    Replace(WriteTicket, Header, Vec<Record>),
}

/// One server and everything the harness records about it.
pub struct Node {
    pub id: ServerId,
    pub address: Address,
    pub server: Option<Server>,
    pub seed: u64,
    pub config: Config,
    /// What is durable on this node's disk.
    pub header: Header,
    pub durable: Vec<Record>,
    /// Writes issued but not durable, oldest first.
    pub pending: Vec<Write>,
    pub auto_persist: bool,
    pub applied: Vec<(Index, EntryId, Data)>,
    pub snapshots: Vec<(Index, Data)>,
    pub done: Vec<(EntryId, CommandStatus, Option<Index>)>,
    pub notices: Vec<Notice>,
    pub logs: Vec<String>,
    pub crashed_by_test: Option<&'static str>,
    wants: BTreeSet<Address>,
}

/// A message on its way.
#[derive(Clone, Debug)]
pub struct InFlight {
    pub from: usize,
    pub to: usize,
    pub conn: ConnId,
    pub message: Box<Message>,
}

pub struct Cluster {
    pub now: Millis,
    pub nodes: Vec<Node>,
    /// (node, its conn) → (peer node, peer's conn, true if the node dialled).
    links: BTreeMap<(usize, ConnId), (usize, ConnId, bool)>,
    pub queue: VecDeque<InFlight>,
    /// Directed pairs whose messages are dropped.
    blocked: BTreeSet<(usize, usize)>,
    next_conn: u64,
    /// If false, messages wait in `queue` until delivered by hand.
    pub auto_deliver: bool,
    /// Every action, rendered, for determinism checks.
    pub trace: Vec<String>,
}

pub fn sid(i: usize) -> ServerId {
    ServerId::from_u128(((i as u128 + 1) * 0x1111) << 112)
}

pub fn address(i: usize) -> Address {
    Address::parse(&format!("tcp:127.0.0.1:{}", 7000 + i)).unwrap()
}

pub fn cid() -> ClusterId {
    ClusterId::from_u128(0xc1c1 << 112)
}

/// The header all members of an `n`-server test cluster start with.
pub fn header(i: usize, n: usize) -> Header {
    let servers = Configuration((0..n).map(|j| (sid(j), address(j))).collect());
    Header {
        server_id: sid(i),
        cluster_id: Some(cid()),
        name: "test".into(),
        local_address: address(i),
        joining: None,
        snapshot: Some(Snapshot {
            index: Index(1),
            term: Term(1),
            eid: EntryId::from_u128(1),
            servers,
            election_timer: None,
            data: Data::from("snap"),
        }),
    }
}

/// Records that give a log of entries with these terms (from index 2) and the current term.
pub fn log_records(terms: &[u64], current: u64) -> Vec<Record> {
    let mut records: Vec<Record> = terms
        .iter()
        .enumerate()
        .map(|(k, &t)| Record::Entry {
            index: Index(k as u64 + 2),
            entry: Entry {
                term: Term(t),
                payload: Payload::Noop,
            },
        })
        .collect();
    records.push(Record::Term {
        term: Term(current),
    });
    records
}

impl Cluster {
    /// `n` servers configured together from the start (no joins needed).
    pub fn new(n: usize) -> Cluster {
        Cluster::with_logs(&vec![(vec![], 1); n])
    }

    /// Servers whose logs hold entries of the given terms, with the given current terms.
    pub fn with_logs(logs: &[(Vec<u64>, u64)]) -> Cluster {
        let n = logs.len();
        let mut c = Cluster::empty();
        for (i, (terms, current)) in logs.iter().enumerate() {
            c.add_node(header(i, n), log_records(terms, *current));
        }
        for i in 0..n {
            c.start(i);
        }
        c.settle();
        c
    }

    pub fn empty() -> Cluster {
        Cluster {
            now: Millis(0),
            nodes: Vec::new(),
            links: BTreeMap::new(),
            queue: VecDeque::new(),
            blocked: BTreeSet::new(),
            next_conn: 1,
            auto_deliver: true,
            trace: Vec::new(),
        }
    }

    /// Adds a node with this durable state (not started).
    pub fn add_node(&mut self, header: Header, durable: Vec<Record>) -> usize {
        let i = self.nodes.len();
        let seed = 1000 + i as u64;
        self.nodes.push(Node {
            id: header.server_id,
            address: header.local_address.clone(),
            server: None,
            seed,
            config: Config::with_seed(seed),
            header,
            durable,
            pending: Vec::new(),
            auto_persist: true,
            applied: Vec::new(),
            snapshots: Vec::new(),
            done: Vec::new(),
            notices: Vec::new(),
            logs: Vec::new(),
            crashed_by_test: None,
            wants: BTreeSet::new(),
        });
        i
    }

    /// Opens node `i` from its durable state.
    pub fn start(&mut self, i: usize) {
        let n = &mut self.nodes[i];
        n.config.seed = n.seed;
        n.seed += 7919; // A new incarnation draws new entry ids.
        let server = Server::open(
            n.header.clone(),
            n.durable.clone(),
            n.config.clone(),
            self.now,
        )
        .expect("open failed");
        n.server = Some(server);
        n.wants.clear();
        // The application rebuilds its state from the snapshot and the log.
        n.applied.clear();
        n.snapshots.clear();
        self.process(i);
    }

    pub fn server(&self, i: usize) -> &Server {
        self.nodes[i].server.as_ref().expect("node is down")
    }

    pub fn server_mut(&mut self, i: usize) -> &mut Server {
        self.nodes[i].server.as_mut().expect("node is down")
    }

    pub fn is_up(&self, i: usize) -> bool {
        self.nodes[i].server.is_some()
    }

    // ---------------------------------------------------------------------------------------
    // Actions.

    /// Drains node `i`'s actions and carries them out.
    pub fn process(&mut self, i: usize) {
        loop {
            let Some(server) = self.nodes[i].server.as_mut() else {
                return;
            };
            server.check_invariants();
            let Some(action) = server.poll_action() else {
                break;
            };
            self.trace.push(format!("n{i} {action:?}"));
            self.carry_out(i, action);
        }
        if self.nodes[i].auto_persist {
            self.persist(i);
        }
    }

    fn carry_out(&mut self, i: usize, action: Action) {
        let now = self.now;
        let node = &mut self.nodes[i];
        match action {
            Action::Send { conn, message } => {
                if let Some(&(to, peer_conn, _)) = self.links.get(&(i, conn))
                    && !self.blocked.contains(&(i, to))
                {
                    self.queue.push_back(InFlight {
                        from: i,
                        to,
                        conn: peer_conn,
                        message,
                    });
                }
            }
            Action::WriteLog { ticket, records } => {
                node.pending.push(Write::Append(ticket, records))
            }
            Action::ReplaceLog {
                ticket,
                header,
                records,
            } => node.pending.push(Write::Replace(ticket, *header, records)),
            Action::ApplySnapshot { index, data, .. } => node.snapshots.push((index, data)),
            Action::Apply { index, eid, data } => node.applied.push((index, eid, data)),
            Action::CommandDone { eid, status, index } => node.done.push((eid, status, index)),
            Action::Connect { address } => {
                node.wants.insert(address);
            }
            Action::Disconnect { address } => {
                node.wants.remove(&address);
                let gone: Vec<ConnId> = self
                    .links
                    .iter()
                    .filter(|((n, _), (peer, _, dialled))| {
                        *n == i && *dialled && self.nodes[*peer].address == address
                    })
                    .map(|((_, c), _)| *c)
                    .collect();
                for c in gone {
                    self.close_link(i, c);
                }
            }
            Action::Notify(n) => node.notices.push(n),
            Action::Log { level, text } => node.logs.push(format!("{level} {text}")),
            Action::Crash { reason } => {
                node.crashed_by_test = Some(reason);
                let _ = now;
                self.crash(i);
            }
        }
    }

    /// Makes every pending write of node `i` durable and tells it.
    pub fn persist(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let Some(last) = node.pending.last().map(|w| match w {
            Write::Append(t, _) | Write::Replace(t, _, _) => *t,
        }) else {
            return;
        };
        for w in std::mem::take(&mut node.pending) {
            match w {
                Write::Append(_, records) => node.durable.extend(records),
                Write::Replace(_, header, records) => {
                    node.header = header;
                    node.durable = records;
                }
            }
        }
        self.step(i, Event::Persisted { ticket: last });
    }

    /// Steps node `i` with `event` at the current time and carries out what follows.
    pub fn step(&mut self, i: usize, event: Event) {
        let now = self.now;
        let Some(server) = self.nodes[i].server.as_mut() else {
            return;
        };
        server.step(now, event);
        self.process(i);
    }

    // ---------------------------------------------------------------------------------------
    // Network.

    /// Establishes the connections the nodes want, between live nodes.
    fn reconcile(&mut self) -> bool {
        let mut changed = false;
        for i in 0..self.nodes.len() {
            if !self.is_up(i) {
                continue;
            }
            let wants: Vec<Address> = self.nodes[i].wants.iter().cloned().collect();
            for address in wants {
                let Some(j) = self.nodes.iter().position(|n| n.address == address) else {
                    continue;
                };
                if !self.is_up(j) {
                    continue;
                }
                let exists = self
                    .links
                    .iter()
                    .any(|((n, _), (peer, _, dialled))| *n == i && *peer == j && *dialled);
                if exists {
                    continue;
                }
                let (ci, cj) = (ConnId(self.next_conn), ConnId(self.next_conn + 1));
                self.next_conn += 2;
                self.links.insert((i, ci), (j, cj, true));
                self.links.insert((j, cj), (i, ci, false));
                self.step(
                    j,
                    Event::Connected {
                        conn: cj,
                        incoming: true,
                        address: None,
                    },
                );
                self.step(
                    i,
                    Event::Connected {
                        conn: ci,
                        incoming: false,
                        address: Some(address),
                    },
                );
                changed = true;
            }
        }
        changed
    }

    fn close_link(&mut self, i: usize, conn: ConnId) {
        let Some((j, cj, _)) = self.links.remove(&(i, conn)) else {
            return;
        };
        self.links.remove(&(j, cj));
        self.queue
            .retain(|m| !((m.to == j && m.conn == cj) || (m.to == i && m.conn == conn)));
        self.step(i, Event::Disconnected { conn });
        self.step(j, Event::Disconnected { conn: cj });
    }

    /// Delivers the oldest message in flight. Returns false if none.
    pub fn deliver_one(&mut self) -> bool {
        let Some(m) = self.queue.pop_front() else {
            return false;
        };
        if self.links.contains_key(&(m.to, m.conn)) {
            self.step(
                m.to,
                Event::Message {
                    conn: m.conn,
                    message: m.message,
                },
            );
        }
        true
    }

    /// Delivers messages and makes connections until nothing moves.
    pub fn settle(&mut self) {
        for _ in 0..100_000 {
            let linked = self.reconcile();
            let delivered = self.auto_deliver && self.deliver_one();
            if !linked && !delivered {
                return;
            }
        }
        panic!("cluster did not settle");
    }

    /// Drops every message from `a` to `b` and from `b` to `a` from now on.
    pub fn cut(&mut self, a: usize, b: usize) {
        self.blocked.insert((a, b));
        self.blocked.insert((b, a));
    }

    /// Cuts `i` off from everyone.
    pub fn isolate(&mut self, i: usize) {
        for j in 0..self.nodes.len() {
            if j != i {
                self.cut(i, j);
            }
        }
    }

    pub fn heal(&mut self) {
        self.blocked.clear();
    }

    /// Removes queued messages matching `f`; returns how many.
    pub fn drop_queued(&mut self, mut f: impl FnMut(&InFlight) -> bool) -> usize {
        let before = self.queue.len();
        self.queue.retain(|m| !f(m));
        before - self.queue.len()
    }

    // ---------------------------------------------------------------------------------------
    // Time, crashes.

    /// Advances the clock by `ms`, firing every deadline on the way.
    pub fn advance(&mut self, ms: u64) {
        let target = self.now.plus(ms);
        loop {
            self.settle();
            let next = (0..self.nodes.len())
                .filter_map(|i| {
                    self.nodes[i]
                        .server
                        .as_ref()
                        .and_then(Server::next_deadline)
                        .map(|d| (d, i))
                })
                .min();
            match next {
                Some((d, i)) if d <= target => {
                    self.now = self.now.max(d);
                    self.step(i, Event::Tick);
                }
                _ => break,
            }
        }
        self.now = target;
        self.settle();
    }

    /// Advances time until `pred` holds, at most `max_ms`. Returns whether it held.
    pub fn run_until(&mut self, max_ms: u64, mut pred: impl FnMut(&Cluster) -> bool) -> bool {
        for _ in 0..max_ms / 10 {
            if pred(self) {
                return true;
            }
            self.advance(10);
        }
        pred(self)
    }

    /// Crashes node `i`: unsynced writes are lost, connections close.
    pub fn crash(&mut self, i: usize) {
        self.nodes[i].server = None;
        self.nodes[i].pending.clear();
        let mine: Vec<ConnId> = self
            .links
            .keys()
            .filter(|(n, _)| *n == i)
            .map(|(_, c)| *c)
            .collect();
        for c in mine {
            if let Some((j, cj, _)) = self.links.remove(&(i, c)) {
                self.links.remove(&(j, cj));
                self.queue
                    .retain(|m| !(m.to == j && m.conn == cj || m.to == i && m.conn == c));
                self.step(j, Event::Disconnected { conn: cj });
            }
        }
    }

    pub fn restart(&mut self, i: usize) {
        self.start(i);
        self.settle();
    }

    // ---------------------------------------------------------------------------------------
    // Queries.

    /// The live leaders, by index.
    pub fn leaders(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| {
                self.is_up(i)
                    && !self.server(i).is_stopped_for_good()
                    && self.server(i).role() == Role::Leader
            })
            .collect()
    }

    /// The leader with the highest term.
    pub fn leader(&self) -> Option<usize> {
        self.leaders()
            .into_iter()
            .max_by_key(|&i| self.server(i).term())
    }

    /// Runs until there is a leader (at most 20 s of simulated time).
    pub fn elect(&mut self) -> usize {
        assert!(
            self.run_until(20_000, |c| c.leader().is_some()),
            "no leader elected"
        );
        self.leader().unwrap()
    }

    /// The terms of node `i`'s log entries from the log start.
    pub fn log_terms(&self, i: usize) -> Vec<u64> {
        let s = self.server(i);
        (s.log_start().0..s.log_end().0)
            .map(|x| s.term_at(Index(x)).unwrap().0)
            .collect()
    }

    pub fn execute(&mut self, i: usize, data: &str, prereq: Option<EntryId>) -> EntryId {
        let now = self.now;
        let eid = self.server_mut(i).execute(now, Data::from(data), prereq);
        self.process(i);
        self.settle();
        eid
    }

    /// The outcome of command `eid` on node `i`, if done.
    pub fn outcome(&self, i: usize, eid: EntryId) -> Option<(CommandStatus, Option<Index>)> {
        self.nodes[i]
            .done
            .iter()
            .find(|(e, ..)| *e == eid)
            .map(|(_, s, x)| (*s, *x))
    }

    /// Messages in flight of the given RPC name.
    pub fn queued(&self, name: &str) -> Vec<&InFlight> {
        self.queue
            .iter()
            .filter(|m| m.message.rpc.name() == name)
            .collect()
    }

    /// The data applied on node `i`, as strings.
    pub fn applied_data(&self, i: usize) -> Vec<String> {
        self.nodes[i]
            .applied
            .iter()
            .map(|(_, _, d)| String::from_utf8_lossy(d.as_bytes()).into_owned())
            .collect()
    }

    pub fn node_index(&self, id: ServerId) -> usize {
        self.nodes.iter().position(|n| n.id == id).unwrap()
    }
}

impl Cluster {
    /// Delivers a hand-made message from `from` to `to` over their connection.
    pub fn inject(&mut self, from: usize, to: usize, rpc: Rpc) {
        self.inject_message(
            from,
            to,
            Message {
                cluster: Some(cid()),
                from: sid(from),
                to: Some(sid(to)),
                comment: None,
                rpc,
            },
        );
    }

    /// Delivers `message` to `to` on a connection from `from`.
    pub fn inject_message(&mut self, from: usize, to: usize, message: Message) {
        let conn = self
            .links
            .iter()
            .find(|((n, _), (peer, _, _))| *n == to && *peer == from)
            .map(|((_, c), _)| *c)
            .expect("no connection between the nodes");
        self.step(
            to,
            Event::Message {
                conn,
                message: Box::new(message),
            },
        );
    }

    /// Sets node `i` to persist by hand (`persist(i)`) or automatically.
    pub fn manual_persist(&mut self, i: usize, manual: bool) {
        self.nodes[i].auto_persist = !manual;
    }

    /// Messages queued from node `i`.
    pub fn queued_from(&self, i: usize) -> Vec<&InFlight> {
        self.queue.iter().filter(|m| m.from == i).collect()
    }

    /// Runs until every live node has applied `n` entries with data.
    pub fn run_until_applied(&mut self, n: usize) -> bool {
        self.run_until(30_000, |c| {
            (0..c.nodes.len())
                .filter(|&i| c.is_up(i))
                .all(|i| c.nodes[i].applied.len() >= n)
        })
    }
}

impl Cluster {
    /// Adds and starts a server that joins through the given members' addresses.
    pub fn join(&mut self, via: &[usize]) -> usize {
        let i = self.add_joiner(via);
        self.start(i);
        self.settle();
        i
    }

    /// A server that joins through `via` but cannot reach `cut`: node `i`, still joining.
    pub fn join_cut_from(&mut self, via: &[usize], cut: &[usize]) -> usize {
        let i = self.add_joiner(via);
        for &k in cut {
            self.cut(i, k);
        }
        self.start(i);
        self.advance(2_000);
        i
    }

    /// Adds, without starting it, a server that will join through `via`.
    fn add_joiner(&mut self, via: &[usize]) -> usize {
        let i = self.nodes.len();
        let remotes: Vec<String> = via.iter().map(|&v| address(v).to_string()).collect();
        let remotes: Vec<&str> = remotes.iter().map(String::as_str).collect();
        let h = bootstrap::join_cluster(sid(i), Some(cid()), "test", address(i).as_str(), &remotes)
            .unwrap();
        self.add_node(h, vec![])
    }

    /// Runs until node `i` is a full member (joined, in the configuration everywhere it is up).
    pub fn run_until_member(&mut self, i: usize) -> bool {
        self.run_until(30_000, |c| {
            !c.server(i).is_joining()
                && (0..c.nodes.len())
                    .filter(|&j| c.is_up(j) && !c.server(j).is_stopped_for_good())
                    .all(|j| c.server(j).configuration().contains(sid(i)))
        })
    }

    /// The log lines of node `i` that contain `needle`.
    pub fn logged(&self, i: usize, needle: &str) -> usize {
        self.nodes[i]
            .logs
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }

    /// Messages of kind `name` sent so far, rendered from the trace.
    pub fn sent_count(&self, from: usize, name: &str) -> usize {
        let prefix = format!("n{from} Send");
        self.trace
            .iter()
            .filter(|t| t.starts_with(&prefix) && t.contains(name))
            .count()
    }
}
