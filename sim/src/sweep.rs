//! Sweeps: a grid of `--set` values × seeds, run in parallel (each run single-threaded and
//! deterministic), streamed to JSON lines, then summarized per grid point: medians and p95 over
//! seeds, the Pareto frontier of makespan against wasted attempts, and a recommended setting.
//!
//! A result line is self-contained (scenario, point, seed, hash, metrics), so files from shards
//! or interrupted sweeps merge by (point, seed), and `--resume` skips what a file already holds.

use std::collections::BTreeMap;
use std::io::{BufRead, Write as _};
use std::ops::Range;
use std::path::Path;
use std::sync::Mutex;

use indexmap::IndexMap;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::metrics::Metrics;
use crate::scenario::Scenario;
use crate::world::{self, RunEnd};

/// One swept field and its values: `client.concurrency=4,8,16`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    pub key: String,
    pub values: Vec<String>,
}

impl Param {
    /// Parses `key=v1,v2,...`. Commas inside `[]`, `{}` or quotes do not split values.
    pub fn parse(text: &str) -> Result<Param, String> {
        let (key, values) = text
            .split_once('=')
            .ok_or_else(|| format!("--param {text}: expected key=value1,value2,..."))?;
        let key = key.trim();
        if key.is_empty() {
            return Err(format!("--param {text}: empty key"));
        }
        let values = split_values(values);
        if values.iter().any(String::is_empty) || values.is_empty() {
            return Err(format!("--param {text}: empty value"));
        }
        Ok(Param {
            key: key.to_string(),
            values,
        })
    }
}

fn split_values(text: &str) -> Vec<String> {
    let (mut values, mut current, mut depth, mut quoted) = (Vec::new(), String::new(), 0i32, false);
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            '[' | '{' if !quoted => depth += 1,
            ']' | '}' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                values.push(current.trim().to_string());
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    values.push(current.trim().to_string());
    values
}

/// Seeds: `a..b` (b excluded), `a..=b`, or `n` for `0..n`.
pub fn parse_seeds(text: &str) -> Result<Range<u64>, String> {
    let bad = || format!("--seeds {text}: expected N, A..B or A..=B");
    let range = if let Some((a, b)) = text.split_once("..=") {
        let (a, b): (u64, u64) = (
            a.trim().parse().map_err(|_| bad())?,
            b.trim().parse().map_err(|_| bad())?,
        );
        a..b.checked_add(1).ok_or_else(bad)?
    } else if let Some((a, b)) = text.split_once("..") {
        a.trim().parse().map_err(|_| bad())?..b.trim().parse().map_err(|_| bad())?
    } else {
        0..text.trim().parse().map_err(|_| bad())?
    };
    if range.is_empty() {
        return Err(format!("--seeds {text}: no seeds in that range"));
    }
    Ok(range)
}

