//! One handler per script command. Every handler parses its arguments, drives the world and
//! leaves its output in the world's buffer; a malformed line is an error naming file:line.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use raft_core::{
    Config, Configuration, Data, Entry, EntryId, Header, Index, Millis, Payload, Record, Role,
    Snapshot, Term, bootstrap,
};
use raft_sim::datadriven::{ArgError, TestCase};

use crate::names::{CLUSTER, MAX_NODE, SNAPSHOT_EID, address, sid};
use crate::render;
use crate::world::{Announce, InFlight, World, time};

/// A malformed script line: a message naming the file, the line and the command.
#[derive(Debug)]
pub struct ScriptError(String);

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<ArgError> for ScriptError {
    fn from(e: ArgError) -> ScriptError {
        ScriptError(e.to_string())
    }
}

type Result<T = ()> = std::result::Result<T, ScriptError>;

/// The environment a script runs in.
pub struct Env {
    world: World,
}

impl Env {
    pub fn new() -> Env {
        Env {
            world: World::new(),
        }
    }

    /// Runs one command and returns its output.
    pub fn run(&mut self, case: &TestCase) -> Result<String> {
        let Some(&(_, handler, shape)) = COMMANDS.iter().find(|(n, ..)| *n == case.command) else {
            return Err(at(case, &format!("unknown command {:?}", case.command)));
        };
        check_shape(case, shape)?;
        handler(self, case)?;
        Ok(self.world.take_output())
    }

    // ---------------------------------------------------------------------------------------
    // Building the cluster.

    /// `add-nodes N [seed=S] [election-timer=MS] [max-append-entries=K] [commit-notify-ms=D]`,
    /// with optional
    /// input lines `<node>: <term of index 2> <term of index 3> … [term=T]` giving a node's
    /// log: nodes 1..=N start as one configured cluster whose snapshot is index 1, term 1. A
    /// single node without a preset log is created with `bootstrap::create_cluster` (S1).
    fn add_nodes(&mut self, case: &TestCase) -> Result {
        if !self.world.nodes.is_empty() {
            return Err(at(case, "add-nodes runs once; add servers with join"));
        }
        let count: usize = case.parse_positional(0)?;
        if !(1..=MAX_NODE).contains(&count) {
            return Err(at(case, &format!("between 1 and {MAX_NODE} nodes")));
        }
        let seed = case.parse("seed")?.unwrap_or(0);
        // Scripts show every commit reaching the followers at once, as the reference does,
        // unless they ask for the default's delay (commit_notify.txt does).
        let mut config = Config {
            commit_notify_delay_ms: 0,
            ..Config::default()
        };
        if let Some(k) = case.parse("max-append-entries")? {
            config.max_append_entries = k;
        }
        if let Some(d) = case.parse("commit-notify-ms")? {
            config.commit_notify_delay_ms = d;
        }
        config.validate().map_err(|e| at(case, &e.to_string()))?;
        self.world.configure(seed, config);
        let timer: Option<u64> = case.parse("election-timer")?;
        let logs = parse_logs(case, count)?;
        if count == 1 && logs.is_empty() {
            return self.create_cluster(case, timer);
        }
        let servers = Configuration((1..=count).map(|n| (sid(n), address(n))).collect());
        for n in 1..=count {
            let header = member_header(n, &servers, timer);
            let records = logs
                .get(&n)
                .map_or_else(Vec::new, |(terms, term)| log_records(terms, *term));
            self.world.add_node(n, header, records);
        }
        Ok(())
    }

    /// A cluster of one server, made as an administrator makes one (S1): the server elects
    /// itself at once, and the others join it.
    fn create_cluster(&mut self, case: &TestCase, timer: Option<u64>) -> Result {
        let (sid, address) = (sid(1), address(1));
        let created = bootstrap::create_cluster(
            sid,
            CLUSTER,
            "test",
            address.as_str(),
            SNAPSHOT_EID,
            Data::default(),
            timer,
        );
        let (header, records) = created.map_err(|e| at(case, &e.to_string()))?;
        self.world.add_node(1, header, records);
        Ok(())
    }

