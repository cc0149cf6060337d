//! herd-reports: a markdown summary and SVG charts for a run, a sweep or a comparison, written
//! into one directory (`--report DIR`). Every report names the command that regenerates it.

pub mod charts;
pub mod html;
pub mod text;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use herd_sim::metrics::quota;
use herd_sim::run::Run;
use herd_sim::scenario::Scenario;
use herd_sim::sweep::{self, Summary, SwarmSummary};

use crate::charts::{RateSteps, ScatterPoint};

/// Swimlanes are drawn for runs with at most this many workers (one lane each).
pub const SWIMLANE_WORKERS_MAX: u64 = 60;

/// What a run report is made of.
pub struct RunReport<'a> {
    pub scenario: &'a Scenario,
    pub seed: u64,
    /// The command that regenerates the report.
    pub command: &'a str,
    pub run: &'a Run,
}

fn create_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|error| format!("cannot create {}: {error}", dir.display()))
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|error| format!("cannot write {}: {error}", path.display()))
}

/// Writes `report.md`, `requests.svg`, `backoff.svg` and (for small runs) `swimlanes.svg`.
/// Returns the markdown file's path.
pub fn write_run(dir: &Path, report: &RunReport<'_>) -> Result<PathBuf, String> {
    create_dir(dir)?;
    let RunReport {
        scenario,
        seed,
        command,
        run,
    } = report;
    let chart_error = |name: &'static str| move |error: String| format!("{name}: {error}");
    charts::requests_per_second(&run.trace, &allowed_rate(scenario), &dir.join("requests.svg"))
        .map_err(chart_error("requests.svg"))?;
    charts::backoff_histogram(&run.trace, &dir.join("backoff.svg")).map_err(chart_error("backoff.svg"))?;
    let lanes = scenario.total_workers() <= SWIMLANE_WORKERS_MAX;
    if lanes {
        charts::swimlanes(
            &run.trace,
            SWIMLANE_WORKERS_MAX as usize,
            &dir.join("swimlanes.svg"),
        )
        .map_err(chart_error("swimlanes.svg"))?;
    }
    let mut md = String::new();
    let _ = writeln!(md, "# {} — seed {seed}\n", scenario.name);
    for line in scenario.description.lines() {
        let _ = writeln!(md, "> {line}");
    }
    let _ = writeln!(md, "\nRegenerate: `{command}`\n");
    let _ = writeln!(
        md,
        "Preset `{}` · {} instance(s) × {} workers · trace sha256 `{}` ({} events)\n",
        scenario.preset.name(),
        scenario.instances.count,
        scenario.instances.workers,
        run.trace.hash(),
        run.trace.len()
    );
    let _ = writeln!(
        md,
        "## Metrics\n\n```text\n{}```\n",
        text::metrics_table(&run.metrics)
    );
    if run.failures.is_empty() {
        let _ = writeln!(md, "The run met the scenario's expectations.\n");
    } else {
        let _ = writeln!(md, "**The run failed the scenario's expectations:**\n");
        for failure in &run.failures {
            let _ = writeln!(md, "- {failure}");
        }
        md.push('\n');
    }
    let _ = writeln!(
        md,
        "## Requests per second against the limit\n\n![requests per second](requests.svg)\n"
    );
    let _ = writeln!(md, "Admitted, rate-limited and faulted requests per second at the gateway; the line is the average rate the first limit allows (all keys in use).\n");
    if lanes {
        let _ = writeln!(md, "## Workers\n\n![swimlanes](swimlanes.svg)\n");
        let _ = writeln!(md, "One lane per worker: each attempt from send to answer (green 2xx, orange 429, blue 409, red 5xx or no answer), waits in grey.\n");
    }
    let _ = writeln!(md, "## Backoff delays\n\n![backoff delays](backoff.svg)\n");
    let _ = writeln!(md, "## Every request, zoomable\n\n[report.html](report.html) draws every request with its answer, zoomable to the millisecond (one self-contained file).\n");
    let intro = format!(
        "<p>Seed {seed} · trace sha256 <code>{}</code> · regenerate: <code>{}</code></p><pre>{}</pre>",
        run.trace.hash(),
        html::escape(command),
        html::escape(&text::metrics_table(&run.metrics))
    );
    write(
        &dir.join("report.html"),
        &html::timeline_page(
            &format!("{} — seed {seed}", scenario.name),
            &intro,
            &trace_points(&run.trace),
        ),
    )?;
    let path = dir.join("report.md");
    write(&path, &md)?;
    Ok(path)
}

