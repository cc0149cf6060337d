//! Classification and the retry decision: retry or not, and after how long.
//!
//! - Which statuses and transport errors are retried is configuration; the default retries 408,
//!   429, 500, 502, 503, 504, connect errors, timeouts and lost responses. Other 4xx are final.
//! - 401 is not a retry: the driver refreshes the token once and resends at once (no backoff).
//! - 409 on a versioned update may re-read and retry (configurable).
//! - `Retry-After` is a floor under the backoff delay; above `retry_after_max_s` the client gives up
//!   (the Genesys SDKs give up above 180 s); jitter is added only above the floor.

use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::backoff::{uniform, Backoff};

/// Why an attempt failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "failure")]
pub enum Failure {
    Status {
        status: u16,
    },
    Connect,
    Timeout,
    /// The connection closed before the response arrived: the request may have been applied.
    Lost,
}

/// How the client classifies a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// 429 or a throttling 503: the server asked us to slow down.
    Throttled,
    /// Other retryable server or transport failures.
    Transient,
    /// 401: refresh the token and resend at once.
    Unauthorized,
    /// 409 on a versioned update: re-read and retry, when allowed.
    Conflict,
    /// Never retried.
    Final,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// Attempts in all, the first one included.
    pub max_attempts: u32,
    /// Give up when the next attempt would start later than this after the first one.
    pub deadline_ms: Option<u64>,
    pub statuses: Vec<u16>,
    pub retry_connect_errors: bool,
    pub retry_timeouts: bool,
    /// Retry when the response was lost (safe with idempotency keys, a duplicate without).
    pub retry_lost_responses: bool,
    /// Retry a status only when it carries `Retry-After` (urllib3's behaviour).
    pub require_retry_after: bool,
    /// Honour `Retry-After` as a floor under the backoff delay.
    pub honour_retry_after: bool,
    /// A retry that waits an honoured `Retry-After` spends nothing from the retry budget: the
    /// server said when, so it is not blind load. (AWS spends on throttles; herdsim does not.)
    pub budget_exempt_retry_after: bool,
    /// Give up when `Retry-After` asks for more than this.
    pub retry_after_max_s: Option<u64>,
    /// When a retryable status has no `Retry-After`, use this as its floor (the Genesys SDKs: 3 s).
    pub retry_after_default_ms: Option<u64>,
    /// Uniform jitter added above a `Retry-After` floor, so a herd released together spreads out.
    pub retry_after_jitter_ms: u64,
    /// For this many retries a 5xx waits `Retry-After` (or the default) instead of the backoff
    /// (the Genesys SDKs' `maxRetriesBeforeBackoff`); 0 turns the phase off.
    pub retries_before_backoff: u32,
    /// 409 on a versioned update re-reads the version and retries.
    pub reread_on_conflict: bool,
    /// How many 401s in a row get a token refresh and an immediate resend.
    pub max_token_refreshes: u32,
    /// Whether a 429 counts against `max_attempts`. herdsim's own policy says no: rate limiting
    /// is not failure, and such an item waits as long as its deadline allows (a `Retry-After`
    /// exactly, giving up at once when it is beyond the deadline left; without one, the backoff).
    /// The peers' presets count it (as their libraries do).
    pub throttles_count_as_attempts: bool,
    /// What an HTTP-date `Retry-After` is judged against.
    pub retry_after_dates: RetryAfterDates,
    /// The tutorials' bug: the jitter factor, drawn from uniform(0, 1), scales the floor too
    /// (`delay = rand() × max(backoff, Retry-After)`), so the wait can land below the
    /// `Retry-After`. Off in every other policy.
    pub jitter_scales_floor: bool,
    /// The delay never exceeds this, `Retry-After` or not (a backoff capped at 30 s under a
    /// longer `Retry-After` retries early). `None`: no cap beyond the backoff's own.
    pub delay_cap_ms: Option<u64>,
}

/// How a client reads a `Retry-After` that is an HTTP-date.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryAfterDates {
    /// Against the response's `Date` (the server's clock): right whatever the local clock says.
    #[default]
    ServerClock,
    /// Against the local clock, as urllib3 does (`time.time()`): early when the local clock is
    /// ahead, late when it is behind.
    LocalClock,
    /// Not at all: only delay-seconds count (the Java, .NET and Go SDKs parse an integer).
    Ignored,
}

