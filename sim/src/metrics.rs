//! The metrics of a run (DESIGN.md "Metrics of a run"), computed from the trace, the work items'
//! outcomes and the gateway's ledger. Nothing flows back into the run.
//!
//! Quota utilization is useful (2xx) admitted requests over what the first limit rule allowed:
//! per key, `limit × (⌊active span / window⌋ + 1)` (a token bucket: `burst + limit × span /
//! window`). Capacity schedules and background consumers are not subtracted: a run that shares
//! its bucket shows it as lower utilization. The makespan's lower bound is the same work at the
//! allowed rate of the keys usable at once (one token per instance for token-keyed rules, one
//! bucket per OAuth client in use for client-keyed ones).

use std::collections::BTreeMap;
use std::time::Duration;

use herd_client::events::EventKind as ClientEventKind;
use herd_client::policy::breaker::BreakerState;
use herd_client::Outcome;
use serde::{Deserialize, Serialize};

use crate::config::{Algorithm, KeyPart, LimitRule};
use crate::events::EventKind as GatewayEventKind;
use crate::gateway::Gateway;
use crate::scenario::Scenario;
use crate::trace::{NetworkAction, Record, Trace};
use crate::world::{ItemRecord, RunEnd, WorkItem};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub end: RunEnd,
    pub makespan_s: f64,
    pub items: u64,
    pub ok: u64,
    pub failed: u64,
    pub gave_up: u64,
    /// Items with no outcome at the end (the run stopped first, or a crash swallowed them).
    pub lost: u64,
    pub attempts: u64,
    /// Attempts that did not succeed (a non-2xx answer or no answer).
    pub wasted_attempts: u64,
    /// Attempts per item.
    pub amplification: f64,
    pub responses_429: u64,
    pub responses_5xx: u64,
    pub responses_401: u64,
    pub responses_409: u64,
    pub transport_errors: u64,
    /// Items ok per simulated second.
    pub goodput_per_s: f64,
    pub quota_utilization: f64,
    pub makespan_lower_bound_s: f64,
    pub latency_ms_p50: u64,
    pub latency_ms_p95: u64,
    pub latency_ms_p99: u64,
    /// Jain's index over the workers' goodput (1.0 is perfectly fair).
    pub fairness_jain: f64,
    pub token_requests: u64,
    pub breaker_openings: u64,
    /// Creates applied more than once (from the gateway's ledger).
    pub duplicate_writes: u64,
    /// Writes reported ok that the ledger never saw.
    pub lost_writes: u64,
    /// Attempts started after the instance saw a 429 on the same bucket and before its
    /// Retry-After had passed.
    pub sends_before_retry_after: u64,
    pub gateway_requests: u64,
    pub gateway_rate_limited: u64,
    pub background_rejected: u64,
}