/// What a served session's report is made of (`herdsim serve --report DIR`).
pub struct ServeReport<'a> {
    pub scenario: &'a Scenario,
    pub command: &'a str,
    pub scorecard: &'a herd_sim::scorecard::ScorecardReport,
    /// Each request's time (µs since the server started) and answer class.
    pub points: &'a [(u64, u8)],
    /// Requests left out of `points` because it was full.
    pub dropped: u64,
}

/// Writes `report.md` (the scorecard and the requests chart), `requests.svg`, `scorecard.json`
/// and `report.html` (the scorecard and the zoomable timeline) for a served session.
pub fn write_serve(dir: &Path, report: &ServeReport<'_>) -> Result<PathBuf, String> {
    create_dir(dir)?;
    let end_s = report.points.last().map_or(1.0, |(t_us, _)| *t_us as f64 / 1e6);
    // Slots as in runs: 2xx and other 4xx were admitted, 429 refused, 5xx and no answer faults.
    let slots = report
        .points
        .iter()
        .map(|(t_us, class)| (*t_us, [0, 1, 2, 0, 2][usize::from(*class)]));
    charts::requests_per_second_of(
        slots,
        end_s,
        &allowed_rate(report.scenario),
        "time since the server started (s)",
        &dir.join("requests.svg"),
    )
    .map_err(|error| format!("requests.svg: {error}"))?;
    let card = text::scorecard(report.scorecard);
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# herdsim serve: {}
",
        report.scenario.name
    );
    let _ = writeln!(
        md,
        "Served by: `{}`
",
        report.command
    );
    let _ = writeln!(
        md,
        "## Scorecard

```text
{card}```
"
    );
    let _ = writeln!(
        md,
        "| rule | value | allowed | verdict | worst example |
|---|---|---|---|---|"
    );
    for line in &report.scorecard.total.lines {
        let worst = line.worst.as_ref().map_or(String::new(), |worst| {
            format!(
                "{:.3} s `{} {}` → {}: {}",
                worst.t_s,
                worst.method,
                worst.target,
                worst
                    .status
                    .map_or("no answer".to_string(), |status| status.to_string()),
                worst.note
            )
        });
        let _ = writeln!(
            md,
            "| {}: {} | {} | {} | {} | {} |",
            line.id,
            line.rule,
            line.value,
            line.allowed,
            if line.pass { "pass" } else { "**FAIL**" },
            worst.replace('|', "\\|")
        );
    }
    let _ = writeln!(
        md,
        "
## Requests per second against the limit

![requests per second](requests.svg)
"
    );
    let _ = writeln!(
        md,
        "Every request with its answer, zoomable to the millisecond: [report.html](report.html).
"
    );
    if report.dropped > 0 {
        let _ = writeln!(
            md,
            "The timeline holds the last {} requests; {} earlier ones are left out.
",
            report.points.len(),
            report.dropped
        );
    }
    write(
        &dir.join("scorecard.json"),
        &serde_json::to_string_pretty(report.scorecard).map_err(|error| error.to_string())?,
    )?;
    let intro = format!(
        "<p>Served by <code>{}</code>.</p><pre>{}</pre>",
        html::escape(report.command),
        html::escape(&card)
    );
    write(
        &dir.join("report.html"),
        &html::timeline_page(
            &format!("herdsim serve: {}", report.scenario.name),
            &intro,
            report.points,
        ),
    )?;
    let path = dir.join("report.md");
    write(&path, &md)?;
    Ok(path)
}