    /// `join N via=K`: a new server asks node K to add it (S2, M7).
    fn join(&mut self, case: &TestCase) -> Result {
        let n: usize = parse_node_number(case, 0)?;
        if self.world.nodes.contains_key(&n) {
            return Err(at(case, &format!("n{n} already exists")));
        }
        let via = self.node_arg(case, "via")?;
        let remote = address(via).to_string();
        let header = bootstrap::join_cluster(sid(n), None, "test", address(n).as_str(), &[&remote])
            .map_err(|e| at(case, &e.to_string()))?;
        self.world.add_node(n, header, Vec::new());
        Ok(())
    }

    // ---------------------------------------------------------------------------------------
    // Time.

    /// `tick N`: time passes until node N's next deadline, firing every timer due on the way
    /// (another node's, if it comes first).
    fn tick(&mut self, case: &TestCase) -> Result {
        let n = self.node(case, 0)?;
        let Some(deadline) = self.world.deadline(n) else {
            return Err(at(case, &format!("n{n} has no deadline")));
        };
        self.world.advance_to(deadline);
        Ok(())
    }

    /// `advance [ms=M]`: time passes by M ms, or until the next deadline of any node, firing
    /// every timer due on the way.
    fn advance(&mut self, case: &TestCase) -> Result {
        let target = match case.parse::<u64>("ms")? {
            Some(ms) => self.world.now.plus(ms),
            None => match self.world.next_deadline() {
                Some((deadline, _)) => deadline,
                None => return Err(at(case, "no node has a deadline")),
            },
        };
        self.world.advance_to(target);
        Ok(())
    }

    /// `run ms=M [quiet]`: time passes by M ms over a working network: after every timer
    /// that fires, writes complete and messages arrive until nothing is left to do. `quiet`
    /// prints only what the application and the operator would see.
    fn run_for(&mut self, case: &TestCase) -> Result {
        let ms: u64 = case.require("ms")?;
        let quiet = match case.positional().first() {
            None => false,
            Some(arg) if arg.values == ["quiet"] => true,
            Some(_) => return Err(at(case, "the only flag is `quiet`")),
        };
        let target = self.world.now.plus(ms);
        let all: BTreeSet<usize> = self.world.nodes.keys().copied().collect();
        self.world.quiet = quiet;
        let result = self.run_until(case, target, &all);
        self.world.quiet = false;
        result
    }

    /// Stabilizes, then fires the next timer due by `target`, until none is left.
    fn run_until(&mut self, case: &TestCase, target: Millis, nodes: &BTreeSet<usize>) -> Result {
        loop {
            self.settle(case, nodes)?;
            match self.world.next_deadline() {
                Some((deadline, _)) if deadline <= target => self.world.advance_to(deadline),
                _ => break,
            }
        }
        self.world.advance_to(target);
        Ok(())
    }

    // ---------------------------------------------------------------------------------------
    // Requests.

    /// `campaign N`: node N takes leadership with an election marked as a transfer (E10).
    fn campaign(&mut self, case: &TestCase) -> Result {
        let n = self.node(case, 0)?;
        self.input(n, "take leadership", |s, now| s.take_leadership(now));
        Ok(())
    }

    /// `propose N DATA [prereq=eK]`: executes a command on node N (C1); the new entry id gets
    /// the next label.
    fn propose(&mut self, case: &TestCase) -> Result {
        let n = self.node(case, 0)?;
        let text: String = case.parse_positional(1)?;
        let prereq = match case.parse::<String>("prereq")? {
            Some(label) => Some(self.eid(case, &label)?),
            None => None,
        };
        let names = &self.world.names;
        let prereq_text = prereq.map_or(String::new(), |p| format!(" prereq={}", names.label(p)));
        let header = format!("n{n} propose {} {text:?}{prereq_text}", names.next_label());
        // The id is minted inside `execute`; label it before its actions are printed.
        self.world.input_labelled(n, header, |s, now, names| {
            let eid = s.execute(now, Data::from(text.as_str()), prereq);
            names.register(eid);
        });
        Ok(())
    }

