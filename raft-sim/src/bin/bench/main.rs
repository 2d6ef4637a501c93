//! `bench`: every benchmark of the workspace, one figure per line.
//!
//! `cargo run --release -p raft-sim --bin bench` runs, in order: the core's throughput
//! (shaped like `bench-peers/raft-rs-baseline`, to be run beside it), the simulator's speed,
//! raft-mio's durable throughput and latency (through `raft-kv bench`, in its own
//! processes), and the core's memory use. Figures are `name [labels] value` lines with
//! stable names; lines starting with `#` say what was measured. Never pass/fail: the
//! figures are for comparing, on the same machine in the same session.

mod alloc;
mod cargo;
mod compare;
mod core_throughput;
mod memory;
mod mio;
mod sim;

use std::path::PathBuf;
use std::process::ExitCode;

use crate::core_throughput::Phase;

#[global_allocator]
static ALLOCATOR: alloc::Counting = alloc::Counting;

const HELP: &str = "\
bench: the workspace's benchmarks, one figure per line

USAGE:
    bench [SECTION]... [--quick] [--phase PHASE] [--batch N] [--total N]
    bench compare [--pairs N] [--baseline PATH] [--quick] [--total N]
    bench --help

SECTIONS (default: all, in this order):
    core      raft-core throughput: 3 servers in one thread, as raft-rs-baseline measures
    sim       simulator speed: 5 servers, heavy faults
    mio       raft-mio durable: raft-kv bench, 3 processes on 127.0.0.1 with fdatasync
    memory    raft-core's bytes per entry, and a leader's peak heap with a stopped follower
    compare   not part of all: the core section beside tikv/raft-rs's baseline, in pairs of
              alternating runs, with medians and ratios

OPTIONS:
    --quick          a short run of everything (figures are noisier)
    --phase PHASE    core only, one phase alone, for profiling: pipelined or closed
    --batch N        commands per round of --phase pipelined (default 1)
    --total N        commands of the core phases (default 200000)
    --pairs N        pairs of runs of compare (default 5; 3 with --quick)
    --baseline PATH  raft-rs-baseline's binary or source directory, for compare (default:
                     built from ../shared/bench-peers/raft-rs-baseline beside the workspace)

Compare ratios with raft-rs's baseline run in the same session, not absolute figures: the
machine's speed drifts by tens of per cent from minute to minute. `bench compare` does it.";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Section {
    Core,
    Sim,
    Mio,
    Memory,
    Compare,
}

const ALL: [Section; 4] = [Section::Core, Section::Sim, Section::Mio, Section::Memory];

/// What the command line asked for.
#[derive(Debug, PartialEq)]
struct Settings {
    sections: Vec<Section>,
    quick: bool,
    phase: Option<Phase>,
    total: Option<u64>,
    pairs: Option<u64>,
    baseline: Option<PathBuf>,
}

impl Settings {
    fn core_total(&self) -> u64 {
        self.total
            .unwrap_or(if self.quick { 20_000 } else { 200_000 })
    }

    fn compare_pairs(&self) -> u64 {
        self.pairs.unwrap_or(if self.quick { 3 } else { 5 })
    }

    fn sim_seeds(&self) -> u64 {
        if self.quick { 20 } else { 200 }
    }

    fn mio_seconds(&self) -> u64 {
        if self.quick { 1 } else { 5 }
    }

