//! Sweeps: a grid of `--set` values × seeds, run in parallel (each run single-threaded and
//! deterministic), streamed to JSON lines, then summarized per grid point: medians and p95 over
//! seeds, the Pareto frontier of makespan against wasted attempts, and a recommended setting.
//!
//! A result line is self-contained (scenario, point, seed, hash, metrics), so files from shards
//! or interrupted sweeps merge by (point, seed), and `--resume` skips what a file already holds.

mod grid;
mod results;
mod summary;

use std::ops::Range;

use rayon::prelude::*;

use crate::scenario::Scenario;

pub use grid::{every_preset, grid, label, overrides, preset_of, Param, Point};
pub use results::{parse_records, read_records, ResultWriter, RunKey, RunRecord};
pub use summary::{summarize, PointSummary, Stat, Summary};

/// One run to do.
#[derive(Clone, Debug)]
pub struct Job {
    /// Position in the grid × seeds order (shards split by it).
    pub index: u64,
    pub point: usize,
    pub seed: u64,
}

/// The jobs of the grid × seeds, in a fixed order, keeping those of the shard.
pub fn jobs(points: usize, seeds: Range<u64>, shard: Option<(u64, u64)>) -> Vec<Job> {
    let mut jobs = Vec::new();
    let mut index = 0u64;
    for point in 0..points {
        for seed in seeds.clone() {
            if shard.is_none_or(|(i, n)| index % n == i) {
                jobs.push(Job { index, point, seed });
            }
            index += 1;
        }
    }
    jobs
}

/// Runs `jobs` on `threads` threads; each finished run goes to `sink` as it completes.
/// `scenarios[point]` is the scenario of each grid point (loaded and validated beforehand).
pub fn execute(
    scenarios: &[Scenario],
    base: &[String],
    points: &[Point],
    jobs: &[Job],
    threads: usize,
    sink: &(dyn Fn(RunRecord) + Sync),
) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
        .expect("a thread pool");
    pool.install(|| {
        jobs.par_iter().for_each(|job| {
            let scenario = &scenarios[job.point];
            let run = crate::run::run(scenario, job.seed, &mut |_| {});
            sink(RunRecord {
                scenario: scenario.name.clone(),
                base: base.to_vec(),
                point: points[job.point].clone(),
                seed: job.seed,
                index: job.index,
                trace_sha256: run.trace.hash().to_string(),
                end: run.end,
                failures: run.failures,
                metrics: run.metrics,
            });
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_is_the_product_and_shards_partition_the_jobs() {
        let params = [param("a", &["1", "2"]), param("b", &["x", "y", "z"])];
        let points = grid(&params);
        assert_eq!(points.len(), 6);
        assert_eq!(overrides(&points[4]), vec!["a=2", "b=y"]);
        let all = jobs(points.len(), 0..5, None);
        assert_eq!(all.len(), 30);
        let mut sharded: Vec<u64> = (0..3)
            .flat_map(|i| jobs(points.len(), 0..5, Some((i, 3))))
            .map(|job| job.index)
            .collect();
        sharded.sort_unstable();
        assert_eq!(
            sharded,
            (0..30).collect::<Vec<u64>>(),
            "every job in exactly one shard"
        );
    }

    fn param(key: &str, values: &[&str]) -> Param {
        Param {
            key: key.to_string(),
            values: values.iter().map(std::string::ToString::to_string).collect(),
        }
    }
}