    /// `leave N`: node N leaves the cluster (M8).
    fn leave(&mut self, case: &TestCase) -> Result {
        let n = self.node(case, 0)?;
        let result = self.input(n, "leave", |s, now| s.leave(now));
        self.say_result(result.map(|r| r.map(|()| "leaving")));
        Ok(())
    }

    /// `kick N TARGET`: node N asks for TARGET's removal (M9).
    fn kick(&mut self, case: &TestCase) -> Result {
        let n = self.node(case, 0)?;
        let target = self.node(case, 1)?;
        let nickname = sid(target).nickname().to_string();
        let result = self.input(n, &format!("kick n{target}"), |s, now| {
            s.kick(now, &nickname)
        });
        let result = result.map(|r| r.map(|text| self.world.names.humanize(&text)));
        self.say_result(result);
        Ok(())
    }

    /// `snapshot N`: node N stores a snapshot of its application state up to what it applied
    /// (N1), if [`raft_core::Server::may_snapshot`] allows.
    fn snapshot(&mut self, case: &TestCase) -> Result {
        let n = self.node(case, 0)?;
        let node = &self.world.nodes[&n];
        let Some(server) = node.up() else {
            return Err(at(case, &format!("n{n} is down")));
        };
        if !server.may_snapshot() {
            self.world
                .say(format!("> n{n} snapshot: refused, may_snapshot() is false"));
            return Ok(());
        }
        let data = Data::from(node.app.join(",").as_str());
        let result = self.input(n, "snapshot", |s, now| s.store_snapshot(now, data, None));
        self.say_result(result.map(|r| r.map(|()| "stored")));
        Ok(())
    }

    /// `change-election-timer N MS` (M10).
    fn change_election_timer(&mut self, case: &TestCase) -> Result {
        let n = self.node(case, 0)?;
        let ms: u64 = case.parse_positional(1)?;
        let what = format!("change election timer to {ms}");
        let result = self.input(n, &what, |s, now| s.change_election_timer(now, ms));
        self.say_result(result);
        Ok(())
    }

    /// `transfer-leadership N` (E10).
    fn transfer_leadership(&mut self, case: &TestCase) -> Result {
        let n = self.node(case, 0)?;
        self.input(n, "transfer leadership", |s, now| {
            s.transfer_leadership(now)
        });
        Ok(())
    }

    /// `failure-test N NAME`: engages one of the reference's failure tests (A3), or `clear`.
    fn failure_test(&mut self, case: &TestCase) -> Result {
        let n = self.node(case, 0)?;
        let name: String = case.parse_positional(1)?;
        let what = format!("failure test {name}");
        let result = self.input(n, &what, |s, now| s.set_failure_test(now, &name));
        self.say_result(result);
        Ok(())
    }

    // ---------------------------------------------------------------------------------------
    // Network and disks.

    /// `deliver [from=N] [to=N] [type=Rpc] [count=K]`: delivers the matching messages queued
    /// now, oldest first.
    fn deliver(&mut self, case: &TestCase) -> Result {
        let filter = self.message_filter(case)?;
        let count = case.parse("count")?.unwrap_or(usize::MAX);
        if self.world.deliver(|m| filter.matches(m), count) == 0 {
            self.world.say("no messages");
        }
        Ok(())
    }

    /// `drop [from=N] [to=N] [type=Rpc] [count=K]`: loses the matching queued messages.
    fn drop_messages(&mut self, case: &TestCase) -> Result {
        let filter = self.message_filter(case)?;
        let count = case.parse("count")?.unwrap_or(usize::MAX);
        if self.world.drop_queued(|m| filter.matches(m), count) == 0 {
            self.world.say("no messages");
        }
        Ok(())
    }

    /// `hold [from=N] [to=N] [type=Rpc] [count=K]`: delays the matching queued messages until
    /// `release`, so later messages overtake them.
    fn hold(&mut self, case: &TestCase) -> Result {
        let filter = self.message_filter(case)?;
        let count = case.parse("count")?.unwrap_or(usize::MAX);
        if self.world.hold(|m| filter.matches(m), count) == 0 {
            self.world.say("no messages");
        }
        Ok(())
    }

    /// `release`: held messages rejoin the queue, at its end.
    fn release(&mut self, _case: &TestCase) -> Result {
        if self.world.release() == 0 {
            self.world.say("no messages");
        }
        Ok(())
    }