/// `i/n`: this machine runs every job whose index is `i` modulo `n`.
pub fn parse_shard(text: &str) -> Result<(u64, u64), String> {
    let bad = || format!("--shard {text}: expected I/N with I < N, e.g. 0/4");
    let (i, n) = text.split_once('/').ok_or_else(bad)?;
    let (i, n): (u64, u64) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

/// A grid point: the swept fields and their values, in the order the parameters were given.
pub type Point = IndexMap<String, String>;

/// Every combination of the parameters' values (the first parameter varies slowest).
pub fn grid(params: &[Param]) -> Vec<Point> {
    let mut points = vec![Point::new()];
    for param in params {
        points = points
            .into_iter()
            .flat_map(|point| {
                param.values.iter().map(move |value| {
                    let mut next = point.clone();
                    next.insert(param.key.clone(), value.clone());
                    next
                })
            })
            .collect();
    }
    points
}

/// The `--set` overrides of a point.
pub fn overrides(point: &Point) -> Vec<String> {
    point
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect()
}

/// A point as `key=value key=value`, for tables.
pub fn label(point: &Point) -> String {
    if point.is_empty() {
        return "(scenario as written)".to_string();
    }
    point
        .iter()
        .map(|(key, value)| format!("{}={value}", short_key(key)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The preset a point sets (`preset="genesys-java"` → `genesys-java`), or "" when it sets none.
pub fn preset_of(point: &Point) -> String {
    point
        .get("preset")
        .map(|name| name.trim_matches('"').to_string())
        .unwrap_or_default()
}

/// `client.backoff.jitter` → `jitter`: the last part names the field well enough in tables.
fn short_key(key: &str) -> &str {
    key.rsplit('.').next().unwrap_or(key)
}

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

/// One finished run, as a JSON line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub scenario: String,
    /// The `--set` overrides every point shared (with `--small`'s), so files of other sweeps
    /// are never mixed in.
    #[serde(default)]
    pub base: Vec<String>,
    pub point: Point,
    pub seed: u64,
    /// The job's position in the sweep's grid × seeds order (merges order settings by it).
    #[serde(default)]
    pub index: u64,
    pub trace_sha256: String,
    pub end: RunEnd,
    /// The scenario's own expectations that failed (empty: the run passed).
    pub failures: Vec<String>,
    pub metrics: Metrics,
}

/// What identifies a run across files: its point's fields and values, and its seed.
pub type RunKey = (Vec<(String, String)>, u64);

impl RunRecord {
    /// What identifies the run across files: the point and the seed.
    pub fn key(&self) -> RunKey {
        (
            self.point.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            self.seed,
        )
    }
}

/// Reads result lines, skipping a torn last line (a sweep killed mid-write) and blank lines.
/// Any other unreadable line is an error naming it.
pub fn read_records(path: &Path) -> Result<Vec<RunRecord>, String> {
    let file =
        std::fs::File::open(path).map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let lines: Vec<String> = std::io::BufReader::new(file)
        .lines()
        .collect::<Result<_, _>>()
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let mut records = Vec::new();
    for (number, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<RunRecord>(line) {
            Ok(record) => records.push(record),
            Err(_) if number + 1 == lines.len() => {} // torn by an interrupted write: redone on resume
            Err(error) => {
                return Err(format!(
                    "{}:{}: not a sweep result: {error}",
                    path.display(),
                    number + 1
                ))
            }
        }
    }
    Ok(records)
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
            let run = world::run(scenario, job.seed, &mut |_| {});
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

/// Appends records to a JSON-lines file, one flushed line per record, from any thread.
pub struct ResultWriter {
    file: Mutex<std::fs::File>,
}

impl ResultWriter {
    pub fn append(path: &Path) -> Result<ResultWriter, String> {
        if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|error| format!("cannot create {}: {error}", parent.display()))?;
        }
        // A torn last line from an interrupted run would glue onto the next record: end it first.
        let torn = std::fs::read(path)
            .ok()
            .is_some_and(|bytes| bytes.last().is_some_and(|&b| b != b'\n'));
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
        if torn {
            file.write_all(b"\n")
                .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
        }
        Ok(ResultWriter {
            file: Mutex::new(file),
        })
    }

    pub fn write(&self, record: &RunRecord) -> std::io::Result<()> {
        let mut line = serde_json::to_string(record).expect("records serialize");
        line.push('\n');
        let mut file = self.file.lock().expect("writer lock");
        file.write_all(line.as_bytes())?;
        file.flush()
    }
}

/// Median and 95th percentile over seeds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Stat {
    pub median: f64,
    pub p95: f64,
}

impl Stat {
    fn of(mut values: Vec<f64>) -> Stat {
        values.sort_by(f64::total_cmp);
        let n = values.len();
        if n == 0 {
            return Stat {
                median: 0.0,
                p95: 0.0,
            };
        }
        let median = if n % 2 == 1 {
            values[n / 2]
        } else {
            (values[n / 2 - 1] + values[n / 2]) / 2.0
        };
        let rank = (95 * n).div_ceil(100).max(1);
        Stat {
            median,
            p95: values[rank - 1],
        }
    }
}

/// One grid point over its seeds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PointSummary {
    pub point: Point,
    pub runs: usize,
    /// Runs that failed the scenario's own expectations (lost items, unfinished work, ...).
    pub failed_runs: usize,
    pub makespan_s: Stat,
    pub attempts: Stat,
    pub wasted_attempts: Stat,
    pub responses_429: Stat,
    pub ok: Stat,
    pub gave_up: Stat,
    pub quota_utilization: Stat,
    pub duplicate_writes: Stat,
    pub fairness_jain: Stat,
    /// Not beaten on both median makespan and median wasted attempts by another eligible point.
    pub frontier: bool,
}

