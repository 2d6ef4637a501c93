//! The interaction world: raft-core servers with in-memory disks, a message queue and a
//! clock, where nothing happens unless a command says so.
//!
//! Every input to a server (a tick, a message, a completed write, a request) is printed as a
//! `> ` line followed by the actions it caused, indented. Actions are carried out at once in
//! the only way that involves no choice: sends join the network queue, writes join the node's
//! pending writes, applies update the node's application state. Delivering messages and
//! completing writes are separate commands, so a script decides every interleaving.
//!
//! Connections are plumbing: the world dials what servers ask for as soon as both ends are up
//! and delivers the `Hello` greeting at once, printing nothing unless a server reacts with
//! something visible. Time is one clock for everyone, moved only by `tick` and `advance`,
//! which fire every timer due on the way in time order. (One clock, not one per node: the
//! core assumes time passes everywhere, e.g. a follower ignores votes only within an election
//! timer of its own last reset, E7, so a node whose clock stood still would misbehave.)

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use raft_core::{
    Action, Address, Config, ConnId, Data, Header, Message, Millis, Record, Role, Rpc, Server,
    ServerId, Term, WriteTicket,
};

use crate::names::{self, Names, address};
use crate::render;

/// A write the server asked for that is not durable yet.
enum Write {
    Append(WriteTicket, Vec<Record>),
    Replace(WriteTicket, Header, Vec<Record>),
}

impl Write {
    fn ticket(&self) -> WriteTicket {
        match self {
            Write::Append(t, _) | Write::Replace(t, ..) => *t,
        }
    }
}

/// One node: a server (absent while crashed), its disk, its application.
pub struct Node {
    pub server: Option<Server>,
    seed: u64,
    incarnation: u64,
    /// What is durable: the header and the records after it.
    header: Header,
    durable: Vec<Record>,
    pending: VecDeque<Write>,
    /// The application's state: the data of every applied entry, in order (a snapshot's data
    /// is this list joined with commas).
    pub app: Vec<String>,
    /// The outgoing connections the server asked for.
    wants: BTreeSet<Address>,
}

impl Node {
    /// The running server, if the node is up.
    pub fn up(&self) -> Option<&Server> {
        self.server.as_ref()
    }
}

/// A message on its way from node `from` to node `to`.
pub struct InFlight {
    pub from: usize,
    pub to: usize,
    /// The receiver's end of the connection.
    conn: ConnId,
    pub message: Box<Message>,
    /// The order in which messages were sent.
    seq: u64,
}

/// One end of a connection: the node at the other end and its end's id.
#[derive(Clone, Copy)]
struct Link {
    peer: usize,
    peer_conn: ConnId,
    /// True at the end that dialled.
    dialled: bool,
    /// The peer's end is gone (it crashed or closed it): what it sent before still arrives,
    /// then this end closes (data written to a socket is delivered before its end).
    closing: bool,
}

/// Whether an input is announced even when it causes nothing visible.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Announce {
    Always,
    IfAnything,
}

/// The whole environment of one script.
pub struct World {
    pub names: Names,
    pub nodes: BTreeMap<usize, Node>,
    links: BTreeMap<(usize, ConnId), Link>,
    /// Messages sent and not yet delivered or dropped, oldest first.
    pub queue: VecDeque<InFlight>,
    /// Messages a script delays (`hold`) until it releases them to the end of the queue.
    held: Vec<InFlight>,
    /// Greetings, delivered at once after the input that sent them.
    hellos: VecDeque<InFlight>,
    /// Directed pairs of nodes whose messages are lost.
    blocked: BTreeSet<(usize, usize)>,
    next_conn: u64,
    /// The sequence number of the next message sent.
    next_seq: u64,
    /// Nodes whose server asked to crash (a failure test), crashed after its input.
    crash_requests: Vec<usize>,
    /// The leader of every term seen, to check election safety after every input.
    leaders: BTreeMap<Term, ServerId>,
    seed: u64,
    /// Every server's configuration but its seed.
    config: Config,
    /// The clock every server reads.
    pub now: Millis,
    /// While set, inputs print only notable actions (see [`notable`]).
    pub quiet: bool,
    out: String,
}

/// `+1500ms`.
pub fn time(t: Millis) -> String {
    format!("+{}ms", t.0)
}