/// Each gateway request of a trace with its answer class, for the HTML timeline: the last
/// answer event of each request decides (a lost response after an admission is no answer).
pub fn trace_points(trace: &herd_sim::trace::Trace) -> Vec<(u64, u8)> {
    use herd_gateway::events::GatewayEventKind as Kind;
    use herd_sim::scorecard::series::class_of;
    let mut points: Vec<(u64, u64, u8)> = Vec::new();
    let mut index_of: std::collections::BTreeMap<u64, usize> = std::collections::BTreeMap::new();
    for record in trace.records() {
        let herd_sim::trace::Record::Gateway(event) = record else {
            continue;
        };
        if event.request == 0 {
            continue;
        }
        let class = match &event.kind {
            Kind::Admitted { status, .. }
            | Kind::BadRequest { status, .. }
            | Kind::TokenRefused { status, .. } => class_of(Some(*status)),
            Kind::Fault { status, .. } => class_of((*status != 0).then_some(*status)),
            Kind::RateLimited { .. } => 1,
            Kind::Unauthorized { .. } | Kind::Forbidden { .. } => 3,
            Kind::TokenIssued { .. } => 0,
            _ => continue,
        };
        match index_of.get(&event.request) {
            Some(&index) => points[index].2 = class,
            None => {
                index_of.insert(event.request, points.len());
                points.push((event.at.as_micros(), event.request, class));
            }
        }
    }
    points.into_iter().map(|(t_us, _, class)| (t_us, class)).collect()
}

/// The average request rate the scenario's first (non-OAuth) limit allows over time, for every
/// key in use at once: one per instance for token-keyed rules, one per OAuth client in use for
/// client-keyed ones.
pub fn allowed_rate(scenario: &Scenario) -> RateSteps {
    let Some(rule) = quota::quota_rule(scenario) else {
        return Vec::new();
    };
    let rate = |limit: u64| quota::rate_per_s(scenario, &rule, limit);
    let mut steps = vec![(0.0, rate(rule.limit))];
    for change in &rule.schedule {
        steps.push((change.at_s as f64, rate(change.limit)));
    }
    steps
}

/// Writes a sweep's `report.md` and `frontier.svg`. Returns the markdown file's path.
pub fn write_sweep(dir: &Path, summary: &Summary, command: &str, seeds: &str) -> Result<PathBuf, String> {
    create_dir(dir)?;
    let title = format!(
        "{}: makespan against wasted attempts per setting",
        summary.scenario
    );
    charts::makespan_vs_wasted(&title, &scatter(summary, sweep::label), &dir.join("frontier.svg"))
        .map_err(|error| format!("frontier.svg: {error}"))?;
    let mut md = String::new();
    let _ = writeln!(md, "# Sweep of {} over seeds {seeds}\n", summary.scenario);
    let _ = writeln!(md, "Regenerate: `{command}`\n");
    if let Some((index, reason)) = &summary.recommended {
        let _ = writeln!(
            md,
            "**Recommended: `{}`** — {reason}.\n",
            sweep::label(&summary.points[*index].point)
        );
    }
    md.push_str(&markdown_table(summary));
    let _ = writeln!(md, "\n![makespan against wasted attempts](frontier.svg)\n");
    let _ = writeln!(md, "Each point is a setting's median over seeds; the green line joins the Pareto frontier (no other setting is both faster and less wasteful without sending more into seen Retry-Afters); the ring marks the recommendation.\n");
    md.push_str(&recovery_section(dir, summary)?);
    notes_and_conflicts(&mut md, summary);
    let path = dir.join("report.md");
    write(&path, &md)?;
    Ok(path)
}

/// The markdown of a sweep's or a comparison's recovery chart, after writing it; empty when the
/// scenario has no trigger.
fn recovery_section(dir: &Path, summary: &Summary) -> Result<String, String> {
    if !write_recovery_chart(dir, summary)? {
        return Ok(String::new());
    }
    Ok("![recovery from the trigger](recovery.svg)\n\nEach cell is the median time from the trigger's end until goodput is back within 10% of the allowed rate and the backlog is drained, over the seeds that recovered; grey ✗ where most seeds did not recover before the run ended (the count says how many did not). With two swept fields, the first goes down and the second across.\n\n".to_string())
}

