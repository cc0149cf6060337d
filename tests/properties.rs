//! Properties of whole runs over seeds and random scenario parameters, inside the simulation.
//! Each case is a shipped scenario with `--set` overrides and a seed; a failure prints the
//! `herdsim run` command that replays it.

use std::collections::BTreeMap;

use herd_client::events::EventKind;
use herd_client::policy::breaker::BreakerState;
use herd_sim::run::{self, Run};
use herd_sim::scenario::{library, Scenario};
use herd_sim::trace::{NetworkAction, Record};
use herd_sim::world::RunEnd;
use proptest::prelude::*;

struct Case {
    name: &'static str,
    overrides: Vec<String>,
    seed: u64,
}

impl Case {
    fn new(name: &'static str, seed: u64, overrides: &[String]) -> Case {
        Case {
            name,
            overrides: overrides.to_vec(),
            seed,
        }
    }

    fn scenario(&self) -> Scenario {
        let shipped = library::find(self.name).expect("a shipped scenario");
        shipped.load(&self.overrides).unwrap_or_else(|e| panic!("{e}"))
    }

    fn run(&self) -> (Scenario, Run) {
        let scenario = self.scenario();
        let run = run::run(&scenario, self.seed, &mut |_| {});
        (scenario, run)
    }

    /// The command that replays this case.
    fn replay(&self) -> String {
        let sets: String = self.overrides.iter().map(|o| format!(" --set '{o}'")).collect();
        format!("herdsim run {} --seed {}{sets}", self.name, self.seed)
    }
}

/// 12 cases per property (each is a whole run); `PROPTEST_CASES=500` for a deeper search.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(12);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// `workers` workers, `operations` items over as many users, at 20 requests per minute per
/// token: slow enough that the scenario's faults and network actions happen mid-run.
fn slow_work_overrides(workers: u32, operations: u64) -> Vec<String> {
    vec![
        format!("instances.workers={workers}"),
        format!("workload.operations={operations}"),
        format!("gateway.data.users={operations}"),
        "gateway.limits=[{ name = \"token.rate.per.minute\", limit = 20, key = [\"token\"] }]".to_string(),
    ]
}

/// Every item ends with exactly one outcome (a second one fails the run), and every write
/// reported ok is in the gateway's ledger.
fn assert_complete(case: &Case, run: &Run) {
    assert_eq!(
        run.end,
        RunEnd::Completed,
        "{}: {:?} {:?}",
        case.replay(),
        run.end,
        run.error
    );
    assert_eq!(run.metrics.unfinished, 0, "{}", case.replay());
    assert_eq!(run.metrics.lost_writes, 0, "{}", case.replay());
    assert_eq!(
        run.metrics.ok + run.metrics.failed + run.metrics.gave_up,
        run.metrics.items,
        "{}",
        case.replay()
    );
}

