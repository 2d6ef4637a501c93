//! `raft-sim`: run one seed, or a swarm of seeds, of the deterministic simulator.
//!
//! Arguments are parsed by hand: two subcommands with a handful of flags do not justify a
//! dependency.

use std::io::{IsTerminal as _, Write as _};
use std::ops::Range;
use std::process::ExitCode;

use raft_sim::swarm::{Summary, swarm};
use raft_sim::{Preset, Report, SimConfig, run, run_traced};

const HELP: &str = "\
raft-sim: a deterministic simulator for raft-core, with faults and safety checkers

USAGE:
    raft-sim                       run the default swarm (seeds 1..101, heavy faults)
    raft-sim run --seed S [--nodes N] [--time-ms T] [--faults PRESET] [--trace FILE]
    raft-sim swarm [--seeds A..B] [--jobs J] [--nodes N] [--time-ms T] [--faults PRESET]
    raft-sim --help

OPTIONS:
    --seed S          the seed deciding every random choice of the run
    --seeds A..B      the seeds of a swarm, A included, B excluded (default 1..101)
    --nodes N         servers the cluster starts with, 3 to 7 (default 5)
    --time-ms T       simulated milliseconds of faults before healing (default 20000)
    --faults PRESET   none, light or heavy (default heavy)
    --jobs J          threads of a swarm (default: available cores)
    --trace FILE      write the full event trace of the run to FILE

Each run has a faulty phase, then a healed phase in which the cluster must converge. A run
that violates a property prints the seed, the knobs, the property and a command replaying it.
The exit status is 0 only if no run violated anything.";

/// What the command line asked for.
#[derive(Debug, PartialEq)]
enum Command {
    Help,
    Run {
        config: SimConfig,
        trace: Option<String>,
    },
    Swarm {
        template: SimConfig,
        seeds: Range<u64>,
        jobs: usize,
    },
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match parse(&args) {
        Ok(Command::Help) => {
            println!("{HELP}");
            ExitCode::SUCCESS
        }
        Ok(Command::Run { config, trace }) => run_one(config, trace.as_deref()),
        Ok(Command::Swarm {
            template,
            seeds,
            jobs,
        }) => run_swarm(&template, seeds, jobs),
        Err(e) => {
            eprintln!("raft-sim: {e} (see raft-sim --help)");
            ExitCode::from(2)
        }
    }
}