impl Default for RetryConfig {
    fn default() -> RetryConfig {
        RetryConfig {
            max_attempts: 8,
            deadline_ms: Some(600_000),
            statuses: vec![408, 429, 500, 502, 503, 504],
            retry_connect_errors: true,
            retry_timeouts: true,
            retry_lost_responses: true,
            require_retry_after: false,
            honour_retry_after: true,
            budget_exempt_retry_after: true,
            // No cap of its own: the item's deadline decides how long it may wait.
            retry_after_max_s: None,
            retry_after_default_ms: None,
            retry_after_jitter_ms: 1_000,
            retries_before_backoff: 0,
            reread_on_conflict: true,
            max_token_refreshes: 1,
            throttles_count_as_attempts: false,
            retry_after_dates: RetryAfterDates::ServerClock,
            jitter_scales_floor: false,
            delay_cap_ms: None,
        }
    }
}

/// Why an operation stopped retrying.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum GiveUp {
    NotRetryable,
    AttemptsExhausted,
    DeadlineExceeded,
    RetryAfterTooLong {
        retry_after_ms: u64,
    },
    /// The platform said to wait longer than the item's deadline has left.
    RetryAfterBeyondDeadline {
        retry_after_ms: u64,
        deadline_left_ms: u64,
    },
    MissingRetryAfter,
    BudgetExhausted,
    CircuitOpen,
    TokenUnavailable,
    QueueFull,
}

/// The decision after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Retry {
        delay: Duration,
        class: Class,
        floor: Option<Duration>,
    },
    GiveUp(GiveUp),
}

impl RetryConfig {
    pub fn classify(&self, failure: Failure, versioned_update: bool) -> Class {
        let retryable_status = |status: u16| self.statuses.contains(&status);
        match failure {
            Failure::Status { status: 401 } => Class::Unauthorized,
            Failure::Status { status: 409 } if versioned_update && self.reread_on_conflict => Class::Conflict,
            Failure::Status { status: 429 } if retryable_status(429) => Class::Throttled,
            Failure::Status { status } if retryable_status(status) => Class::Transient,
            Failure::Connect if self.retry_connect_errors => Class::Transient,
            Failure::Timeout if self.retry_timeouts => Class::Transient,
            Failure::Lost if self.retry_lost_responses => Class::Transient,
            _ => Class::Final,
        }
    }

