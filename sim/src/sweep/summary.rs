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
}
