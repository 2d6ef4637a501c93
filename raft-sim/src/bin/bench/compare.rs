//! `bench compare`: the core figures beside tikv/raft-rs's, from alternating runs.
//!
//! This machine's speed drifts by tens of per cent within minutes (the same binary has given
//! 311k and 746k commits/s back to back), so one run of each program says little about
//! their ratio. Each pair of runs starts `raft-rs-baseline` and `bench core` in processes of
//! their own, one right after the other, the first of the two alternating from pair to pair.
//! The summary gives each side's median, the ratio of the medians, and the spread of the
//! pairs' own ratios, each ratio saying how many times better raft-core did.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::cargo;
use crate::core_throughput::percentile;

/// raft-rs's closed-loop commit on the machine the performance targets were set on: the
/// median of 3 runs recorded in `bench-peers/README.md`. A ratio measured here carries over
/// to that machine, where absolute figures from this one do not.
const REFERENCE_RAFTRS_CLOSED_LOOP_US: f64 = 2.72;

/// A figure both programs print, under their own names.
struct Figure {
    /// The name of the summary line.
    name: &'static str,
    /// Its name in the progress lines.
    short: &'static str,
    ours: &'static str,
    raftrs: &'static str,
    /// A time rather than a rate: raft-core's advantage is raft-rs's figure over ours.
    is_time: bool,
}

const FIGURES: [Figure; 3] = [
    Figure {
        name: "vs_raftrs_commits_per_sec batch=1",
        short: "batch=1 commits/s",
        ours: "core_commits_per_sec batch=1",
        raftrs: "raftrs_commits_per_sec batch=1",
        is_time: false,
    },
    Figure {
        name: "vs_raftrs_commits_per_sec batch=64",
        short: "batch=64 commits/s",
        ours: "core_commits_per_sec batch=64",
        raftrs: "raftrs_commits_per_sec batch=64",
        is_time: false,
    },
    Figure {
        name: "vs_raftrs_closed_loop_commit_us",
        short: "closed-loop us",
        ours: "core_closed_loop_commit_us mean",
        raftrs: "raftrs_closed_loop_commit_us mean",
        is_time: true,
    },
];

/// The figures of one pair of runs, in the order of [`FIGURES`].
#[derive(Clone, Debug, PartialEq)]
struct Pair {
    ours: [f64; 3],
    raftrs: [f64; 3],
}

impl Pair {
    /// How many times better raft-core did at figure `i`.
    fn ratio(&self, i: usize) -> f64 {
        advantage(&FIGURES[i], self.ours[i], self.raftrs[i])
    }
}

fn advantage(figure: &Figure, ours: f64, raftrs: f64) -> f64 {
    if figure.is_time {
        raftrs / ours
    } else {
        ours / raftrs
    }
}

/// Runs `pairs` pairs of `total` commands each and prints every pair as it ends, then the
/// summary. `baseline` is raft-rs-baseline's binary or source directory (default: the one
/// beside this workspace, in `../shared/bench-peers`).
pub(crate) fn run(pairs: u64, total: u64, baseline: Option<&Path>) -> Result<(), String> {
    let raftrs = baseline_binary(baseline)?;
    let ours = std::env::current_exe().map_err(|e| format!("cannot find the bench itself: {e}"))?;
    let total_arg = total.to_string();
    println!(
        "# compare: {pairs} pairs of raft-rs-baseline and bench core, {total} commands each, \
         alternating which runs first"
    );
    let mut results = Vec::new();
    for i in 0..pairs {
        let run_raftrs = || output(&raftrs, &[&total_arg]);
        let run_ours = || output(&ours, &["core", "--total", &total_arg]);
        let (raftrs_text, ours_text) = if i % 2 == 0 {
            let r = run_raftrs()?;
            (r, run_ours()?)
        } else {
            let o = run_ours()?;
            (run_raftrs()?, o)
        };
        let pair = Pair {
            ours: figures(&ours_text, |f| f.ours)?,
            raftrs: figures(&raftrs_text, |f| f.raftrs)?,
        };
        println!("# compare: pair {}/{pairs}: {}", i + 1, describe(&pair));
        results.push(pair);
    }
    for line in summary(&results) {
        println!("{line}");
    }
    Ok(())
}

/// raft-rs-baseline's binary: `given` if it is one, else built from `given` (a directory or
/// its `Cargo.toml`) or from the default source directory.
fn baseline_binary(given: Option<&Path>) -> Result<PathBuf, String> {
    let dir = match given {
        Some(path) if path.is_file() && !path.ends_with("Cargo.toml") => {
            return Ok(path.to_path_buf());
        }
        Some(path) if path.ends_with("Cargo.toml") => path.parent().unwrap_or(path).to_path_buf(),
        Some(path) => path.to_path_buf(),
        None => cargo::workspace().join("../shared/bench-peers/raft-rs-baseline"),
    };
    if !dir.join("Cargo.toml").is_file() {
        return Err(format!(
            "no raft-rs-baseline sources in {}: pass --baseline with its binary or its directory",
            dir.display()
        ));
    }
    let target = cargo::target_dir()?.join("raft-rs-baseline");
    println!(
        "# compare: building {} into {} (the first build takes a few minutes)",
        dir.display(),
        target.display()
    );
    cargo::build_release(&dir, &[], &target)?;
    Ok(target.join("release").join("raft-rs-baseline"))
}