/// `recovery.svg` for a sweep of a scenario with a trigger: the recovery time of every setting,
/// laid out as a grid when two fields were swept. Returns whether it wrote one.
fn write_recovery_chart(dir: &Path, summary: &Summary) -> Result<bool, String> {
    if summary
        .points
        .iter()
        .all(|point| point.recovery_s.is_none() && point.not_recovered == 0)
    {
        return Ok(false);
    }
    let keys: Vec<&String> = summary
        .points
        .first()
        .map(|point| point.point.keys().collect())
        .unwrap_or_default();
    let values = |key: &String| -> Vec<String> {
        let mut values: Vec<String> = Vec::new();
        for point in &summary.points {
            if let Some(value) = point.point.get(key) {
                if !values.contains(value) {
                    values.push(value.clone());
                }
            }
        }
        values
    };
    let (rows, columns): (Vec<String>, Vec<String>) = match keys.as_slice() {
        [first, second] => (
            values(first).iter().map(|v| format!("{first}={v}")).collect(),
            values(second),
        ),
        _ => (
            summary.points.iter().map(|p| sweep::label(&p.point)).collect(),
            vec!["recovery".to_string()],
        ),
    };
    let slowest = summary
        .points
        .iter()
        .filter_map(|point| point.recovery_s.map(|stat| stat.median))
        .fold(1.0, f64::max);
    let cell = |point: &sweep::PointSummary| -> charts::MatrixCell {
        let most_failed = point.not_recovered * 2 > point.runs;
        match point.recovery_s {
            Some(stat) if !most_failed => charts::MatrixCell {
                text: if point.not_recovered > 0 {
                    format!("{:.0} s ({}✗)", stat.median, point.not_recovered)
                } else {
                    format!("{:.0} s", stat.median)
                },
                fill: Some(stat.median / slowest),
            },
            _ => charts::MatrixCell {
                text: format!("✗ {}/{}", point.not_recovered, point.runs),
                fill: None,
            },
        }
    };
    let cells: Vec<Vec<Option<charts::MatrixCell>>> = match keys.as_slice() {
        [first, second] => values(first)
            .iter()
            .map(|row| {
                values(second)
                    .iter()
                    .map(|column| {
                        summary
                            .points
                            .iter()
                            .find(|p| {
                                p.point.get(*first) == Some(row) && p.point.get(*second) == Some(column)
                            })
                            .map(cell)
                    })
                    .collect()
            })
            .collect(),
        _ => summary
            .points
            .iter()
            .map(|point| vec![Some(cell(point))])
            .collect(),
    };
    let title = match keys.as_slice() {
        [_, second] => format!(
            "{}: recovery from the trigger ({second} across)",
            summary.scenario
        ),
        _ => format!("{}: recovery from the trigger", summary.scenario),
    };
    charts::matrix(
        &title,
        &rows,
        &columns,
        &cells,
        None,
        "median seconds from the trigger's end to recovery: green fast, red slow; grey ✗: most seeds never recovered",
        &dir.join("recovery.svg"),
    )
    .map_err(|error| format!("recovery.svg: {error}"))?;
    Ok(true)
}

