//! etcd-style interaction tests for raft-core: scripts of commands with their expected output
//! in `raft-sim/testdata/*.txt`.
//!
//! Regenerate the expectations with `REWRITE=1 cargo test -p raft-sim --test interaction`,
//! then READ the diff: the review rule is that every golden file shows correct Raft (and
//! reference) behaviour, not merely what the code does today.
//!
//! Nothing happens unless a command says so. Nodes are numbered from 1 (server `n` has the
//! nickname `nnnn`, printed `n1`, `n2`…); entry ids are labelled `e1`, `e2`… in proposal
//! order (`e0` is the initial snapshot's); time is one clock, printed `+1500ms`.
//! Every input to a server prints a `> ` line and the actions it caused, indented.
//!
//! There is no separate step to carry out a node's actions (etcd's `process-ready`): each of
//! ours is carried out without any choice to make (a send joins the message queue, a write
//! joins the node's pending writes), so the world does it at once and prints it under the
//! input that caused it. The choices stay with the script: `deliver` and `persist` (or
//! `stabilize`) decide when messages arrive and writes become durable.
//!
//! | command | what it does |
//! | --- | --- |
//! | `add-nodes N [seed=S] [election-timer=MS] [max-append-entries=K]` | N servers configured together (one is created as S1 says); input lines `<n>: <terms…> [term=T]` preset a node's log of no-ops from index 2 |
//! | `join N via=K` | a new server joins through node K (S2, M7) |
//! | `tick N` | time passes until node N's next deadline |
//! | `advance [ms=M]` | time passes by M ms (or to the next deadline), timers firing in time order |
//! | `run ms=M [quiet]` | time passes over a working network: after each timer, persist and deliver until quiet |
//! | `campaign N` | node N takes leadership (an election marked as a transfer) |
//! | `propose N DATA [prereq=eK]` | executes a command on node N |
//! | `deliver [from=N] [to=N] [type=Rpc] [count=K]` | delivers queued messages, oldest first |
//! | `drop [from=N] [to=N] [type=Rpc] [count=K]` | loses queued messages |
//! | `hold [from=N] [to=N] [type=Rpc] [count=K]` / `release` | delays queued messages / puts them back at the end of the queue |
//! | `persist N [all\|next\|fail]` | node N's pending writes (or the oldest) become durable, or the oldest fails |
//! | `stabilize [N…]` | persists and delivers among the nodes until quiet |
//! | `partition (1) (2,3)`, `block from=N to=M` / `heal` | messages between groups (or one way) are lost / no longer |
//! | `crash N` / `restart N` | kill the process (unsynced writes lost) / reopen the log |
//! | `leave N`, `kick N T`, `snapshot N`, `change-election-timer N MS`, `transfer-leadership N`, `failure-test N NAME` | the administrative requests |
//! | `status N`, `log N`, `raft-state`, `in-flight` | views |
//! | `_breakpoint` | nothing, for a debugger |

#[path = "interaction/commands.rs"]
mod commands;
#[path = "interaction/names.rs"]
mod names;
#[path = "interaction/render.rs"]
mod render;
#[path = "interaction/world.rs"]
mod world;

use std::path::{Path, PathBuf};

use raft_sim::datadriven::{self, TestCase};

/// The golden scripts, in name order.
fn scripts() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    files
}

/// Runs one script in a fresh environment; returns every command's output, in order.
fn run_script(path: &Path) -> Vec<String> {
    let mut env = commands::Env::new();
    let mut outputs = Vec::new();
    datadriven::run_file(path, |case: &TestCase| {
        // A malformed line is a bug in the script: fail, naming the line.
        let output = env.run(case).unwrap_or_else(|e| panic!("{e}"));
        outputs.push(output.clone());
        output
    });
    outputs
}

#[test]
fn golden_scripts() {
    for path in scripts() {
        let first = run_script(&path);
        // Same script, same output: a second run in the same process must agree exactly
        // (this catches hash-ordered iteration and other hidden nondeterminism).
        let second = run_script(&path);
        assert!(first == second, "{}: two runs differ", path.display());
    }
}

#[test]
fn every_script_says_what_it_demonstrates_and_covers() {
    let files = scripts();
    assert!(
        files.len() >= 15,
        "expected at least 15 scripts, found {}",
        files.len()
    );
    for path in files {
        let text = std::fs::read_to_string(&path).expect("a readable script");
        assert!(
            text.starts_with("# "),
            "{}: must open with a # header",
            path.display()
        );
        let header: Vec<&str> = text.lines().take_while(|l| l.starts_with('#')).collect();
        assert!(
            header.iter().any(|l| l.contains("covers ")),
            "{}: the header must say `# covers <PARITY IDs>`",
            path.display()
        );
    }
}

/// A temporary script, removed on drop.
struct TempScript(PathBuf);

impl TempScript {
    fn new(name: &str, text: &str) -> TempScript {
        let dir =
            std::env::temp_dir().join(format!("raft-interaction-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temp dir");
        let path = dir.join("script.txt");
        std::fs::write(&path, text).expect("a writable temp file");
        TempScript(path)
    }
}

impl Drop for TempScript {
    fn drop(&mut self) {
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// The panic message of running `text` as a script.
fn failure_of(name: &str, text: &str) -> String {
    let script = TempScript::new(name, text);
    let payload = std::panic::catch_unwind(|| run_script(&script.0)).expect_err("the script fails");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn malformed_lines_are_errors_naming_file_and_line() {
    // One line each, so no earlier output can differ first.
    let cases = [
        (
            "unknown",
            "frobnicate 1\n----\n",
            ":1: `frobnicate`: unknown command",
        ),
        (
            "no-node",
            "tick 7\n----\n",
            ":1: `tick`: there is no node n7",
        ),
        (
            "not-a-node",
            "crash x\n----\n",
            ":1: `crash`: \"x\" is not a node number",
        ),
        (
            "bad-ms",
            "advance ms=soon\n----\n",
            ":1: `advance ms=soon`: argument ms",
        ),
        (
            "bad-type",
            "deliver type=Vote\n----\n",
            "unknown message type \"Vote\"",
        ),
        (
            "bad-log",
            "add-nodes 2\n1: 2 1\n----\n",
            ":1: `add-nodes`: log line \"1: 2 1\"",
        ),
        ("no-separator", "heal\n\n", ":1: `heal`: no ---- line"),
        (
            "unknown-key",
            "tick 1 ms=150\n----\n",
            ":1: `tick`: unknown argument \"ms\"",
        ),
        (
            "too-many",
            "heal 2\n----\n",
            ":1: `heal`: at most 0 positional arguments",
        ),
    ];
    for (name, text, expected) in cases {
        let message = failure_of(name, text);
        assert!(
            message.contains(expected),
            "{name}: {message:?} lacks {expected:?}"
        );
    }
}
