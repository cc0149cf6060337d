//! Model-based property tests of every limiter algorithm, through the whole gateway.
//!
//! The reference is naive on purpose: every admission's timestamp per key in a `Vec`, never pruned.
//! Transitions: `Request`, `Advance`, `ExpireToken` (jump to the token's expiry, see the 401, take a
//! new token: a new key), `Fault` (a request inside a maintenance window: 503, consumes nothing), and
//! `HonourRetryAfter` (after a 429, wait exactly the advertised Retry-After and ask again).
//! A random 5xx fault is always on: such requests passed the limiter and must count.
//!
//! Checked after every step:
//! - sliding log: admits exactly when the reference admits, never more than `limit` in any window,
//!   and Retry-After is the reference's wait rounded up;
//! - fixed window and sliding-window counter: at most `limit` per aligned window, `2 * limit` per
//!   sliding window; token bucket: at most `burst + limit` per sliding window;
//! - every algorithm: waiting the advertised Retry-After gets the request admitted.

mod support;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use herd_gateway::config::{Algorithm, Fault, GatewayConfig, Layers, LimitRule};
use herd_gateway::{Gateway, Request, SimTime};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::time::Duration;
use support::streams;

const TOKEN_TTL: Duration = Duration::from_secs(300);
const MAINTENANCE_EVERY_S: u64 = 3_600;
const MAINTENANCE_LENGTH_S: u64 = 10;

#[derive(Clone, Debug)]
enum Op {
    Request,
    Advance { ms: u64 },
    ExpireToken,
    Fault,
    HonourRetryAfter,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => Just(Op::Request),
        4 => (0u64..2_500).prop_map(|ms| Op::Advance { ms }),
        1 => (2_500u64..90_000).prop_map(|ms| Op::Advance { ms }),
        1 => Just(Op::ExpireToken),
        1 => Just(Op::Fault),
        3 => Just(Op::HonourRetryAfter),
    ]
}

#[derive(Clone, Copy, Debug)]
struct Limit {
    algorithm: Algorithm,
    limit: u64,
    window_ms: u64,
    burst: u64,
}

fn limit() -> impl Strategy<Value = Limit> {
    (
        prop_oneof![
            Just(Algorithm::SlidingLog),
            Just(Algorithm::SlidingWindow),
            Just(Algorithm::FixedWindow),
            Just(Algorithm::TokenBucket),
        ],
        1u64..12,
        prop_oneof![Just(1_000u64), Just(5_000), Just(60_000)],
        1u64..12,
    )
        .prop_map(|(algorithm, limit, window_ms, burst)| Limit {
            algorithm,
            limit,
            window_ms,
            burst,
        })
}

struct Driver {
    limit: Limit,
    gateway: Gateway,
    now: SimTime,
    token: String,
    token_issued_at: SimTime,
    token_number: u64,
    /// The reference: every admission per key (token number), in order.
    admitted: BTreeMap<u64, Vec<SimTime>>,
    /// The Retry-After of the last response, when it was a 429.
    last_retry_after_s: Option<u64>,
}

impl Driver {
    fn new(limit: Limit, seed: u64) -> Driver {
        let rule = LimitRule {
            algorithm: limit.algorithm,
            limit: limit.limit,
            window_ms: limit.window_ms,
            burst: Some(limit.burst),
            ..LimitRule::genesys_token_default()
        };
        let mut faults: Vec<Fault> = (1..200)
            .map(|k| Fault::Maintenance {
                families: Vec::new(),
                host: None,
                retry_after: Default::default(),
                from_s: k * MAINTENANCE_EVERY_S,
                until_s: Some(k * MAINTENANCE_EVERY_S + MAINTENANCE_LENGTH_S),
                retry_after_s: None,
            })
            .collect();
        faults.push(Fault::ServerErrors {
            families: Vec::new(),
            host: None,
            retry_after: Default::default(),
            retry_after_s: None,
            from_s: 0,
            until_s: None,
            rate: 0.2,
            status: 503,
            html: false,
        });
        let mut config = GatewayConfig {
            // One rule alone: the layers have a model of their own (`layers_model.rs`).
            layers: Layers::OFF,
            limits: Some(vec![rule]),
            faults,
            ..GatewayConfig::default()
        };
        config.clients[0].token_ttl_s = Some(TOKEN_TTL.as_secs());
        let mut driver = Driver {
            limit,
            gateway: Gateway::new(config, streams(seed)).unwrap(),
            now: SimTime::ZERO,
            token: String::new(),
            token_issued_at: SimTime::ZERO,
            token_number: 0,
            admitted: BTreeMap::new(),
            last_retry_after_s: None,
        };
        driver.renew_token();
        driver
    }

    fn in_maintenance(&self) -> bool {
        let s = self.now.as_micros() / 1_000_000;
        s >= MAINTENANCE_EVERY_S && s % MAINTENANCE_EVERY_S < MAINTENANCE_LENGTH_S
    }

    fn renew_token(&mut self) {
        let auth = format!("Basic {}", STANDARD.encode("herd-app:herd-secret"));
        let request = Request::new("POST", "/oauth/token")
            .header("authorization", &auth)
            .body("grant_type=client_credentials");
        let response = self.gateway.handle(self.now, request);
        if self.in_maintenance() {
            assert_eq!(response.status, 503);
            return;
        }
        assert_eq!(response.status, 200);
        self.token = response.body_json().unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        self.token_issued_at = self.now;
        self.token_number += 1;
    }

