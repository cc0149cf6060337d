//! The summary of a swarm sweep: every setting in every environment, where each breaks, and the
//! setting that is robust across them.
//!
//! In each environment a setting is summarized over its seeds as in a plain sweep; it **breaks**
//! there when it failed the scenario's expectations, lost, duplicated or left work on any seed,
//! or finished fewer items ok than the best setting did there. Its score in an environment is its
//! median makespan over that environment's exact bound (`makespan_ratio`), which compares
//! environments of different speeds on one scale.
//!
//! A setting is **Pareto-robust** when it breaks nowhere and no other such setting is at least
//! as close to the bound in every environment and closer in one, without sending more into seen
//! Retry-Afters in any. The recommendation is, among the Pareto-robust settings that sent fewest
//! into seen Retry-Afters, the one with the best worst-case ratio (within 1%: the better mean ratio, then
//! fewer wasted attempts, then grid order); settings with identical traces everywhere, or within
//! 1% on both, are named as ties. When every setting breaks somewhere, nothing is recommended.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::sweep::grid::{label, Point};
use crate::sweep::results::RunRecord;
use crate::sweep::summary::{conflicts_and_axis_notes, describes_environment, summarize, PointSummary, Stat};
use crate::sweep::swarm::Environment;

/// One setting in one environment, over its seeds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SwarmCell {
    pub runs: usize,
    pub makespan_ratio: Stat,
    pub wasted_attempts: Stat,
    /// Attempts sent into a `Retry-After` the client had been told.
    pub early_sends: Stat,
    /// Why the setting breaks here; `None`: it does not.
    pub breaks: Option<String>,
}

/// One setting across the swarm.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SwarmSetting {
    pub point: Point,
    /// In the order of `SwarmSummary::environments`; `None` where it has no runs.
    pub cells: Vec<Option<SwarmCell>>,
    /// The largest median ratio over the environments where it does not break, and where
    /// (`None`: it breaks everywhere).
    pub worst_ratio: f64,
    pub worst_environment: Option<usize>,
    /// The mean of the median ratios where it does not break.
    pub mean_ratio: f64,
    /// Environments in which it breaks.
    pub broken: usize,
    pub pareto_robust: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SwarmSummary {
    pub scenario: String,
    pub environments: Vec<Environment>,
    pub settings: Vec<SwarmSetting>,
    /// The index into `settings` of the recommended setting, and why.
    pub recommended: Option<(usize, String)>,
    pub conflicts: Vec<String>,
    pub notes: Vec<String>,
}