    /// `persist N [all|next|fail]`: node N's pending writes (or only the oldest) become durable;
    /// `fail` reports the oldest as failed instead (S10).
    fn persist(&mut self, case: &TestCase) -> Result {
        let n = self.node(case, 0)?;
        let flag = case.positional().get(1).map(|arg| arg.values.join(","));
        let done = match flag.as_deref() {
            None | Some("all") => self.world.persist(n, None),
            Some("next") => self.world.persist(n, Some(1)),
            Some("fail") => self.world.fail_write(n),
            Some(_) => return Err(at(case, "the second argument is `all`, `next` or `fail`")),
        };
        if !done {
            self.world.say(format!("n{n}: no pending writes"));
        }
        Ok(())
    }

    /// `stabilize [N…]`: completes writes and delivers messages among the given nodes (all by
    /// default) until nothing is left to do, printing every step.
    fn stabilize(&mut self, case: &TestCase) -> Result {
        let nodes = self.node_set(case)?;
        self.settle(case, &nodes)
    }

    /// Completes writes and delivers messages among `nodes` until nothing is left to do.
    fn settle(&mut self, case: &TestCase, nodes: &BTreeSet<usize>) -> Result {
        for _ in 0..1000 {
            let mut busy = false;
            for &n in nodes {
                busy |= self.world.persist(n, None);
            }
            busy |= self.world.deliver(|m| nodes.contains(&m.to), usize::MAX) > 0;
            if !busy {
                return Ok(());
            }
        }
        Err(at(case, "did not stabilize in 1000 rounds"))
    }

    /// `partition (1) (2,3)`: messages between the groups are lost until `heal`.
    fn partition(&mut self, case: &TestCase) -> Result {
        let mut groups = Vec::new();
        for arg in case.positional() {
            let group = arg
                .values
                .iter()
                .map(|v| self.known_node(case, v))
                .collect::<Result<Vec<usize>>>()?;
            groups.push(group);
        }
        if groups.len() < 2 {
            return Err(at(case, "a partition needs at least two groups"));
        }
        self.world.partition(&groups);
        Ok(())
    }

    /// `block from=N to=M`: messages from N to M are lost until `heal`.
    fn block(&mut self, case: &TestCase) -> Result {
        let from = self.node_arg(case, "from")?;
        let to = self.node_arg(case, "to")?;
        self.world.block(from, to);
        Ok(())
    }

    /// `heal`: every partition and block ends.
    fn heal(&mut self, _case: &TestCase) -> Result {
        self.world.heal();
        Ok(())
    }

    /// `crash N`: the process dies; unsynced writes and messages to it are lost.
    fn crash(&mut self, case: &TestCase) -> Result {
        let n = self.node(case, 0)?;
        if self.world.nodes[&n].up().is_none() {
            return Err(at(case, &format!("n{n} is already down")));
        }
        self.world.crash(n);
        Ok(())
    }

    /// `restart N`: a new process reopens node N's durable log (S4).
    fn restart(&mut self, case: &TestCase) -> Result {
        let n = self.node(case, 0)?;
        if self.world.nodes[&n].up().is_some() {
            return Err(at(case, &format!("n{n} is up; crash it first")));
        }
        self.world.restart(n);
        Ok(())
    }

    // ---------------------------------------------------------------------------------------
    // Views.

    /// `status N`: the status report, in the reference's layout (A1).
    fn status(&mut self, case: &TestCase) -> Result {
        let n = self.node(case, 0)?;
        let node = &self.world.nodes[&n];
        let text = match node.up() {
            Some(server) => server.status(self.world.now).to_string(),
            None => format!("n{n} is down"),
        };
        self.world.say(text.trim_end());
        Ok(())
    }

