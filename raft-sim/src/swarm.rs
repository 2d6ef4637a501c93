//! Many seeds at once: each seed runs on its own, in one of several threads, so a seed's run
//! is the same whatever the thread count.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::config::SimConfig;
use crate::report::Report;
use crate::world::run;

/// The totals of a swarm.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Seeds run.
    pub seeds_run: u64,
    /// The reports of the seeds that violated a property, by seed.
    pub failures: Vec<Report>,
    /// Events simulated, over all seeds.
    pub events: u64,
    /// Simulated milliseconds, over all seeds.
    pub sim_ms: u64,
    /// Client requests invoked, over all seeds.
    pub ops: u64,
    /// Wall-clock time the swarm took.
    pub real: Duration,
}

impl Summary {
    /// Simulated time divided by real time (over all threads).
    pub fn ratio(&self) -> f64 {
        self.sim_ms as f64 / (self.real.as_secs_f64() * 1000.0).max(1e-9)
    }

    /// The closing lines: seeds run, violations, events, the time ratio, failures.
    pub fn text(&self) -> String {
        let mut out = format!(
            "seeds run: {}\nviolations: {}\nevents simulated: {}\nclient requests: {}\nsimulated {:.1}s in {:.1}s real: {:.0}x real time\n",
            self.seeds_run,
            self.failures.len(),
            self.events,
            self.ops,
            self.sim_ms as f64 / 1000.0,
            self.real.as_secs_f64(),
            self.ratio()
        );
        for f in &self.failures {
            out.push_str(&f.failure_text());
            out.push('\n');
        }
        out
    }
}

/// Runs `template` once for every seed in `seeds` on `jobs` threads, calling `progress` with
/// each finished report (in completion order) and the running totals.
pub fn swarm(
    template: &SimConfig,
    seeds: Range<u64>,
    jobs: usize,
    mut progress: impl FnMut(&Report, &Summary),
) -> Summary {
    let start = Instant::now();
    let next = AtomicU64::new(seeds.start);
    let (tx, rx) = mpsc::channel();
    let mut summary = Summary::default();
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            let (tx, next, end) = (tx.clone(), &next, seeds.end);
            scope.spawn(move || {
                loop {
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    if seed >= end {
                        return;
                    }
                    let config = SimConfig {
                        seed,
                        ..template.clone()
                    };
                    if tx.send(run(config)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        for report in rx {
            summary.seeds_run += 1;
            summary.events += report.stats.events;
            summary.sim_ms += report.stats.sim_ms;
            summary.ops += report.stats.ops_invoked;
            summary.real = start.elapsed();
            if !report.ok() {
                summary.failures.push(report.clone());
            }
            progress(&report, &summary);
        }
    });
    summary.failures.sort_by_key(|r| r.config.seed);
    summary.real = start.elapsed();
    summary
}