    /// Decides after attempt number `attempt` (1 for the first) failed; `counted` of the attempts
    /// so far count against `max_attempts` (all of them, less the throttles where throttles are
    /// not failures). `elapsed` is the time since the first attempt started. Conflicts and 401s
    /// are the driver's; they never reach here. (The arguments are the decision's whole input,
    /// named; a struct would only rename them.)
    #[allow(clippy::too_many_arguments)]
    pub fn decide(
        &self,
        attempt: u32,
        counted: u32,
        failure: Failure,
        class: Class,
        retry_after: Option<Duration>,
        elapsed: Duration,
        backoff: &mut Backoff,
        rng: &mut impl Rng,
    ) -> Decision {
        assert!(attempt >= 1, "attempts count from 1");
        debug_assert!(counted <= attempt, "more attempts counted than made");
        if !matches!(class, Class::Throttled | Class::Transient | Class::Conflict) {
            return Decision::GiveUp(GiveUp::NotRetryable);
        }
        let is_status = matches!(failure, Failure::Status { .. });
        if self.require_retry_after && is_status && retry_after.is_none() {
            return Decision::GiveUp(GiveUp::MissingRetryAfter);
        }
        let retry_after = if self.honour_retry_after {
            retry_after
        } else {
            None
        };
        // "Later": not a failure, unless the policy counts it as one. With a time (a
        // `Retry-After`) it waits that long; without one it backs off; either way only the
        // deadline ends it, never a count of attempts.
        let throttled = class == Class::Throttled && !self.throttles_count_as_attempts;
        let told_when = throttled && retry_after.is_some();
        if counted >= self.max_attempts && !throttled {
            return Decision::GiveUp(GiveUp::AttemptsExhausted);
        }
        if let (true, Some(wait), Some(deadline_ms)) = (told_when, retry_after, self.deadline_ms) {
            // A wait beyond the deadline left gives up now, saying so, instead of sleeping first.
            let left = Duration::from_millis(deadline_ms).saturating_sub(elapsed);
            if wait > left {
                return Decision::GiveUp(GiveUp::RetryAfterBeyondDeadline {
                    retry_after_ms: wait.as_millis() as u64,
                    deadline_left_ms: left.as_millis() as u64,
                });
            }
        }
        if let (Some(wait), Some(max_s)) = (retry_after, self.retry_after_max_s) {
            if wait > Duration::from_secs(max_s) {
                return Decision::GiveUp(GiveUp::RetryAfterTooLong {
                    retry_after_ms: wait.as_millis() as u64,
                });
            }
        }
        let retry = attempt - 1;
        let floor = retry_after.or_else(|| {
            self.retry_after_default_ms
                .filter(|_| is_status)
                .map(Duration::from_millis)
        });
        let in_retry_after_phase = retry < self.retries_before_backoff || class == Class::Throttled;
        let delay = match floor {
            // The SDKs' Retry-After phase: wait exactly the floor, no backoff.
            Some(floor) if self.retries_before_backoff > 0 && in_retry_after_phase => floor,
            Some(floor) if self.jitter_scales_floor => {
                let ceiling = backoff.delay(retry, elapsed, rng).max(floor);
                Duration::from_micros(uniform(rng, 0, ceiling.as_micros() as u64))
            }
            Some(floor) => {
                let above = uniform(rng, 0, self.retry_after_jitter_ms.saturating_mul(1_000));
                backoff.delay(retry, elapsed, rng).max(floor) + Duration::from_micros(above)
            }
            None => backoff.delay(retry, elapsed, rng),
        };
        let delay = self
            .delay_cap_ms
            .map_or(delay, |cap_ms| delay.min(Duration::from_millis(cap_ms)));
        if let Some(deadline_ms) = self.deadline_ms {
            if elapsed + delay > Duration::from_millis(deadline_ms) {
                return Decision::GiveUp(GiveUp::DeadlineExceeded);
            }
        }
        Decision::Retry { delay, class, floor }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::backoff::{BackoffConfig, Jitter, Strategy};
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn decide(config: &RetryConfig, attempt: u32, failure: Failure, retry_after_s: Option<u64>) -> Decision {
        let mut backoff = Backoff::new(BackoffConfig {
            jitter: Jitter::None,
            base_ms: 100,
            cap_ms: 10_000,
            ..BackoffConfig::default()
        });
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let class = config.classify(failure, false);
        config.decide(
            attempt,
            attempt,
            failure,
            class,
            retry_after_s.map(Duration::from_secs),
            Duration::ZERO,
            &mut backoff,
            &mut rng,
        )
    }

    #[test]
    fn classification_table() {
        let config = RetryConfig::default();
        let cases = [
            (Failure::Status { status: 429 }, false, Class::Throttled),
            (Failure::Status { status: 503 }, false, Class::Transient),
            (Failure::Status { status: 408 }, false, Class::Transient),
            (Failure::Status { status: 501 }, false, Class::Final),
            (Failure::Status { status: 400 }, false, Class::Final),
            (Failure::Status { status: 404 }, false, Class::Final),
            (Failure::Status { status: 401 }, false, Class::Unauthorized),
            (Failure::Status { status: 409 }, true, Class::Conflict),
            (Failure::Status { status: 409 }, false, Class::Final),
            (Failure::Connect, false, Class::Transient),
            (Failure::Timeout, false, Class::Transient),
            (Failure::Lost, false, Class::Transient),
        ];
        for (failure, versioned, expected) in cases {
            assert_eq!(config.classify(failure, versioned), expected, "{failure:?}");
        }
        let strict = RetryConfig {
            retry_lost_responses: false,
            reread_on_conflict: false,
            ..RetryConfig::default()
        };
        assert_eq!(strict.classify(Failure::Lost, false), Class::Final);
        assert_eq!(
            strict.classify(Failure::Status { status: 409 }, true),
            Class::Final
        );
    }

    #[test]
    fn retry_after_is_a_floor_with_jitter_above_it() {
        let config = RetryConfig {
            retry_after_jitter_ms: 500,
            ..RetryConfig::default()
        };
        let Decision::Retry { delay, floor, .. } =
            decide(&config, 1, Failure::Status { status: 429 }, Some(7))
        else {
            panic!()
        };
        assert_eq!(floor, Some(Duration::from_secs(7)));
        assert!(
            delay >= Duration::from_secs(7) && delay <= Duration::from_millis(7_500),
            "{delay:?}"
        );
        let capped = RetryConfig {
            retry_after_max_s: Some(180),
            ..config.clone()
        };
        assert_eq!(
            decide(&capped, 1, Failure::Status { status: 429 }, Some(181)),
            Decision::GiveUp(GiveUp::RetryAfterTooLong {
                retry_after_ms: 181_000
            })
        );
        // herdsim's own policy has no cap: a 181 s wait fits in its 10 minute deadline.
        assert!(matches!(
            decide(&config, 1, Failure::Status { status: 429 }, Some(181)),
            Decision::Retry { .. }
        ));
        // And a 429 never runs out of attempts, only of deadline: with a Retry-After or without.
        assert!(matches!(
            decide(&config, 50, Failure::Status { status: 429 }, Some(1)),
            Decision::Retry { .. }
        ));
        assert!(matches!(
            decide(&config, 50, Failure::Status { status: 429 }, None),
            Decision::Retry { .. }
        ));
        let counted = RetryConfig {
            throttles_count_as_attempts: true,
            ..config.clone()
        };
        assert_eq!(
            decide(&counted, 8, Failure::Status { status: 429 }, Some(1)),
            Decision::GiveUp(GiveUp::AttemptsExhausted)
        );
        assert_eq!(
            decide(&config, 8, Failure::Status { status: 503 }, None),
            Decision::GiveUp(GiveUp::AttemptsExhausted)
        );
        assert_eq!(
            decide(&config, 1, Failure::Status { status: 400 }, None),
            Decision::GiveUp(GiveUp::NotRetryable)
        );
        let urllib3 = RetryConfig {
            require_retry_after: true,
            ..RetryConfig::default()
        };
        assert_eq!(
            decide(&urllib3, 1, Failure::Status { status: 503 }, None),
            Decision::GiveUp(GiveUp::MissingRetryAfter)
        );
    }

    #[test]
    fn genesys_sdk_phase_waits_the_default_then_backs_off() {
        let config = RetryConfig {
            retry_after_default_ms: Some(3_000),
            retries_before_backoff: 5,
            retry_after_jitter_ms: 0,
            ..RetryConfig::default()
        };
        let mut backoff = Backoff::new(BackoffConfig {
            strategy: Strategy::GenesysStepped,
            jitter: Jitter::None,
            ..BackoffConfig::default()
        });
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let failure = Failure::Status { status: 502 };
        let class = config.classify(failure, false);
        let delays: Vec<u64> = (1..=7)
            .map(|attempt| {
                match config.decide(
                    attempt,
                    attempt,
                    failure,
                    class,
                    None,
                    Duration::from_secs(400),
                    &mut backoff,
                    &mut rng,
                ) {
                    Decision::Retry { delay, .. } => delay.as_secs(),
                    other => panic!("{other:?}"),
                }
            })
            .collect();
        // Five retries at the 3 s default, then the stepped backoff (elapsed 400 s: 9 s).
        assert_eq!(delays, vec![3, 3, 3, 3, 3, 9, 9]);
    }

    #[test]
    fn deadline_fails_fast() {
        let config = RetryConfig {
            deadline_ms: Some(5_000),
            ..RetryConfig::default()
        };
        // A Retry-After beyond the deadline left gives up at once, saying so.
        assert_eq!(
            decide(&config, 1, Failure::Status { status: 429 }, Some(30)),
            Decision::GiveUp(GiveUp::RetryAfterBeyondDeadline {
                retry_after_ms: 30_000,
                deadline_left_ms: 5_000
            })
        );
        // A backoff beyond it, without a Retry-After, is the plain deadline.
        let slow = RetryConfig {
            deadline_ms: Some(100),
            ..RetryConfig::default()
        };
        let mut backoff = Backoff::new(BackoffConfig {
            jitter: Jitter::None,
            base_ms: 1_000,
            ..BackoffConfig::default()
        });
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let failure = Failure::Status { status: 503 };
        let class = slow.classify(failure, false);
        assert_eq!(
            slow.decide(1, 1, failure, class, None, Duration::ZERO, &mut backoff, &mut rng),
            Decision::GiveUp(GiveUp::DeadlineExceeded)
        );
    }

    #[test]
    fn the_tutorials_bugs_land_below_the_retry_after_and_cut_it_short() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut backoff = Backoff::new(BackoffConfig {
            jitter: Jitter::None,
            base_ms: 1_000,
            cap_ms: 60_000,
            ..BackoffConfig::default()
        });
        let failure = Failure::Status { status: 429 };
        let scaled = RetryConfig {
            jitter_scales_floor: true,
            retry_after_jitter_ms: 0,
            ..RetryConfig::default()
        };
        let retry_after = Duration::from_secs(20);
        let delays: Vec<Duration> = (0..200)
            .map(|_| {
                let class = scaled.classify(failure, false);
                match scaled.decide(
                    1,
                    1,
                    failure,
                    class,
                    Some(retry_after),
                    Duration::ZERO,
                    &mut backoff,
                    &mut rng,
                ) {
                    Decision::Retry { delay, .. } => delay,
                    other => panic!("{other:?}"),
                }
            })
            .collect();
        assert!(
            delays.iter().all(|&delay| delay <= retry_after),
            "never above max(backoff, Retry-After)"
        );
        let below = delays.iter().filter(|&&delay| delay < retry_after).count();
        assert!(
            below > 190,
            "rand() × the floor is below it almost always: {below} of 200"
        );

        let capped = RetryConfig {
            delay_cap_ms: Some(30_000),
            retry_after_jitter_ms: 0,
            ..RetryConfig::default()
        };
        let class = capped.classify(failure, false);
        match capped.decide(
            1,
            1,
            failure,
            class,
            Some(Duration::from_secs(60)),
            Duration::ZERO,
            &mut backoff,
            &mut rng,
        ) {
            Decision::Retry { delay, .. } => {
                assert_eq!(delay, Duration::from_secs(30), "a 60 s Retry-After cut to 30 s");
            }
            other => panic!("{other:?}"),
        }
        // herdsim's own policy does neither.
        let own = RetryConfig::default();
        let class = own.classify(failure, false);
        match own.decide(
            1,
            1,
            failure,
            class,
            Some(Duration::from_secs(60)),
            Duration::ZERO,
            &mut backoff,
            &mut rng,
        ) {
            Decision::Retry { delay, .. } => assert!(delay >= Duration::from_secs(60)),
            other => panic!("{other:?}"),
        }
    }