    /// `log N`: node N's log, one entry a line, and its application state.
    fn log(&mut self, case: &TestCase) -> Result {
        let n = self.node(case, 0)?;
        let node = &self.world.nodes[&n];
        let Some(s) = node.up() else {
            self.world.say(format!("n{n} is down"));
            return Ok(());
        };
        let mut lines = vec![summary(&self.world, n)];
        let start = s.log_start();
        lines.push(format!(
            "{}/{} snapshot",
            start.prev(),
            s.term_at(start.prev()).unwrap_or_default()
        ));
        for i in start.0..s.log_end().0 {
            let Some(e) = s.entry(Index(i)) else { continue };
            let mut line = render::entry(&self.world.names, Index(i), e);
            if Index(i) > s.commit_index() {
                line.push_str(" (uncommitted)");
            }
            lines.push(line);
        }
        lines.push(format!("applied: [{}]", node.app.join(",")));
        for line in lines {
            self.world.say(line);
        }
        Ok(())
    }

    /// `raft-state`: one summary line per node.
    fn raft_state(&mut self, _case: &TestCase) -> Result {
        self.world.say(format!("time {}", time(self.world.now)));
        let lines: Vec<String> = self
            .world
            .nodes
            .keys()
            .map(|&n| summary(&self.world, n))
            .collect();
        for line in lines {
            self.world.say(line);
        }
        Ok(())
    }

    /// `in-flight`: the messages queued, oldest first.
    fn in_flight(&mut self, _case: &TestCase) -> Result {
        let lines: Vec<String> = self
            .world
            .queue
            .iter()
            .map(|m| {
                let text = render::message(&self.world.names, &m.message);
                format!("n{} -> n{} {text}", m.from, m.to)
            })
            .collect();
        if lines.is_empty() {
            self.world.say("no messages");
        }
        for line in lines {
            self.world.say(line);
        }
        Ok(())
    }

    /// `_breakpoint`: does nothing; set a debugger breakpoint here.
    fn breakpoint(&mut self, _case: &TestCase) -> Result {
        Ok(())
    }

    // ---------------------------------------------------------------------------------------
    // Helpers.

    /// Gives node `n` a request, announced as `n<N> <what>`.
    fn input<R>(
        &mut self,
        n: usize,
        what: &str,
        f: impl FnOnce(&mut raft_core::Server, Millis) -> R,
    ) -> Option<R> {
        self.world
            .input(n, format!("n{n} {what}"), Announce::Always, f)
    }

    /// Prints a request's answer, or nothing if the node was down.
    fn say_result<T: std::fmt::Display, E: std::fmt::Display>(
        &mut self,
        result: Option<std::result::Result<T, E>>,
    ) {
        match result {
            Some(Ok(text)) => self.world.say(format!("  = {text}")),
            Some(Err(e)) => self.world.say(format!("  = error: {e}")),
            None => {}
        }
    }

    fn eid(&self, case: &TestCase, label: &str) -> Result<EntryId> {
        self.world
            .names
            .eid(label)
            .ok_or_else(|| at(case, &format!("no entry id is labelled {label:?}")))
    }

    /// The positional argument `index` as an existing node.
    fn node(&self, case: &TestCase, index: usize) -> Result<usize> {
        let text: String = case.parse_positional(index)?;
        self.known_node(case, &text)
    }

    /// The argument `key=N` as an existing node.
    fn node_arg(&self, case: &TestCase, key: &str) -> Result<usize> {
        let text: String = case.require(key)?;
        self.known_node(case, &text)
    }

    fn known_node(&self, case: &TestCase, text: &str) -> Result<usize> {
        let n = node_number(case, text)?;
        if self.world.nodes.contains_key(&n) {
            Ok(n)
        } else {
            Err(at(case, &format!("there is no node n{n}")))
        }
    }

    /// The positional arguments as nodes (`1 2`, or `(1,2)`); every node if there are none.
    fn node_set(&self, case: &TestCase) -> Result<BTreeSet<usize>> {
        let mut nodes = BTreeSet::new();
        for arg in case.positional() {
            for v in &arg.values {
                nodes.insert(self.known_node(case, v)?);
            }
        }
        if nodes.is_empty() {
            nodes = self.world.nodes.keys().copied().collect();
        }
        Ok(nodes)
    }

