//! Validates the linearizability checker on real Jepsen histories of etcd (2014), each with a
//! verdict established independently.
//!
//! The histories ship in the `todc-utils` crate (a dev-dependency used only as the source of
//! these files), under `tests/linearizability/etcd/etcd_NNN.log`. They were recorded by Jepsen
//! and collected by Alex Horn's linearizability-checker, whose `lt.cc` states the verdicts
//! listed in [`LINEARIZABLE`]. The files are found in Cargo's registry source cache
//! (`$CARGO_HOME/registry/src/*/todc-utils-0.1.1/`), which `cargo fetch` or any build of this
//! test fills; set `JEPSEN_ETCD_DIR` to use another copy.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use std::{env, fs};

use raft_sim::linearizability::{ClientId, History, Op, OpId, Response, Verdict, check};

/// The package holding the histories; its version is pinned in Cargo.toml.
const PACKAGE: &str = "todc-utils-0.1.1";

/// Histories 000–102, except 095 where etcd failed to boot and nothing was recorded.
const NUMBERS: std::ops::RangeInclusive<u32> = 0..=102;
const EMPTY: u32 = 95;

/// The linearizable histories according to lt.cc; all others are not linearizable.
const LINEARIZABLE: [u32; 23] = [
    2, 5, 7, 18, 25, 31, 38, 45, 48, 49, 51, 53, 56, 67, 75, 76, 80, 87, 92, 98, 100, 101, 102,
];

/// Every history is a single register; its key in our store.
const KEY: &str = "r";

/// Runs with the default limits, which these histories need only a small part of.
#[test]
fn checker_agrees_with_known_verdicts_on_every_jepsen_etcd_history() {
    let dir = fixture_dir();
    let started = Instant::now();
    let mut disagreements = Vec::new();
    let (mut linearizable, mut slowest) = (0, (Duration::ZERO, 0));
    let numbers: Vec<u32> = NUMBERS.filter(|&n| n != EMPTY).collect();
    for &number in &numbers {
        let path = dir.join(format!("etcd_{number:03}.log"));
        let history = parse(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        let checked = Instant::now();
        let verdict = check(&history);
        slowest = slowest.max((checked.elapsed(), number));
        linearizable += usize::from(verdict.is_linearizable());
        let expected = LINEARIZABLE.contains(&number);
        if matches!(verdict, Verdict::Unknown { .. }) || verdict.is_linearizable() != expected {
            disagreements.push(format!(
                "etcd_{number:03}: expected linearizable={expected}, got {verdict}"
            ));
        }
    }
    // Written to stdout directly, not through `println!`, so the test harness does not capture
    // it and the summary shows in every run's log.
    let summary = format!(
        "jepsen etcd: {} histories checked, {linearizable} linearizable, {} not, {} disagreements, \
         {:.2?} total (slowest etcd_{:03}: {:.2?})\n",
        numbers.len(),
        numbers.len() - linearizable,
        disagreements.len(),
        started.elapsed(),
        slowest.1,
        slowest.0,
    );
    let _ = std::io::stdout().write_all(summary.as_bytes());
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

/// Where the histories are: `JEPSEN_ETCD_DIR`, else the registry source cache.
fn fixture_dir() -> PathBuf {
    if let Some(dir) = env::var_os("JEPSEN_ETCD_DIR") {
        return dir.into();
    }
    let cargo_home = env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")))
        .expect("neither CARGO_HOME nor HOME is set");
    let sources = cargo_home.join("registry").join("src");
    // One directory per registry (crates.io's is `index.crates.io-<hash>`); sorted for
    // determinism should there be several.
    let mut registries: Vec<PathBuf> = fs::read_dir(&sources)
        .unwrap_or_else(|error| panic!("{}: {error}; run `cargo fetch`", sources.display()))
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .collect();
    registries.sort();
    registries
        .iter()
        .map(|registry| registry.join(PACKAGE).join("tests/linearizability/etcd"))
        .find(|dir| dir.is_dir())
        .unwrap_or_else(|| {
            panic!(
                "{PACKAGE} not found under {}; run `cargo fetch`",
                sources.display()
            )
        })
}

/// Parses a Jepsen log into a history on one key. Only `jepsen.util` lines record operations
/// (fields separated by tabs):
///
/// ```text
/// INFO  jepsen.util - 3 :invoke :cas [3 0]
/// INFO  jepsen.util - 3 :ok :cas [3 0]
/// ```
///
/// Line numbers serve as times. Jepsen gives a process a new number after an `:info` (unknown)
/// outcome, so each process has at most one operation in flight.
fn parse(path: &Path) -> Result<History, String> {
    let text = fs::read_to_string(path).map_err(|error| error.to_string())?;
    let mut history = History::new();
    let mut in_flight: BTreeMap<u64, OpId> = BTreeMap::new();
    for (line, text) in text.lines().enumerate() {
        let words: Vec<&str> = text.split_whitespace().collect();
        let [
            "INFO",
            "jepsen.util",
            "-",
            process,
            kind,
            function,
            ref args @ ..,
        ] = words[..]
        else {
            continue;
        };
        if process == ":nemesis" {
            continue;
        }
        let at = line as u64 + 1;
        let record = |error: String| format!("line {at}: {error}: {text}");
        let process: u64 = process.parse().map_err(|_| record("bad process".into()))?;
        if kind == ":invoke" {
            let op = invocation(function, args).map_err(record)?;
            in_flight.insert(process, history.invoke(ClientId(process), op, at));
            continue;
        }
        let id = in_flight
            .remove(&process)
            .ok_or_else(|| record("nothing in flight".into()))?;
        match (kind, function, response(function, args)) {
            (":ok" | ":fail", ":cas", Ok(_)) => {
                history.complete(id, Response::Cas(kind == ":ok"), at);
            }
            (":ok", _, Ok(response)) => history.complete(id, response, at),
            // A timed-out read had no effect; a timed-out write or cas may have had one.
            (":fail", ":read", _) | (":info", ":write" | ":cas", _) => history.fail_unknown(id),
            _ => return Err(record("unexpected completion".into())),
        }
    }
    Ok(history)
}

fn invocation(function: &str, args: &[&str]) -> Result<Op, String> {
    match (function, args) {
        (":read", ["nil"]) => Ok(Op::get(KEY)),
        (":write", [value]) => Ok(Op::put(KEY, *value)),
        (":cas", [expected, new]) => {
            let (expected, new) = cas_values(expected, new)?;
            Ok(Op::cas(KEY, Some(expected), new))
        }
        _ => Err("unexpected invocation".into()),
    }
}

/// The response of a successful operation (for cas, only checks the arguments).
fn response(function: &str, args: &[&str]) -> Result<Response, String> {
    match (function, args) {
        (":read", ["nil"]) => Ok(Response::Value(None)),
        (":read", [value]) if value.parse::<u32>().is_ok() => {
            Ok(Response::Value(Some(value.to_string())))
        }
        (":write", [_]) => Ok(Response::Ok),
        (":cas", [expected, new]) => cas_values(expected, new).map(|_| Response::Cas(true)),
        _ => Err("unexpected response".into()),
    }
}

/// Splits `[3` `0]` into `3` and `0`.
fn cas_values<'a>(expected: &'a str, new: &'a str) -> Result<(&'a str, &'a str), String> {
    let expected = expected.strip_prefix('[').ok_or("cas without [")?;
    let new = new.strip_suffix(']').ok_or("cas without ]")?;
    Ok((expected, new))
}