/// Writes a swarm sweep's `report.md` and `swarm.svg` (every setting in every environment).
/// `replay` starts the command that replays one run. Returns the markdown file's path.
pub fn write_swarm(
    dir: &Path,
    summary: &SwarmSummary,
    command: &str,
    seeds: &str,
    replay: &str,
) -> Result<PathBuf, String> {
    create_dir(dir)?;
    let rows: Vec<String> = summary.settings.iter().map(|s| sweep::label(&s.point)).collect();
    let columns: Vec<String> = summary
        .environments
        .iter()
        .map(sweep::Environment::name)
        .collect();
    let cells: Vec<Vec<Option<charts::MatrixCell>>> = summary
        .settings
        .iter()
        .map(|setting| {
            setting
                .cells
                .iter()
                .map(|cell| {
                    cell.as_ref().map(|cell| {
                        let ratio = cell.makespan_ratio.median;
                        match cell.breaks {
                            Some(_) => charts::MatrixCell {
                                text: format!("✗{ratio:.2}"),
                                fill: None,
                            },
                            None => charts::MatrixCell {
                                text: format!("{ratio:.2}"),
                                fill: Some((ratio - 1.0) / 2.0),
                            },
                        }
                    })
                })
                .collect()
        })
        .collect();
    let title = format!(
        "{}: every setting in {} environments",
        summary.scenario,
        summary.environments.len()
    );
    charts::matrix(
        &title,
        &rows,
        &columns,
        &cells,
        summary.recommended.as_ref().map(|(i, _)| *i),
        "median makespan ÷ the environment's exact bound: green 1.0, yellow 2.0, red ≥ 3.0; grey ✗: breaks there; outlined: recommended",
        &dir.join("swarm.svg"),
    )
    .map_err(|error| format!("swarm.svg: {error}"))?;
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Swarm sweep of {} over seeds {seeds}, in {} environments\n",
        summary.scenario,
        summary.environments.len()
    );
    let _ = writeln!(md, "Regenerate: `{command}`\n");
    match &summary.recommended {
        Some((index, reason)) => {
            let _ = writeln!(md, "**Recommended: `{}`** — {reason}.\n", rows[*index]);
        }
        None => {
            let _ = writeln!(md, "**Nothing is recommended** (see the notes).\n");
        }
    }
    let _ = writeln!(md, "![every setting in every environment](swarm.svg)\n");
    md.push_str("Each cell is a setting's median makespan over seeds, divided by that environment's exact bound (the best any client could do there). A ✗ marks an environment where the setting breaks: it failed the scenario's expectations, gave up, left, duplicated or lost work, or finished fewer items ok than another setting. *Pareto-robust*: breaks nowhere, and no other such setting is as close to the bound in every environment and closer in one.\n\n");
    md.push_str(
        "| setting | worst × | in | mean × | breaks | Pareto-robust |\n|---|---:|---|---:|---:|---|\n",
    );
    for (setting, label) in summary.settings.iter().zip(&rows) {
        let worst_in = setting
            .worst_environment
            .and_then(|i| summary.environments.get(i))
            .map_or_else(|| "-".to_string(), sweep::Environment::name);
        let _ = writeln!(
            md,
            "| `{label}` | {:.2} | {worst_in} | {:.2} | {} | {} |",
            setting.worst_ratio,
            setting.mean_ratio,
            setting.broken,
            if setting.pareto_robust { "yes" } else { "" }
        );
    }
    md.push_str("\n## Environments\n\nEach replays with its `--swarm-env`; the first is the scenario as written.\n\n| | drawn | replay |\n|---|---|---|\n");
    for env in &summary.environments {
        let _ = writeln!(
            md,
            "| {} | {} | `{replay} --swarm-env {}:{}` |",
            env.name(),
            env.label(),
            env.seed,
            env.index
        );
    }
    let breaks: Vec<String> = summary
        .settings
        .iter()
        .zip(&rows)
        .flat_map(|(setting, label)| {
            setting
                .cells
                .iter()
                .zip(&summary.environments)
                .filter_map(move |(cell, env)| {
                    Some(format!(
                        "- `{label}` in {}: {}",
                        env.name(),
                        cell.as_ref()?.breaks.as_ref()?
                    ))
                })
        })
        .collect();
    if !breaks.is_empty() {
        md.push_str("\n## Where each setting breaks\n\n");
        for line in breaks {
            let _ = writeln!(md, "{line}");
        }
    }
    if !summary.notes.is_empty() || !summary.conflicts.is_empty() {
        md.push_str("\n## Notes\n\n");
        for note in &summary.notes {
            let _ = writeln!(md, "- {note}");
        }
        for conflict in &summary.conflicts {
            let _ = writeln!(md, "- **nondeterminism**: {conflict}");
        }
    }
    let path = dir.join("report.md");
    write(&path, &md)?;
    Ok(path)
}

