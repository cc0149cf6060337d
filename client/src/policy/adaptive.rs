//! Adaptive client-side rate limiting for platforms that send no rate-limit headers (today's
//! Genesys): the AWS SDK "adaptive" retry mode's CUBIC token bucket, with its constants (smithy-rs
//! `client_rate_limiter.rs`): BETA 0.7, SCALE_CONSTANT 0.4, SMOOTH 0.8, MIN_FILL_RATE 0.5 tok/s,
//! MIN_CAPACITY 1. The bucket is enabled by the first throttle; on a throttle the rate drops to
//! 0.7 × min(measured, fill); on success it grows as `C (t − t_throttle − W)³ + last_max`, capped at
//! twice the measured send rate (an EWMA over half-second buckets).
//!
//! Times are seconds as `f64` derived from the injected monotonic clock; the arithmetic is plain
//! IEEE-754, so a run reproduces exactly on one platform.

use std::time::Duration;

use serde::{Deserialize, Serialize};

const BETA: f64 = 0.7;
const SCALE_CONSTANT: f64 = 0.4;
const SMOOTH: f64 = 0.8;
const MIN_FILL_RATE: f64 = 0.5;
const MIN_CAPACITY: f64 = 1.0;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdaptiveConfig {
    pub enabled: bool,
}

#[derive(Clone, Debug)]
pub struct AdaptiveRateLimiter {
    enabled: bool,
    fill_rate: f64,
    max_capacity: f64,
    current_capacity: f64,
    last_timestamp: Option<f64>,
    measured_tx_rate: f64,
    last_tx_rate_bucket: f64,
    request_count: u64,
    last_max_rate: f64,
    last_throttle_time: f64,
    time_window: f64,
    calculated_rate: f64,
}

impl Default for AdaptiveRateLimiter {
    fn default() -> AdaptiveRateLimiter {
        AdaptiveRateLimiter::new()
    }
}

impl AdaptiveRateLimiter {
    pub fn new() -> AdaptiveRateLimiter {
        AdaptiveRateLimiter {
            enabled: false,
            fill_rate: 0.0,
            max_capacity: 0.0,
            current_capacity: 0.0,
            last_timestamp: None,
            measured_tx_rate: 0.0,
            last_tx_rate_bucket: 0.0,
            request_count: 0,
            last_max_rate: 0.0,
            last_throttle_time: 0.0,
            time_window: 0.0,
            calculated_rate: 0.0,
        }
    }

    /// The current send rate limit (requests per second), once enabled.
    pub fn rate(&self) -> Option<f64> {
        self.enabled.then_some(self.fill_rate)
    }

    /// Reserves one send: how long to wait first (zero when the bucket has a token).
    pub fn acquire(&mut self, now: Duration) -> Duration {
        if !self.enabled {
            return Duration::ZERO;
        }
        self.refill(now.as_secs_f64());
        let wait = if self.current_capacity >= 1.0 {
            0.0
        } else {
            (1.0 - self.current_capacity) / self.fill_rate
        };
        self.current_capacity -= 1.0;
        Duration::from_secs_f64(wait.clamp(0.0, 3_600.0))
    }

    /// Takes in the result of a sent request.
    pub fn on_response(&mut self, now: Duration, throttled: bool) {
        let t = now.as_secs_f64();
        self.update_measured_rate(t);
        if throttled {
            let rate_to_use = if self.enabled {
                self.measured_tx_rate.min(self.fill_rate)
            } else {
                self.measured_tx_rate
            };
            self.last_max_rate = rate_to_use;
            self.calculate_time_window();
            self.last_throttle_time = t;
            self.calculated_rate = rate_to_use * BETA;
            self.enabled = true;
        } else {
            self.calculate_time_window();
            self.calculated_rate = self.cubic_success(t);
        }
        let new_rate = self.calculated_rate.min(2.0 * self.measured_tx_rate);
        self.refill(t);
        self.fill_rate = new_rate.max(MIN_FILL_RATE);
        self.max_capacity = new_rate.max(MIN_CAPACITY);
        self.current_capacity = self.current_capacity.min(self.max_capacity);
    }

    fn refill(&mut self, t: f64) {
        if let Some(last) = self.last_timestamp {
            let fill = (t - last).max(0.0) * self.fill_rate;
            self.current_capacity = (self.current_capacity + fill).min(self.max_capacity);
        }
        self.last_timestamp = Some(t);
    }

    fn calculate_time_window(&mut self) {
        self.time_window = (self.last_max_rate * (1.0 - BETA) / SCALE_CONSTANT).cbrt();
    }

    fn cubic_success(&self, t: f64) -> f64 {
        let dt = t - self.last_throttle_time - self.time_window;
        SCALE_CONSTANT * dt * dt * dt + self.last_max_rate
    }

    fn update_measured_rate(&mut self, t: f64) {
        let t_bucket = (t * 2.0).floor() / 2.0;
        self.request_count += 1;
        if t_bucket > self.last_tx_rate_bucket {
            let current_rate = self.request_count as f64 / (t_bucket - self.last_tx_rate_bucket);
            self.measured_tx_rate = current_rate * SMOOTH + self.measured_tx_rate * (1.0 - SMOOTH);
            self.request_count = 0;
            self.last_tx_rate_bucket = t_bucket;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector ported from the Go v2 SDK: last_max 10 rps, throttle at t = 5 s.
    #[test]
    fn cubic_matches_the_aws_test_vector() {
        let mut limiter = AdaptiveRateLimiter::new();
        limiter.last_max_rate = 10.0;
        limiter.last_throttle_time = 5.0;
        limiter.calculate_time_window();
        assert!((limiter.last_max_rate * BETA - 7.0).abs() < 1e-9);
        let expected = [
            (6.0, 9.64893600966),
            (7.0, 10.000030849917364),
            (11.0, 36.425998516920465),
        ];
        for (t, rate) in expected {
            assert!(
                (limiter.cubic_success(t) - rate).abs() < 1e-6,
                "t={t}: {}",
                limiter.cubic_success(t)
            );
        }
    }

    #[test]
    fn disabled_until_the_first_throttle_then_paces() {
        let mut limiter = AdaptiveRateLimiter::new();
        for ms in (0..5_000).step_by(50) {
            assert_eq!(limiter.acquire(Duration::from_millis(ms)), Duration::ZERO);
            limiter.on_response(Duration::from_millis(ms), false);
        }
        assert_eq!(limiter.rate(), None);
        limiter.on_response(Duration::from_millis(5_000), true);
        let rate = limiter.rate().unwrap();
        assert!(rate > 0.0 && rate < 20.0, "about 0.7 × 20 rps measured: {rate}");
        let waits: Vec<Duration> = (0..30)
            .map(|_| limiter.acquire(Duration::from_millis(5_001)))
            .collect();
        assert!(
            waits.last().unwrap() > &Duration::from_secs(1),
            "a burst is spread out: {waits:?}"
        );
    }
}