/// The standard output of `program` run with `args`, which must succeed.
fn output(program: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("{}: {e}", program.display()))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!(
            "{} failed ({}): {text}",
            program.display(),
            out.status
        ))
    }
}

/// The value of each figure in `text`, found under the name `name` gives it.
fn figures(text: &str, name: impl Fn(&Figure) -> &'static str) -> Result<[f64; 3], String> {
    let mut values = [0.0; 3];
    for (value, figure) in values.iter_mut().zip(&FIGURES) {
        let key = name(figure);
        *value = text
            .lines()
            .filter_map(|line| line.rsplit_once(' '))
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| v.parse().ok())
            .ok_or_else(|| format!("no figure {key:?} in:\n{text}"))?;
    }
    Ok(values)
}

/// One pair, for the progress line.
fn describe(pair: &Pair) -> String {
    let parts: Vec<String> = FIGURES
        .iter()
        .enumerate()
        .map(|(i, f)| {
            format!(
                "{} ours {} raft-rs {} ({:.2}x)",
                f.short,
                show(f, pair.ours[i]),
                show(f, pair.raftrs[i]),
                pair.ratio(i)
            )
        })
        .collect();
    parts.join(", ")
}

fn show(figure: &Figure, value: f64) -> String {
    if figure.is_time {
        format!("{value:.2}")
    } else {
        format!("{value:.0}")
    }
}

/// The summary lines of `pairs` (at least one).
fn summary(pairs: &[Pair]) -> Vec<String> {
    let mut lines = Vec::new();
    for (i, figure) in FIGURES.iter().enumerate() {
        let ours = percentile(
            &mut pairs.iter().map(|p| p.ours[i]).collect::<Vec<_>>(),
            0.5,
        );
        let raftrs = percentile(
            &mut pairs.iter().map(|p| p.raftrs[i]).collect::<Vec<_>>(),
            0.5,
        );
        let mut ratios: Vec<f64> = pairs.iter().map(|p| p.ratio(i)).collect();
        let ratio = advantage(figure, ours, raftrs);
        lines.push(format!(
            "{} ours {} raftrs {} ratio {ratio:.2} pair_ratios min {:.2} median {:.2} max {:.2} pairs {}",
            figure.name,
            show(figure, ours),
            show(figure, raftrs),
            percentile(&mut ratios, 0.0),
            percentile(&mut ratios, 0.5),
            percentile(&mut ratios, 1.0),
            pairs.len()
        ));
        if figure.is_time {
            lines.push(format!(
                "# compare: where raft-rs's closed loop took {REFERENCE_RAFTRS_CLOSED_LOOP_US} us \
                 (bench-peers/README.md), a ratio of {ratio:.2} means {:.2} us",
                REFERENCE_RAFTRS_CLOSED_LOOP_US / ratio
            ));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAFTRS: &str = "\
# raft-rs 0.7 (crates.io `raft`), 3 nodes, MemStorage, in-process routing, no fsync
raftrs_commits_per_sec batch=1 200000
raftrs_commits_per_sec batch=64 300000
raftrs_closed_loop_commits_per_sec batch=1 167635
raftrs_closed_loop_commit_us mean 6.00
";

    const OURS: &str = "\
core_commits_per_sec batch=1 500000
core_commits_per_sec batch=64 900000
core_closed_loop_commits_per_sec batch=1 400000
core_closed_loop_commit_us mean 2.50
";

    #[test]
    fn both_outputs_give_their_three_figures() {
        assert_eq!(
            figures(RAFTRS, |f| f.raftrs),
            Ok([200_000.0, 300_000.0, 6.0])
        );
        assert_eq!(figures(OURS, |f| f.ours), Ok([500_000.0, 900_000.0, 2.5]));
        let missing = figures(&OURS.replace("batch=64", "batch=32"), |f| f.ours).unwrap_err();
        assert!(
            missing.contains("core_commits_per_sec batch=64"),
            "{missing}"
        );
    }

    #[test]
    fn ratios_say_how_many_times_better_for_rates_and_times_alike() {
        let pair = Pair {
            ours: [500_000.0, 900_000.0, 2.5],
            raftrs: [200_000.0, 300_000.0, 6.0],
        };
        assert_eq!(
            [pair.ratio(0), pair.ratio(1), pair.ratio(2)],
            [2.5, 3.0, 2.4]
        );
    }

    #[test]
    fn the_summary_takes_medians_and_the_spread_of_the_pairs_ratios() {
        let pair = |ours: f64, raftrs: f64| Pair {
            ours: [ours, 2.0 * ours, 1e6 / ours],
            raftrs: [raftrs, raftrs, 1e6 / raftrs],
        };
        // Ratios 2, 4 and 1; medians 300k over 100k.
        let pairs = [pair(200e3, 100e3), pair(300e3, 75e3), pair(400e3, 400e3)];
        let lines = summary(&pairs);
        assert_eq!(
            lines[0],
            "vs_raftrs_commits_per_sec batch=1 ours 300000 raftrs 100000 ratio 3.00 \
             pair_ratios min 1.00 median 2.00 max 4.00 pairs 3"
        );
        assert!(lines[2].starts_with(
            "vs_raftrs_closed_loop_commit_us ours 3.33 raftrs 10.00 ratio 3.00 pair_ratios min 1.00"
        ));
        assert!(
            lines[3].contains("a ratio of 3.00 means 0.91 us"),
            "{}",
            lines[3]
        );
    }
}