impl World {
    pub fn new() -> World {
        World {
            names: Names::new(),
            nodes: BTreeMap::new(),
            links: BTreeMap::new(),
            queue: VecDeque::new(),
            held: Vec::new(),
            hellos: VecDeque::new(),
            blocked: BTreeSet::new(),
            next_conn: 1,
            next_seq: 0,
            crash_requests: Vec::new(),
            leaders: BTreeMap::new(),
            seed: 0,
            config: Config::default(),
            now: Millis(0),
            quiet: false,
            out: String::new(),
        }
    }

    /// Appends a line to the command's output.
    pub fn say(&mut self, line: impl AsRef<str>) {
        self.out.push_str(line.as_ref());
        self.out.push('\n');
    }

    /// Everything printed since the last call.
    pub fn take_output(&mut self) -> String {
        std::mem::take(&mut self.out)
    }

    /// Sets the seed every server's seed derives from, and their other settings.
    pub fn configure(&mut self, seed: u64, config: Config) {
        self.seed = seed;
        self.config = config;
    }

    // ---------------------------------------------------------------------------------------
    // Nodes: creating, crashing, restarting.

    /// Adds node `n` with this durable state and opens its server.
    pub fn add_node(&mut self, n: usize, header: Header, durable: Vec<Record>) {
        let node = Node {
            server: None,
            seed: self.seed,
            incarnation: 0,
            header,
            durable,
            pending: VecDeque::new(),
            app: Vec::new(),
            wants: BTreeSet::new(),
        };
        self.nodes.insert(n, node);
        self.open(n, "open");
    }

    /// Opens node `n`'s server from its disk, as a fresh process would.
    fn open(&mut self, n: usize, what: &str) {
        let node = self.nodes.get_mut(&n).expect("a known node");
        node.incarnation += 1;
        // A distinct seed per node and per process lifetime, derived from the script's seed,
        // so restarted servers mint new entry ids but every run is the same.
        let seed = node
            .seed
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .wrapping_add((n as u64) << 32 | node.incarnation);
        let opened = Server::open(
            node.header.clone(),
            node.durable.clone(),
            Config {
                seed,
                ..self.config.clone()
            },
            self.now,
        );
        node.app.clear();
        match opened {
            Ok(server) => {
                node.server = Some(server);
                // The first actions are those `open` queued.
                self.input(n, format!("n{n} {what}"), Announce::Always, |_, _| ());
            }
            Err(e) => self.say(format!("> n{n} {what}: {e}")),
        }
    }

    /// Crashes node `n`: its server is gone and its unsynced writes are lost. Messages to it
    /// are lost; those it sent still arrive, after which its peers see their connections
    /// close.
    pub fn crash(&mut self, n: usize) {
        let node = self.nodes.get_mut(&n).expect("a known node");
        let lost: Vec<String> = node
            .pending
            .iter()
            .map(|w| w.ticket().to_string())
            .collect();
        self.say(format!(
            "> n{n} crashed, losing writes [{}]",
            lost.join(", ")
        ));
        let node = self.nodes.get_mut(&n).expect("a known node");
        node.server = None;
        node.pending.clear();
        node.wants.clear();
        let ends: Vec<ConnId> = self
            .links
            .keys()
            .filter(|(m, _)| *m == n)
            .map(|&(_, conn)| conn)
            .collect();
        for conn in ends {
            self.shut_end(n, conn, "crash");
        }
        self.reap_closing_links();
    }

    pub fn restart(&mut self, n: usize) {
        self.open(n, "restart");
    }

    // ---------------------------------------------------------------------------------------
    // Inputs.

    /// Gives node `n`'s server one input (`f`, called with the time), prints `header`
    /// and the actions that followed, and carries them out. `None` if the node is down.
    pub fn input<R>(
        &mut self,
        n: usize,
        header: String,
        announce: Announce,
        f: impl FnOnce(&mut Server, Millis) -> R,
    ) -> Option<R> {
        self.input_with_names(n, header, announce, |s, now, _| f(s, now))
    }

    /// [`World::input`] for a request that mints an entry id, which `f` labels.
    pub fn input_labelled<R>(
        &mut self,
        n: usize,
        header: String,
        f: impl FnOnce(&mut Server, Millis, &mut Names) -> R,
    ) -> Option<R> {
        self.input_with_names(n, header, Announce::Always, f)
    }