/// Runs a property over `config().cases` cases from a fixed seed, counting for each named
/// assertion how many cases gave it something to check; each must have been exercised in at
/// least 90% of the cases (a "sometimes" assertion fails the test). `check` returns, per
/// assertion, whether this case exercised it.
fn property<S: Strategy>(
    name: &str,
    strategy: S,
    assertions: &[&str],
    check: impl Fn(S::Value) -> Result<Vec<bool>, TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let config = config();
    let cases = config.cases;
    let rng = proptest::test_runner::TestRng::deterministic_rng(config.rng_algorithm);
    let mut runner = proptest::test_runner::TestRunner::new_with_rng(config, rng);
    let counts: Vec<std::sync::atomic::AtomicU32> = assertions.iter().map(|_| Default::default()).collect();
    let ran = std::sync::atomic::AtomicU32::new(0);
    let outcome = runner.run(&strategy, |value| {
        let exercised = check(value)?;
        ran.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        for (count, hit) in counts.iter().zip(exercised) {
            count.fetch_add(u32::from(hit), std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    });
    if let Err(failure) = outcome {
        panic!("{name}: {failure}");
    }
    let ran = ran.into_inner();
    assert_eq!(ran, cases);
    for (assertion, count) in assertions.iter().zip(counts) {
        let count = count.into_inner();
        eprintln!("{name}: `{assertion}` had something to check in {count} of {ran} cases");
        assert!(
            count * 10 >= ran * 9,
            "{name}: `{assertion}` was exercised in only {count} of {ran} cases"
        );
    }
}

fn count_gateway(run: &Run, what: impl Fn(&herd_gateway::events::GatewayEventKind) -> bool) -> usize {
    run.trace
        .records()
        .iter()
        .filter(|r| matches!(r, Record::Gateway(event) if what(&event.kind)))
        .count()
}

/// Updates and creates under lost responses, 5xx and tight limits: no item lost or doubled,
/// no write reported ok and missing, no duplicate create (idempotency keys are on), and
/// nobody sends into a bucket before the Retry-After it was told has passed.
#[test]
fn writes_under_faults_are_neither_lost_nor_doubled() {
    let strategy = (
        any::<u64>(),
        2u32..16,
        20u64..60,
        8u32..30,
        4u64..12,
        any::<bool>(),
        any::<bool>(),
    );
    property(
        "writes under faults",
        strategy,
        &[
            "no duplicate after a lost response",
            "no send before a seen Retry-After",
        ],
        |(seed, workers, operations, lost_rate, limit, create, fast)| {
            let overrides = vec![
                format!("network.mode=\"{}\"", if fast { "fast" } else { "turmoil" }),
                format!("instances.workers={workers}"),
                format!("workload.kind=\"{}\"", if create { "create" } else { "update" }),
                format!("workload.operations={operations}"),
                format!("gateway.faults=[{{ kind = \"lost_response\", rate = {} }}, {{ kind = \"server_errors\", rate = 0.05, status = 503 }}]", f64::from(lost_rate) / 100.0),
                format!("gateway.layers.token_rate_per_min={limit}"),
                format!("gateway.layers.client_rate_per_min={limit}"),
                "gateway.data.users=60".to_string(),
            ];
            let case = Case::new("lost-responses", seed, &overrides);
            let (_, run) = case.run();
            assert_complete(&case, &run);
            prop_assert_eq!(run.metrics.duplicate_writes, 0, "{}", case.replay());
            prop_assert_eq!(run.metrics.sends_before_retry_after, 0, "{}", case.replay());
            let lost = count_gateway(
                &run,
                |kind| matches!(kind, herd_gateway::events::GatewayEventKind::Fault { fault, .. } if fault == "lost_response"),
            );
            Ok(vec![lost > 0, run.metrics.responses_429 > 0])
        },
    );
}

/// Two instances share one OAuth client with short-lived tokens and a revocation mid-run: each
/// instance asks for one token per lifetime however many workers it has, and sooner only after
/// a 401 told it its token was gone.
#[test]
fn one_token_request_per_expiry_per_instance() {
    let strategy = (any::<u64>(), 1u32..30, 2u64..5, 30u64..200);
    property(
        "one token per expiry",
        strategy,
        &[
            "two token requests of one instance compared",
            "a revocation mid-run",
        ],
        |(seed, workers, limit, revoke_at_s)| {
            let overrides = vec![
                format!("instances.workers={workers}"),
                "workload.operations=60".to_string(),
                "gateway.data.users=60".to_string(),
                format!("gateway.layers.token_rate_per_min={limit}"),
                format!("gateway.layers.client_rate_per_min={limit}"),
                format!("gateway.faults=[{{ kind = \"revoke_tokens\", at_s = {revoke_at_s} }}]"),
                "client.retry.deadline_ms=3600000".to_string(),
            ];
            let case = Case::new("token-expiry", seed, &overrides);
            let (scenario, run) = case.run();
            assert_complete(&case, &run);
            let ttl_s = scenario.gateway.clients[0]
                .token_ttl_s
                .expect("the scenario sets a TTL");
            let margin_s = scenario.client.token.refresh_margin_s;
            // Per instance: its token requests and its 401s, in time order.
            let mut timeline: BTreeMap<u32, Vec<(f64, bool)>> = BTreeMap::new();
            for record in run.trace.records() {
                if let Record::Client { at, instance, event } = record {
                    let t = at.as_micros() as f64 / 1e6;
                    match &event.kind {
                        EventKind::TokenRequest { .. } => {
                            timeline.entry(*instance).or_default().push((t, true));
                        }
                        EventKind::Response { status: 401, .. } => {
                            timeline.entry(*instance).or_default().push((t, false));
                        }
                        _ => {}
                    }
                }
            }
            let mut compared = false;
            for (instance, events) in &timeline {
                let mut last_request: Option<f64> = None;
                let mut told_401 = false;
                let mut requests = 0usize;
                for &(t, is_request) in events {
                    if !is_request {
                        told_401 = true;
                        continue;
                    }
                    requests += 1;
                    if let Some(previous) = last_request {
                        compared = true;
                        // A refresh comes no earlier than the margin plus its spread (up to
                        // half a margin more, per token) before the held token's expiry, unless
                        // a 401 said the token was gone.
                        let earliest = ttl_s as f64 - margin_s as f64 * 1.5;
                        prop_assert!(
                            told_401 || t - previous >= earliest - 1.0,
                            "instance {} asked for tokens at {} and {}: {}",
                            instance,
                            previous,
                            t,
                            case.replay()
                        );
                    }
                    last_request = Some(t);
                    told_401 = false;
                }
                let bound = 2 + (run.elapsed.as_secs_f64() / (ttl_s - margin_s) as f64).ceil() as usize;
                prop_assert!(
                    requests <= bound,
                    "instance {}: {} token requests, at most {}: {}",
                    instance,
                    requests,
                    bound,
                    case.replay()
                );
            }
            let revoked = count_gateway(
                &run,
                |kind| matches!(kind, herd_gateway::events::GatewayEventKind::TokensRevoked { count } if *count > 0),
            );
            Ok(vec![compared, revoked > 0])
        },
    );
}

/// Through a maintenance window the breaker opens, and half-open it lets through at most
/// its probe count before it decides.
#[test]
fn half_open_breakers_admit_at_most_their_probes() {
    let strategy = (any::<u64>(), 4u32..20, 1u32..4, 2u32..5);
    property(
        "half-open probes",
        strategy,
        &["a breaker went half-open"],
        |(seed, workers, probes, failures)| {
            let mut overrides = slow_work_overrides(workers, 40);
            overrides.extend([
                // No Retry-After on the 503s: with one, the client closes the family until then
                // and the breaker seldom trips; without, only the breaker stands between the
                // outage and the workers.
                "gateway.faults=[{ kind = \"maintenance\", from_s = 30, until_s = 100 }]".to_string(),
                format!("client.breaker.half_open_probes={probes}"),
                format!("client.breaker.mode={{ kind = \"consecutive\", failures = {failures} }}"),
            ]);
            let case = Case::new("maintenance-window", seed, &overrides);
            let (_, run) = case.run();
            assert_complete(&case, &run);
            prop_assert_eq!(run.metrics.sends_before_retry_after, 0, "{}", case.replay());
            // Per (instance, family): attempts since the breaker went half-open.
            let mut half_open: BTreeMap<(u32, std::sync::Arc<str>), u32> = BTreeMap::new();
            let mut went_half_open = false;
            for record in run.trace.records() {
                let Record::Client { instance, event, .. } = record else {
                    continue;
                };
                match &event.kind {
                    EventKind::BreakerTransition { family, to, .. } => {
                        if *to == BreakerState::HalfOpen {
                            went_half_open = true;
                            half_open.insert((*instance, family.clone()), 0);
                        } else {
                            half_open.remove(&(*instance, family.clone()));
                        }
                    }
                    EventKind::Attempt { family, .. } => {
                        if let Some(count) = half_open.get_mut(&(*instance, family.clone())) {
                            *count += 1;
                            prop_assert!(
                                *count <= probes,
                                "{} attempts while half-open with {} probes: {}",
                                count,
                                probes,
                                case.replay()
                            );
                        }
                    }
                    _ => {}
                }
            }
            Ok(vec![went_half_open])
        },
    );
}

/// A partition and a crash: items of the crashed instance resume after its restart, none is
/// lost or ends twice, and the restarted instance starts with a fresh token before it sends.
#[test]
fn partitions_and_crashes_lose_nothing() {
    let strategy = (any::<u64>(), 2u32..10, 5u64..40, 1u64..20, any::<bool>());
    property(
        "partitions and crashes",
        strategy,
        &["an instance restarted mid-run"],
        |(seed, workers, crash_at, restart_after, fast)| {
            let mut overrides = slow_work_overrides(workers, 60);
            overrides.extend([
                format!("network.mode=\"{}\"", if fast { "fast" } else { "turmoil" }),
                "network.partitions[0].from_s=30".to_string(),
                "network.partitions[0].until_s=70".to_string(),
                format!("network.crashes[0].at_s={crash_at}"),
                format!("network.crashes[0].restart_after_s={restart_after}"),
            ]);
            let case = Case::new("network-partition", seed, &overrides);
            let (_, run) = case.run();
            assert_complete(&case, &run);
            prop_assert_eq!(run.metrics.sends_before_retry_after, 0, "{}", case.replay());
            // After its restart, an instance asks for a token before its first attempt: the new
            // process cannot use the old one's.
            let mut restarted: BTreeMap<String, bool> = BTreeMap::new();
            let mut checked = false;
            for record in run.trace.records() {
                match record {
                    Record::Network {
                        host,
                        action: NetworkAction::Restart,
                        ..
                    } => {
                        restarted.insert(host.clone(), false);
                    }
                    Record::Client { instance, event, .. } => {
                        let host = format!("client-{instance}");
                        match (&event.kind, restarted.get(&host).copied()) {
                            (EventKind::TokenRequest { .. }, Some(false)) => {
                                restarted.insert(host, true);
                            }
                            (EventKind::Attempt { .. }, Some(has_token)) => {
                                prop_assert!(
                                    has_token,
                                    "{} sent before asking for a token after its restart: {}",
                                    host,
                                    case.replay()
                                );
                                checked = true;
                                restarted.remove(&host);
                            }
                            _ => {}
                        }
                    }
                    _ => {}
                }
            }
            Ok(vec![checked])
        },
    );
}

/// Without idempotency keys the same lost responses do create duplicates: the property above
/// is not vacuous.
#[test]
fn without_idempotency_keys_lost_responses_duplicate_creates() {
    let overrides = [
        "instances.workers=5".to_string(),
        "workload.operations=60".to_string(),
        "client.idempotency_keys=false".to_string(),
        "expect.max_duplicates=1000".to_string(),
    ];
    let case = Case::new("lost-responses", 3, &overrides);
    let (_, run) = case.run();
    assert_complete(&case, &run);
    assert!(run.metrics.duplicate_writes > 0, "{}", case.replay());
}

/// A preset that does not share Retry-After across workers sends into a closed bucket, and the
/// metric shows it: the no-early-sends property above can fail.
#[test]
fn a_preset_without_shared_retry_after_sends_early_and_the_metric_shows_it() {
    let case = Case::new(
        "short-retry-after",
        1,
        &[
            "preset=\"genesys-java\"".to_string(),
            "workload.operations=120".to_string(),
            "instances.workers=10".to_string(),
        ],
    );
    let (_, run) = case.run();
    assert!(run.metrics.sends_before_retry_after > 0, "{}", case.replay());
}

/// Instances authenticate as the OAuth client the scenario gives them: on one client they share
/// its client-keyed bucket, on two clients each has its own, and the work takes half the time.
#[test]
fn instances_share_the_buckets_of_their_oauth_client_only() {
    let base = [
        "instances.count=2".to_string(),
        "instances.workers=4".to_string(),
        "workload.operations=80".to_string(),
        "gateway.limits=[{ name = \"client.rate.per.minute\", limit = 20, key = [\"client\"] }]".to_string(),
        "gateway.background=[]".to_string(),
        "gateway.clients=[{ id = \"app-a\", secret = \"a\" }, { id = \"app-b\", secret = \"b\" }]"
            .to_string(),
    ];
    let run = |clients: &str| {
        let mut overrides = base.to_vec();
        overrides.push(format!("instances.oauth_clients={clients}"));
        let case = Case::new("shared-bucket-shift", 1, &overrides);
        let (_, run) = case.run();
        assert_complete(&case, &run);
        run.metrics.makespan_s
    };
    let shared = run("[\"app-a\"]");
    let separate = run("[\"app-a\", \"app-b\"]");
    // 80 reads at 20/min: three more windows on one client, one more on two.
    assert!(
        shared > 175.0 && separate < 125.0,
        "one client {shared} s, two clients {separate} s"
    );
}

/// The client records the platform's correlation id of every Genesys response, so a client
/// event and the platform's log line can be joined; CXone sends none.
#[test]
fn client_events_carry_the_platforms_correlation_id() {
    for (name, expect_ids) in [("thundering-herd", true), ("cxone-bulk-paging", false)] {
        let shipped = library::find(name).unwrap();
        let mut overrides = shipped.load(&[]).unwrap().small;
        overrides.push("network.mode=\"fast\"".into());
        let case = Case::new(name, 1, &overrides);
        let (_, run) = case.run();
        let ids: Vec<Option<&str>> = run
            .trace
            .records()
            .iter()
            .filter_map(|record| match record {
                Record::Client { event, .. } => match &event.kind {
                    EventKind::Response { correlation_id, .. } => Some(correlation_id.as_deref()),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        assert!(!ids.is_empty());
        assert!(
            ids.iter().all(|id| id.is_some() == expect_ids),
            "{name}: {:?}",
            &ids[..3.min(ids.len())]
        );
        if expect_ids {
            let distinct: std::collections::BTreeSet<&str> = ids.iter().flatten().copied().collect();
            assert_eq!(distinct.len(), ids.len(), "{name}: one id per response");
        }
    }
}

/// Items that fail for good (a missing user: 404; an invalid field: 400), alone and inside bulk
/// requests: each ends failed, after one try, with exactly one outcome; the good items around
/// them end ok.
#[test]
fn items_that_fail_for_good_are_never_retried() {
    let strategy = (any::<u64>(), 0usize..3, 5u64..30, 5u64..30, any::<bool>());
    property(
        "items that fail for good",
        strategy,
        &["a bad item failed once", "a good item beside it ended ok"],
        |(seed, shape, missing_pct, invalid_pct, fast)| {
            let (name, mut overrides) = match shape {
                0 => ("thundering-herd", vec!["workload.operations=60".to_string()]),
                1 => ("token-expiry", vec!["workload.operations=60".to_string()]),
                _ => ("bulk-update", vec!["workload.users=80".to_string()]),
            };
            overrides.extend([
                "instances.workers=6".to_string(),
                format!("network.mode=\"{}\"", if fast { "fast" } else { "turmoil" }),
                format!("bad_items.missing_pct={missing_pct}"),
                format!("bad_items.invalid_pct={invalid_pct}"),
            ]);
            let case = Case::new(name, seed, &overrides);
            let scenario = case.scenario();
            let output = herd_sim::world::simulate(&scenario, seed, &mut |_| {});
            prop_assert_eq!(output.end, RunEnd::Completed, "{}", case.replay());
            let users = scenario.gateway.data.users;
            let is_bad = |kind: &herd_sim::world::plan::ItemKind| {
                use herd_sim::world::plan::ItemKind;
                let (user, fields) = match kind {
                    ItemKind::Read { user } => (user, None),
                    ItemKind::Update { user, fields, .. } | ItemKind::BulkUpdate { user, fields } => {
                        (user, Some(fields))
                    }
                    _ => return false,
                };
                let known = (0..users).any(|n| {
                    herd_gateway::directory::Directory::id_for(scenario.gateway.platform, n) == *user
                });
                !known || fields.is_some_and(|fields| fields["state"] == "sideways")
            };
            let (mut bad, mut good_ok) = (0, 0);
            for item in output.plan.iter().flatten().flatten() {
                let record = output.outcomes.of(item);
                prop_assert!(record.is_some(), "{}: {} has no outcome", case.replay(), item.id);
                let record = record.unwrap();
                if is_bad(&item.kind) {
                    bad += 1;
                    prop_assert_eq!(
                        (record.outcome, record.attempts),
                        (herd_client::Outcome::Failed, 1),
                        "{}: {}",
                        case.replay(),
                        item.id
                    );
                } else if record.outcome == herd_client::Outcome::Ok {
                    good_ok += 1;
                }
            }
            prop_assert_eq!(
                output.outcomes.len(),
                output.plan.iter().flatten().flatten().count()
            );
            Ok(vec![bad > 0, good_ok > 0])
        },
    );
}

/// Rate limiting is not failure: under a herd on tight limits, an item never gives up while the
/// platform says "later" with a Retry-After its deadline can wait for. It gives up only when the
/// wait is beyond what its deadline has left, and then says so; no fixed count of 429s ends it.
#[test]
fn rate_limited_items_wait_while_their_deadline_allows() {
    rate_limiting_is_not_failure("rate limiting is not failure", false);
}

#[test]
fn without_retry_after_a_throttle_still_counts_no_attempt() {
    rate_limiting_is_not_failure("a 429 without Retry-After is not failure either", true);
}

/// A Retry-After of 1 s (or, with `missing`, none at all) on a fixed window of a minute, no
/// learned limit, and three attempts allowed: items meet more 429s than that, and must keep
/// waiting; only a deadline may end them.
fn rate_limiting_is_not_failure(name: &str, missing: bool) {
    let strategy = (any::<u64>(), 4u32..40, 5u64..30, 30u64..120, any::<bool>());
    property(
        name,
        strategy,
        &["items met 429s", "an item met more 429s than max_attempts"],
        |(seed, workers, limit, operations, fast)| {
            let mut overrides = vec![
                format!("network.mode=\"{}\"", if fast { "fast" } else { "turmoil" }),
                format!("instances.workers={workers}"),
                format!("workload.operations={operations}"),
                format!("gateway.limits[0].limit={limit}"),
                "client.pacing.learn=false".to_string(),
                "client.retry.max_attempts=3".to_string(),
                "duration_s=3600".to_string(),
            ];
            if missing {
                overrides.push("gateway.limits[0].retry_after=\"missing\"".to_string());
            }
            let case = Case::new("short-retry-after", seed, &overrides);
            let (_, run) = case.run();
            assert_complete(&case, &run);
            let mut most_waits = 0;
            for record in run.trace.records() {
                let Record::Client { event, .. } = record else {
                    continue;
                };
                if let EventKind::Done {
                    reason: Some(reason),
                    attempts,
                    ..
                } = &event.kind
                {
                    most_waits = most_waits.max(*attempts);
                    prop_assert!(
                        matches!(
                            reason,
                            herd_client::policy::retry::GiveUp::RetryAfterBeyondDeadline { .. }
                                | herd_client::policy::retry::GiveUp::DeadlineExceeded
                        ),
                        "{}: {} gave up for {:?} while only rate limited",
                        case.replay(),
                        event.op,
                        reason
                    );
                } else if let EventKind::Done { attempts, .. } = &event.kind {
                    most_waits = most_waits.max(*attempts);
                }
            }
            Ok(vec![run.metrics.responses_429 > 0, most_waits > 3])
        },
    );
}
