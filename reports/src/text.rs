//! Every text a person reads in a terminal: the metrics table of a run, its timeline, the sweep
//! table and the compare table. Markdown reports (in `lib.rs`) embed the same texts.

use std::fmt::Write as _;

use herd_sim::metrics::Metrics;
use herd_sim::run::RunEnd;
use herd_sim::sweep::{self, Summary, SwarmSummary};
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
            if metrics.best_makespan_s > 0.0 {
                format!(
                    "{:.1} s  (best possible {:.1} s, ratio {:.2})",
                    metrics.makespan_s, metrics.best_makespan_s, metrics.makespan_ratio
                )
            } else {
                format!(
                    "{:.1} s  (no client could finish this workload within duration_s)",
                    metrics.makespan_s
                )
            },
        ),
        (
            "items",
            format!(
                "{}  ok {}  failed {}{}  gave up {}  unfinished {}",
                metrics.items,
                metrics.ok,
                metrics.failed,
                if metrics.failed_good > 0 {
                    format!(
                        " ({} of them good items: a retryable answer taken as final)",
                        metrics.failed_good
                    )
                } else {
                    String::new()
                },
                metrics.gave_up,
                metrics.unfinished
            ),
        ),
        ("attempts", {
            // Waste counts the token requests beyond one per lifetime too, which `attempts`
            // (API requests) does not: say so, or waste can read as more than every attempt.
            let tokens = match metrics.token_requests_excess {
                0 => String::new(),
                excess => format!(" ({excess} of them token requests)"),
            };
            format!(
                "{}  wasted {}{tokens}  amplification {:.2}",
                metrics.attempts, metrics.wasted_attempts, metrics.amplification
            )
        }),
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
                "{} token requests ({} beyond one per lifetime per instance)  {} breaker openings",
                metrics.token_requests, metrics.token_requests_excess, metrics.breaker_openings
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
    if let Some(recovery) = &metrics.recovery {
        out.push_str(&recovery_lines(recovery));
    }
    let peaks: Vec<String> = metrics.in_flight_max.iter().map(u64::to_string).collect();
    if !peaks.is_empty() {
        let opened: Vec<String> = metrics.connections_opened.iter().map(u64::to_string).collect();
        out.push_str(&format!(
            "  {:<12} {} most attempts at once; {} connections opened (per instance)\n",
            "in flight",
            peaks.join(" / "),
            opened.join(" / ")
        ));
    }
    if metrics.by_priority.len() > 1 {
        let parts: Vec<String> = metrics
            .by_priority
            .iter()
            .map(|(priority, stats)| {
                format!(
                    "{priority} {}/{} ok p50 {} ms p95 {} ms",
                    stats.ok, stats.items, stats.latency_ms_p50, stats.latency_ms_p95
                )
            })
            .collect();
        out.push_str(&format!("  {:<12} {}\n", "priorities", parts.join("  ")));
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

/// The summary as an aligned text table, the frontier marked `*`, the recommendation `>`;
/// every cost has a column, and the notes say which axes changed nothing.
pub fn sweep_table(summary: &Summary) -> String {
    let labels: Vec<String> = summary.points.iter().map(|p| sweep::label(&p.point)).collect();
    let width = labels.iter().map(String::len).max().unwrap_or(0).max(7);
    let mut out = format!(
        "   {:<width$} {:>5} {:>17} {:>6} {:>15} {:>15} {:>8} {:>6} {:>7} {:>7} {:>6} {:>10} {:>7} {:>6} {:>6}\n",
        "setting",
        "runs",
        "makespan s med/p95",
        "×best",
        "attempts med/p95",
        "wasted med/p95",
        "429 med",
        "early",
        "tokens",
        "gave up",
        "failed",
        "unfinished",
        "dup/lost",
        "quota",
        "broke"
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
            "{mark}  {label:<width$} {:>5} {:>8.1}/{:<8.1} {:>6.2} {:>7.0}/{:<7.0} {:>7.0}/{:<7.0} {:>8.0} {:>6.0} {:>7.0} {:>7.0} {:>6.0} {:>10.0} {:>3.0}/{:<3.0} {:>6.2} {:>6}\n",
            point.runs,
            point.makespan_s.median,
            point.makespan_s.p95,
            point.makespan_ratio.median,
            point.attempts.median,
            point.attempts.p95,
            point.wasted_attempts.median,
            point.wasted_attempts.p95,
            point.responses_429.median,
            point.early_sends.median,
            point.token_requests.median,
            point.gave_up.median,
            point.failed_items.median,
            point.unfinished.median,
            point.duplicate_writes.median,
            point.lost_writes.median,
            point.quota_utilization.median,
            point.failed_runs,
        ));
    }
    out.push_str(
        "   * on the Pareto frontier (median makespan vs median wasted attempts, at no more early sends)   > recommended\n   \
         medians over seeds; ×best is makespan over the best any client could do; `early` counts attempts \
         sent into a Retry-After the client had been told (no setting with more of them beats one with \
         fewer); `broke` counts runs that failed the scenario's expectations\n",
    );
    recovery_block(&mut out, summary, &labels);
    finish(&mut out, summary, &labels, "recommended");
    out
}