    fn count_since(&self, from_exclusive: Option<SimTime>, until: SimTime) -> u64 {
        let entries = self
            .admitted
            .get(&self.token_number)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        entries
            .iter()
            .filter(|&&t| from_exclusive.is_none_or(|from| t > from) && t <= until)
            .count() as u64
    }

    fn sliding_count(&self) -> u64 {
        let window = Duration::from_millis(self.limit.window_ms);
        let from =
            (self.now.as_micros() >= window.as_micros() as u64).then(|| self.now.saturating_sub(window));
        self.count_since(from, self.now)
    }

    /// Sends one request with the current token and checks it against the reference.
    fn request(&mut self) {
        self.last_retry_after_s = None;
        let token_expired = self.now >= self.token_issued_at + TOKEN_TTL;
        let maintenance = self.in_maintenance();
        let before = self.sliding_count();
        let response = self.gateway.handle(
            self.now,
            Request::new("GET", "/api/v2/users/x").bearer(&self.token),
        );
        if maintenance {
            assert_eq!(response.status, 503, "maintenance answers first");
            return;
        }
        if token_expired {
            assert_eq!(response.status, 401, "an expired token is refused");
            return;
        }
        // 404 (no such user) and the random 503 both passed the limiter.
        let admitted = match response.status {
            404 | 503 => true,
            429 => false,
            other => panic!("unexpected status {other}"),
        };
        if self.limit.algorithm == Algorithm::SlidingLog {
            assert_eq!(
                admitted,
                before < self.limit.limit,
                "exact limiter disagrees with the reference"
            );
        }
        if admitted {
            self.admitted.entry(self.token_number).or_default().push(self.now);
            self.check_bounds();
        } else {
            let retry_after_s: u64 = response.header_value("Retry-After").unwrap().parse().unwrap();
            assert!(retry_after_s >= 1);
            if self.limit.algorithm == Algorithm::SlidingLog {
                let entries = &self.admitted[&self.token_number];
                let evicting = entries[entries.len() - self.limit.limit as usize];
                let wait = (evicting + Duration::from_millis(self.limit.window_ms)) - self.now;
                assert_eq!(
                    retry_after_s,
                    wait.as_micros().div_ceil(1_000_000) as u64,
                    "Retry-After is the true wait"
                );
            }
            self.last_retry_after_s = Some(retry_after_s);
        }
    }

    fn check_bounds(&self) {
        let Limit {
            algorithm,
            limit,
            window_ms,
            burst,
        } = self.limit;
        let sliding = self.sliding_count();
        let window_us = window_ms * 1_000;
        let aligned_start = SimTime::from_micros(self.now.as_micros() / window_us * window_us);
        let aligned = self.count_since(None, self.now)
            - self.count_since(None, aligned_start.saturating_sub(Duration::from_micros(1)));
        match algorithm {
            Algorithm::SlidingLog => {
                assert!(sliding <= limit, "{sliding} in a sliding window of limit {limit}");
            }
            Algorithm::FixedWindow | Algorithm::SlidingWindow => {
                assert!(
                    aligned <= limit,
                    "{aligned} in an aligned window of limit {limit}"
                );
                assert!(
                    sliding <= 2 * limit,
                    "{sliding} in a sliding window, over 2 x {limit}"
                );
            }
            Algorithm::TokenBucket => {
                assert!(sliding <= burst + limit, "{sliding} over burst {burst} + {limit}");
            }
        }
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Request => self.request(),
            Op::Advance { ms } => {
                self.last_retry_after_s = None;
                self.now = self.now + Duration::from_millis(*ms);
            }
            Op::ExpireToken => {
                self.now = self.now.max(self.token_issued_at + TOKEN_TTL);
                self.request();
                self.renew_token();
                self.last_retry_after_s = None;
            }
            Op::Fault => {
                let s = self.now.as_micros() / 1_000_000;
                let next_window_s = (s / MAINTENANCE_EVERY_S + 1) * MAINTENANCE_EVERY_S;
                self.now = self.now.max(SimTime::from_secs(next_window_s));
                self.request();
                self.last_retry_after_s = None;
            }
            Op::HonourRetryAfter => {
                if let Some(retry_after_s) = self.last_retry_after_s {
                    self.now = self.now + Duration::from_secs(retry_after_s);
                    let fresh = self.now < self.token_issued_at + TOKEN_TTL && !self.in_maintenance();
                    self.request();
                    if fresh {
                        assert_eq!(
                            self.last_retry_after_s, None,
                            "still limited after waiting Retry-After"
                        );
                    }
                }
            }
        }
    }
}

proptest! {
    // 256 cases, or as many as PROPTEST_CASES asks for (a deeper search).
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(256),
        ..ProptestConfig::default()
    })]

    #[test]
    fn limiters_match_their_reference(limit in limit(), seed in any::<u64>(), ops in prop::collection::vec(op(), 1..300)) {
        let mut driver = Driver::new(limit, seed);
        for op in &ops {
            driver.apply(op);
        }
    }
}

#[test]
fn the_reference_catches_a_herd_at_one_instant() {
    for algorithm in [
        Algorithm::SlidingLog,
        Algorithm::SlidingWindow,
        Algorithm::FixedWindow,
        Algorithm::TokenBucket,
    ] {
        let mut driver = Driver::new(
            Limit {
                algorithm,
                limit: 5,
                window_ms: 60_000,
                burst: 5,
            },
            3,
        );
        for _ in 0..40 {
            driver.apply(&Op::Request);
        }
        assert_eq!(
            driver.count_since(None, driver.now),
            5,
            "{algorithm:?} admitted more than 5 at once"
        );
    }
}
