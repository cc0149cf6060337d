//! Sweeps: a grid of `--set` values × seeds, run in parallel (each run single-threaded and
//! deterministic), streamed to JSON lines, then summarized per grid point: medians and p95 over
//! seeds, the Pareto frontier of makespan against wasted attempts, and a recommended setting.
//!
//! A result line is self-contained (scenario, point, seed, hash, metrics), so files from shards
//! or interrupted sweeps merge by (point, seed), and `--resume` skips what a file already holds.

mod grid;
mod results;
mod robust;
mod summary;
pub mod swarm;

use std::ops::Range;

use rayon::prelude::*;

use crate::scenario::Scenario;

pub use grid::{every_preset, grid, label, overrides, preset_of, Param, Point};
pub use results::{parse_records, read_records, run_key, ResultWriter, RunKey, RunRecord};
pub use robust::{summarize_swarm, SwarmCell, SwarmSetting, SwarmSummary};
pub use summary::{summarize, PointSummary, Stat, Summary};
pub use swarm::Environment;

/// One run to do.
#[derive(Clone, Debug)]
pub struct Job {
    /// Position in the environments × grid × seeds order (shards split by it).
    pub index: u64,
    /// The swarm environment (0 without a swarm).
    pub environment: usize,
    pub point: usize,
    pub seed: u64,
}

/// The jobs of the environments × grid × seeds, in a fixed order, keeping those of the shard.
/// Without a swarm, `environments` is 1.
pub fn jobs(environments: usize, points: usize, seeds: Range<u64>, shard: Option<(u64, u64)>) -> Vec<Job> {
    let mut jobs = Vec::new();
    let mut index = 0u64;
    for environment in 0..environments.max(1) {
        for point in 0..points {
            for seed in seeds.clone() {
                if shard.is_none_or(|(i, n)| index % n == i) {
                    jobs.push(Job {
                        index,
                        environment,
                        point,
                        seed,
                    });
                }
                index += 1;
            }
        }
    }
    jobs
}

/// What a sweep runs: a scenario per (environment, point), loaded and validated beforehand.
pub struct Plan<'a> {
    /// `scenarios[environment * points.len() + point]`.
    pub scenarios: &'a [Scenario],
    pub base: &'a [String],
    pub points: &'a [Point],
    /// The swarm's environments; empty without a swarm.
    pub environments: &'a [Environment],
}

impl<'a> Plan<'a> {
    /// A grid without a swarm: `scenarios[point]`.
    pub fn grid(scenarios: &'a [Scenario], base: &'a [String], points: &'a [Point]) -> Plan<'a> {
        Plan {
            scenarios,
            base,
            points,
            environments: &[],
        }
    }

    /// The scenario a job runs.
    pub fn scenario(&self, job: &Job) -> &Scenario {
        &self.scenarios[job.environment * self.points.len() + job.point]
    }
}

/// Runs `jobs` on `threads` threads; each finished run goes to `sink` as it completes.
pub fn execute(plan: &Plan<'_>, jobs: &[Job], threads: usize, sink: &(dyn Fn(RunRecord) + Sync)) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
        .expect("a thread pool");
    pool.install(|| {
        jobs.par_iter().for_each(|job| {
            let scenario = plan.scenario(job);
            let run = crate::run::run(scenario, job.seed, &mut |_| {});
            sink(RunRecord {
                scenario: scenario.name.clone(),
                base: plan.base.to_vec(),
                point: plan.points[job.point].clone(),
                environment: plan.environments.get(job.environment).cloned(),
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
        let all = jobs(1, points.len(), 0..5, None);
        assert_eq!(all.len(), 30);
        assert_eq!(
            jobs(4, points.len(), 0..5, None).len(),
            120,
            "a swarm multiplies the jobs"
        );
        let mut sharded: Vec<u64> = (0..3)
            .flat_map(|i| jobs(1, points.len(), 0..5, Some((i, 3))))
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