fn run_one(config: SimConfig, trace: Option<&str>) -> ExitCode {
    let start = std::time::Instant::now();
    let report = match trace {
        Some(path) => {
            let (report, lines) = run_traced(config);
            if let Err(e) = std::fs::write(path, lines.join("\n") + "\n") {
                eprintln!("raft-sim: cannot write {path}: {e}");
                return ExitCode::from(2);
            }
            report
        }
        None => run(config),
    };
    print_run(&report, start.elapsed());
    if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn print_run(report: &Report, real: std::time::Duration) {
    let s = &report.stats;
    println!(
        "seed {}: {} events, {:.1}s simulated in {:.3}s ({:.0}x), {} messages, {} leader terms, \
         commit index {}, {} crashes, {} restarts, {} joins, {} removals, {} snapshots, \
         requests {} ok / {} unknown / {} refused of {}, converged in {}ms, trace {:016x}",
        report.config.seed,
        s.events,
        s.sim_ms as f64 / 1000.0,
        real.as_secs_f64(),
        s.sim_ms as f64 / (real.as_secs_f64() * 1000.0).max(1e-9),
        s.messages,
        s.leader_terms,
        s.max_commit,
        s.crashes,
        s.restarts,
        s.joins,
        s.removals,
        s.snapshots,
        s.ops_ok,
        s.ops_unknown,
        s.ops_refused,
        s.ops_invoked,
        s.converge_ms,
        report.trace_hash
    );
    for note in &report.notes {
        println!("note: {note}");
    }
    if !report.ok() {
        println!("{}", report.failure_text());
    }
}

fn run_swarm(template: &SimConfig, seeds: Range<u64>, jobs: usize) -> ExitCode {
    let total = seeds.end.saturating_sub(seeds.start);
    println!(
        "swarm: seeds {}..{} ({total}), {} nodes, {}ms of {} faults, {jobs} jobs",
        seeds.start, seeds.end, template.nodes, template.time_ms, template.preset
    );
    let summary = swarm(template, seeds, jobs, |report, sum| {
        progress(report, sum, total)
    });
    eprintln!();
    print!("{}", summary.text());
    if summary.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Reports progress: rewritten in place on a terminal, else one line per tenth of the seeds
/// (CI logs); a failing seed is printed at once.
fn progress(report: &Report, sum: &Summary, total: u64) {
    let mut err = std::io::stderr();
    let line = format!(
        "{}/{total} seeds, {} violations, {} events, {:.0}x real time",
        sum.seeds_run,
        sum.failures.len(),
        sum.events,
        sum.ratio()
    );
    if err.is_terminal() {
        let _ = write!(err, "\r{line}");
    } else if sum.seeds_run.is_multiple_of(total.div_ceil(10)) || sum.seeds_run == total {
        let _ = writeln!(err, "{line}");
    }
    if !report.ok() {
        let _ = writeln!(err, "\n{}", report.failure_text());
    }
}

/// Parses the arguments after the program name.
fn parse(args: &[String]) -> Result<Command, String> {
    let (sub, rest) = match args.first().map(String::as_str) {
        None => ("swarm", &args[..0]),
        Some("-h" | "--help" | "help") => return Ok(Command::Help),
        Some("run") => ("run", &args[1..]),
        Some("swarm") => ("swarm", &args[1..]),
        Some(other) => return Err(format!("unknown command {other:?}")),
    };
    let mut config = SimConfig::new(0, Preset::Heavy);
    let (mut seed, mut seeds, mut jobs, mut trace) = (None, 1..101, default_jobs(), None);
    let mut it = rest.iter();
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            return Ok(Command::Help);
        }
        let mut value = || {
            it.next()
                .map(String::as_str)
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match (sub, flag.as_str()) {
            ("run", "--seed") => seed = Some(number(flag, value()?)?),
            ("run", "--trace") => trace = Some(value()?.to_owned()),
            ("swarm", "--seeds") => seeds = range(value()?)?,
            ("swarm", "--jobs") => jobs = number(flag, value()?)?.max(1) as usize,
            (_, "--nodes") => config.nodes = number(flag, value()?)? as usize,
            (_, "--time-ms") => config.time_ms = number(flag, value()?)?,
            (_, "--faults") => {
                config.preset = value()?.parse()?;
                config.faults = config.preset.faults();
            }
            _ => return Err(format!("unknown option {flag:?} for {sub}")),
        }
    }
    config.validate()?;
    if sub == "run" {
        config.seed = seed.ok_or("run needs --seed S")?;
        return Ok(Command::Run { config, trace });
    }
    Ok(Command::Swarm {
        template: config,
        seeds,
        jobs,
    })
}

fn number(flag: &str, text: &str) -> Result<u64, String> {
    text.parse()
        .map_err(|_| format!("{flag} expects a number, not {text:?}"))
}

/// `A..B`, with A < B.
fn range(text: &str) -> Result<Range<u64>, String> {
    let (a, b) = text
        .split_once("..")
        .ok_or_else(|| format!("--seeds expects A..B, not {text:?}"))?;
    let (a, b) = (number("--seeds", a)?, number("--seeds", b)?);
    if a >= b {
        return Err(format!("--seeds {text}: the range is empty"));
    }
    Ok(a..b)
}

fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn no_arguments_is_the_default_heavy_swarm() {
        let Ok(Command::Swarm {
            template, seeds, ..
        }) = parse(&[])
        else {
            panic!("not a swarm");
        };
        assert_eq!((template.preset, seeds), (Preset::Heavy, 1..101));
    }

    #[test]
    fn run_takes_its_flags() {
        let cmd = parse(&args(
            "run --seed 9 --nodes 3 --time-ms 500 --faults light --trace t",
        ))
        .unwrap();
        let Command::Run { config, trace } = cmd else {
            panic!("not a run");
        };
        assert_eq!((config.seed, config.nodes, config.time_ms), (9, 3, 500));
        assert_eq!(
            (config.preset, trace.as_deref()),
            (Preset::Light, Some("t"))
        );
    }

    #[test]
    fn bad_arguments_say_what_is_wrong() {
        for (line, want) in [
            ("run", "needs --seed"),
            ("run --seed x", "expects a number"),
            ("swarm --seeds 5..5", "empty"),
            ("swarm --seeds 5", "A..B"),
            ("swarm --seed 5", "unknown option"),
            ("run --seed 1 --nodes 9", "--nodes"),
            ("run --seed 1 --faults medium", "unknown fault preset"),
            ("fly", "unknown command"),
            ("run --seed", "needs a value"),
        ] {
            let err = parse(&args(line)).unwrap_err();
            assert!(err.contains(want), "{line}: {err}");
        }
        assert_eq!(parse(&args("swarm --help")), Ok(Command::Help));
    }
}
