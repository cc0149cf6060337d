//! Summaries of a sweep: medians and p95 over seeds per grid point, the Pareto frontier of
//! makespan against wasted attempts, and the recommended setting.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::metrics::Metrics;
use crate::sweep::grid::{label, Point};
use crate::sweep::results::{RunKey, RunRecord};

/// Median and 95th percentile over seeds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Stat {
    pub median: f64,
    pub p95: f64,
}

impl Stat {
    pub(crate) fn of(mut values: Vec<f64>) -> Stat {
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
    /// Items that ended failed (a permanent error), as opposed to given up.
    pub failed_items: Stat,
    /// Failed items that were not among the scenario's bad items (a retryable answer taken as
    /// final).
    pub failed_good: Stat,
    pub unfinished: Stat,
    pub token_requests: Stat,
    pub quota_utilization: Stat,
    pub duplicate_writes: Stat,
    pub lost_writes: Stat,
    pub fairness_jain: Stat,
    pub makespan_ratio: Stat,
    /// Attempts sent into a `Retry-After` the instance had been told and that had not passed
    /// (on the bucket that said it): what the platform asked not to get.
    pub early_sends: Stat,
    /// Runs that gave up, failed a good item (one not among the scenario's bad items), left
    /// unfinished, duplicated or lost any work: such a setting is never recommended.
    pub runs_losing_work: usize,
    /// Seconds from the trigger's end to recovery, over the seeds that recovered (`None`: the
    /// scenario has no trigger, or no seed recovered).
    pub recovery_s: Option<Stat>,
    /// Runs with a trigger that did not recover before they ended.
    pub not_recovered: usize,
    /// Not beaten on both median makespan and median wasted attempts by another eligible point
    /// that sent no more into seen Retry-Afters.
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
    /// What a reader must know: axes that change nothing, ties, why nothing is recommended.
    pub notes: Vec<String>,
}

/// How close two medians must be to count as a tie: within 1% (or one attempt).
pub(crate) fn tied(a: f64, b: f64) -> bool {
    (a - b).abs() <= (a.abs().max(b.abs()) * 0.01).max(1.0)
}

/// Deduplicates by (point, seed) and summarizes per point, in the order of `order` (the grid),
/// then any other points in the order of their first job.
pub fn summarize(records: &[RunRecord], order: &[Point]) -> Summary {
    let (by_key, conflicts) = deduplicate(records);
    let points = points_in_order(order, &by_key);
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
    // Only settings that pass the scenario's expectations and lose no work on any seed compete:
    // giving up items early is not a fast makespan.
    // ... and finish as many items ok as the best setting: an item that ends failed where another
    // setting got it done (a 429 taken as final) is lost work too.
    let most_ok = summaries.iter().map(|p| p.ok.median).fold(0.0, f64::max);
    let eligible: Vec<usize> = (0..summaries.len())
        .filter(|&i| {
            let point = &summaries[i];
            point.failed_runs == 0 && point.runs_losing_work == 0 && point.ok.median >= most_ok
        })
        .collect();
    // A setting that sent more into seen Retry-Afters does not beat one that waited: its speed
    // was taken from what the platform asked to keep.
    for &i in &eligible {
        let (m, w, e) = (
            summaries[i].makespan_s.median,
            summaries[i].wasted_attempts.median,
            summaries[i].early_sends.median,
        );
        let dominated = eligible.iter().any(|&j| {
            let (mj, wj, ej) = (
                summaries[j].makespan_s.median,
                summaries[j].wasted_attempts.median,
                summaries[j].early_sends.median,
            );
            j != i && mj <= m && wj <= w && ej <= e && (mj < m || wj < w)
        });
        summaries[i].frontier = !dominated;
    }
    let mut notes = axis_notes(&points, &by_key);
    notes.extend(identical_groups(&points, &by_key));
    let environment: Vec<&String> = points
        .first()
        .map(|point| point.keys().filter(|key| describes_environment(key)).collect())
        .unwrap_or_default();
    let recommended = if environment.is_empty() {
        recommend(&summaries, &eligible, &by_key, &mut notes)
    } else {
        // A point of another load or platform is not a setting to ship: "recommending" the
        // lighter load would be nonsense.
        notes.push(format!(
            "nothing is recommended: {} describes the platform or the workload, not a client setting; \
             compare the settings within each of its values (or sweep the settings with --swarm)",
            environment
                .iter()
                .map(|key| key.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        None
    };
    let scenario = records
        .first()
        .map(|record| record.scenario.clone())
        .unwrap_or_default();
    Summary {
        scenario,
        points: summaries,
        recommended,
        conflicts,
        notes,
    }
}

/// Whether a swept field describes the platform, the network or the work rather than the client:
/// the gateway, the network, the workload and its arrivals, the trigger, the bad items, the
/// instances' count and clocks, the run's duration.
pub(crate) fn describes_environment(key: &str) -> bool {
    const PREFIXES: [&str; 7] = [
        "gateway.",
        "network.",
        "workload.",
        "arrivals.",
        "trigger.",
        "bad_items.",
        "shared_limiter.outages",
    ];
    PREFIXES.iter().any(|prefix| key.starts_with(prefix))
        || matches!(
            key,
            "duration_s" | "instances.count" | "instances.clock_offset_ms" | "instances.clock_drift_ppm"
        )
}

/// One record per (point, seed), and a line for each pair that appeared twice with different
/// traces (nondeterminism).
fn deduplicate(records: &[RunRecord]) -> (BTreeMap<RunKey, &RunRecord>, Vec<String>) {
    let mut by_key: BTreeMap<RunKey, &RunRecord> = BTreeMap::new();
    let mut conflicts = Vec::new();
    for record in records {
        match by_key.get(&record.key()) {
            Some(seen) if seen.trace_sha256 != record.trace_sha256 => {
                conflicts.push(format!(
                    "{} seed {}: {} vs {}",
                    label(&record.point),
                    record.seed,
                    short_hash(&seen.trace_sha256),
                    short_hash(&record.trace_sha256)
                ));
            }
            Some(_) => {}
            None => {
                by_key.insert(record.key(), record);
            }
        }
    }
    (by_key, conflicts)
}

/// The points of `order`, then any others the records hold, in the order of their first job.
fn points_in_order(order: &[Point], by_key: &BTreeMap<RunKey, &RunRecord>) -> Vec<Point> {
    let mut points: Vec<Point> = order.to_vec();
    let mut by_index: Vec<&RunRecord> = by_key.values().copied().collect();
    by_index.sort_by_key(|record| record.index);
    for record in by_index {
        if !points.contains(&record.point) {
            points.push(record.point.clone());
        }
    }
    points
}

/// For any set of records: the nondeterminism found, and the notes on swept fields that changed
/// nothing (see `axis_notes`), without summarizing the points.
pub(crate) fn conflicts_and_axis_notes(records: &[RunRecord]) -> (Vec<String>, Vec<String>) {
    let (by_key, conflicts) = deduplicate(records);
    let points = points_in_order(&[], &by_key);
    (conflicts, axis_notes(&points, &by_key))
}

/// Settings that behaved identically: the same trace on every seed (at least two seeds), named
/// together, so that no one reads a difference into them.
fn identical_groups(points: &[Point], by_key: &BTreeMap<RunKey, &RunRecord>) -> Vec<String> {
    let mut groups: Vec<(BTreeMap<u64, &str>, Vec<String>)> = Vec::new();
    for point in points {
        let traces = hashes(by_key, point);
        if traces.len() < 2 {
            continue;
        }
        match groups.iter_mut().find(|(seen, _)| *seen == traces) {
            Some((_, names)) => names.push(label(point)),
            None => groups.push((traces, vec![label(point)])),
        }
    }
    groups
        .into_iter()
        .filter(|(_, names)| names.len() > 1)
        .map(|(traces, names)| {
            format!(
                "identical traces on every one of {} seeds: {} (the same behaviour here)",
                traces.len(),
                names.join(", ")
            )
        })
        .collect()
}

/// The per-seed trace hashes of a point.
fn hashes<'a>(by_key: &BTreeMap<RunKey, &'a RunRecord>, point: &Point) -> BTreeMap<u64, &'a str> {
    by_key
        .values()
        .filter(|record| &record.point == point)
        .map(|record| (record.seed, record.trace_sha256.as_str()))
        .collect()
}

/// The other swept fields' values and a seed: where one field's values are compared.
type Cell = (Vec<(String, String)>, u64);

/// For each swept field: in how many (other settings, seed) cells did changing it change the
/// trace at all? A field that changed nothing is said so, so that no one tunes it.
fn axis_notes(points: &[Point], by_key: &BTreeMap<RunKey, &RunRecord>) -> Vec<String> {
    let keys: Vec<String> = points
        .first()
        .map(|point| point.keys().cloned().collect())
        .unwrap_or_default();
    let mut notes = Vec::new();
    for key in &keys {
        // Cells: the other fields' values and a seed; identical when every value of `key` gave
        // the same trace there.
        let mut cells: BTreeMap<Cell, Vec<&str>> = BTreeMap::new();
        for point in points {
            let others: Vec<(String, String)> = point
                .iter()
                .filter(|(k, _)| *k != key)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            for (seed, hash) in hashes(by_key, point) {
                cells.entry((others.clone(), seed)).or_default().push(hash);
            }
        }
        let compared: Vec<&Vec<&str>> = cells.values().filter(|hashes| hashes.len() > 1).collect();
        if compared.is_empty() {
            continue;
        }
        let identical = compared
            .iter()
            .filter(|hashes| hashes.iter().all(|h| *h == hashes[0]))
            .count();
        if identical == compared.len() {
            notes.push(format!(
                "{key} has no effect here: identical traces in {identical} of {} cells",
                compared.len()
            ));
        } else if identical > 0 {
            notes.push(format!(
                "{key} changed nothing in {identical} of {} cells (identical traces)",
                compared.len()
            ));
        }
    }
    notes
}

/// The first 12 characters of a hash, or all of it when it is shorter (a result file may hold
/// anything).
fn short_hash(hash: &str) -> &str {
    hash.char_indices().nth(12).map_or(hash, |(at, _)| &hash[..at])
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
        failed_items: stat(|m| m.failed as f64),
        failed_good: stat(|m| m.failed_good as f64),
        unfinished: stat(|m| m.unfinished as f64),
        token_requests: stat(|m| m.token_requests as f64),
        quota_utilization: stat(|m| m.quota_utilization),
        duplicate_writes: stat(|m| m.duplicate_writes as f64),
        lost_writes: stat(|m| m.lost_writes as f64),
        fairness_jain: stat(|m| m.fairness_jain),
        makespan_ratio: stat(|m| m.makespan_ratio),
        early_sends: stat(|m| m.sends_before_retry_after as f64),
        runs_losing_work: runs
            .iter()
            .filter(|run| {
                let m = &run.metrics;
                m.gave_up > 0
                    || m.failed_good > 0
                    || m.unfinished > 0
                    || m.lost_writes > 0
                    || m.duplicate_writes > 0
            })
            .count(),
        recovery_s: {
            let recovered: Vec<f64> = runs
                .iter()
                .filter_map(|run| run.metrics.recovery.as_ref()?.recovery_s)
                .collect();
            (!recovered.is_empty()).then(|| Stat::of(recovered))
        },
        not_recovered: runs
            .iter()
            .filter(|run| {
                run.metrics
                    .recovery
                    .as_ref()
                    .is_some_and(|recovery| recovery.recovery_s.is_none())
            })
            .count(),
        frontier: false,
    }
}

/// The rule: among the settings that lose no work and pass the scenario's expectations on
/// every seed, the fewest median wasted attempts within 2% of the best median makespan (ties
/// broken by makespan, then p95 makespan, then grid order). Settings whose traces are identical
/// to the chosen one on every seed, or whose medians are within 1% of it, are named as ties.
fn recommend(
    points: &[PointSummary],
    eligible: &[usize],
    by_key: &BTreeMap<RunKey, &RunRecord>,
    notes: &mut Vec<String>,
) -> Option<(usize, String)> {
    if eligible.is_empty() {
        notes.push(
            "nothing is recommended: no setting finished all the work without giving up, leaving unfinished, \
             duplicating or losing any, and passed the scenario's expectations, on every seed"
                .to_string(),
        );
        return None;
    }
    // Only the settings that sent least into seen Retry-Afters compete: a setting that ignores
    // what the platform asked is not one to ship, however fast it finished here.
    let least_early = eligible
        .iter()
        .map(|&i| points[i].early_sends.median)
        .fold(f64::INFINITY, f64::min);
    let (candidates, set_aside): (Vec<usize>, Vec<usize>) = eligible
        .iter()
        .partition(|&&i| points[i].early_sends.median <= least_early);
    let best = candidates
        .iter()
        .map(|&i| points[i].makespan_s.median)
        .fold(f64::INFINITY, f64::min);
    let chosen = candidates
        .iter()
        .copied()
        .filter(|&i| points[i].makespan_s.median <= best * 1.02 + 1e-9)
        .min_by(|&a, &b| {
            let (pa, pb) = (&points[a], &points[b]);
            pa.wasted_attempts
                .median
                .total_cmp(&pb.wasted_attempts.median)
                .then(pa.makespan_s.median.total_cmp(&pb.makespan_s.median))
                .then(pa.makespan_s.p95.total_cmp(&pb.makespan_s.p95))
                .then(a.cmp(&b))
        })?;
    let p = &points[chosen];
    let among = match (least_early > 0.0, set_aside.is_empty()) {
        (true, _) => format!(
            "among the settings that sent fewest into seen Retry-Afters ({least_early:.0}, median; every setting sent some), "
        ),
        (false, false) => "among the settings that waited out every Retry-After they were told, ".to_string(),
        (false, true) => String::new(),
    };
    let mut reason = format!(
        "{among}fewest wasted attempts within 2% of the best makespan: median makespan {:.1} s (best {best:.1} s), \
         median wasted attempts {:.0}; all {} runs lost no work and met the scenario's expectations",
        p.makespan_s.median, p.wasted_attempts.median, p.runs
    );
    let faster: Vec<String> = set_aside
        .iter()
        .filter(|&&i| points[i].makespan_s.median < p.makespan_s.median)
        .map(|&i| {
            format!(
                "{} ({:.1} s, {:.0} sent into a seen Retry-After)",
                label(&points[i].point),
                points[i].makespan_s.median,
                points[i].early_sends.median
            )
        })
        .collect();
    if !faster.is_empty() {
        reason.push_str(&format!(
            "; faster, but sent more into seen Retry-Afters: {}",
            faster.join(", ")
        ));
    }
    let chosen_hashes = hashes(by_key, &p.point);
    let mut identical = Vec::new();
    let mut close = Vec::new();
    for &i in candidates.iter().filter(|&&i| i != chosen) {
        let other = &points[i];
        if hashes(by_key, &other.point) == chosen_hashes {
            identical.push(label(&other.point));
        } else if tied(other.makespan_s.median, p.makespan_s.median)
            && tied(other.wasted_attempts.median, p.wasted_attempts.median)
        {
            close.push(label(&other.point));
        }
    }
    if !identical.is_empty() {
        reason.push_str(&format!(
            "; identical traces on every seed with {}: the choice among them is arbitrary",
            identical.join(", ")
        ));
    }
    if !close.is_empty() {
        reason.push_str(&format!("; within noise (1%) of {}", close.join(", ")));
    }
    Some((chosen, reason))
}

/// Metrics of a finished run of 10 items, for tests of summaries.
#[cfg(test)]
pub(crate) fn test_metrics(makespan: f64, wasted: u64) -> Metrics {
    serde_json::from_value(serde_json::json!({
            "end": "completed", "makespan_s": makespan, "items": 10, "ok": 10, "failed": 0, "gave_up": 0, "unfinished": 0,
            "attempts": 10 + wasted, "wasted_attempts": wasted, "amplification": 1.0, "responses_429": 0,
            "responses_5xx": 0, "responses_401": 0, "responses_409": 0, "transport_errors": 0, "goodput_per_s": 1.0,
            "quota_utilization": 1.0, "best_makespan_s": 1.0, "latency_ms_p50": 1, "latency_ms_p95": 1,
            "latency_ms_p99": 1, "fairness_jain": 1.0, "token_requests": 1, "breaker_openings": 0,
            "duplicate_writes": 0, "lost_writes": 0, "sends_before_retry_after": 0, "gateway_requests": 10,
            "gateway_rate_limited": 0, "background_rejected": 0
        }))
    .expect("metrics")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::RunEnd;

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
                "end": "completed", "makespan_s": makespan, "items": 10, "ok": 10, "failed": 0, "gave_up": 0, "unfinished": 0,
                "attempts": 10 + wasted, "wasted_attempts": wasted, "amplification": 1.0, "responses_429": wasted,
                "responses_5xx": 0, "responses_401": 0, "responses_409": 0, "transport_errors": 0, "goodput_per_s": 1.0,
                "quota_utilization": 1.0, "best_makespan_s": 1.0, "makespan_ratio": 1.0, "latency_ms_p50": 1, "latency_ms_p95": 1,
                "latency_ms_p99": 1, "fairness_jain": 1.0, "token_requests": 1, "breaker_openings": 0,
                "duplicate_writes": 0, "lost_writes": 0, "sends_before_retry_after": 0, "gateway_requests": 10,
                "gateway_rate_limited": 0, "background_rejected": 0
            }))
            .unwrap();
            metrics.unfinished = u64::from(failed);
            if value == "quitter" {
                (metrics.ok, metrics.gave_up) = (2, 8);
            }
            let point: Point = [("k".to_string(), value.to_string())].into_iter().collect();
            RunRecord {
                environment: None,
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
            record("balanced", 0, 11.1, 10, false),
            record("balanced", 1, 11.3, 12, false),
            record("slow-frugal", 0, 60.0, 0, false),
            record("quitter", 0, 0.5, 0, false),
            record("dominated", 0, 70.0, 50, false),
            record("broken", 0, 1.0, 0, true),
            record("balanced", 1, 11.3, 12, false), // a duplicate from a merged shard
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
        // The rule: fewest wasted attempts within 2% of the best makespan. "balanced" is 1.8%
        // slower than "fast-wasteful" for a tenth of the waste.
        let (index, reason) = summary.recommended.clone().unwrap();
        assert_eq!(summary.points[index].point["k"], "balanced", "{reason}");
        assert!(reason.contains("within 2% of the best makespan"), "{reason}");
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
        let mut short = records.clone();
        short.push(RunRecord {
            trace_sha256: "ab".into(),
            ..records[0].clone()
        });
        short.push(RunRecord {
            trace_sha256: "é".repeat(20),
            ..records[0].clone()
        });
        let conflicts = summarize(&short, &[]).conflicts;
        assert!(conflicts[0].ends_with("vs ab"), "{conflicts:?}");
        assert_eq!(conflicts.len(), 2, "{conflicts:?}");
    }

    fn run(point: &[(&str, &str)], seed: u64, hash: &str, makespan: f64, wasted: u64) -> RunRecord {
        let metrics = test_metrics(makespan, wasted);
        RunRecord {
            environment: None,
            scenario: "s".into(),
            base: vec![],
            point: point
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            seed,
            index: 0,
            trace_sha256: hash.to_string(),
            end: RunEnd::Completed,
            failures: vec![],
            metrics,
        }
    }

    #[test]
    fn settings_with_the_same_traces_everywhere_are_named_together() {
        let mut records = Vec::new();
        for seed in 0..3 {
            records.push(run(&[("preset", "a")], seed, &format!("same-{seed}"), 10.0, 1));
            records.push(run(&[("preset", "b")], seed, &format!("same-{seed}"), 10.0, 1));
            records.push(run(&[("preset", "c")], seed, &format!("other-{seed}"), 12.0, 1));
        }
        let notes = summarize(&records, &[]).notes;
        let note = notes
            .iter()
            .find(|note| note.starts_with("identical traces"))
            .unwrap_or_else(|| panic!("{notes:?}"));
        assert!(
            note.contains("preset=a, preset=b") && !note.contains("preset=c"),
            "{note}"
        );
        assert!(note.contains("3 seeds"), "{note}");
    }

    #[test]
    fn a_grid_over_the_platform_or_the_load_recommends_no_point_of_it() {
        let records: Vec<RunRecord> = [("0.5", 30.0), ("1.5", 10.0)]
            .iter()
            .flat_map(|(rate, makespan)| {
                (0..3).map(move |seed| {
                    run(
                        &[("preset", "\"herdsim\""), ("arrivals.rate_per_s", rate)],
                        seed,
                        &format!("{rate}-{seed}"),
                        *makespan,
                        0,
                    )
                })
            })
            .collect();
        let summary = summarize(&records, &[]);
        assert_eq!(
            summary.recommended, None,
            "a lighter load is not a setting to ship"
        );
        assert!(
            summary
                .notes
                .iter()
                .any(|note| note.contains("arrivals.rate_per_s describes")),
            "{:?}",
            summary.notes
        );
        let settings: Vec<RunRecord> = records
            .iter()
            .map(|record| {
                let mut record = record.clone();
                record.point.shift_remove("arrivals.rate_per_s");
                record
                    .point
                    .insert("client.concurrency".into(), record.trace_sha256[..3].to_string());
                record
            })
            .collect();
        assert!(
            summarize(&settings, &[]).recommended.is_some(),
            "client settings are recommended"
        );
    }

    #[test]
    fn an_axis_that_changes_nothing_is_said_so_and_ties_are_named() {
        // jitter changes nothing: for each concurrency and seed, all jitters give one trace.
        let mut records = Vec::new();
        for concurrency in ["4", "8"] {
            for jitter in ["none", "full"] {
                for seed in 0..3 {
                    let hash = format!("c{concurrency}-s{seed}");
                    let makespan = if concurrency == "4" { 20.0 } else { 10.0 };
                    records.push(run(
                        &[("concurrency", concurrency), ("jitter", jitter)],
                        seed,
                        &hash,
                        makespan,
                        5,
                    ));
                }
            }
        }
        let summary = summarize(&records, &[]);
        assert!(
            summary
                .notes
                .iter()
                .any(|n| n == "jitter has no effect here: identical traces in 6 of 6 cells"),
            "{:?}",
            summary.notes
        );
        assert!(
            !summary.notes.iter().any(|n| n.starts_with("concurrency")),
            "{:?}",
            summary.notes
        );
        let (index, reason) = summary.recommended.clone().unwrap();
        assert_eq!(summary.points[index].point["concurrency"], "8");
        let other = if summary.points[index].point["jitter"] == "none" {
            "full"
        } else {
            "none"
        };
        assert!(
            reason.contains(&format!(
                "identical traces on every seed with concurrency=8 jitter={other}"
            )),
            "{reason}"
        );
    }

    #[test]
    fn a_setting_that_loses_work_is_never_recommended() {
        let mut quitter = run(&[("k", "quit")], 0, "q", 1.0, 0);
        quitter.metrics.gave_up = 1;
        let mut duplicator = run(&[("k", "dup")], 0, "d", 1.0, 0);
        duplicator.metrics.duplicate_writes = 1;
        let honest = run(&[("k", "slow")], 0, "s", 50.0, 10);
        let mut failing = run(&[("k", "fail")], 0, "f", 0.2, 0);
        (failing.metrics.ok, failing.metrics.failed) = (3, 7);
        let summary = summarize(&[quitter.clone(), duplicator.clone(), failing, honest], &[]);
        let (index, _) = summary.recommended.clone().unwrap();
        assert_eq!(summary.points[index].point["k"], "slow");
        let summary = summarize(&[quitter, duplicator], &[]);
        assert!(summary.recommended.is_none());
        assert!(
            summary
                .notes
                .iter()
                .any(|n| n.starts_with("nothing is recommended")),
            "{:?}",
            summary.notes
        );
    }

    #[test]
    fn a_setting_that_sends_into_seen_retry_afters_is_not_recommended_over_one_that_waits() {
        // (setting, makespan, wasted, early sends): the impatient one is faster and wastes no
        // more, but sent into Retry-Afters it had been told.
        let check = |rows: &[(&str, f64, u64, u64)], expect: &str, frontier: &[&str]| {
            let records: Vec<RunRecord> = rows
                .iter()
                .map(|&(name, makespan, wasted, early)| {
                    let mut record = run(&[("k", name)], 0, name, makespan, wasted);
                    record.metrics.sends_before_retry_after = early;
                    record
                })
                .collect();
            let summary = summarize(&records, &[]);
            let (index, reason) = summary.recommended.clone().expect("a recommendation");
            assert_eq!(summary.points[index].point["k"], expect, "{reason}");
            let mut on_frontier: Vec<&str> = summary
                .points
                .iter()
                .filter(|point| point.frontier)
                .map(|point| point.point["k"].as_str())
                .collect();
            on_frontier.sort_unstable();
            let mut frontier = frontier.to_vec();
            frontier.sort_unstable();
            assert_eq!(on_frontier, frontier);
            reason
        };
        let reason = check(
            &[("impatient", 3.4, 3, 7), ("patient", 5.5, 3, 0)],
            "patient",
            &["impatient", "patient"],
        );
        assert!(
            reason.contains("impatient"),
            "the faster one set aside is named: {reason}"
        );
        // When every setting sent early, the fewest early sends compete.
        let reason = check(
            &[("many", 3.0, 0, 9), ("few", 4.0, 0, 2)],
            "few",
            &["many", "few"],
        );
        assert!(
            reason.contains("every setting sent some") && !reason.contains("noise"),
            "{reason}"
        );
        // Early sends alone do not put a slower, more wasteful setting on the frontier.
        check(&[("clean", 3.0, 0, 0), ("late", 4.0, 5, 0)], "clean", &["clean"]);
    }
}