/// With a trigger: each setting's recovery, the median over the seeds that recovered and how
/// many did not.
fn recovery_block(out: &mut String, summary: &Summary, labels: &[String]) {
    if summary
        .points
        .iter()
        .all(|point| point.recovery_s.is_none() && point.not_recovered == 0)
    {
        return;
    }
    out.push_str("recovery from the trigger (median s after its end, over the seeds that recovered):\n");
    let width = labels.iter().map(String::len).max().unwrap_or(0);
    for (point, label) in summary.points.iter().zip(labels) {
        let median = point
            .recovery_s
            .map_or_else(|| "never".to_string(), |stat| format!("{:.0} s", stat.median));
        let missed = if point.not_recovered > 0 {
            format!(
                "  did not recover in {} of {} runs",
                point.not_recovered, point.runs
            )
        } else {
            String::new()
        };
        out.push_str(&format!("   {label:<width$} {median:>8}{missed}\n"));
    }
}

/// The recommendation with its reason, the notes, and any nondeterminism found.
fn finish(out: &mut String, summary: &Summary, labels: &[String], headline: &str) {
    if let Some((index, reason)) = &summary.recommended {
        out.push_str(&format!("{headline}: {}\n  {reason}\n", labels[*index]));
    }
    for note in &summary.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    for conflict in &summary.conflicts {
        out.push_str(&format!("NONDETERMINISM: {conflict}\n"));
    }
}

/// Every preset side by side, with every cost: what it gave up, left unfinished, duplicated or
/// lost, and how many tokens it asked for.
pub fn compare_table(summary: &Summary) -> String {
    let mut out = format!(
        "{:<24} {:>10} {:>6} {:>9} {:>8} {:>6} {:>7} {:>7} {:>7} {:>8} {:>7} {:>10} {:>8} {:>9} {:>6}\n",
        "preset",
        "makespan s",
        "×best",
        "attempts",
        "wasted",
        "early",
        "tokens",
        "ok",
        "gave up",
        "failed",
        "unfin.",
        "duplicates",
        "lost wr.",
        "fairness",
        "broke"
    );
    for point in &summary.points {
        let name = sweep::preset_of(&point.point);
        out.push_str(&format!(
            "{name:<24} {:>10.1} {:>6.2} {:>9.0} {:>8.0} {:>6.0} {:>7.0} {:>7.0} {:>7.0} {:>8.0} {:>7.0} {:>10.0} {:>8.0} {:>9.2} {:>6}\n",
            point.makespan_s.median,
            point.makespan_ratio.median,
            point.attempts.median,
            point.wasted_attempts.median,
            point.early_sends.median,
            point.token_requests.median,
            point.ok.median,
            point.gave_up.median,
            point.failed_items.median,
            point.unfinished.median,
            point.duplicate_writes.median,
            point.lost_writes.median,
            point.fairness_jain.median,
            point.failed_runs,
        ));
    }
    out.push_str(
        "medians over seeds; `early` counts attempts sent into a Retry-After the client had been told, `failed` \
         items that ended in a permanent error, `broke` runs that failed the scenario's expectations\n",
    );
    let names: Vec<String> = summary
        .points
        .iter()
        .map(|point| sweep::preset_of(&point.point))
        .collect();
    recovery_block(&mut out, summary, &names);
    finish(&mut out, summary, &names, "best here");
    out
}

