//! Every text a person reads in a terminal: the metrics table of a run, its timeline, the sweep
//! table and the compare table. Markdown reports (in `lib.rs`) embed the same texts.

use std::fmt::Write as _;

use herd_sim::metrics::Metrics;
use herd_sim::run::RunEnd;
use herd_sim::sweep::{self, Summary};
use herd_sim::trace::{Record, Trace};
use serde_json::Value;

/// The summary table printed by `herdsim run`: one aligned line per group of metrics.
pub fn metrics_table(metrics: &Metrics) -> String {
    let end = match metrics.end {
        RunEnd::Completed => "completed",
        RunEnd::DurationLimit => "stopped at the duration limit",
        RunEnd::HostError => "stopped by a host error",
    };
    let rows: [(&str, String); 12] = [
        ("end", end.to_string()),
        (
            "makespan",
            format!(
                "{:.1} s  (lower bound at the allowed rate {:.1} s)",
                metrics.makespan_s, metrics.makespan_lower_bound_s
            ),
        ),
        (
            "items",
            format!(
                "{}  ok {}  failed {}  gave up {}  lost {}",
                metrics.items, metrics.ok, metrics.failed, metrics.gave_up, metrics.lost
            ),
        ),
        (
            "attempts",
            format!(
                "{}  wasted {}  amplification {:.2}",
                metrics.attempts, metrics.wasted_attempts, metrics.amplification
            ),
        ),
        (
            "responses",
            format!(
                "429: {}  5xx: {}  401: {}  409: {}  transport errors: {}",
                metrics.responses_429,
                metrics.responses_5xx,
                metrics.responses_401,
                metrics.responses_409,
                metrics.transport_errors
            ),
        ),
        (
            "quota",
            format!(
                "utilization {:.3}  goodput {:.2} items/s",
                metrics.quota_utilization, metrics.goodput_per_s
            ),
        ),
        (
            "latency",
            format!(
                "p50 {} ms  p95 {} ms  p99 {} ms",
                metrics.latency_ms_p50, metrics.latency_ms_p95, metrics.latency_ms_p99
            ),
        ),
        (
            "fairness",
            format!("{:.3} (Jain's index over workers)", metrics.fairness_jain),
        ),
        (
            "tokens",
            format!(
                "{} token requests  {} breaker openings",
                metrics.token_requests, metrics.breaker_openings
            ),
        ),
        (
            "writes",
            format!(
                "duplicates {}  lost {}",
                metrics.duplicate_writes, metrics.lost_writes
            ),
        ),
        (
            "early sends",
            format!(
                "{} attempts before a seen Retry-After had passed",
                metrics.sends_before_retry_after
            ),
        ),
        (
            "gateway",
            format!(
                "{} requests  {} rate-limited  {} background rejected",
                metrics.gateway_requests, metrics.gateway_rate_limited, metrics.background_rejected
            ),
        ),
    ];
    let mut out = String::new();
    for (label, value) in rows {
        out.push_str(&format!("  {label:<12} {value}\n"));
    }
    out
}

/// The readable timeline: one line per event, `time source who event key=value...`.
pub fn timeline(trace: &Trace) -> String {
    let mut out = String::new();
    for record in trace.records() {
        let body = record.body();
        let event = body.get("event").and_then(Value::as_str).unwrap_or("?");
        let who = match record {
            Record::Gateway(event) if event.request > 0 => format!("#{}", event.request),
            Record::Gateway(_) => "-".to_string(),
            Record::Client { event, .. } => format!("w{}", event.worker),
            Record::Network { .. } => "-".to_string(),
        };
        let seconds = format!("{:.3}s", record.at().as_micros() as f64 / 1e6);
        let _ = write!(
            out,
            "{seconds:>10} {:<9} {:<6} {:<18}",
            record.source(),
            who,
            event
        );
        if let Some(object) = body.as_object() {
            for (key, value) in object {
                if matches!(key.as_str(), "event" | "w" | "request") || value.is_null() {
                    continue;
                }
                match value {
                    Value::String(text) => {
                        let _ = write!(out, " {key}={text}");
                    }
                    other => {
                        let _ = write!(out, " {key}={other}");
                    }
                }
            }
        }
        out.push('\n');
    }
    out
}

/// The summary as an aligned text table, the frontier marked `*`, the recommendation `>`.
pub fn sweep_table(summary: &Summary) -> String {
    let labels: Vec<String> = summary.points.iter().map(|p| sweep::label(&p.point)).collect();
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

pub fn compare_table(summary: &Summary) -> String {
    let mut out = format!(
        "{:<24} {:>10} {:>9} {:>8} {:>7} {:>7} {:>8} {:>11} {:>9} {:>7}\n",
        "preset",
        "makespan s",
        "attempts",
        "429s",
        "quota",
        "ok",
        "gave up",
        "duplicates",
        "fairness",
        "failed"
    );
    for point in &summary.points {
        let name = sweep::preset_of(&point.point);
        out.push_str(&format!(
            "{name:<24} {:>10.1} {:>9.0} {:>8.0} {:>7.2} {:>7.0} {:>8.0} {:>11.0} {:>9.2} {:>7}\n",
            point.makespan_s.median,
            point.attempts.median,
            point.responses_429.median,
            point.quota_utilization.median,
            point.ok.median,
            point.gave_up.median,
            point.duplicate_writes.median,
            point.fairness_jain.median,
            point.failed_runs,
        ));
    }
    out.push_str("medians over seeds; `failed` counts runs that broke the scenario's own expectations\n");
    if let Some((index, reason)) = &summary.recommended {
        let name = sweep::preset_of(&summary.points[*index].point);
        out.push_str(&format!("best here: {name}\n  {reason}\n"));
    }
    out
}
