//! raft-mio, durable: `raft-kv bench` (3 processes on 127.0.0.1, fdatasync, 1 and 64
//! closed-loop clients, the 64 on a connection each and then sharing 8), run as a subprocess
//! and re-printed under the stable names.
//!
//! A subprocess because raft-sim must not depend on raft-mio (raft-mio's tests depend on
//! raft-sim). The binary is built into the target directory this benchmark runs from, so the
//! two are never of different revisions.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::cargo;

/// Builds `raft-kv`, runs its benchmark for `seconds` per phase and prints its figures.
pub(crate) fn run(seconds: u64) -> Result<(), String> {
    let raft_kv = build()?;
    let output = Command::new(&raft_kv)
        .args(["bench", "--seconds", &seconds.to_string()])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("{}: {e}", raft_kv.display()))?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!("raft-kv bench failed ({}): {text}", output.status));
    }
    println!(
        "# mio: 3 raft-kv processes on 127.0.0.1, one fdatasync per batch, closed-loop \
         clients for {seconds} s per phase, following the leader"
    );
    for line in reprint(&text)? {
        println!("{line}");
    }
    Ok(())
}

/// `cargo build --release -p raft-mio --bin raft-kv` into the target directory holding this
/// executable; returns the path of the binary.
fn build() -> Result<PathBuf, String> {
    let target = cargo::target_dir()?;
    cargo::build_release(
        cargo::workspace(),
        &["-p", "raft-mio", "--bin", "raft-kv"],
        &target,
    )?;
    Ok(target.join("release").join("raft-kv"))
}

/// The figures of `raft-kv bench`'s output under the stable names, and its other lines as
/// comments.
fn reprint(text: &str) -> Result<Vec<String>, String> {
    let (figures, others) = parse(text);
    let get = |key: &str| {
        figures
            .get(key)
            .copied()
            .ok_or_else(|| format!("raft-kv bench printed no {key:?}:\n{text}"))
    };
    let pair = |what: &str| -> Result<String, String> {
        Ok(format!(
            "p50 {:.1} p99 {:.1}",
            get(&format!("{what} p50"))?,
            get(&format!("{what} p99"))?
        ))
    };
    let mut lines = vec![
        format!("mio_fdatasync_us {}", pair("fdatasync latency")?),
        format!(
            "mio_fdatasync_preallocated_us {}",
            pair("fdatasync preallocated latency")?
        ),
        format!("mio_loopback_rtt_us {}", pair("loopback round trip")?),
    ];
    // raft-kv labels a phase "clients 64" or, sharing connections, "clients 64 over 8 conns".
    for (label, name) in [
        ("clients 1", "clients=1"),
        ("clients 64", "clients=64"),
        ("clients 64 over 8 conns", "clients=64 conns=8"),
    ] {
        if label != "clients 1" {
            let echo = get(&format!("echo round trips/s, {label}"))?;
            lines.push(format!("mio_echo_round_trips_per_sec {name} {echo:.0}"));
        }
        let commits = get(&format!("{label}: commits/s"))?;
        lines.push(format!("mio_commits_per_sec {name} {commits:.0}"));
        // Absent when the leader's status could not be read.
        if let Some(entries) = figures.get(&format!("{label}: log entries/s")) {
            lines.push(format!("mio_log_entries_per_sec {name} {entries:.0}"));
        }
        let latency = pair(&format!("{label}: latency"))?;
        lines.push(format!("mio_latency_us {name} {latency}"));
    }
    lines.extend(others.into_iter().map(|line| format!("# mio: {line}")));
    Ok(lines)
}

/// Splits `raft-kv bench`'s lines into figures (`name: number [ms|us]`, in microseconds, the
/// name's runs of spaces squeezed) and the rest.
fn parse(text: &str) -> (BTreeMap<String, f64>, Vec<&str>) {
    let mut figures = BTreeMap::new();
    let mut others = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match line
            .rsplit_once(": ")
            .and_then(|(k, v)| Some((k, micros(v)?)))
        {
            Some((key, value)) => {
                let key = key.split_whitespace().collect::<Vec<_>>().join(" ");
                figures.insert(key, value);
            }
            None => others.push(line),
        }
    }
    (figures, others)
}

/// `"0.068 ms"` as 68 µs, `"10.8 us"` as 10.8, `"2838"` as itself.
fn micros(value: &str) -> Option<f64> {
    let (number, scale) = match value.split_once(' ') {
        Some((n, "ms")) => (n, 1000.0),
        Some((n, "us")) => (n, 1.0),
        Some(_) => return None,
        None => (value, 1.0),
    };
    number.parse::<f64>().ok().map(|n| n * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
fdatasync latency p50: 0.068 ms
fdatasync latency p99: 0.139 ms
fdatasync preallocated latency p50: 0.051 ms
fdatasync preallocated latency p99: 0.090 ms
loopback round trip p50: 10.8 us
loopback round trip p99: 24.3 us
echo round trips/s, clients 64: 185204
echo round trips/s, clients 64 over 8 conns: 512345
clients  1: commits/s: 2838
clients  1: latency p50: 0.292 ms
clients  1: latency p99: 1.921 ms
clients  1: leader changes 0, failed commands 0
clients 64: commits/s: 18245
clients 64: log entries/s: 912
clients 64: latency p50: 3.075 ms
clients 64: latency p99: 12.436 ms
clients 64: cpu us per commit, leader 15.7, followers 6.4 6.4, clients 5.9
clients 64: leader changes 2, failed commands 0
clients 64 over 8 conns: commits/s: 41207
clients 64 over 8 conns: latency p50: 1.103 ms
clients 64 over 8 conns: latency p99: 6.288 ms
clients 64 over 8 conns: leader changes 0, failed commands 0
";

    #[test]
    fn raft_kv_figures_are_reprinted_under_the_stable_names() {
        let lines = reprint(SAMPLE).unwrap();
        assert_eq!(
            lines,
            [
                "mio_fdatasync_us p50 68.0 p99 139.0",
                "mio_fdatasync_preallocated_us p50 51.0 p99 90.0",
                "mio_loopback_rtt_us p50 10.8 p99 24.3",
                "mio_commits_per_sec clients=1 2838",
                "mio_latency_us clients=1 p50 292.0 p99 1921.0",
                "mio_echo_round_trips_per_sec clients=64 185204",
                "mio_commits_per_sec clients=64 18245",
                "mio_log_entries_per_sec clients=64 912",
                "mio_latency_us clients=64 p50 3075.0 p99 12436.0",
                "mio_echo_round_trips_per_sec clients=64 conns=8 512345",
                "mio_commits_per_sec clients=64 conns=8 41207",
                "mio_latency_us clients=64 conns=8 p50 1103.0 p99 6288.0",
                "# mio: clients  1: leader changes 0, failed commands 0",
                "# mio: clients 64: cpu us per commit, leader 15.7, followers 6.4 6.4, clients 5.9",
                "# mio: clients 64: leader changes 2, failed commands 0",
                "# mio: clients 64 over 8 conns: leader changes 0, failed commands 0",
            ]
        );
    }

    #[test]
    fn a_missing_figure_is_an_error_naming_it() {
        let text = SAMPLE.replace("clients 64: commits/s: 18245\n", "");
        let error = reprint(&text).unwrap_err();
        assert!(error.contains("clients 64: commits/s"), "{error}");
    }
}
