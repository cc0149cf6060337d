//! A model of the layers: per token, per OAuth client across its tokens, and the token endpoint
//! per client, against a naive reference (every admission's time, per key, never pruned).
//!
//! Transitions: `Request` (with the newest token), `Mint` (ask for a new token), `Advance`.
//! Checked after every step:
//! - a request is admitted exactly when every layer that applies admits it, and a refusal names
//!   the layer the reference says is full;
//! - no layer's key ever holds more than its limit in any window;
//! - a new token never frees the client-wide bucket: a fresh token's request is refused whenever
//!   the client's window is full.
//!
//! A second model covers the early-retry penalty and per-resource keys (Retry-After included).
//!
//! Each property counts the cases that exercised the last point (a fresh token refused by the
//! client layer) and fails if too few did.

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use herd_gateway::config::{GatewayConfig, Layers};
use herd_gateway::events::GatewayEventKind;
use herd_gateway::{Gateway, Request, SimTime};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use support::{streams, token_request};

const WINDOW_US: u64 = 60_000_000;

#[derive(Clone, Debug)]
enum Op {
    Request,
    Mint,
    Advance { ms: u64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => Just(Op::Request),
        3 => Just(Op::Mint),
        3 => (0u64..3_000).prop_map(|ms| Op::Advance { ms }),
        1 => (3_000u64..70_000).prop_map(|ms| Op::Advance { ms }),
    ]
}

/// Admissions of one key; the count in the window ending at `now` is those after `now - window`.
#[derive(Default)]
struct Log(Vec<u64>);

impl Log {
    fn count(&self, now_us: u64) -> u64 {
        self.0.iter().filter(|&&at| at + WINDOW_US > now_us).count() as u64
    }
}

struct Model {
    token_limit: u64,
    client_limit: u64,
    endpoint_limit: u64,
    tokens: BTreeMap<u64, Log>,
    client: Log,
    endpoint: Log,
}

fn refused_rule(gateway: &mut Gateway) -> Option<String> {
    gateway
        .drain_events()
        .into_iter()
        .find_map(|event| match event.kind {
            GatewayEventKind::RateLimited {
                rule, count, limit, ..
            } => {
                assert!(count >= limit, "{rule} refused at {count} of {limit}");
                Some(rule)
            }
            _ => None,
        })
}

/// Runs one case; `Ok(true)` when it refused a fresh token at the client layer.
fn run(limits: (u64, u64, u64), ops: &[Op], seed: u64) -> Result<bool, TestCaseError> {
    let (token_limit, client_limit, endpoint_limit) = limits;
    let config = GatewayConfig {
        layers: Layers {
            token_rate_per_min: token_limit,
            client_rate_per_min: client_limit,
            token_endpoint_rate_per_min: endpoint_limit,
            org_rate_per_min: 0,
        },
        ..GatewayConfig::default()
    };
    let mut gateway = Gateway::new(config, streams(seed)).unwrap();
    let mut model = Model {
        token_limit,
        client_limit,
        endpoint_limit,
        tokens: BTreeMap::new(),
        client: Log::default(),
        endpoint: Log::default(),
    };
    let (mut now_us, mut token, mut token_seq, mut fresh) = (0u64, None::<String>, 0u64, false);
    let mut exercised = false;
    for op in ops {
        match op {
            Op::Advance { ms } => now_us += ms * 1_000,
            Op::Mint => {
                let response = gateway.handle(SimTime::from_micros(now_us), token_request());
                let admit = model.endpoint.count(now_us) < model.endpoint_limit;
                prop_assert_eq!(response.status == 200, admit, "mint at {}us", now_us);
                if admit {
                    model.endpoint.0.push(now_us);
                    token = response.body_json().unwrap()["access_token"]
                        .as_str()
                        .map(str::to_string);
                    token_seq += 1;
                    fresh = true;
                } else {
                    prop_assert_eq!(response.status, 429);
                    let rule = refused_rule(&mut gateway);
                    prop_assert_eq!(rule.as_deref(), Some("oauth.token.rate.per.minute"));
                }
            }
            Op::Request => {
                let Some(bearer) = token.as_deref() else { continue };
                let request = Request::new("GET", "/api/v2/users?pageSize=1").bearer(bearer);
                let response = gateway.handle(SimTime::from_micros(now_us), request);
                let token_full =
                    model.tokens.entry(token_seq).or_default().count(now_us) >= model.token_limit;
                let client_full = model.client.count(now_us) >= model.client_limit;
                prop_assert_eq!(
                    response.status == 200,
                    !token_full && !client_full,
                    "request at {}us",
                    now_us
                );
                if response.status == 200 {
                    model.tokens.get_mut(&token_seq).unwrap().0.push(now_us);
                    model.client.0.push(now_us);
                } else {
                    let rule = refused_rule(&mut gateway).expect("a 429 names its rule");
                    let expected: &[&str] = match (token_full, client_full) {
                        (true, false) => &["client.credentials.token.rate.per.minute"],
                        (false, true) => &["client.rate.per.minute"],
                        _ => &[
                            "client.credentials.token.rate.per.minute",
                            "client.rate.per.minute",
                        ],
                    };
                    prop_assert!(
                        expected.contains(&rule.as_str()),
                        "{} refused; expected one of {:?}",
                        rule,
                        expected
                    );
                    if fresh && client_full && !token_full {
                        exercised = true;
                    }
                }
                fresh = false;
            }
        }
        // No key ever above its limit in the window ending now (the reference is exact).
        prop_assert!(model.client.count(now_us) <= model.client_limit);
        prop_assert!(model.endpoint.count(now_us) <= model.endpoint_limit);
        prop_assert!(model
            .tokens
            .values()
            .all(|log| log.count(now_us) <= model.token_limit));
    }
    Ok(exercised)
}