    fn input_with_names<R>(
        &mut self,
        n: usize,
        header: String,
        announce: Announce,
        f: impl FnOnce(&mut Server, Millis, &mut Names) -> R,
    ) -> Option<R> {
        let now = self.now;
        let node = self.nodes.get_mut(&n).expect("a known node");
        let Some(server) = node.server.as_mut() else {
            if announce == Announce::Always {
                self.say(format!("> {header}: n{n} is down"));
            }
            return None;
        };
        let held_before = server.counters().messages_held;
        let result = f(server, now, &mut self.names);
        let actions: Vec<Action> = std::iter::from_fn(|| server.poll_action()).collect();
        server.check_invariants();
        let held = server.counters().messages_held - held_before;
        let quiet = self.quiet;
        // Every action is carried out; a quiet run only prints fewer of them.
        let mut lines: Vec<String> = actions
            .into_iter()
            .filter_map(|a| {
                let shown = !quiet || notable(&a);
                self.carry_out(n, a).filter(|_| shown)
            })
            .collect();
        if held > 0 && !quiet {
            let s = if held == 1 { "" } else { "s" };
            lines.push(format!("({held} message{s} held until durable)"));
        }
        if (announce == Announce::Always && !quiet) || !lines.is_empty() {
            self.say(format!("> {header}"));
            for line in lines {
                self.say(format!("  {line}"));
            }
        }
        self.check_election_safety(n);
        self.after_input();
        Some(result)
    }

    /// Carries out one action of node `n`; returns its line, if it shows.
    fn carry_out(&mut self, n: usize, action: Action) -> Option<String> {
        let line = render::action(&self.names, &action);
        let node = self.nodes.get_mut(&n).expect("a known node");
        match action {
            Action::Send { conn, message } => return self.send(n, conn, message),
            Action::WriteLog { ticket, records } => {
                node.pending.push_back(Write::Append(ticket, records));
            }
            Action::ReplaceLog {
                ticket,
                header,
                records,
            } => node
                .pending
                .push_back(Write::Replace(ticket, *header, records)),
            Action::ApplySnapshot { data, .. } => node.app = split_state(&data),
            Action::Apply { data, .. } => node.app.push(text(&data)),
            Action::Connect { address } => {
                node.wants.insert(address);
            }
            Action::Disconnect { address } => {
                node.wants.remove(&address);
            }
            Action::Crash { .. } => self.crash_requests.push(n),
            Action::CommandDone { .. } | Action::Notify(_) | Action::Log { .. } => {}
        }
        line
    }

    /// Puts a message on the network, or drops it across a partition.
    fn send(&mut self, from: usize, conn: ConnId, message: Box<Message>) -> Option<String> {
        let text = render::message(&self.names, &message);
        let Some(link) = self.links.get(&(from, conn)).copied() else {
            return Some(format!("-> ? {text} (dropped: unknown connection {conn})"));
        };
        let to = link.peer;
        if link.closing {
            return Some(format!("-> n{to} {text} (dropped: n{to} is down)"));
        }
        let flight = InFlight {
            from,
            to,
            conn: link.peer_conn,
            message,
            seq: self.next_seq,
        };
        self.next_seq += 1;
        if matches!(flight.message.rpc, Rpc::Hello { .. }) {
            self.hellos.push_back(flight);
            return None;
        }
        if self.blocked.contains(&(from, to)) {
            return Some(format!("-> n{to} {text} (dropped: partition)"));
        }
        self.queue.push_back(flight);
        Some(format!("-> n{to} {text}"))
    }

    /// What follows every input: crashes a failure test asked for, greetings, connections.
    fn after_input(&mut self) {
        while let Some(n) = self.crash_requests.pop() {
            self.crash(n);
        }
        while let Some(hello) = self.hellos.pop_front() {
            self.receive(hello, Announce::IfAnything);
        }
        self.reap_closing_links();
        self.reconcile_connections();
    }

    /// Closes the ends whose peer is gone (crashed or closed) once they have nothing left to
    /// deliver.
    pub fn reap_closing_links(&mut self) {
        loop {
            let pending = |m: usize, mc: ConnId| {
                let mut all = self.queue.iter().chain(&self.held);
                all.any(|f| f.to == m && f.conn == mc)
            };
            let drained = self
                .links
                .iter()
                .find(|(end, link)| link.closing && !pending(end.0, end.1));
            let Some((&(m, mc), link)) = drained else {
                return;
            };
            let peer = link.peer;
            self.links.remove(&(m, mc));
            let header = format!("n{m} lost its connection to n{peer}");
            self.input(m, header, Announce::IfAnything, |s, now| {
                s.step(now, raft_core::Event::Disconnected { conn: mc })
            });
        }
    }