    fn message_filter(&self, case: &TestCase) -> Result<MessageFilter> {
        let from = match case.arg("from") {
            Some(_) => Some(self.node_arg(case, "from")?),
            None => None,
        };
        let to = match case.arg("to") {
            Some(_) => Some(self.node_arg(case, "to")?),
            None => None,
        };
        let kind: Option<String> = case.parse("type")?;
        if let Some(k) = &kind
            && !RPC_KINDS.contains(&k.as_str())
        {
            return Err(at(
                case,
                &format!("unknown message type {k:?}; one of {RPC_KINDS:?}"),
            ));
        }
        Ok(MessageFilter { from, to, kind })
    }
}

/// A command's handler.
type Handler = fn(&mut Env, &TestCase) -> Result;

/// The arguments a command accepts: at most this many positional ones, and these keys.
type Shape = (usize, &'static [&'static str]);

const MESSAGE_KEYS: &[&str] = &["from", "to", "type", "count"];

/// Every command, its handler and the arguments it accepts.
const COMMANDS: &[(&str, Handler, Shape)] = &[
    (
        "add-nodes",
        Env::add_nodes,
        (
            1,
            &[
                "seed",
                "election-timer",
                "max-append-entries",
                "commit-notify-ms",
            ],
        ),
    ),
    ("join", Env::join, (1, &["via"])),
    ("tick", Env::tick, (1, &[])),
    ("advance", Env::advance, (0, &["ms"])),
    ("run", Env::run_for, (1, &["ms"])),
    ("campaign", Env::campaign, (1, &[])),
    ("propose", Env::propose, (2, &["prereq"])),
    ("deliver", Env::deliver, (0, MESSAGE_KEYS)),
    ("drop", Env::drop_messages, (0, MESSAGE_KEYS)),
    ("hold", Env::hold, (0, MESSAGE_KEYS)),
    ("release", Env::release, (0, &[])),
    ("persist", Env::persist, (2, &[])),
    ("stabilize", Env::stabilize, (usize::MAX, &[])),
    ("partition", Env::partition, (usize::MAX, &[])),
    ("block", Env::block, (0, &["from", "to"])),
    ("heal", Env::heal, (0, &[])),
    ("crash", Env::crash, (1, &[])),
    ("restart", Env::restart, (1, &[])),
    ("leave", Env::leave, (1, &[])),
    ("kick", Env::kick, (2, &[])),
    ("snapshot", Env::snapshot, (1, &[])),
    (
        "change-election-timer",
        Env::change_election_timer,
        (2, &[]),
    ),
    ("transfer-leadership", Env::transfer_leadership, (1, &[])),
    ("failure-test", Env::failure_test, (2, &[])),
    ("status", Env::status, (1, &[])),
    ("log", Env::log, (1, &[])),
    ("raft-state", Env::raft_state, (0, &[])),
    ("in-flight", Env::in_flight, (0, &[])),
    ("_breakpoint", Env::breakpoint, (0, &[])),
];

/// Refuses arguments a command does not take, so a typo is an error rather than ignored.
fn check_shape(case: &TestCase, (max_positional, keys): Shape) -> Result {
    for arg in &case.args {
        if let Some(key) = &arg.key
            && !keys.contains(&key.as_str())
        {
            let problem = format!("unknown argument {key:?}; it takes {keys:?}");
            return Err(at(case, &problem));
        }
    }
    if case.positional().len() > max_positional {
        return Err(at(
            case,
            &format!("at most {max_positional} positional arguments"),
        ));
    }
    Ok(())
}

/// The message types `deliver type=…` and `drop type=…` accept.
const RPC_KINDS: &[&str] = &[
    "AppendRequest",
    "AppendReply",
    "VoteRequest",
    "VoteReply",
    "AddServerRequest",
    "AddServerReply",
    "RemoveServerRequest",
    "RemoveServerReply",
    "InstallSnapshotRequest",
    "InstallSnapshotReply",
    "BecomeLeader",
    "ExecuteCommandRequest",
    "ExecuteCommandReply",
];

/// Which queued messages a `deliver` or `drop` applies to.
struct MessageFilter {
    from: Option<usize>,
    to: Option<usize>,
    kind: Option<String>,
}

