//! Recovery from a `[trigger]`: the metastability lab's measure.
//!
//! Counted in whole seconds of simulated time, from the items' outcomes and the client's
//! attempts:
//! - **backlog** at second `t`: items that have arrived by its end and have no outcome yet;
//!   the steady backlog is its largest value over the 30 s before the trigger (0 when the
//!   trigger starts the run);
//! - **the allowed rate**: the lower of the arrival rate and what the binding rule lets the
//!   instances have once the trigger is over (less the background consumers then drawing); with
//!   no arrivals, the binding rule's rate; with neither, nothing to compare against;
//! - **recovered** at the first second `t` at or after the trigger's end at which the backlog is
//!   back within its steady value (plus 10%, at least one item) and the items done ok over the 10
//!   seconds from `t` are at least 90% of the allowed rate, or, once every item has arrived, the
//!   backlog is empty and no good item was dropped in the 10 seconds before (a backlog emptied by
//!   giving up is not a recovery). The **recovery time** runs from the trigger's end to then; a
//!   run that never gets there has none, and says so;
//! - **work amplification**: the attempts of the items that ended in a window, per item that
//!   ended ok in it (so at least 1), during the trigger and from its end to the recovery (or to
//!   the run's end). An item is counted where it ended, with all of its attempts.

use std::time::Duration;

use herd_client::Outcome;
use serde::{Deserialize, Serialize};

use crate::metrics::quota;
use crate::scenario::Scenario;
use crate::world::plan::{ItemOutcomes, WorkItem};

/// How long the goodput must hold after the recovery point.
const HOLD_S: usize = 10;
/// The share of the allowed rate that counts as recovered.
const GOODPUT_SHARE: f64 = 0.9;
/// The window before the trigger whose backlog is the steady one.
const STEADY_S: u64 = 30;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recovery {
    /// The trigger, in words.
    pub trigger: String,
    pub from_s: u64,
    pub until_s: u64,
    /// Items per second the run is held to after the trigger (0: nothing to compare against,
    /// and only the backlog counts).
    pub allowed_per_s: f64,
    /// From the trigger's end until recovered; `None`: not by the run's end.
    pub recovery_s: Option<f64>,
    pub backlog_steady: u64,
    /// The backlog that counts as drained: the steady one plus 10%, at least one item.
    pub backlog_target: u64,
    pub backlog_peak: u64,
    /// The attempts of the items that ended during the trigger, and those of them that ended ok.
    pub attempts_during: u64,
    pub ok_during: u64,
    /// The same, from the trigger's end to the recovery (or the run's end).
    pub attempts_after: u64,
    pub ok_after: u64,
    /// Items that ended other than ok from the trigger's start to the recovery (or the run's
    /// end): a client that drops its work drains its backlog too, and this says what it cost.
    pub dropped: u64,
}

impl Recovery {
    /// Attempts per item done ok during the trigger (`None` when none was done); at least 1.
    pub fn amplification_during(&self) -> Option<f64> {
        per(self.attempts_during, self.ok_during)
    }

    /// Attempts per item done ok from the trigger's end to the recovery (or the run's end).
    pub fn amplification_after(&self) -> Option<f64> {
        per(self.attempts_after, self.ok_after)
    }
}

fn per(attempts: u64, ok: u64) -> Option<f64> {
    (ok > 0).then(|| (attempts as f64 / ok as f64 * 1_000.0).round() / 1_000.0)
}