/// A sweep's result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    pub scenario: String,
    pub points: Vec<PointSummary>,
    /// The index into `points` of the recommended setting, and why.
    pub recommended: Option<(usize, String)>,
    /// Point-and-seed pairs that appeared twice with different traces (nondeterminism).
    pub conflicts: Vec<String>,
}

/// Deduplicates by (point, seed) and summarizes per point, in the order of `order` (the grid),
/// then any other points in the order of their first job.
pub fn summarize(records: &[RunRecord], order: &[Point]) -> Summary {
    let mut by_key: BTreeMap<RunKey, &RunRecord> = BTreeMap::new();
    let mut conflicts = Vec::new();
    for record in records {
        match by_key.get(&record.key()) {
            Some(seen) if seen.trace_sha256 != record.trace_sha256 => {
                conflicts.push(format!(
                    "{} seed {}: {} vs {}",
                    label(&record.point),
                    record.seed,
                    &seen.trace_sha256[..12],
                    &record.trace_sha256[..12]
                ));
            }
            Some(_) => {}
            None => {
                by_key.insert(record.key(), record);
            }
        }
    }
    let mut points: Vec<Point> = order.to_vec();
    let mut by_index: Vec<&RunRecord> = by_key.values().copied().collect();
    by_index.sort_by_key(|record| record.index);
    for record in by_index {
        if !points.contains(&record.point) {
            points.push(record.point.clone());
        }
    }
    let mut summaries: Vec<PointSummary> = points
        .iter()
        .filter_map(|point| {
            let runs: Vec<&RunRecord> = by_key
                .values()
                .filter(|record| &record.point == point)
                .copied()
                .collect();
            (!runs.is_empty()).then(|| summarize_point(point, &runs))
        })
        .collect();
    // Only settings that pass the scenario's expectations and finish as much work as the best
    // one compete: giving up items early is not a fast makespan.
    let most_ok = summaries.iter().map(|p| p.ok.median).fold(0.0, f64::max);
    let eligible: Vec<usize> = (0..summaries.len())
        .filter(|&i| summaries[i].failed_runs == 0 && summaries[i].ok.median >= most_ok)
        .collect();
    let candidates = if eligible.is_empty() {
        (0..summaries.len()).collect()
    } else {
        eligible.clone()
    };
    for &i in &candidates {
        let (m, w) = (
            summaries[i].makespan_s.median,
            summaries[i].wasted_attempts.median,
        );
        let dominated = candidates.iter().any(|&j| {
            let (mj, wj) = (
                summaries[j].makespan_s.median,
                summaries[j].wasted_attempts.median,
            );
            j != i && mj <= m && wj <= w && (mj < m || wj < w)
        });
        summaries[i].frontier = !dominated;
    }
    let recommended = recommend(&summaries, &candidates, eligible.is_empty());
    let scenario = records
        .first()
        .map(|record| record.scenario.clone())
        .unwrap_or_default();
    Summary {
        scenario,
        points: summaries,
        recommended,
        conflicts,
    }
}

fn summarize_point(point: &Point, runs: &[&RunRecord]) -> PointSummary {
    let stat = |value: fn(&Metrics) -> f64| Stat::of(runs.iter().map(|run| value(&run.metrics)).collect());
    PointSummary {
        point: point.clone(),
        runs: runs.len(),
        failed_runs: runs.iter().filter(|run| !run.failures.is_empty()).count(),
        makespan_s: stat(|m| m.makespan_s),
        attempts: stat(|m| m.attempts as f64),
        wasted_attempts: stat(|m| m.wasted_attempts as f64),
        responses_429: stat(|m| m.responses_429 as f64),
        ok: stat(|m| m.ok as f64),
        gave_up: stat(|m| m.gave_up as f64),
        quota_utilization: stat(|m| m.quota_utilization),
        duplicate_writes: stat(|m| m.duplicate_writes as f64),
        fairness_jain: stat(|m| m.fairness_jain),
        frontier: false,
    }
}