/// Sequences that mint tokens into a full client window often: a tight client layer above a
/// looser token layer, and episodes of a burst of requests, maybe a new token, one more request,
/// then a pause (sometimes long enough for every window to pass).
fn case() -> impl Strategy<Value = ((u64, u64, u64), Vec<Op>, u64)> {
    let limits = (2u64..8).prop_flat_map(|client| (client + 1..client + 6, Just(client), 2u64..6));
    let limits = limits.prop_map(|(token, client, endpoint)| (token, client, endpoint));
    let episode = (
        0usize..12,
        prop::bool::weighted(0.7),
        op(),
        prop_oneof![4 => 0u64..20_000, 1 => 20_000u64..70_000],
    );
    let ops = prop::collection::vec(episode, 4..16).prop_map(|episodes| {
        let mut ops = vec![Op::Mint];
        for (burst, mint, extra, pause_ms) in episodes {
            ops.extend(std::iter::repeat_n(Op::Request, burst));
            if mint {
                ops.push(Op::Mint);
            }
            ops.extend([Op::Request, extra, Op::Advance { ms: pause_ms }]);
        }
        ops
    });
    (limits, ops, any::<u64>())
}

/// `PROPTEST_CASES` cases (default 256) from a fixed seed: the same cases every run, so the
/// shares the properties below assert are facts, not coin tosses.
fn deterministic_runner() -> (u32, proptest::test_runner::TestRunner) {
    let cases: u32 = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let config = ProptestConfig::with_cases(cases);
    let rng = proptest::test_runner::TestRng::deterministic_rng(config.rng_algorithm);
    (
        cases,
        proptest::test_runner::TestRunner::new_with_rng(config, rng),
    )
}

/// The property, over `PROPTEST_CASES` cases (default 256), counting the cases that exercised
/// its key assertion: at least 90% must have (a "sometimes" assertion fails the test).
#[test]
fn layers_admit_exactly_what_every_layer_admits() {
    let (cases, mut runner) = deterministic_runner();
    let (ran, exercised) = (AtomicU64::new(0), AtomicU64::new(0));
    let outcome = runner.run(&case(), |(limits, ops, seed)| {
        let hit = run(limits, &ops, seed)?;
        ran.fetch_add(1, Ordering::Relaxed);
        exercised.fetch_add(u64::from(hit), Ordering::Relaxed);
        Ok(())
    });
    if let Err(failure) = outcome {
        panic!("{failure}\nreplay: PROPTEST_CASES={cases} cargo test -p herd-gateway --test layers_model");
    }
    let (ran, exercised) = (ran.into_inner(), exercised.into_inner());
    eprintln!("layers model: {exercised} of {ran} cases refused a fresh token at the client layer");
    assert!(
        exercised * 10 >= ran * 9,
        "only {exercised} of {ran} cases exercised the client-wide bucket"
    );
}

