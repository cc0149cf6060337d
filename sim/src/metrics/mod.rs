//! The metrics of a run (DESIGN.md "Metrics of a run"), computed from the trace, the work items'
//! outcomes and the gateway's ledger. Nothing flows back into the run.
//!
//! Quota utilization is useful (2xx) admitted requests over what the first limit rule allowed:
//! per key, `limit × (⌊active span / window⌋ + 1)` (a token bucket: `burst + limit × span /
//! window`). Capacity schedules and background consumers are not subtracted: a run that shares
//! its bucket shows it as lower utilization. The makespan's lower bound is the same work at the
//! allowed rate of the keys usable at once (one token per instance for token-keyed rules, one
//! bucket per OAuth client in use for client-keyed ones).

pub mod bound;
pub mod quota;
pub mod recovery;

use std::collections::BTreeMap;
use std::time::Duration;

use herd_client::events::EventKind as ClientEventKind;
use herd_client::policy::breaker::BreakerState;
use herd_client::Outcome;
use herd_gateway::SimTime;
use serde::{Deserialize, Serialize};

use crate::metrics::quota::ratio;
use crate::scenario::Scenario;
use crate::trace::{NetworkAction, Record, Trace};
use crate::world::plan::{ItemKind, ItemOutcomes, ItemRecord, WorkItem};
use crate::world::{RunEnd, WorldOutput};
use herd_client::gate::Priority;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub end: RunEnd,
    pub makespan_s: f64,
    pub items: u64,
    pub ok: u64,
    pub failed: u64,
    /// Items that ended failed though they are not among the scenario's `[bad_items]`: a
    /// retryable answer (a 429, a 5xx) taken as final. Lost work, as much as giving up.
    #[serde(default)]
    pub failed_good: u64,
    pub gave_up: u64,
    /// Items with no outcome when the run ended (it stopped at `duration_s`, or a host failed).
    #[serde(alias = "lost")]
    pub unfinished: u64,
    pub attempts: u64,
    /// Attempts that did not succeed (a non-2xx answer or no answer), plus token requests
    /// beyond one per token lifetime per instance (`token_requests_excess`).
    pub wasted_attempts: u64,
    /// Attempts per item that finished (ok, failed or given up): never counts unfinished work.
    pub amplification: f64,
    pub responses_429: u64,
    pub responses_5xx: u64,
    pub responses_401: u64,
    pub responses_409: u64,
    pub transport_errors: u64,
    /// Items ok per simulated second.
    pub goodput_per_s: f64,
    /// Useful (2xx) admitted requests over what the rules let any client have admitted during the
    /// run (the oracle of `bound.rs`); 0 when nothing limits the workload. Never above 1.
    pub quota_utilization: f64,
    /// The earliest any client could finish the workload under every rule, schedule, background
    /// draw, outage and token lifetime (`bound.rs`); 0 when no client could finish.
    #[serde(alias = "makespan_lower_bound_s")]
    pub best_makespan_s: f64,
    /// `makespan_s / best_makespan_s` (1.0 is the best possible; 0 when there is no bound).
    #[serde(default)]
    pub makespan_ratio: f64,
    pub latency_ms_p50: u64,
    pub latency_ms_p95: u64,
    pub latency_ms_p99: u64,
    /// Jain's index over the workers' goodput (1.0 is perfectly fair).
    pub fairness_jain: f64,
    pub token_requests: u64,
    /// Token requests beyond what the run needed: one per instance at start, one per token
    /// lifetime, one per revocation and per restart. Counted in `wasted_attempts`.
    #[serde(default)]
    pub token_requests_excess: u64,
    pub breaker_openings: u64,
    /// Creates applied more than once (from the gateway's ledger).
    pub duplicate_writes: u64,
    /// Writes reported ok that the ledger never saw.
    pub lost_writes: u64,
    /// Attempts started after the instance saw a 429 on the same bucket and before its
    /// Retry-After had passed.
    pub sends_before_retry_after: u64,
    /// Per instance, the most attempts in flight at once: retries that escape a concurrency cap
    /// show here.
    #[serde(default)]
    pub in_flight_max: Vec<u64>,
    /// Per instance, the connections the gateway accepted (turmoil; 0 in the fast mode, whose
    /// memory network has no connections).
    #[serde(default)]
    pub connections_opened: Vec<u64>,
    /// Latency and completion by priority (`high`, `normal`, `low`): did high-priority work
    /// overtake low under throttling, and did low starve?
    #[serde(default)]
    pub by_priority: BTreeMap<String, PriorityStats>,
    pub gateway_requests: u64,
    pub gateway_rate_limited: u64,
    pub background_rejected: u64,
    /// How the run recovered from its `[trigger]` (absent without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery: Option<recovery::Recovery>,
}