/// Writes a comparison's `report.md` and `compare.svg`. Returns the markdown file's path.
pub fn write_compare(dir: &Path, summary: &Summary, command: &str, seeds: &str) -> Result<PathBuf, String> {
    create_dir(dir)?;
    let title = format!("{}: every preset on the same seeds", summary.scenario);
    charts::makespan_vs_wasted(
        &title,
        &scatter(summary, sweep::preset_of),
        &dir.join("compare.svg"),
    )
    .map_err(|error| format!("compare.svg: {error}"))?;
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Presets compared on {} over seeds {seeds}\n",
        summary.scenario
    );
    let _ = writeln!(md, "Regenerate: `{command}`\n");
    let _ = writeln!(md, "Every preset is the same engine configured as the library it names (see `client/src/presets.rs` for sources); the scenario's own `[client]` fields apply on top of each.\n");
    if let Some((index, reason)) = &summary.recommended {
        let _ = writeln!(
            md,
            "**Best here: `{}`** — {reason}.\n",
            sweep::preset_of(&summary.points[*index].point)
        );
    }
    md.push_str(&markdown_table(summary));
    let _ = writeln!(
        md,
        "\n![makespan against wasted attempts per preset](compare.svg)\n"
    );
    md.push_str(&recovery_section(dir, summary)?);
    notes_and_conflicts(&mut md, summary);
    let path = dir.join("report.md");
    write(&path, &md)?;
    Ok(path)
}

fn scatter(summary: &Summary, label: impl Fn(&sweep::Point) -> String) -> Vec<ScatterPoint> {
    summary
        .points
        .iter()
        .enumerate()
        .map(|(index, point)| ScatterPoint {
            label: label(&point.point),
            wasted: point.wasted_attempts.median,
            makespan_s: point.makespan_s.median,
            frontier: point.frontier,
            recommended: summary
                .recommended
                .as_ref()
                .is_some_and(|(chosen, _)| *chosen == index),
        })
        .collect()
}

fn markdown_table(summary: &Summary) -> String {
    let mut md = String::from(
        "| setting | runs | makespan s (median / p95) | attempts (median) | wasted (median / p95) | 429s (median) | sent into a seen Retry-After (median) | ok (median) | gave up (median) | quota utilization | duplicates | fairness | failed runs |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for (index, point) in summary.points.iter().enumerate() {
        let mark = match (
            summary
                .recommended
                .as_ref()
                .is_some_and(|(chosen, _)| *chosen == index),
            point.frontier,
        ) {
            (true, _) => " **(recommended)**",
            (false, true) => " (frontier)",
            _ => "",
        };
        let _ = writeln!(
            md,
            "| `{}`{mark} | {} | {:.1} / {:.1} | {:.0} | {:.0} / {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.2} | {:.0} | {:.2} | {} |",
            sweep::label(&point.point),
            point.runs,
            point.makespan_s.median,
            point.makespan_s.p95,
            point.attempts.median,
            point.wasted_attempts.median,
            point.wasted_attempts.p95,
            point.responses_429.median,
            point.early_sends.median,
            point.ok.median,
            point.gave_up.median,
            point.quota_utilization.median,
            point.duplicate_writes.median,
            point.fairness_jain.median,
            point.failed_runs,
        );
    }
    md
}

/// The notes (fields that change nothing, ties, why nothing is recommended) and any
/// nondeterminism found.
fn notes_and_conflicts(md: &mut String, summary: &Summary) {
    if !summary.notes.is_empty() {
        md.push_str("## Notes\n\n");
        for note in &summary.notes {
            let _ = writeln!(md, "- {note}");
        }
        md.push('\n');
    }
    if !summary.conflicts.is_empty() {
        let _ = writeln!(
            md,
            "## Nondeterminism\n\nThese runs appeared twice with different traces:\n"
        );
        for conflict in &summary.conflicts {
            let _ = writeln!(md, "- {conflict}");
        }
    }
}