pub fn compute(
    scenario: &Scenario,
    plan: &[Vec<Vec<WorkItem>>],
    outcomes: &BTreeMap<String, ItemRecord>,
    trace: &Trace,
    gateway: &Gateway,
    end: RunEnd,
    elapsed: Duration,
) -> Metrics {
    let items: Vec<&WorkItem> = plan.iter().flatten().flatten().collect();
    let count = |outcome: fn(&Outcome) -> bool| {
        outcomes
            .values()
            .filter(|record| outcome(&record.outcome))
            .count() as u64
    };
    let ok = count(|o| *o == Outcome::Ok);
    let makespan = match end {
        RunEnd::Completed => outcomes
            .values()
            .map(|record| record.finished_at)
            .max()
            .map_or(Duration::ZERO, |at| at.as_duration()),
        _ => elapsed,
    };
    let makespan_s = makespan.as_secs_f64();
    let client = client_counts(trace);
    let lost_writes = items
        .iter()
        .filter(|item| {
            outcomes
                .get(&item.id)
                .is_some_and(|record| record.outcome == Outcome::Ok)
        })
        .filter_map(|item| item.kind.write(scenario.gateway.platform))
        .filter(|(op, key)| gateway.ledger().applied(*op, key) == 0)
        .count() as u64;
    let mut latencies: Vec<u64> = outcomes
        .values()
        .map(|record| (record.finished_at - record.started_at).as_millis() as u64)
        .collect();
    latencies.sort_unstable();
    let (quota_utilization, makespan_lower_bound_s) = quota(scenario, trace);
    Metrics {
        end,
        makespan_s: round3(makespan_s),
        items: items.len() as u64,
        ok,
        failed: count(|o| *o == Outcome::Failed),
        gave_up: count(|o| matches!(o, Outcome::GaveUp(_))),
        lost: items
            .iter()
            .filter(|item| !outcomes.contains_key(&item.id))
            .count() as u64,
        attempts: client.attempts,
        wasted_attempts: client.attempts.saturating_sub(client.successes),
        amplification: round3(ratio(client.attempts as f64, items.len() as f64)),
        responses_429: client.status(429),
        responses_5xx: client.statuses.range(500..600).map(|(_, n)| n).sum(),
        responses_401: client.status(401),
        responses_409: client.status(409),
        transport_errors: client.transport_errors,
        goodput_per_s: round3(ratio(ok as f64, makespan_s)),
        quota_utilization: round3(quota_utilization),
        makespan_lower_bound_s: round3(makespan_lower_bound_s),
        latency_ms_p50: percentile(&latencies, 50),
        latency_ms_p95: percentile(&latencies, 95),
        latency_ms_p99: percentile(&latencies, 99),
        fairness_jain: round3(fairness(outcomes)),
        token_requests: client.token_requests,
        breaker_openings: client.breaker_openings,
        duplicate_writes: gateway.ledger().duplicate_creates(),
        lost_writes,
        sends_before_retry_after: client.sends_before_retry_after,
        gateway_requests: gateway.stats().requests,
        gateway_rate_limited: gateway.stats().rate_limited,
        background_rejected: gateway.stats().background_rejected,
    }
}

impl Metrics {
    /// The summary table printed by `herdsim run`: one aligned line per group of metrics.
    pub fn table(&self) -> String {
        let end = match self.end {
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
                    self.makespan_s, self.makespan_lower_bound_s
                ),
            ),
            (
                "items",
                format!(
                    "{}  ok {}  failed {}  gave up {}  lost {}",
                    self.items, self.ok, self.failed, self.gave_up, self.lost
                ),
            ),
            (
                "attempts",
                format!(
                    "{}  wasted {}  amplification {:.2}",
                    self.attempts, self.wasted_attempts, self.amplification
                ),
            ),
            (
                "responses",
                format!(
                    "429: {}  5xx: {}  401: {}  409: {}  transport errors: {}",
                    self.responses_429,
                    self.responses_5xx,
                    self.responses_401,
                    self.responses_409,
                    self.transport_errors
                ),
            ),
            (
                "quota",
                format!(
                    "utilization {:.3}  goodput {:.2} items/s",
                    self.quota_utilization, self.goodput_per_s
                ),
            ),
            (
                "latency",
                format!(
                    "p50 {} ms  p95 {} ms  p99 {} ms",
                    self.latency_ms_p50, self.latency_ms_p95, self.latency_ms_p99
                ),
            ),
            (
                "fairness",
                format!("{:.3} (Jain's index over workers)", self.fairness_jain),
            ),
            (
                "tokens",
                format!(
                    "{} token requests  {} breaker openings",
                    self.token_requests, self.breaker_openings
                ),
            ),
            (
                "writes",
                format!("duplicates {}  lost {}", self.duplicate_writes, self.lost_writes),
            ),
            (
                "early sends",
                format!(
                    "{} attempts before a seen Retry-After had passed",
                    self.sends_before_retry_after
                ),
            ),
            (
                "gateway",
                format!(
                    "{} requests  {} rate-limited  {} background rejected",
                    self.gateway_requests, self.gateway_rate_limited, self.background_rejected
                ),
            ),
        ];
        let mut out = String::new();
        for (label, value) in rows {
            out.push_str(&format!("  {label:<12} {value}\n"));
        }
        out
    }
}