/// The scorecard as text: the total's lines (pass or FAIL, value against what the rule allows,
/// the rule, the worst example), then one line per client.
pub fn scorecard(report: &herd_sim::scorecard::ScorecardReport) -> String {
    let mut out = String::new();
    let verdict = |pass: bool| if pass { "pass" } else { "FAIL" };
    let _ = writeln!(
        out,
        "scorecard: {} — {} requests, {} answered 429, {} token requests, {} client(s)",
        verdict(report.pass).to_uppercase(),
        report.total.requests,
        report.total.rate_limited,
        report.total.token_requests,
        report.clients.len()
    );
    for line in &report.total.lines {
        let _ = writeln!(
            out,
            "  {:<4} {:<18} {:>7} (allowed {}): {}",
            verdict(line.pass),
            line.id,
            line.value,
            line.allowed,
            line.rule
        );
        if let Some(worst) = line.worst.as_ref().filter(|_| !line.pass) {
            let status = worst
                .status
                .map_or("no answer".to_string(), |status| status.to_string());
            let _ = writeln!(
                out,
                "       worst: {:.3}s {} {} -> {status}: {}",
                worst.t_s, worst.method, worst.target, worst.note
            );
        }
        for (key, count) in line.by.iter().filter(|_| !line.pass) {
            let _ = writeln!(out, "       {key}: {count}");
        }
    }
    for card in &report.clients {
        let failed = card.failed();
        let _ = writeln!(
            out,
            "  client {}: {} requests, {} answered 429, {} token requests; {}",
            card.client,
            card.requests,
            card.rate_limited,
            card.token_requests,
            if failed.is_empty() {
                "passes every rule".to_string()
            } else {
                format!("fails {}", failed.join(", "))
            }
        );
    }
    out
}