/// The frontier's knee: the frontier point nearest the ideal (the best makespan and the fewest
/// wasted attempts any frontier point achieved), each measured across the frontier's range.
fn recommend(points: &[PointSummary], candidates: &[usize], none_eligible: bool) -> Option<(usize, String)> {
    let frontier: Vec<usize> = candidates
        .iter()
        .copied()
        .filter(|&i| points[i].frontier)
        .collect();
    let range = |value: fn(&PointSummary) -> f64| {
        let values = frontier.iter().map(|&i| value(&points[i]));
        let (low, high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        (low, (high - low).max(1e-9))
    };
    let (best_makespan, makespan_span) = range(|p| p.makespan_s.median);
    let (fewest_wasted, wasted_span) = range(|p| p.wasted_attempts.median);
    let score = |p: &PointSummary| {
        let makespan = (p.makespan_s.median - best_makespan) / makespan_span;
        let wasted = (p.wasted_attempts.median - fewest_wasted) / wasted_span;
        makespan * makespan + wasted * wasted
    };
    let chosen = frontier.iter().copied().min_by(|&a, &b| {
        score(&points[a])
            .total_cmp(&score(&points[b]))
            .then(points[a].makespan_s.p95.total_cmp(&points[b].makespan_s.p95))
            .then(a.cmp(&b))
    })?;
    let p = &points[chosen];
    let mut reason = format!(
        "the knee of the Pareto frontier of makespan against wasted attempts: median makespan {:.1} s (best {:.1} s), median wasted attempts {:.0} (fewest {:.0})",
        p.makespan_s.median, best_makespan, p.wasted_attempts.median, fewest_wasted
    );
    if p.gave_up.median > 0.0 {
        reason.push_str(&format!(", {:.0} items given up (median)", p.gave_up.median));
    }
    if none_eligible {
        reason.push_str("; no setting both passed the scenario's expectations on every seed and finished the most items, so this is the least bad");
    } else {
        reason.push_str(&format!(
            "; all {} runs met the scenario's expectations, with as many items ok as any setting",
            p.runs
        ));
    }
    Some((chosen, reason))
}

/// The summary as an aligned text table, the frontier marked `*`, the recommendation `>`.
pub fn table(summary: &Summary) -> String {
    let labels: Vec<String> = summary.points.iter().map(|p| label(&p.point)).collect();
    let width = labels.iter().map(String::len).max().unwrap_or(0).max(7);
    let mut out = format!(
        "   {:<width$} {:>5} {:>17} {:>15} {:>15} {:>11} {:>8} {:>6} {:>6}\n",
        "setting",
        "runs",
        "makespan s med/p95",
        "attempts med/p95",
        "wasted med/p95",
        "429 med",
        "gave up",
        "quota",
        "failed"
    );
    for (index, (point, label)) in summary.points.iter().zip(&labels).enumerate() {
        let mark = match (
            summary.recommended.as_ref().is_some_and(|(i, _)| *i == index),
            point.frontier,
        ) {
            (true, _) => ">",
            (false, true) => "*",
            _ => " ",
        };
        out.push_str(&format!(
            "{mark}  {label:<width$} {:>5} {:>8.1}/{:<8.1} {:>7.0}/{:<7.0} {:>7.0}/{:<7.0} {:>11.0} {:>8.0} {:>6.2} {:>6}\n",
            point.runs,
            point.makespan_s.median,
            point.makespan_s.p95,
            point.attempts.median,
            point.attempts.p95,
            point.wasted_attempts.median,
            point.wasted_attempts.p95,
            point.responses_429.median,
            point.gave_up.median,
            point.quota_utilization.median,
            point.failed_runs,
        ));
    }
    out.push_str("   * on the Pareto frontier (median makespan vs median wasted attempts)   > recommended\n");
    if let Some((index, reason)) = &summary.recommended {
        out.push_str(&format!("recommended: {}\n  {reason}\n", labels[*index]));
    }
    for conflict in &summary.conflicts {
        out.push_str(&format!("NONDETERMINISM: {conflict}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_seeds_and_shards_parse() {
        let param = Param::parse("client.backoff.jitter=none,full, equal").unwrap();
        assert_eq!(param.values, vec!["none", "full", "equal"]);
        let nested = Param::parse("gateway.limits=[{ limit = 1, key = [\"a\", \"b\"] }],[]").unwrap();
        assert_eq!(nested.values, vec!["[{ limit = 1, key = [\"a\", \"b\"] }]", "[]"]);
        assert!(Param::parse("novalue").is_err());
        assert!(Param::parse("k=a,,b").is_err());
        assert_eq!(parse_seeds("0..50").unwrap(), 0..50);
        assert_eq!(parse_seeds("3..=5").unwrap(), 3..6);
        assert_eq!(parse_seeds("4").unwrap(), 0..4);
        assert!(parse_seeds("5..5").is_err() && parse_seeds("x").is_err());
        assert_eq!(parse_shard("1/4").unwrap(), (1, 4));
        assert!(parse_shard("4/4").is_err() && parse_shard("1/0").is_err());
    }

    #[test]
    fn the_grid_is_the_product_and_shards_partition_the_jobs() {
        let params = [Param::parse("a=1,2").unwrap(), Param::parse("b=x,y,z").unwrap()];
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

    #[test]
    fn medians_percentiles_and_the_frontier() {
        assert_eq!(
            Stat::of(vec![3.0, 1.0, 2.0]),
            Stat {
                median: 2.0,
                p95: 3.0
            }
        );
        assert_eq!(Stat::of(vec![1.0, 2.0, 3.0, 4.0]).median, 2.5);
        let record = |value: &str, seed: u64, makespan: f64, wasted: u64, failed: bool| {
            let mut metrics: Metrics = serde_json::from_value(serde_json::json!({
                "end": "completed", "makespan_s": makespan, "items": 10, "ok": 10, "failed": 0, "gave_up": 0, "lost": 0,
                "attempts": 10 + wasted, "wasted_attempts": wasted, "amplification": 1.0, "responses_429": wasted,
                "responses_5xx": 0, "responses_401": 0, "responses_409": 0, "transport_errors": 0, "goodput_per_s": 1.0,
                "quota_utilization": 1.0, "makespan_lower_bound_s": 1.0, "latency_ms_p50": 1, "latency_ms_p95": 1,
                "latency_ms_p99": 1, "fairness_jain": 1.0, "token_requests": 1, "breaker_openings": 0,
                "duplicate_writes": 0, "lost_writes": 0, "sends_before_retry_after": 0, "gateway_requests": 10,
                "gateway_rate_limited": 0, "background_rejected": 0
            }))
            .unwrap();
            metrics.lost = u64::from(failed);
            if value == "quitter" {
                (metrics.ok, metrics.gave_up) = (2, 8);
            }
            let point: Point = [("k".to_string(), value.to_string())].into_iter().collect();
            RunRecord {
                scenario: "s".into(),
                base: vec![],
                point,
                seed,
                index: 0,
                trace_sha256: format!("{value}{seed}-hash-000000"),
                end: RunEnd::Completed,
                failures: if failed { vec!["lost".into()] } else { vec![] },
                metrics,
            }
        };
        let records = vec![
            record("fast-wasteful", 0, 10.0, 100, false),
            record("fast-wasteful", 1, 12.0, 120, false),
            record("balanced", 0, 12.0, 10, false),
            record("balanced", 1, 13.0, 12, false),
            record("slow-frugal", 0, 60.0, 0, false),
            record("quitter", 0, 0.5, 0, false),
            record("dominated", 0, 70.0, 50, false),
            record("broken", 0, 1.0, 0, true),
            record("balanced", 1, 13.0, 12, false), // a duplicate from a merged shard
        ];
        let order: Vec<Point> = ["fast-wasteful", "balanced"]
            .iter()
            .map(|v| [("k".to_string(), v.to_string())].into_iter().collect())
            .collect();
        let summary = summarize(&records, &order);
        let frontier: Vec<String> = summary
            .points
            .iter()
            .filter(|p| p.frontier)
            .map(|p| p.point["k"].clone())
            .collect();
        assert_eq!(
            frontier,
            vec!["fast-wasteful", "balanced", "slow-frugal"],
            "grid order first; failing and quitting points are not eligible"
        );
        let (index, reason) = summary.recommended.clone().unwrap();
        assert_eq!(summary.points[index].point["k"], "balanced", "{reason}");
        assert_eq!(
            summary
                .points
                .iter()
                .find(|p| p.point["k"] == "balanced")
                .unwrap()
                .runs,
            2,
            "duplicates merge"
        );
        assert!(summary.conflicts.is_empty());
        let mut conflicting = records.clone();
        conflicting.push(RunRecord {
            trace_sha256: "different-hash-0000".into(),
            ..records[0].clone()
        });
        assert_eq!(summarize(&conflicting, &[]).conflicts.len(), 1);
        assert!(table(&summary).contains("recommended: k=balanced"));
    }
}