    proptest! {
        #[test]
        fn delay_respects_floor_cap_and_limits(
            seed in any::<u64>(), attempt in 1u32..12, status in prop::sample::select(vec![400u16, 401, 403, 404, 408, 409, 422, 429, 500, 502, 503, 504]),
            retry_after_ms in prop::option::of(0u64..400_000), cap_ms in 1u64..60_000,
            jitter in prop::sample::select(vec![Jitter::None, Jitter::Full, Jitter::Equal, Jitter::Decorrelated, Jitter::Additive]),
        ) {
            let config = RetryConfig::default();
            let mut backoff = Backoff::new(BackoffConfig { jitter, base_ms: 50, cap_ms, ..BackoffConfig::default() });
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let failure = Failure::Status { status };
            let class = config.classify(failure, false);
            let retry_after = retry_after_ms.map(Duration::from_millis);
            let decision = config.decide(attempt, attempt, failure, class, retry_after, Duration::ZERO, &mut backoff, &mut rng);
            let permanent = (400..500).contains(&status) && ![408, 429].contains(&status);
            match decision {
                Decision::Retry { delay, .. } => {
                    prop_assert!(!permanent, "a permanent {status} was retried");
                    let throttled = status == 429 && !config.throttles_count_as_attempts;
                    prop_assert!(attempt < config.max_attempts || throttled);
                    let cap = Duration::from_millis(cap_ms.max(50));
                    let jitter_max = Duration::from_millis(config.retry_after_jitter_ms);
                    match retry_after {
                        Some(floor) => {
                            prop_assert!(delay >= floor, "{delay:?} below Retry-After {floor:?}");
                            prop_assert!(config.retry_after_max_s.is_none_or(|max_s| floor <= Duration::from_secs(max_s)));
                            prop_assert!(delay <= cap.max(floor) + jitter_max);
                        }
                        None => prop_assert!(delay <= cap, "{delay:?} above cap {cap:?}"),
                    }
                }
                Decision::GiveUp(reason) => {
                    // Giving up is checked too: each reason must follow from the inputs.
                    let too_long = retry_after.zip(config.retry_after_max_s)
                        .is_some_and(|(wait, max_s)| wait > Duration::from_secs(max_s));
                    let expected = match reason {
                        GiveUp::NotRetryable => permanent || status == 401,
                        GiveUp::AttemptsExhausted => attempt >= config.max_attempts,
                        GiveUp::RetryAfterTooLong { .. } => too_long,
                        GiveUp::MissingRetryAfter => config.require_retry_after && retry_after.is_none(),
                        GiveUp::DeadlineExceeded => config.deadline_ms.is_some(),
                        GiveUp::RetryAfterBeyondDeadline { .. } => retry_after.is_some() && config.deadline_ms.is_some(),
                        _ => false,
                    };
                    prop_assert!(expected, "gave up with {reason:?} on {status} at attempt {attempt}, Retry-After {retry_after:?}");
                }
            }
        }
    }
}