/// Summarizes records of a swarm sweep (records without an environment count as environment 0
/// of no swarm). Settings come in the order of `order`, then any others.
pub fn summarize_swarm(records: &[RunRecord], order: &[Point]) -> SwarmSummary {
    let mut by_environment: BTreeMap<(u32, u64), (Environment, Vec<RunRecord>)> = BTreeMap::new();
    for record in records {
        let environment = record
            .environment
            .clone()
            .unwrap_or_else(|| Environment::draw(0, 0));
        by_environment
            .entry((environment.index, environment.seed))
            .or_insert_with(|| (environment, Vec::new()))
            .1
            .push(record.clone());
    }
    let environments: Vec<Environment> = by_environment.values().map(|(env, _)| env.clone()).collect();
    let per_environment: Vec<Vec<PointSummary>> = by_environment
        .values()
        .map(|(_, records)| summarize(records, order).points)
        .collect();
    let mut points: Vec<Point> = order.to_vec();
    for summaries in &per_environment {
        for summary in summaries {
            if !points.contains(&summary.point) {
                points.push(summary.point.clone());
            }
        }
    }
    let mut settings: Vec<SwarmSetting> = points
        .iter()
        .map(|point| {
            let cells: Vec<Option<SwarmCell>> = per_environment
                .iter()
                .map(|summaries| cell_of(point, summaries))
                .collect();
            setting(point, cells)
        })
        .filter(|setting| setting.cells.iter().any(Option::is_some))
        .collect();
    mark_pareto_robust(&mut settings);

    // Conflicts and fields that change nothing, over every environment at once: the
    // environment is one more axis of the grid (`swarm`).
    let augmented: Vec<RunRecord> = records
        .iter()
        .map(|record| {
            let mut record = record.clone();
            let name = record
                .environment
                .take()
                .map_or_else(|| "e0".to_string(), |env| env.name());
            record.point.insert("swarm".to_string(), name);
            record
        })
        .collect();
    let (conflicts, mut notes) = conflicts_and_axis_notes(&augmented);
    let environment_keys: Vec<String> = points
        .first()
        .map(|point| {
            point
                .keys()
                .filter(|key| describes_environment(key))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let recommended = if environment_keys.is_empty() {
        recommend(&settings, &environments, &augmented, &mut notes)
    } else {
        notes.push(format!(
            "nothing is recommended: {} describes the platform or the workload, not a client setting",
            environment_keys.join(", ")
        ));
        None
    };
    SwarmSummary {
        scenario: records
            .first()
            .map(|record| record.scenario.clone())
            .unwrap_or_default(),
        environments,
        settings,
        recommended,
        conflicts,
        notes,
    }
}

fn cell_of(point: &Point, summaries: &[PointSummary]) -> Option<SwarmCell> {
    let summary = summaries.iter().find(|summary| &summary.point == point)?;
    let most_ok = summaries.iter().map(|other| other.ok.median).fold(0.0, f64::max);
    let breaks = if summary.failed_runs > 0 {
        Some(format!(
            "failed the scenario's expectations on {} of {} seeds",
            summary.failed_runs, summary.runs
        ))
    } else if summary.runs_losing_work > 0 {
        let losses: Vec<String> = [
            ("gave up", summary.gave_up),
            ("failed good items", summary.failed_good),
            ("left unfinished", summary.unfinished),
            ("duplicated", summary.duplicate_writes),
            ("lost writes", summary.lost_writes),
        ]
        .iter()
        .filter(|(_, stat)| stat.p95 > 0.0)
        .map(|(what, stat)| format!("{what} {:.0}", stat.p95))
        .collect();
        Some(format!(
            "lost work on {} of {} seeds: {} (p95 over seeds)",
            summary.runs_losing_work,
            summary.runs,
            losses.join(", ")
        ))
    } else if summary.ok.median < most_ok {
        Some(format!(
            "finished {:.0} items ok where another setting finished {most_ok:.0}",
            summary.ok.median
        ))
    } else {
        None
    };
    Some(SwarmCell {
        runs: summary.runs,
        makespan_ratio: summary.makespan_ratio,
        wasted_attempts: summary.wasted_attempts,
        early_sends: summary.early_sends,
        breaks,
    })
}

fn setting(point: &Point, cells: Vec<Option<SwarmCell>>) -> SwarmSetting {
    // Only where it holds: a run that gave up early is quick, not close to the bound.
    let ratios: Vec<(usize, f64)> = cells
        .iter()
        .enumerate()
        .filter_map(|(i, cell)| {
            let cell = cell.as_ref().filter(|cell| cell.breaks.is_none())?;
            Some((i, cell.makespan_ratio.median))
        })
        .collect();
    let worst = ratios
        .iter()
        .copied()
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
    let mean_ratio = if ratios.is_empty() {
        0.0
    } else {
        ratios.iter().map(|(_, ratio)| ratio).sum::<f64>() / ratios.len() as f64
    };
    SwarmSetting {
        point: point.clone(),
        broken: cells
            .iter()
            .flatten()
            .filter(|cell| cell.breaks.is_some())
            .count(),
        worst_ratio: worst.map_or(0.0, |(_, ratio)| ratio),
        worst_environment: worst.map(|(i, _)| i),
        mean_ratio,
        cells,
        pareto_robust: false,
    }
}

/// Whether a setting ran in every environment and broke in none.
fn holds_everywhere(setting: &SwarmSetting) -> bool {
    setting.broken == 0 && setting.cells.iter().all(Option::is_some)
}

fn mark_pareto_robust(settings: &mut [SwarmSetting]) {
    let ratios = |setting: &SwarmSetting| -> Vec<f64> {
        setting
            .cells
            .iter()
            .map(|cell| {
                cell.as_ref()
                    .map_or(f64::INFINITY, |cell| cell.makespan_ratio.median)
            })
            .collect()
    };
    let early = |setting: &SwarmSetting| -> Vec<f64> {
        setting
            .cells
            .iter()
            .map(|cell| cell.as_ref().map_or(0.0, |cell| cell.early_sends.median))
            .collect()
    };
    let candidates: Vec<(usize, Vec<f64>, Vec<f64>)> = settings
        .iter()
        .enumerate()
        .filter(|(_, setting)| holds_everywhere(setting))
        .map(|(i, setting)| (i, ratios(setting), early(setting)))
        .collect();
    // As in a plain sweep, a setting that sent more into seen Retry-Afters somewhere dominates
    // nothing that waited there.
    for (i, mine, mine_early) in &candidates {
        let dominated = candidates.iter().any(|(j, theirs, theirs_early)| {
            j != i
                && theirs.iter().zip(mine).all(|(t, m)| t <= m)
                && theirs.iter().zip(mine).any(|(t, m)| t < m)
                && theirs_early.iter().zip(mine_early).all(|(t, m)| t <= m)
        });
        settings[*i].pareto_robust = !dominated;
    }
}

/// A cell's measure summed over the environments where the setting ran.
fn summed(setting: &SwarmSetting, measure: fn(&SwarmCell) -> f64) -> f64 {
    setting.cells.iter().flatten().map(measure).sum()
}

fn recommend(
    settings: &[SwarmSetting],
    environments: &[Environment],
    augmented: &[RunRecord],
    notes: &mut Vec<String>,
) -> Option<(usize, String)> {
    let wasted = |setting: &SwarmSetting| summed(setting, |cell| cell.wasted_attempts.median);
    // Only the robust settings that sent fewest into seen Retry-Afters (summed over the
    // environments) compete, as in a plain sweep.
    let early = |setting: &SwarmSetting| summed(setting, |cell| cell.early_sends.median);
    let least_early = settings
        .iter()
        .filter(|setting| setting.pareto_robust)
        .map(early)
        .fold(f64::INFINITY, f64::min);
    let set_aside: Vec<String> = settings
        .iter()
        .filter(|setting| setting.pareto_robust && early(setting) > least_early)
        .map(|setting| {
            format!(
                "{} ({:.0} sent into a seen Retry-After over the environments)",
                label(&setting.point),
                early(setting)
            )
        })
        .collect();
    if !set_aside.is_empty() {
        notes.push(format!(
            "not recommended for sending into Retry-Afters they had been told: {}",
            set_aside.join(", ")
        ));
    }
    let chosen = settings
        .iter()
        .enumerate()
        .filter(|(_, setting)| setting.pareto_robust && early(setting) <= least_early)
        .min_by(|(a, sa), (b, sb)| {
            let worst = if tied_ratio(sa.worst_ratio, sb.worst_ratio) {
                std::cmp::Ordering::Equal
            } else {
                sa.worst_ratio.total_cmp(&sb.worst_ratio)
            };
            worst
                .then(sa.mean_ratio.total_cmp(&sb.mean_ratio))
                .then(wasted(sa).total_cmp(&wasted(sb)))
                .then(a.cmp(b))
        })
        .map(|(i, _)| i);
    let Some(chosen) = chosen else {
        let fewest = settings.iter().min_by_key(|setting| {
            (
                setting.broken,
                setting.cells.iter().filter(|c| c.is_none()).count(),
            )
        });
        let mut note = format!(
            "nothing is recommended: every setting breaks in at least one of the {} environments",
            environments.len()
        );
        if let Some(fewest) = fewest {
            let broken: Vec<String> = fewest
                .cells
                .iter()
                .zip(environments)
                .filter_map(|(cell, env)| {
                    let why = cell.as_ref()?.breaks.as_ref()?;
                    Some(format!("{} ({why})", env.name()))
                })
                .collect();
            note.push_str(&format!(
                "; the fewest breaks: {} in {}",
                label(&fewest.point),
                broken.join(", ")
            ));
        }
        notes.push(note);
        return None;
    };
    let p = &settings[chosen];
    let worst_at = p
        .worst_environment
        .and_then(|i| environments.get(i))
        .map_or_else(String::new, |env| format!(" (in {})", env.name()));
    let mut reason = format!(
        "Pareto-robust with the best worst case: median makespan at most {:.2}× the exact bound{worst_at}, \
         {:.2}× on average, in every one of {} environments, none of which it breaks",
        p.worst_ratio,
        p.mean_ratio,
        environments.len()
    );
    // (environment, seed, trace hash) of every run of a setting.
    let traces = |point: &Point| -> Vec<(String, u64, String)> {
        let mut traces: Vec<_> = augmented
            .iter()
            .filter(|record| {
                record
                    .point
                    .iter()
                    .filter(|(key, _)| key.as_str() != "swarm")
                    .eq(point.iter())
            })
            .map(|record| {
                let swarm = record.point.get("swarm").cloned().unwrap_or_default();
                (swarm, record.seed, record.trace_sha256.clone())
            })
            .collect();
        traces.sort();
        traces
    };
    let chosen_traces = traces(&p.point);
    let mut identical = Vec::new();
    let mut close = Vec::new();
    for (i, other) in settings.iter().enumerate() {
        if i == chosen || !holds_everywhere(other) {
            continue;
        }
        if traces(&other.point) == chosen_traces {
            identical.push(label(&other.point));
        } else if tied_ratio(other.worst_ratio, p.worst_ratio) && tied_ratio(other.mean_ratio, p.mean_ratio) {
            close.push(label(&other.point));
        }
    }
    if !identical.is_empty() {
        reason.push_str(&format!(
            "; identical traces in every environment and seed with {}: the choice among them is arbitrary",
            identical.join(", ")
        ));
    }
    if !close.is_empty() {
        reason.push_str(&format!("; within noise (1%) of {}", close.join(", ")));
    }
    Some((chosen, reason))
}

/// Ratios within 1% of each other.
fn tied_ratio(a: f64, b: f64) -> bool {
    (a - b).abs() <= a.abs().max(b.abs()) * 0.01
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::RunEnd;

    fn record(setting: &str, env: u32, seed: u64, ratio: f64, lost: u64) -> RunRecord {
        let mut metrics = crate::sweep::summary::test_metrics(ratio * 10.0, 0);
        metrics.makespan_ratio = ratio;
        metrics.lost_writes = lost;
        let mut point = Point::new();
        point.insert("client.concurrency".into(), setting.into());
        RunRecord {
            scenario: "s".into(),
            base: Vec::new(),
            point,
            environment: Some(Environment::draw(9, env)),
            seed,
            index: 0,
            trace_sha256: format!("{setting}-{env}-{seed}-{ratio}"),
            end: RunEnd::Completed,
            failures: Vec::new(),
            metrics,
        }
    }

    /// Where the setting of concurrency `name` stands in the summary.
    fn setting_index(summary: &SwarmSummary, name: &str) -> usize {
        summary
            .settings
            .iter()
            .position(|s| s.point["client.concurrency"] == name)
            .expect("setting")
    }

    #[test]
    fn the_best_worst_case_among_settings_that_break_nowhere() {
        // a: best on average but breaks in e2; b: worst case 1.5; c: worst case 1.3, the choice;
        // d: dominated by c everywhere.
        let mut records = Vec::new();
        for seed in 0..3 {
            for (env, a, b, c, d) in [
                (0, 1.0, 1.1, 1.2, 1.25),
                (1, 1.0, 1.5, 1.3, 1.35),
                (2, 1.0, 1.2, 1.1, 1.2),
            ] {
                records.push(record("a", env, seed, a, u64::from(env == 2)));
                records.push(record("b", env, seed, b, 0));
                records.push(record("c", env, seed, c, 0));
                records.push(record("d", env, seed, d, 0));
            }
        }
        let summary = summarize_swarm(&records, &[]);
        assert_eq!(summary.environments.len(), 3);
        let by_name = |name: &str| setting_index(&summary, name);
        let a = &summary.settings[by_name("a")];
        assert_eq!(a.broken, 1);
        assert!(a.cells[2].as_ref().and_then(|c| c.breaks.as_ref()).is_some());
        assert!(!a.pareto_robust, "a setting that breaks is never robust");
        assert!(summary.settings[by_name("b")].pareto_robust);
        assert!(summary.settings[by_name("c")].pareto_robust);
        assert!(
            !summary.settings[by_name("d")].pareto_robust,
            "d is dominated by c"
        );
        let (chosen, reason) = summary.recommended.clone().expect("a recommendation");
        assert_eq!(chosen, by_name("c"), "{reason}");
        assert!(reason.contains("1.30×") && reason.contains("in e1"), "{reason}");
    }

    #[test]
    fn nothing_is_recommended_when_every_setting_breaks_somewhere() {
        let records = vec![
            record("a", 0, 0, 1.0, 1),
            record("a", 1, 0, 1.0, 0),
            record("b", 0, 0, 1.0, 1),
            record("b", 1, 0, 1.0, 1),
        ];
        let summary = summarize_swarm(&records, &[]);
        assert!(summary.recommended.is_none());
        let note = summary
            .notes
            .iter()
            .find(|n| n.starts_with("nothing"))
            .expect("a note");
        assert!(note.contains("concurrency=a in e0"), "{note}");
    }

    #[test]
    fn a_setting_that_sends_into_seen_retry_afters_is_not_the_robust_choice() {
        // fast: closer to the bound everywhere, but sends into seen Retry-Afters in e1;
        // patient: slower, waits everywhere.
        let mut records = Vec::new();
        for seed in 0..3 {
            for (env, fast, patient) in [(0, 1.0, 1.1), (1, 1.0, 1.2)] {
                let mut impatient = record("fast", env, seed, fast, 0);
                impatient.metrics.sends_before_retry_after = if env == 1 { 12 } else { 0 };
                records.push(impatient);
                records.push(record("patient", env, seed, patient, 0));
            }
        }
        let summary = summarize_swarm(&records, &[]);
        let by_name = |name: &str| setting_index(&summary, name);
        assert!(summary.settings[by_name("fast")].pareto_robust);
        assert!(
            summary.settings[by_name("patient")].pareto_robust,
            "a setting that sent into Retry-Afters dominates none that waited"
        );
        let (chosen, reason) = summary.recommended.clone().expect("a recommendation");
        assert_eq!(chosen, by_name("patient"), "{reason}");
        assert!(
            summary
                .notes
                .iter()
                .any(|note| note.contains("concurrency=fast") && note.contains("12 sent")),
            "{:?}",
            summary.notes
        );
    }
}