/// The early-retry penalty and per-resource keys, against a reference: per resource, a sliding
/// log plus a lockout that each early request extends by the penalty. A request is admitted
/// exactly when its resource's window has room and no lockout is running; the wait it is told
/// is the reference's, rounded up.
#[test]
fn penalties_and_resource_keys_follow_their_reference() {
    use herd_gateway::config::{KeyPart, LimitRule};
    let (cases, mut runner) = deterministic_runner();
    let penalized = AtomicU64::new(0);
    let advance_ms = prop_oneof![4 => 0u64..6_000, 1 => 6_000u64..70_000];
    let steps = prop::collection::vec((0usize..3, advance_ms), 10..80);
    let strategy = (1u64..4, 1_000u64..20_000, steps, any::<u64>());
    let outcome = runner.run(&strategy, |(limit, penalty_ms, steps, seed)| {
        let rule = LimitRule {
            name: "per.resource".into(),
            limit,
            key: vec![KeyPart::Resource],
            families: vec!["users.read".into()],
            early_penalty_ms: Some(penalty_ms),
            ..LimitRule::genesys_token_default()
        };
        let config = GatewayConfig {
            layers: Layers::OFF,
            limits: Some(vec![rule]),
            ..GatewayConfig::default()
        };
        let mut gateway = Gateway::new(config, streams(seed)).unwrap();
        let token = gateway
            .handle(SimTime::ZERO, token_request())
            .body_json()
            .unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        let users: Vec<String> = gateway.directory().ids().take(3).map(str::to_string).collect();
        let mut logs: BTreeMap<usize, Log> = BTreeMap::new();
        let mut lockouts: BTreeMap<usize, u64> = BTreeMap::new();
        let mut now_us = 0u64;
        let mut extended = false;
        for (user, advance_ms) in steps {
            now_us += advance_ms * 1_000;
            let request = Request::new("GET", &format!("/api/v2/users/{}", users[user])).bearer(&token);
            let response = gateway.handle(SimTime::from_micros(now_us), request);
            let log = logs.entry(user).or_default();
            let locked_until = lockouts.get(&user).copied().filter(|until| *until > now_us);
            let room = log.count(now_us) < limit;
            let admit = room && locked_until.is_none();
            prop_assert_eq!(response.status == 200, admit, "user {} at {}us", user, now_us);
            if admit {
                log.0.push(now_us);
                continue;
            }
            // The count-based wait: when the oldest admission still in the window leaves it.
            let in_window: Vec<u64> = log
                .0
                .iter()
                .copied()
                .filter(|at| at + WINDOW_US > now_us)
                .collect();
            let count_retry_at = if room {
                now_us
            } else {
                in_window[in_window.len() - limit as usize] + WINDOW_US
            };
            let retry_at = match locked_until {
                Some(until) => {
                    extended = true;
                    count_retry_at.max(until + penalty_ms * 1_000)
                }
                None => count_retry_at,
            };
            lockouts.insert(
                user,
                locked_until.map_or(retry_at, |until| until + penalty_ms * 1_000),
            );
            let told = response
                .header_value("Retry-After")
                .and_then(|v| v.parse::<u64>().ok());
            let expected = (retry_at - now_us).div_ceil(1_000_000).max(1);
            prop_assert_eq!(
                told,
                Some(expected),
                "Retry-After for user {} at {}us",
                user,
                now_us
            );
        }
        penalized.fetch_add(u64::from(extended), Ordering::Relaxed);
        Ok(())
    });
    if let Err(failure) = outcome {
        panic!("{failure}\nreplay: PROPTEST_CASES={cases} cargo test -p herd-gateway --test layers_model");
    }
    let penalized = penalized.into_inner();
    eprintln!("penalty model: {penalized} of {cases} cases extended a lockout");
    assert!(
        penalized * 10 >= u64::from(cases) * 9,
        "only {penalized} of {cases} cases extended a lockout"
    );
}