/// The metrics of a run, from the data its world handed over and the trace built from it.
/// The items of one priority.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PriorityStats {
    pub items: u64,
    pub ok: u64,
    pub latency_ms_p50: u64,
    pub latency_ms_p95: u64,
}

/// The priority each item was given (updates of a mixed workload are high, listings low).
fn priority_of(kind: &ItemKind) -> &'static str {
    match kind {
        ItemKind::Update {
            priority: Priority::High,
            ..
        } => "high",
        ItemKind::Update {
            priority: Priority::Low,
            ..
        }
        | ItemKind::ListAll => "low",
        _ => "normal",
    }
}

/// Per priority: its items, how many ended ok, and the latency percentiles of those that ended.
fn by_priority(priorities: BTreeMap<&'static str, (u64, u64, Vec<u64>)>) -> BTreeMap<String, PriorityStats> {
    priorities
        .into_iter()
        .map(|(priority, (items, ok, mut latency))| {
            latency.sort_unstable();
            let stats = PriorityStats {
                items,
                ok,
                latency_ms_p50: percentile(&latency, 50),
                latency_ms_p95: percentile(&latency, 95),
            };
            (priority.to_string(), stats)
        })
        .collect()
}

pub fn compute(scenario: &Scenario, world: &WorldOutput, trace: &Trace) -> Metrics {
    let WorldOutput {
        end,
        elapsed,
        plan,
        outcomes,
        ledger,
        gateway_stats,
        ..
    } = world;
    let (end, elapsed) = (*end, *elapsed);
    let items: Vec<&WorkItem> = plan.iter().flatten().flatten().collect();
    let count = |outcome: fn(&Outcome) -> bool| {
        outcomes
            .records()
            .filter(|record| outcome(&record.outcome))
            .count() as u64
    };
    let ok = count(|o| *o == Outcome::Ok);
    let makespan = match end {
        RunEnd::Completed => outcomes
            .records()
            .map(|record| record.finished_at)
            .max()
            .map_or(Duration::ZERO, herd_gateway::SimTime::as_duration),
        _ => elapsed,
    };
    let makespan_s = makespan.as_secs_f64();
    let demand = bound::Demand::of(scenario, plan);
    let client = client_counts(
        trace,
        scenario.gateway.epoch_unix_s,
        scenario.instances.count,
        &demand,
    );
    // One pass over the items, one lookup of each outcome.
    let (mut lost_writes, mut unfinished, mut failed_good) = (0u64, 0u64, 0u64);
    let mut priorities: BTreeMap<&'static str, (u64, u64, Vec<u64>)> = BTreeMap::new();
    for item in &items {
        let entry = priorities.entry(priority_of(&item.kind)).or_default();
        entry.0 += 1;
        let Some(record) = outcomes.of(item) else {
            unfinished += 1;
            continue;
        };
        entry.1 += u64::from(record.outcome == Outcome::Ok);
        failed_good += u64::from(record.outcome == Outcome::Failed && !item.bad);
        entry
            .2
            .push((record.finished_at - record.started_at).as_millis() as u64);
        if record.outcome == Outcome::Ok {
            let lost = item
                .kind
                .write(scenario.gateway.platform)
                .is_some_and(|(op, key)| ledger.applied(op, &key) == 0);
            lost_writes += u64::from(lost);
        }
    }
    let mut latencies: Vec<u64> = outcomes
        .records()
        .map(|record| (record.finished_at - record.started_at).as_millis() as u64)
        .collect();
    latencies.sort_unstable();
    let token_requests_excess = client
        .token_requests
        .saturating_sub(tokens_needed(scenario, makespan));
    let best_makespan_s =
        bound::best_makespan(scenario, &demand).map_or(0.0, |oracle| oracle.best_makespan_s);
    let quota_utilization = bound::admissible_by(scenario, &demand, SimTime::from_duration(makespan))
        .map_or(0.0, |allowed| {
            ratio(client.useful_admissions as f64, allowed as f64)
        });
    Metrics {
        end,
        makespan_s: round3(makespan_s),
        items: items.len() as u64,
        ok,
        failed: count(|o| *o == Outcome::Failed),
        failed_good,
        gave_up: count(|o| matches!(o, Outcome::GaveUp(_))),
        unfinished,
        attempts: client.attempts,
        wasted_attempts: client.attempts.saturating_sub(client.successes) + token_requests_excess,
        amplification: round3(ratio(client.attempts as f64, outcomes.len() as f64)),
        responses_429: client.status(429),
        responses_5xx: client.statuses.range(500..600).map(|(_, n)| n).sum(),
        responses_401: client.status(401),
        responses_409: client.status(409),
        transport_errors: client.transport_errors,
        goodput_per_s: round3(ratio(ok as f64, makespan_s)),
        quota_utilization: round3(quota_utilization),
        best_makespan_s: round3(best_makespan_s),
        makespan_ratio: round3(ratio(makespan_s, best_makespan_s)),
        latency_ms_p50: percentile(&latencies, 50),
        latency_ms_p95: percentile(&latencies, 95),
        latency_ms_p99: percentile(&latencies, 99),
        fairness_jain: round3(fairness(outcomes, SimTime::from_duration(makespan))),
        token_requests: client.token_requests,
        token_requests_excess,
        breaker_openings: client.breaker_openings,
        duplicate_writes: ledger.duplicate_creates(),
        lost_writes,
        sends_before_retry_after: client.sends_before_retry_after,
        in_flight_max: client
            .in_flight_max
            .iter()
            .copied()
            .take(scenario.instances.count as usize)
            .collect(),
        by_priority: by_priority(priorities),
        connections_opened: world.connections_opened.clone(),
        gateway_requests: gateway_stats.requests,
        gateway_rate_limited: gateway_stats.rate_limited,
        background_rejected: gateway_stats.background_rejected,
        recovery: recovery::recovery(scenario, &items, outcomes, makespan),
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
    if expect.no_lost && metrics.unfinished > 0 {
        failures.push(format!("{} items ended with no outcome", metrics.unfinished));
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
    if expect.recovers {
        if let Some(recovery) = metrics.recovery.as_ref().filter(|r| r.recovery_s.is_none()) {
            failures.push(format!(
                "did not recover from the trigger ({}) before the run ended",
                recovery.trigger
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
    /// Per instance, the most attempts in flight at once (a request sent, its answer not yet in).
    in_flight_max: Vec<u64>,
    /// Admitted API requests answered 2xx, in the families the workload needs (what the oracle
    /// of `bound.rs` counts too).
    useful_admissions: u64,
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

/// The families a trace names, interned: each gets a small number, looked up by a scan of a
/// handful of names, with no allocation per record.
#[derive(Default)]
struct Families<'a> {
    names: Vec<&'a str>,
}

impl<'a> Families<'a> {
    fn of(&mut self, name: &'a str) -> usize {
        match self.names.iter().position(|known| *known == name) {
            Some(index) => index,
            None => {
                self.names.push(name);
                self.names.len() - 1
            }
        }
    }
}

/// Counts over the trace, in one pass: the client's events, and the admissions the workload
/// could use. Early sends are judged by what the server said (the raw `Retry-After`, read
/// against the platform's clock at the moment the answer was seen), never by how the client
/// read it: a client that misreads an HTTP-date must not look clean.
fn client_counts(trace: &Trace, epoch_unix_s: u64, instances: u32, demand: &bound::Demand) -> ClientCounts {
    let mut counts = ClientCounts::default();
    let mut families = Families::default();
    let useful: Vec<&str> = demand.requests.keys().map(|(family, _)| *family).collect();
    // Per (instance, family): until when a 429 or 503 closed the bucket, and when it was seen.
    let mut closed: BTreeMap<(u32, usize), (Duration, Duration)> = BTreeMap::new();
    let mut family_of: BTreeMap<(u32, u64), usize> = BTreeMap::new();
    let mut in_flight: Vec<u64> = vec![0; instances as usize];
    let mut in_flight_max: Vec<u64> = vec![0; instances as usize];
    for record in trace.records() {
        let (instance, event, at) = match record {
            Record::Client { instance, event, at } => (*instance, event, at.as_duration()),
            Record::Gateway(event) => {
                if let herd_gateway::events::GatewayEventKind::Admitted { family, status, .. } = &event.kind {
                    if (200..300).contains(status) && useful.contains(family) {
                        counts.useful_admissions += 1;
                    }
                }
                continue;
            }
            Record::Network {
                host,
                action: NetworkAction::Crash,
                ..
            } => {
                // A restarted instance is a new process: it cannot know what the old one was told.
                let crashed = host.strip_prefix("client-").and_then(|n| n.parse::<u32>().ok());
                closed.retain(|(instance, _), _| Some(*instance) != crashed);
                continue;
            }
            Record::Network { .. } => continue,
        };
        let slot = instance as usize;
        if slot >= in_flight.len() {
            in_flight.resize(slot + 1, 0);
            in_flight_max.resize(slot + 1, 0);
        }
        match &event.kind {
            ClientEventKind::Attempt { family, .. } => {
                counts.attempts += 1;
                in_flight[slot] += 1;
                in_flight_max[slot] = in_flight_max[slot].max(in_flight[slot]);
                let family = families.of(family);
                family_of.insert((instance, event.worker), family);
                if let Some((until, learned)) = closed.get(&(instance, family)) {
                    if at > *learned && at < *until {
                        counts.sends_before_retry_after += 1;
                    }
                }
            }
            ClientEventKind::Response {
                status, retry_after, ..
            } => {
                in_flight[slot] = in_flight[slot].saturating_sub(1);
                *counts.statuses.entry(*status).or_insert(0) += 1;
                if (200..300).contains(status) {
                    counts.successes += 1;
                }
                if !matches!(status, 429 | 503) {
                    continue;
                }
                let platform_wall = std::time::UNIX_EPOCH + Duration::from_secs(epoch_unix_s) + at;
                let said = retry_after
                    .as_deref()
                    .and_then(|value| herd_client::headers::parse_retry_after(value, platform_wall));
                if let (Some(wait), Some(family)) = (said, family_of.get(&(instance, event.worker))) {
                    let until = at + wait;
                    let entry = closed
                        .entry((instance, *family))
                        .or_insert((Duration::ZERO, Duration::ZERO));
                    if until > entry.0 {
                        *entry = (until, at);
                    }
                }
            }
            ClientEventKind::TransportFailed { .. } => {
                counts.transport_errors += 1;
                in_flight[slot] = in_flight[slot].saturating_sub(1);
            }
            ClientEventKind::TokenRequest { .. } => counts.token_requests += 1,
            ClientEventKind::BreakerTransition {
                to: BreakerState::Open,
                ..
            } => counts.breaker_openings += 1,
            _ => {}
        }
    }
    counts.in_flight_max = in_flight_max;
    counts
}

/// The token requests a run of `makespan` needs at most: per instance, one at start, one per
/// token lifetime begun (a refresh ahead of expiry included), one per scheduled revocation and
/// one per restart.
fn tokens_needed(scenario: &Scenario, makespan: Duration) -> u64 {
    let ttl_s = scenario
        .gateway
        .clients
        .iter()
        .map(|client| scenario.gateway.token_ttl_s(client))
        .min()
        .unwrap_or(86_399);
    let lifetimes = makespan.as_secs().div_ceil(ttl_s.max(1));
    let revocations = scenario
        .gateway
        .faults
        .iter()
        .filter(|f| matches!(f, herd_gateway::config::Fault::RevokeTokens { .. }))
        .count() as u64;
    let restarts = scenario
        .network
        .crashes
        .iter()
        .filter(|crash| crash.restart_after_s.is_some())
        .count() as u64;
    u64::from(scenario.instances.count) * (1 + lifetimes + revocations) + restarts
}

/// Jain's index over the workers' completion shares: for each worker, the share of its items
/// that were done by the middle of its own active time (from its first item's start to the
/// run's end). 1.0 means every worker had finished the same share of its work by then; a
/// worker left waiting while others finish pulls it towards `1 / workers`. Relative to each
/// worker's start, so spread starts are not taken for starvation; 1.0 when no worker has items.
fn fairness(outcomes: &ItemOutcomes, end: SimTime) -> f64 {
    let mut per_worker: BTreeMap<(u32, u64), Vec<&ItemRecord>> = BTreeMap::new();
    for record in outcomes.records() {
        per_worker
            .entry((record.instance, record.worker))
            .or_default()
            .push(record);
    }
    let shares: Vec<f64> = per_worker
        .values()
        .map(|records| {
            let start = records
                .iter()
                .map(|record| record.started_at)
                .min()
                .unwrap_or(SimTime::ZERO);
            let middle = start + (end.max(start) - start) / 2;
            let done = records
                .iter()
                .filter(|r| r.outcome == Outcome::Ok && r.finished_at <= middle)
                .count();
            done as f64 / records.len() as f64
        })
        .collect();
    jain(&shares)
}

/// Jain's index `(Σx)² / (n Σx²)`, in `[1/n, 1]`; 1.0 for no values or all zeros (nothing to
/// tell apart).
fn jain(values: &[f64]) -> f64 {
    let sum: f64 = values.iter().sum();
    let squares: f64 = values.iter().map(|x| x * x).sum();
    if values.is_empty() || squares == 0.0 {
        return 1.0;
    }
    sum * sum / (values.len() as f64 * squares)
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[u64], pct: u64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (pct as usize * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
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