    /// Raft's Election Safety property, checked after every input: at most one leader per term.
    fn check_election_safety(&mut self, n: usize) {
        let Some(server) = self.nodes[&n].up() else {
            return;
        };
        if server.role() != Role::Leader {
            return;
        }
        let (term, me) = (server.term(), server.server_id());
        let first = *self.leaders.entry(term).or_insert(me);
        assert_eq!(
            first,
            me,
            "election safety: two leaders in term {term}: {} and n{n}",
            self.names.server(first)
        );
    }

    // ---------------------------------------------------------------------------------------
    // The network.

    /// Hands a message to its receiver, or drops it across a partition (greetings cross
    /// partitions: they are connection plumbing, and carry no state).
    fn receive(&mut self, m: InFlight, announce: Announce) {
        let header = format!(
            "n{} <- n{} {}",
            m.to,
            m.from,
            render::message(&self.names, &m.message)
        );
        let hello = matches!(m.message.rpc, Rpc::Hello { .. });
        if self.blocked.contains(&(m.from, m.to)) && !hello {
            if !self.quiet {
                self.say(format!("> {header} (dropped: partition)"));
            }
            return;
        }
        let (conn, message) = (m.conn, m.message);
        self.input(m.to, header, announce, |s, now| {
            s.step(now, raft_core::Event::Message { conn, message })
        });
    }

    /// Delivers the queued messages matching `filter`, oldest first, at most `limit` of them.
    /// Messages sent meanwhile wait for the next command. Returns how many were delivered.
    pub fn deliver(&mut self, filter: impl Fn(&InFlight) -> bool, limit: usize) -> usize {
        // One at a time, so the queue always shows what is still on its way (a connection to
        // a crashed peer closes only once drained).
        let horizon = self.next_seq;
        let mut count = 0;
        while count < limit {
            let next = self.queue.iter().position(|m| m.seq < horizon && filter(m));
            let Some(m) = next.and_then(|i| self.queue.remove(i)) else {
                break;
            };
            self.receive(m, Announce::Always);
            count += 1;
        }
        self.reap_closing_links();
        count
    }

    /// Removes the queued messages matching `filter` (at most `limit`) and returns them.
    pub fn take_queued(
        &mut self,
        filter: impl Fn(&InFlight) -> bool,
        limit: usize,
    ) -> Vec<InFlight> {
        let mut taken = Vec::new();
        let mut kept = VecDeque::new();
        for m in std::mem::take(&mut self.queue) {
            if taken.len() < limit && filter(&m) {
                taken.push(m);
            } else {
                kept.push_back(m);
            }
        }
        self.queue = kept;
        taken
    }

    /// Removes every queued or held message matching `filter` and returns them.
    fn take_messages(&mut self, filter: impl Fn(&InFlight) -> bool) -> Vec<InFlight> {
        let (mut taken, held): (Vec<InFlight>, Vec<InFlight>) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(&filter);
        self.held = held;
        taken.extend(self.take_queued(filter, usize::MAX));
        taken
    }

    /// Loses the queued messages matching `filter` (at most `limit`). Returns how many.
    pub fn drop_queued(&mut self, filter: impl Fn(&InFlight) -> bool, limit: usize) -> usize {
        let lost = self.take_queued(filter, limit);
        for m in &lost {
            self.say_dropped(m, "by the script");
        }
        self.reap_closing_links();
        lost.len()
    }

    /// Delays the queued messages matching `filter` (at most `limit`) until [`World::release`].
    pub fn hold(&mut self, filter: impl Fn(&InFlight) -> bool, limit: usize) -> usize {
        let taken = self.take_queued(filter, limit);
        for m in &taken {
            let text = render::message(&self.names, &m.message);
            self.say(format!("> n{} -> n{} {text} held", m.from, m.to));
        }
        let count = taken.len();
        self.held.extend(taken);
        count
    }

    /// Puts every held message back, at the end of the queue (after newer ones: reordered).
    pub fn release(&mut self) -> usize {
        let released = std::mem::take(&mut self.held);
        for m in &released {
            let text = render::message(&self.names, &m.message);
            self.say(format!("> n{} -> n{} {text} released", m.from, m.to));
        }
        let count = released.len();
        self.queue.extend(released);
        count
    }