/// The recovery of a run with a trigger; `None` without one. `end` is when the run ended (its
/// makespan).
pub fn recovery(
    scenario: &Scenario,
    items: &[&WorkItem],
    outcomes: &ItemOutcomes,
    end: Duration,
) -> Option<Recovery> {
    let trigger = scenario.trigger.as_ref()?;
    let (from_s, until_s) = trigger.window_s();
    let seconds = (end.as_secs() as usize + 1).max(until_s as usize + 1);
    let (mut arrived, mut finished, mut ok) = (vec![0u64; seconds], vec![0u64; seconds], vec![0u64; seconds]);
    let mut not_ok = vec![0u64; seconds];
    let mut attempts = vec![0u64; seconds];
    let mut last_arrival = 0usize;
    for item in items {
        let at = (item.arrives_at.as_secs() as usize).min(seconds - 1);
        arrived[at] += 1;
        last_arrival = last_arrival.max(at);
        if let Some(record) = outcomes.of(item) {
            let done = (record.finished_at.as_duration().as_secs() as usize).min(seconds - 1);
            finished[done] += 1;
            ok[done] += u64::from(record.outcome == Outcome::Ok);
            not_ok[done] += u64::from(record.outcome != Outcome::Ok && !item.bad);
            attempts[done] += u64::from(record.attempts);
        }
    }
    // Backlog at the end of each second.
    let mut backlog = Vec::with_capacity(seconds);
    let (mut in_total, mut out_total) = (0u64, 0u64);
    for t in 0..seconds {
        in_total += arrived[t];
        out_total += finished[t];
        backlog.push(in_total.saturating_sub(out_total));
    }
    let steady_from = from_s.saturating_sub(STEADY_S) as usize;
    let backlog_steady = backlog[steady_from..from_s as usize]
        .iter()
        .copied()
        .max()
        .unwrap_or(0);
    let backlog_peak = backlog[from_s as usize..].iter().copied().max().unwrap_or(0);
    let allowed_per_s = allowed_per_s(scenario, until_s);
    let backlog_target = backlog_steady + (backlog_steady / 10).max(1);
    let drained = |t: usize| backlog[t] <= backlog_target;
    let holds = |t: usize| {
        if t >= last_arrival {
            // Nothing more arrives: recovered when the backlog is empty and the items that
            // emptied it were done, not dropped.
            let from = t.saturating_sub(HOLD_S);
            return backlog[t] == 0 && not_ok[from..=t].iter().all(|&n| n == 0);
        }
        if allowed_per_s <= 0.0 {
            return true;
        }
        let to = (t + HOLD_S).min(seconds);
        let done: u64 = ok[t..to].iter().sum();
        done as f64 >= GOODPUT_SHARE * allowed_per_s * (to - t) as f64
    };
    let recovered = (until_s as usize..seconds).find(|&t| drained(t) && holds(t));
    let window = |from: usize, to: usize| -> (u64, u64) {
        let to = to.min(seconds);
        let from = from.min(to);
        (attempts[from..to].iter().sum(), ok[from..to].iter().sum())
    };
    let (attempts_during, ok_during) = window(from_s as usize, until_s as usize);
    let (attempts_after, ok_after) = window(until_s as usize, recovered.map_or(seconds, |t| t + 1));
    let dropped = not_ok[from_s as usize..recovered.map_or(seconds, |t| t + 1)]
        .iter()
        .sum();
    Some(Recovery {
        trigger: trigger.describe(),
        from_s,
        until_s,
        allowed_per_s: (allowed_per_s * 1_000.0).round() / 1_000.0,
        recovery_s: recovered.map(|t| (t as u64).saturating_sub(until_s) as f64),
        backlog_steady,
        backlog_target,
        backlog_peak,
        attempts_during,
        ok_during,
        attempts_after,
        ok_after,
        dropped,
    })
}

/// The lower of the arrival rate and what the binding rule allows the instances at `at_s`, less
/// the background consumers drawing then; 0 when neither exists.
fn allowed_per_s(scenario: &Scenario, at_s: u64) -> f64 {
    let platform = quota::quota_rule(scenario).map(|rule| {
        let per_s = quota::rate_per_s(scenario, &rule, rule.limit_at_s(at_s));
        let background: f64 = scenario
            .gateway
            .background
            .iter()
            .filter(|consumer| consumer.from_s <= at_s && consumer.until_s.is_none_or(|until| at_s < until))
            .map(|consumer| consumer.rate_per_min as f64 / 60.0)
            .sum();
        (per_s - background).max(0.0)
    });
    let arrivals = scenario.arrivals.as_ref().map(|arrivals| arrivals.rate_per_s);
    match (platform, arrivals) {
        (Some(platform), Some(arrivals)) => platform.min(arrivals),
        (Some(rate), None) | (None, Some(rate)) => rate,
        (None, None) => 0.0,
    }
}
