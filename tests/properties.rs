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

proptest! {
    #![proptest_config(config())]

    /// Updates and creates under lost responses, 5xx and tight limits: no item lost or doubled,
    /// no write reported ok and missing, no duplicate create (idempotency keys are on), and
    /// nobody sends into a bucket before the Retry-After it was told has passed.
    #[test]
    fn writes_under_faults_are_neither_lost_nor_doubled(
        seed in any::<u64>(),
        workers in 1u32..16,
        operations in 1u64..60,
        lost_rate in 0u32..30,
        limit in 10u64..80,
        create in any::<bool>(),
        fast in any::<bool>(),
    ) {
        let overrides = vec![
            format!("network.mode=\"{}\"", if fast { "fast" } else { "turmoil" }),
            format!("instances.workers={workers}"),
            format!("workload.kind=\"{}\"", if create { "create" } else { "update" }),
            format!("workload.operations={operations}"),
            format!("gateway.faults=[{{ kind = \"lost_response\", rate = {} }}, {{ kind = \"server_errors\", rate = 0.05, status = 503 }}]", f64::from(lost_rate) / 100.0),
            format!("gateway.limits=[{{ name = \"token.rate.per.minute\", limit = {limit}, key = [\"token\"] }}]"),
            "gateway.data.users=60".to_string(),
        ];
        let case = Case::new("lost-responses", seed, &overrides);
        let (_, run) = case.run();
        assert_complete(&case, &run);
        prop_assert_eq!(run.metrics.duplicate_writes, 0, "{}", case.replay());
        prop_assert_eq!(run.metrics.sends_before_retry_after, 0, "{}", case.replay());
    }

    /// Two instances share one OAuth client with short-lived tokens (and some revocations):
    /// each instance asks for at most one token per expiry, however many workers it has.
    #[test]
    fn one_token_request_per_expiry_per_instance(
        seed in any::<u64>(),
        workers in 1u32..30,
        limit in 3u64..12,
    ) {
        let overrides = vec![
            format!("instances.workers={workers}"),
            "workload.operations=50".to_string(),
            "gateway.data.users=50".to_string(),
            format!("gateway.layers.token_rate_per_min={limit}"),
            format!("gateway.layers.client_rate_per_min={}", limit * 2),
        ];
        let case = Case::new("token-expiry", seed, &overrides);
        let (scenario, run) = case.run();
        assert_complete(&case, &run);
        let ttl_s = scenario.gateway.clients[0].token_ttl_s.expect("the scenario sets a TTL");
        let margin_s = scenario.client.token.refresh_margin_s;
        let mut requests: BTreeMap<u32, Vec<f64>> = BTreeMap::new();
        for record in run.trace.records() {
            if let Record::Client { at, instance, event } = record {
                if matches!(event.kind, EventKind::TokenRequest { .. }) {
                    requests.entry(*instance).or_default().push(at.as_micros() as f64 / 1e6);
                }
            }
        }
        for (instance, times) in &requests {
            for pair in times.windows(2) {
                // A refresh comes no earlier than `margin` before the held token's expiry.
                prop_assert!(pair[1] - pair[0] >= (ttl_s - margin_s) as f64 - 1.0, "instance {instance} asked for tokens at {pair:?}: {}", case.replay());
            }
            let bound = 1 + (run.elapsed.as_secs_f64() / (ttl_s - margin_s) as f64).ceil() as usize;
            prop_assert!(times.len() <= bound, "instance {instance}: {} token requests, at most {bound}: {}", times.len(), case.replay());
        }
    }

    /// Through a maintenance window the breaker opens, and half-open it lets through at most
    /// its probe count before it decides.
    #[test]
    fn half_open_breakers_admit_at_most_their_probes(
        seed in any::<u64>(),
        workers in 2u32..20,
        probes in 1u32..4,
        failures in 2u32..8,
    ) {
        let mut overrides = slow_work_overrides(workers, 40);
        overrides.extend([
            "gateway.faults[0].from_s=30".to_string(),
            "gateway.faults[0].until_s=100".to_string(),
            format!("client.breaker.half_open_probes={probes}"),
            format!("client.breaker.mode={{ kind = \"consecutive\", failures = {failures} }}"),
        ]);
        let case = Case::new("maintenance-window", seed, &overrides);
        let (_, run) = case.run();
        assert_complete(&case, &run);
        prop_assert_eq!(run.metrics.sends_before_retry_after, 0, "{}", case.replay());
        // Per (instance, family): attempts since the breaker went half-open.
        let mut half_open: BTreeMap<(u32, String), u32> = BTreeMap::new();
        for record in run.trace.records() {
            let Record::Client { instance, event, .. } = record else { continue };
            match &event.kind {
                EventKind::BreakerTransition { family, to, .. } => {
                    if *to == BreakerState::HalfOpen {
                        half_open.insert((*instance, family.clone()), 0);
                    } else {
                        half_open.remove(&(*instance, family.clone()));
                    }
                }
                EventKind::Attempt { family, .. } => {
                    if let Some(count) = half_open.get_mut(&(*instance, family.clone())) {
                        *count += 1;
                        prop_assert!(*count <= probes, "{} attempts while half-open with {probes} probes: {}", count, case.replay());
                    }
                }
                _ => {}
            }
        }
    }

    /// A partition and a crash: items of the crashed instance resume after its restart, none is
    /// lost or ends twice, and the restarted instance starts with a fresh token.
    #[test]
    fn partitions_and_crashes_lose_nothing(
        seed in any::<u64>(),
        workers in 1u32..10,
        crash_at in 1u64..90,
        restart_after in 1u64..30,
        fast in any::<bool>(),
    ) {
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
        let crashed = run.trace.records().iter().any(|r| matches!(r, Record::Network { action: NetworkAction::Crash, .. }));
        let restarted = run.trace.records().iter().any(|r| matches!(r, Record::Network { action: NetworkAction::Restart, .. }));
        // The crash is recorded unless the work was done first; a restart always follows it.
        prop_assert!(!crashed || restarted || run.metrics.makespan_s < (crash_at + restart_after) as f64, "{}", case.replay());
    }
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