    /// Prints a message as dropped.
    pub fn say_dropped(&mut self, m: &InFlight, why: &str) {
        let text = render::message(&self.names, &m.message);
        self.say(format!("> n{} -> n{} {text} dropped ({why})", m.from, m.to));
    }

    /// From now on, messages between different groups are lost.
    pub fn partition(&mut self, groups: &[Vec<usize>]) {
        for (i, a) in groups.iter().enumerate() {
            for b in groups.iter().skip(i + 1) {
                for &x in a {
                    for &y in b {
                        self.blocked.insert((x, y));
                        self.blocked.insert((y, x));
                    }
                }
            }
        }
    }

    /// From now on, messages from `from` to `to` are lost (a one-way partition).
    pub fn block(&mut self, from: usize, to: usize) {
        self.blocked.insert((from, to));
    }

    pub fn heal(&mut self) {
        self.blocked.clear();
    }

    /// Dials every connection a live server wants to a live peer, and closes dialled ones no
    /// longer wanted or whose peer stopped, until nothing changes.
    fn reconcile_connections(&mut self) {
        loop {
            if let Some((n, conn)) = self.unwanted_link() {
                self.close_link(n, conn, "connection closed");
            } else if let Some((n, m)) = self.missing_link() {
                self.open_link(n, m);
            } else {
                return;
            }
        }
    }

    fn accepts_connections(&self, n: usize) -> bool {
        self.nodes[&n]
            .up()
            .is_some_and(|s| !s.is_stopped_for_good())
    }

    fn unwanted_link(&self) -> Option<(usize, ConnId)> {
        self.links.iter().find_map(|(&(n, conn), link)| {
            let wanted = self.nodes[&n].wants.contains(&address(link.peer));
            let alive = self.accepts_connections(n) && self.accepts_connections(link.peer);
            // A link to a crashed peer closes once drained (reap_closing_links), not here.
            (link.dialled && !link.closing && !(wanted && alive)).then_some((n, conn))
        })
    }

    fn missing_link(&self) -> Option<(usize, usize)> {
        self.nodes.iter().find_map(|(&n, node)| {
            if !self.accepts_connections(n) {
                return None;
            }
            node.wants.iter().find_map(|a| {
                let m = (1..=names::MAX_NODE).find(|&m| address(m) == *a)?;
                let linked = self
                    .links
                    .iter()
                    .any(|(&(x, _), l)| x == n && l.peer == m && l.dialled);
                let up = self.nodes.contains_key(&m) && self.accepts_connections(m);
                (up && !linked).then_some((n, m))
            })
        })
    }

    /// Node `n` dials node `m`.
    fn open_link(&mut self, n: usize, m: usize) {
        let (cn, cm) = (ConnId(self.next_conn), ConnId(self.next_conn + 1));
        self.next_conn += 2;
        let link = |peer, peer_conn, dialled| Link {
            peer,
            peer_conn,
            dialled,
            closing: false,
        };
        self.links.insert((n, cn), link(m, cm, true));
        self.links.insert((m, cm), link(n, cn, false));
        let header = format!("n{m} accepted a connection from n{n}");
        self.input(m, header, Announce::IfAnything, |s, now| {
            let event = raft_core::Event::Connected {
                conn: cm,
                incoming: true,
                address: None,
            };
            s.step(now, event)
        });
        let header = format!("n{n} connected to n{m}");
        self.input(n, header, Announce::IfAnything, |s, now| {
            let event = raft_core::Event::Connected {
                conn: cn,
                incoming: false,
                address: Some(address(m)),
            };
            s.step(now, event)
        });
    }

    /// Node `n` closes its end of a connection: messages to it on the connection are lost,
    /// what it sent still arrives (a socket closed after a write delivers the data first),
    /// then the other end closes too.
    fn close_link(&mut self, n: usize, conn: ConnId, why: &str) {
        let Some(peer) = self.shut_end(n, conn, why) else {
            return;
        };
        let header = format!("n{n} lost its connection to n{peer}");
        self.input(n, header, Announce::IfAnything, |s, now| {
            s.step(now, raft_core::Event::Disconnected { conn })
        });
        self.reap_closing_links();
    }