impl MessageFilter {
    fn matches(&self, m: &InFlight) -> bool {
        self.from.is_none_or(|f| f == m.from)
            && self.to.is_none_or(|t| t == m.to)
            && self
                .kind
                .as_deref()
                .is_none_or(|k| k == render::kind(&m.message.rpc))
    }
}

/// `n1 leader term=2 leader=n1 commit=3 applied=3 log=[2,4)`, or `n1 down`.
fn summary(world: &World, n: usize) -> String {
    let node = &world.nodes[&n];
    let Some(s) = node.up() else {
        return format!("n{n} down");
    };
    let leader = s
        .leader()
        .map_or("none".to_owned(), |l| world.names.server(l));
    let role = match (s.role(), s.is_stopped_for_good()) {
        (_, true) if s.has_left() => "left".to_owned(),
        (_, true) => "stopped".to_owned(),
        (Role::Follower, _) if s.is_joining() => "joining".to_owned(),
        (role, _) => role.to_string(),
    };
    format!(
        "n{n} {role} term={} leader={leader} commit={} applied={} log=[{},{})",
        s.term(),
        s.commit_index(),
        s.applied_index(),
        s.log_start(),
        s.log_end(),
    )
}

/// A message naming the script's file, line and command.
fn at(case: &TestCase, problem: &str) -> ScriptError {
    let at = case.file.display();
    ScriptError(format!("{at}:{}: `{}`: {problem}", case.line, case.command))
}

/// `3` or `n3`, between 1 and [`MAX_NODE`].
fn node_number(case: &TestCase, text: &str) -> Result<usize> {
    let digits = text.strip_prefix('n').unwrap_or(text);
    match digits.parse::<usize>() {
        Ok(n) if (1..=MAX_NODE).contains(&n) => Ok(n),
        _ => Err(at(
            case,
            &format!("{text:?} is not a node number 1..={MAX_NODE}"),
        )),
    }
}

fn parse_node_number(case: &TestCase, index: usize) -> Result<usize> {
    let text: String = case.parse_positional(index)?;
    node_number(case, &text)
}

/// The header of member `n` of a new cluster configured as `servers` from the start.
fn member_header(n: usize, servers: &Configuration, election_timer: Option<u64>) -> Header {
    Header {
        server_id: sid(n),
        cluster_id: Some(CLUSTER),
        name: "test".into(),
        local_address: address(n),
        joining: None,
        snapshot: Some(Snapshot {
            index: Index(1),
            term: Term(1),
            eid: SNAPSHOT_EID,
            servers: servers.clone(),
            election_timer,
            data: Data::default(),
        }),
    }
}

/// Records giving a log of no-ops with these terms from index 2, and the current term.
fn log_records(terms: &[u64], current: u64) -> Vec<Record> {
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

/// The input lines of `add-nodes`: `<node>: <terms…> [term=T]` (the current term defaults to
/// the last entry's).
fn parse_logs(case: &TestCase, count: usize) -> Result<BTreeMap<usize, (Vec<u64>, u64)>> {
    let mut logs = BTreeMap::new();
    for line in case.input.lines().filter(|l| !l.trim().is_empty()) {
        let bad = |why: &str| at(case, &format!("log line {line:?}: {why}"));
        let (node, rest) = line
            .split_once(':')
            .ok_or_else(|| bad("expected `<node>: <terms…>`"))?;
        let n = node_number(case, node.trim())?;
        if n > count {
            return Err(bad("no such node"));
        }
        let mut terms = Vec::new();
        let mut current = None;
        for word in rest.split_whitespace() {
            match word.strip_prefix("term=") {
                Some(t) => current = Some(t.parse::<u64>().map_err(|_| bad("bad term="))?),
                None => terms.push(word.parse::<u64>().map_err(|_| bad("bad term"))?),
            }
        }
        if terms.windows(2).any(|w| w[0] > w[1]) || terms.first().is_some_and(|&t| t < 1) {
            return Err(bad("terms must not decrease, starting from 1"));
        }
        let last = terms.last().copied().unwrap_or(1);
        let current = current.unwrap_or(last);
        if current < last {
            return Err(bad("the current term is older than the last entry"));
        }
        logs.insert(n, (terms, current));
    }
    Ok(logs)
}