/// The scenario's own assertions; each failure is a sentence.
pub fn check(scenario: &Scenario, metrics: &Metrics, end: RunEnd) -> Vec<String> {
    let expect = &scenario.expect;
    let mut failures = Vec::new();
    if end == RunEnd::HostError {
        failures.push("a host failed (see the error above)".to_string());
    }
    if expect.complete && end != RunEnd::Completed {
        failures.push(format!(
            "the workload did not finish within duration_s = {}",
            scenario.duration_s
        ));
    }
    if expect.no_lost && metrics.lost > 0 {
        failures.push(format!("{} items ended with no outcome", metrics.lost));
    }
    if expect.no_lost && metrics.lost_writes > 0 {
        failures.push(format!(
            "{} writes reported ok are missing from the ledger",
            metrics.lost_writes
        ));
    }
    if let Some(max) = expect.max_duplicates {
        if metrics.duplicate_writes > max {
            failures.push(format!(
                "{} duplicate writes (at most {max} expected)",
                metrics.duplicate_writes
            ));
        }
    }
    if let Some(min_pct) = expect.min_ok_pct {
        if metrics.ok * 100 < metrics.items * min_pct {
            failures.push(format!(
                "{} of {} items ok (at least {min_pct}% expected)",
                metrics.ok, metrics.items
            ));
        }
    }
    failures
}

#[derive(Default)]
struct ClientCounts {
    attempts: u64,
    successes: u64,
    statuses: BTreeMap<u16, u64>,
    transport_errors: u64,
    token_requests: u64,
    breaker_openings: u64,
    sends_before_retry_after: u64,
}

impl ClientCounts {
    fn status(&self, status: u16) -> u64 {
        self.statuses.get(&status).copied().unwrap_or(0)
    }
}

fn client_counts(trace: &Trace) -> ClientCounts {
    let mut counts = ClientCounts::default();
    // Per (instance, family): until when a seen 429 closed the bucket, and when it was seen.
    let mut closed: BTreeMap<(u32, String), (Duration, Duration)> = BTreeMap::new();
    let mut family_of: BTreeMap<(u32, u64), String> = BTreeMap::new();
    for record in trace.records() {
        if let Record::Network {
            host,
            action: NetworkAction::Crash,
            ..
        } = record
        {
            // A restarted instance is a new process: it cannot know what the old one was told.
            closed.retain(|(instance, _), _| format!("client-{instance}") != *host);
            continue;
        }
        let Record::Client { instance, event, at } = record else {
            continue;
        };
        let at = at.as_duration();
        match &event.kind {
            ClientEventKind::Attempt { family, .. } => {
                counts.attempts += 1;
                family_of.insert((*instance, event.worker), family.clone());
                if let Some((until, learned)) = closed.get(&(*instance, family.clone())) {
                    if at > *learned && at < *until {
                        counts.sends_before_retry_after += 1;
                    }
                }
            }
            ClientEventKind::Response {
                status,
                retry_after_ms,
                ..
            } => {
                *counts.statuses.entry(*status).or_insert(0) += 1;
                if (200..300).contains(status) {
                    counts.successes += 1;
                }
                if let (429, Some(ms), Some(family)) =
                    (*status, retry_after_ms, family_of.get(&(*instance, event.worker)))
                {
                    let until = at + Duration::from_millis(*ms);
                    let entry = closed
                        .entry((*instance, family.clone()))
                        .or_insert((Duration::ZERO, Duration::ZERO));
                    if until > entry.0 {
                        *entry = (until, at);
                    }
                }
            }
            ClientEventKind::TransportFailed { .. } => counts.transport_errors += 1,
            ClientEventKind::TokenRequest { .. } => counts.token_requests += 1,
            ClientEventKind::BreakerTransition {
                to: BreakerState::Open,
                ..
            } => counts.breaker_openings += 1,
            _ => {}
        }
    }
    counts
}