    /// Removes node `n`'s end of a connection, losing the messages to it, and marks the other
    /// end to close once drained. Returns the peer.
    fn shut_end(&mut self, n: usize, conn: ConnId, why: &str) -> Option<usize> {
        let link = self.links.remove(&(n, conn))?;
        if let Some(peer_end) = self.links.get_mut(&(link.peer, link.peer_conn)) {
            peer_end.closing = true;
        }
        for lost in self.take_messages(|f| f.to == n && f.conn == conn) {
            self.say_dropped(&lost, why);
        }
        Some(link.peer)
    }

    // ---------------------------------------------------------------------------------------
    // Disks.

    /// Makes node `n`'s oldest `count` pending writes (all if `None`) durable and tells the
    /// server. Returns false if nothing was pending.
    pub fn persist(&mut self, n: usize, count: Option<usize>) -> bool {
        let node = self.nodes.get_mut(&n).expect("a known node");
        let k = count.unwrap_or(usize::MAX).min(node.pending.len());
        if k == 0 || node.server.is_none() {
            return false;
        }
        let mut last = WriteTicket::default();
        for write in node.pending.drain(..k) {
            last = write.ticket();
            match write {
                Write::Append(_, records) => node.durable.extend(records),
                Write::Replace(_, header, records) => {
                    node.header = header;
                    node.durable = records;
                }
            }
        }
        let header = format!("n{n} persisted {last}");
        self.input(n, header, Announce::Always, |s, now| {
            s.step(now, raft_core::Event::Persisted { ticket: last })
        });
        true
    }

    /// Reports node `n`'s oldest pending write as failed (S10). The later ones are never
    /// written: writes are ordered, and a driver stops writing after a failure. Returns false
    /// if nothing was pending.
    pub fn fail_write(&mut self, n: usize) -> bool {
        let node = self.nodes.get_mut(&n).expect("a known node");
        let Some(write) = node.pending.front().filter(|_| node.server.is_some()) else {
            return false;
        };
        let ticket = write.ticket();
        node.pending.clear();
        let header = format!("n{n} write {ticket} failed");
        self.input(n, header, Announce::Always, |s, now| {
            let reason = "disk full".to_owned();
            s.step(now, raft_core::Event::PersistFailed { ticket, reason })
        });
        true
    }

    // ---------------------------------------------------------------------------------------
    // Time.

    /// Moves the clock to `target`, stepping every server at each of its deadlines on the way,
    /// in time order (ties in node order).
    pub fn advance_to(&mut self, target: Millis) {
        while let Some((deadline, n)) = self.next_deadline().filter(|(d, _)| *d <= target) {
            self.tick_at(n, deadline);
        }
        self.now = self.now.max(target);
    }

    /// The earliest deadline of any live server, and whose it is.
    pub fn next_deadline(&self) -> Option<(Millis, usize)> {
        self.nodes
            .keys()
            .filter_map(|&n| self.deadline(n).map(|d| (d, n)))
            .min()
    }

    /// The next deadline of node `n`'s server, if it is up.
    pub fn deadline(&self, n: usize) -> Option<Millis> {
        self.nodes[&n].up().and_then(Server::next_deadline)
    }

    /// Steps node `n` with a tick at `deadline` (or now, if that is later).
    fn tick_at(&mut self, n: usize, deadline: Millis) {
        self.now = self.now.max(deadline);
        let header = format!("n{n} tick {}", time(self.now));
        self.input(n, header, Announce::Always, |s, now| {
            s.step(now, raft_core::Event::Tick)
        });
        // A timer that stays due would make every caller loop forever: a core bug.
        let now = self.now;
        assert!(
            self.deadline(n).is_none_or(|d| d > now),
            "n{n}: a timer is still due after a tick at {}",
            time(now)
        );
    }
}

/// Actions worth printing even in a quiet run: what the application and the operator see.
fn notable(action: &Action) -> bool {
    matches!(
        action,
        Action::Notify(_)
            | Action::Log { .. }
            | Action::CommandDone { .. }
            | Action::Apply { .. }
            | Action::ApplySnapshot { .. }
            | Action::Crash { .. }
    )
}

/// Data as text (the scripts only propose text).
fn text(data: &Data) -> String {
    String::from_utf8_lossy(data.as_bytes()).into_owned()
}

/// The application state a snapshot's data stands for.
fn split_state(data: &Data) -> Vec<String> {
    let state = text(data);
    if state.is_empty() {
        Vec::new()
    } else {
        state.split(',').map(str::to_owned).collect()
    }
}