    fn memory_entries(&self) -> u64 {
        if self.quick { 100_000 } else { 1_000_000 }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let settings = match parse(&args) {
        Ok(Some(settings)) => settings,
        Ok(None) => {
            println!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("bench: {e} (try --help)");
            return ExitCode::from(2);
        }
    };
    let mut ok = true;
    for section in &settings.sections {
        match section {
            Section::Core => core_throughput::run(settings.core_total(), settings.phase),
            Section::Sim => sim::run(settings.sim_seeds()),
            Section::Mio => {
                if let Err(e) = mio::run(settings.mio_seconds()) {
                    println!("# mio: not measured: {e}");
                    ok = false;
                }
            }
            Section::Memory => memory::run(settings.memory_entries()),
            Section::Compare => {
                let (pairs, total) = (settings.compare_pairs(), settings.core_total());
                if let Err(e) = compare::run(pairs, total, settings.baseline.as_deref()) {
                    println!("# compare: not measured: {e}");
                    ok = false;
                }
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Parses the arguments; `None` for `--help`.
fn parse(args: &[String]) -> Result<Option<Settings>, String> {
    let mut settings = Settings {
        sections: Vec::new(),
        quick: false,
        phase: None,
        total: None,
        pairs: None,
        baseline: None,
    };
    let mut phase = None;
    let mut batch = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--quick" => settings.quick = true,
            "--phase" => phase = Some(value()?.clone()),
            "--batch" => batch = Some(positive(arg, value()?)?),
            "--total" => settings.total = Some(positive(arg, value()?)?),
            "--pairs" => settings.pairs = Some(positive(arg, value()?)?),
            "--baseline" => settings.baseline = Some(PathBuf::from(value()?)),
            "core" => settings.sections.push(Section::Core),
            "sim" => settings.sections.push(Section::Sim),
            "mio" => settings.sections.push(Section::Mio),
            "memory" => settings.sections.push(Section::Memory),
            "compare" => settings.sections.push(Section::Compare),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    settings.phase = match (phase.as_deref(), batch) {
        (None, None) => None,
        (None, Some(_)) => return Err("--batch goes with --phase pipelined".into()),
        (Some("pipelined"), batch) => Some(Phase::Pipelined {
            batch: batch.unwrap_or(1),
        }),
        (Some("closed"), None) => Some(Phase::Closed),
        (Some("closed"), Some(_)) => return Err("--batch goes with --phase pipelined".into()),
        (Some(other), _) => return Err(format!("unknown phase {other:?}: pipelined or closed")),
    };
    if settings.phase.is_some() && settings.sections != [Section::Core] {
        return Err("--phase runs the core section alone: bench core --phase …".into());
    }
    let compares = settings.sections.contains(&Section::Compare);
    if (settings.pairs.is_some() || settings.baseline.is_some()) && !compares {
        return Err("--pairs and --baseline go with the compare section".into());
    }
    if settings.sections.is_empty() {
        settings.sections = ALL.to_vec();
    }
    Ok(Some(settings))
}

fn positive(name: &str, value: &str) -> Result<u64, String> {
    match value.parse() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{name} takes a positive number, not {value:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(args: &[&str]) -> Result<Option<Settings>, String> {
        parse(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn no_section_means_all_in_order() {
        let s = parsed(&[]).unwrap().unwrap();
        assert_eq!(s.sections, ALL);
        assert_eq!(s.core_total(), 200_000);
    }

    #[test]
    fn sections_run_as_named_and_quick_shortens() {
        let s = parsed(&["memory", "core", "--quick"]).unwrap().unwrap();
        assert_eq!(s.sections, [Section::Memory, Section::Core]);
        assert_eq!((s.core_total(), s.memory_entries()), (20_000, 100_000));
    }

    #[test]
    fn a_phase_is_for_the_core_alone() {
        let s = parsed(&[
            "core",
            "--phase",
            "pipelined",
            "--batch",
            "64",
            "--total",
            "5",
        ]);
        let s = s.unwrap().unwrap();
        assert_eq!(s.phase, Some(Phase::Pipelined { batch: 64 }));
        assert_eq!(s.core_total(), 5);
        assert!(parsed(&["--phase", "closed"]).is_err(), "no section named");
        assert!(parsed(&["core", "sim", "--phase", "closed"]).is_err());
        assert!(parsed(&["core", "--phase", "closed", "--batch", "2"]).is_err());
        assert!(parsed(&["core", "--batch", "2"]).is_err());
    }

    #[test]
    fn bad_arguments_are_refused() {
        assert_eq!(parsed(&["--help"]), Ok(None));
        assert!(parsed(&["cpu"]).is_err());
        assert!(parsed(&["--total", "0"]).is_err());
        assert!(parsed(&["--total"]).is_err());
        assert!(parsed(&["core", "--phase", "fast"]).is_err());
        assert!(parsed(&["compare", "--pairs", "0"]).is_err());
        assert!(
            parsed(&["core", "--pairs", "3"]).is_err(),
            "pairs need compare"
        );
        assert!(
            parsed(&["--baseline", "/bin/true"]).is_err(),
            "so does a baseline"
        );
    }

    #[test]
    fn compare_is_asked_for_by_name_and_takes_its_options() {
        assert!(
            !ALL.contains(&Section::Compare),
            "it needs raft-rs, so not by default"
        );
        let s = parsed(&["compare", "--pairs", "7", "--baseline", "b", "--quick"]);
        let s = s.unwrap().unwrap();
        assert_eq!(s.sections, [Section::Compare]);
        assert_eq!((s.compare_pairs(), s.core_total()), (7, 20_000));
        assert_eq!(s.baseline, Some(PathBuf::from("b")));
        assert_eq!(parsed(&["compare"]).unwrap().unwrap().compare_pairs(), 5);
    }
}