/// (utilization, makespan lower bound in seconds) against the first limit rule.
fn quota(scenario: &Scenario, trace: &Trace) -> (f64, f64) {
    let Some(rule) = scenario.quota_rule() else {
        return (0.0, 0.0);
    };
    let window_s = rule.window_ms as f64 / 1_000.0;
    // Per key: (first, last, useful admissions).
    let mut keys: BTreeMap<String, (f64, f64, u64)> = BTreeMap::new();
    let mut families = std::collections::BTreeSet::new();
    for record in trace.records() {
        let Record::Gateway(event) = record else { continue };
        let GatewayEventKind::Admitted {
            family,
            token_seq,
            status,
            ..
        } = &event.kind
        else {
            continue;
        };
        if !rule.families.is_empty() && !rule.families.contains(family) {
            continue;
        }
        families.insert(family.clone());
        let key = key_of(&rule, *token_seq, family);
        let at = event.at.as_micros() as f64 / 1e6;
        let entry = keys.entry(key).or_insert((at, at, 0));
        entry.1 = at;
        if (200..300).contains(status) {
            entry.2 += 1;
        }
    }
    let burst = rule.burst.unwrap_or(rule.limit) as f64;
    let limit = rule.limit as f64;
    let allowed: f64 = keys
        .values()
        .map(|(first, last, _)| match rule.algorithm {
            Algorithm::TokenBucket => burst + limit * (last - first) / window_s,
            _ => limit * (((last - first) / window_s).floor() + 1.0),
        })
        .sum();
    let useful: u64 = keys.values().map(|(_, _, useful)| useful).sum();
    let concurrent_keys = scenario.keys_in_use(&rule)
        * if rule.key.contains(&KeyPart::Family) {
            families.len().max(1) as f64
        } else {
            1.0
        };
    let initial = if rule.algorithm == Algorithm::TokenBucket {
        burst
    } else {
        limit
    } * concurrent_keys;
    let rate = limit * concurrent_keys / window_s;
    let lower_bound = if rate > 0.0 {
        (useful as f64 - initial).max(0.0) / rate
    } else {
        0.0
    };
    (ratio(useful as f64, allowed), lower_bound)
}

fn key_of(rule: &LimitRule, token_seq: u64, family: &str) -> String {
    rule.key
        .iter()
        .map(|part| match part {
            KeyPart::Token => format!("t{token_seq}"),
            KeyPart::Family => family.to_string(),
            KeyPart::Client | KeyPart::Org => String::new(),
        })
        .collect::<Vec<_>>()
        .join("|")
}

fn fairness(outcomes: &BTreeMap<String, ItemRecord>) -> f64 {
    let mut per_worker: BTreeMap<u64, (u64, f64)> = BTreeMap::new();
    for record in outcomes.values() {
        let entry = per_worker.entry(record.worker).or_insert((0, 0.0));
        if record.outcome == Outcome::Ok {
            entry.0 += 1;
        }
        entry.1 = entry.1.max(record.finished_at.as_micros() as f64 / 1e6);
    }
    let goodputs: Vec<f64> = per_worker
        .values()
        .map(|(ok, last)| *ok as f64 / last.max(0.001))
        .collect();
    let sum: f64 = goodputs.iter().sum();
    let squares: f64 = goodputs.iter().map(|x| x * x).sum();
    if squares == 0.0 {
        return 0.0;
    }
    sum * sum / (goodputs.len() as f64 * squares)
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[u64], pct: u64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (pct as usize * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

fn ratio(numerator: f64, denominator: f64) -> f64 {
    if denominator > 0.0 {
        numerator / denominator
    } else {
        0.0
    }
}

fn round3(value: f64) -> f64 {
    (value * 1_000.0).round() / 1_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!(
            (
                percentile(&values, 50),
                percentile(&values, 95),
                percentile(&values, 99)
            ),
            (50, 95, 99)
        );
        assert_eq!(percentile(&[7], 99), 7);
        assert_eq!(percentile(&[], 50), 0);
    }
}