/// A swarm sweep: each setting's worst and mean ratio to the exact bound, how many environments
/// it breaks, then every setting's ratio in every environment (`✗` where it breaks), the
/// environments, and the recommendation with the command that replays it.
pub fn swarm_table(summary: &SwarmSummary, replay: &str) -> String {
    let labels: Vec<String> = summary.settings.iter().map(|s| sweep::label(&s.point)).collect();
    let width = labels.iter().map(String::len).max().unwrap_or(0).max(7);
    let mut out = format!(
        "   {:<width$} {:>7} {:>5} {:>6} {:>7}",
        "setting", "worst×", "in", "mean×", "breaks"
    );
    for env in &summary.environments {
        let _ = write!(out, " {:>6}", env.name());
    }
    out.push('\n');
    for (index, (setting, label)) in summary.settings.iter().zip(&labels).enumerate() {
        let mark = match (
            summary.recommended.as_ref().is_some_and(|(i, _)| *i == index),
            setting.pareto_robust,
        ) {
            (true, _) => ">",
            (false, true) => "*",
            _ => " ",
        };
        let worst_in = setting
            .worst_environment
            .and_then(|i| summary.environments.get(i))
            .map_or_else(|| "-".to_string(), sweep::Environment::name);
        if setting.worst_environment.is_some() {
            let _ = write!(
                out,
                "{mark}  {label:<width$} {:>7.2} {worst_in:>5} {:>6.2} {:>7}",
                setting.worst_ratio, setting.mean_ratio, setting.broken
            );
        } else {
            let _ = write!(
                out,
                "{mark}  {label:<width$} {:>7} {:>5} {:>6} {:>7}",
                "-", "-", "-", setting.broken
            );
        }
        for cell in &setting.cells {
            match cell {
                None => out.push_str(&format!(" {:>6}", "-")),
                Some(cell) if cell.breaks.is_some() => {
                    out.push_str(&format!(" {:>5.2}✗", cell.makespan_ratio.median));
                }
                Some(cell) => out.push_str(&format!(" {:>6.2}", cell.makespan_ratio.median)),
            }
        }
        out.push('\n');
    }
    out.push_str(
        "   ratios are median makespan over each environment's exact bound (1.00 = the best any client could do);\n   \
         worst× and mean× are over the environments where the setting holds\n   \
         ✗ breaks there (failed the expectations, lost or left work, or finished fewer items ok)\n   \
         * Pareto-robust (breaks nowhere, and no such setting is as close to the bound everywhere and closer somewhere)   \
         > recommended\n",
    );
    out.push_str("environments:\n");
    for env in &summary.environments {
        let _ = writeln!(out, "  {:<4} {}", env.name(), env.label());
    }
    if let Some((index, reason)) = &summary.recommended {
        let setting = &summary.settings[*index];
        let _ = writeln!(out, "recommended: {}\n  {reason}", labels[*index]);
        if let Some(env) = setting
            .worst_environment
            .and_then(|i| summary.environments.get(i))
        {
            let sets: String = sweep::overrides(&setting.point)
                .iter()
                .map(|set| format!(" --set '{set}'"))
                .collect();
            let _ = writeln!(
                out,
                "  its worst environment: {replay}{sets} --swarm-env {}:{}",
                env.seed, env.index
            );
        }
    }
    for (setting, label) in summary.settings.iter().zip(&labels) {
        let breaks: Vec<String> = setting
            .cells
            .iter()
            .zip(&summary.environments)
            .filter_map(|(cell, env)| Some(format!("{} ({})", env.name(), cell.as_ref()?.breaks.as_ref()?)))
            .collect();
        if !breaks.is_empty() {
            let _ = writeln!(out, "{label} breaks in {}", breaks.join("; "));
        }
    }
    for note in &summary.notes {
        let _ = writeln!(out, "note: {note}");
    }
    for conflict in &summary.conflicts {
        let _ = writeln!(out, "NONDETERMINISM: {conflict}");
    }
    out
}

/// The recovery from a trigger, for the metrics table: when it recovered (or that it did not),
/// against what, and the work amplification during the trigger and after it.
fn recovery_lines(recovery: &herd_sim::metrics::recovery::Recovery) -> String {
    let amplification = |value: Option<f64>, attempts: u64| match value {
        Some(value) => format!("{value:.2}"),
        None => format!("∞ ({attempts} attempts, no item done ok)"),
    };
    let against = if recovery.allowed_per_s > 0.0 {
        format!("goodput ≥ 90% of {:.2} items/s", recovery.allowed_per_s)
    } else {
        "no rate to meet".to_string()
    };
    let mut when = match recovery.recovery_s {
        Some(seconds) => format!("recovered {seconds:.0} s after it ended"),
        None => "NOT RECOVERED before the run ended".to_string(),
    };
    if recovery.dropped > 0 {
        when.push_str(&format!(", dropping {} good items on the way", recovery.dropped));
    }
    format!(
        "  {:<12} {}: {when} ({against}, backlog back to {} or less)\n  {:<12} backlog peak {}; amplification {} during, {} after (attempts of the items that ended, per item done ok)\n",
        "recovery",
        recovery.trigger,
        recovery.backlog_target,
        "",
        recovery.backlog_peak,
        amplification(recovery.amplification_during(), recovery.attempts_during),
        amplification(recovery.amplification_after(), recovery.attempts_after),
    )
}
