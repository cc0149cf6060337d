//! Backoff strategies. With `expo(n) = min(cap, base * multiplier^n)`, `n` the retry number from 0
//! (formulas as in aws-samples/aws-arch-backoff-simulator, see docs/retry-libraries.md):
//! - none: 0; constant: `base`; exponential: `expo(n)`;
//! - full jitter: `U(0, expo(n))`; equal jitter: `expo(n)/2 + U(0, expo(n)/2)`;
//! - decorrelated jitter: `min(cap, U(base, previous * 3))`, `previous` starting at `base`;
//! - additive jitter (the tutorials'): `expo(n) + U(0, pct% of expo(n))`, capped at `cap`;
//! - Genesys SDK stepped: `3^k` s with `k = min(3, floor(elapsed / interval) + 1)`.
//!
//! Draws are uniform over whole microseconds from an injected RNG, so a seed replays exactly.

use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

/// How the base delay grows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Retry at once.
    None,
    /// Always `base_ms`.
    Constant,
    /// `base_ms * multiplier^n`, capped at `cap_ms`.
    #[default]
    Exponential,
    /// The Genesys Java/.NET SDK schedule after its Retry-After phase: 3 s, then 9 s after
    /// `step_interval_ms` of retrying, then 27 s.
    GenesysStepped,
}

/// How the delay is randomized.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Jitter {
    None,
    #[default]
    Full,
    Equal,
    Decorrelated,
    /// The tutorials' "add x% jitter".
    Additive,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackoffConfig {
    pub strategy: Strategy,
    pub jitter: Jitter,
    pub base_ms: u64,
    pub cap_ms: u64,
    pub multiplier: u32,
    /// For `Additive`: the jitter is up to this percentage of the delay.
    pub additive_jitter_pct: u32,
    /// For `GenesysStepped`: how long each step lasts (the SDK's `backoffIntervalMs`).
    pub step_interval_ms: u64,
}

impl Default for BackoffConfig {
    fn default() -> BackoffConfig {
        BackoffConfig {
            strategy: Strategy::Exponential,
            jitter: Jitter::Full,
            base_ms: 500,
            cap_ms: 30_000,
            multiplier: 2,
            additive_jitter_pct: 10,
            step_interval_ms: 300_000,
        }
    }
}

/// The backoff state of one operation (decorrelated jitter remembers its previous delay).
#[derive(Clone, Debug)]
pub struct Backoff {
    config: BackoffConfig,
    previous_us: u64,
}

impl Backoff {
    pub fn new(config: BackoffConfig) -> Backoff {
        let previous_us = config.base_ms.saturating_mul(1_000);
        Backoff { config, previous_us }
    }

    pub fn config(&self) -> &BackoffConfig {
        &self.config
    }

    /// The delay before retry number `retry` (0 for the first retry). `elapsed` is the time since
    /// the operation's first attempt (used by the stepped strategy).
    pub fn delay(&mut self, retry: u32, elapsed: Duration, rng: &mut impl Rng) -> Duration {
        let base_us = self.config.base_ms.saturating_mul(1_000);
        let cap_us = self.config.cap_ms.saturating_mul(1_000).max(base_us);
        let grown_us = match self.config.strategy {
            Strategy::None => 0,
            Strategy::Constant => base_us,
            Strategy::Exponential => {
                let factor = u64::from(self.config.multiplier.max(1)).saturating_pow(retry.min(63));
                base_us.saturating_mul(factor).min(cap_us)
            }
            Strategy::GenesysStepped => {
                let step = elapsed.as_millis() as u64 / self.config.step_interval_ms.max(1);
                let k = (step + 1).min(3) as u32;
                3u64.pow(k) * 1_000_000
            }
        };
        let delay_us = match self.config.jitter {
            Jitter::None => grown_us,
            Jitter::Full => uniform(rng, 0, grown_us),
            Jitter::Equal => grown_us / 2 + uniform(rng, 0, grown_us - grown_us / 2),
            Jitter::Decorrelated if self.config.strategy == Strategy::None => 0,
            Jitter::Decorrelated => {
                let upper = self.previous_us.saturating_mul(3).max(base_us);
                let next = uniform(rng, base_us, upper).min(cap_us);
                self.previous_us = next;
                next
            }
            Jitter::Additive => {
                let extra = grown_us.saturating_mul(u64::from(self.config.additive_jitter_pct)) / 100;
                (grown_us + uniform(rng, 0, extra)).min(cap_us.max(grown_us))
            }
        };
        Duration::from_micros(delay_us)
    }
}

/// Uniform over `low..=high` microseconds (`low` when the range is empty).
pub fn uniform(rng: &mut impl Rng, low: u64, high: u64) -> u64 {
    if high <= low {
        low
    } else {
        rng.random_range(low..=high)
    }
}

#[cfg(test)]
mod tests {
    use super::Strategy;
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn config(strategy: Strategy, jitter: Jitter) -> BackoffConfig {
        BackoffConfig {
            strategy,
            jitter,
            base_ms: 100,
            cap_ms: 1_000,
            ..BackoffConfig::default()
        }
    }

    fn delays(config: BackoffConfig, retries: u32) -> Vec<u64> {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut backoff = Backoff::new(config);
        (0..retries)
            .map(|n| backoff.delay(n, Duration::ZERO, &mut rng).as_millis() as u64)
            .collect()
    }

    #[test]
    fn deterministic_strategies() {
        assert_eq!(
            delays(config(Strategy::Exponential, Jitter::None), 6),
            vec![100, 200, 400, 800, 1_000, 1_000]
        );
        assert_eq!(
            delays(config(Strategy::Constant, Jitter::None), 3),
            vec![100, 100, 100]
        );
        assert_eq!(delays(config(Strategy::None, Jitter::Full), 3), vec![0, 0, 0]);
        assert_eq!(
            delays(config(Strategy::None, Jitter::Decorrelated), 2),
            vec![0, 0]
        );
    }

    #[test]
    fn genesys_stepped_grows_with_elapsed_time() {
        let mut backoff = Backoff::new(BackoffConfig {
            strategy: Strategy::GenesysStepped,
            jitter: Jitter::None,
            ..BackoffConfig::default()
        });
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let at = |backoff: &mut Backoff, rng: &mut ChaCha8Rng, minutes: u64| {
            backoff.delay(9, Duration::from_secs(minutes * 60), rng).as_secs()
        };
        assert_eq!(at(&mut backoff, &mut rng, 0), 3);
        assert_eq!(at(&mut backoff, &mut rng, 5), 9);
        assert_eq!(at(&mut backoff, &mut rng, 10), 27);
        assert_eq!(at(&mut backoff, &mut rng, 60), 27);
    }

    #[test]
    fn same_seed_same_jitter() {
        let full = config(Strategy::Exponential, Jitter::Full);
        assert_eq!(delays(full.clone(), 8), delays(full, 8));
    }

    proptest! {
        #[test]
        fn jitter_stays_in_its_formula_bounds(
            seed in any::<u64>(), retries in 1u32..40, base_ms in 1u64..2_000, cap_ms in 1u64..60_000,
            jitter in prop::sample::select(vec![Jitter::None, Jitter::Full, Jitter::Equal, Jitter::Decorrelated, Jitter::Additive]),
        ) {
            let config = BackoffConfig { strategy: Strategy::Exponential, jitter, base_ms, cap_ms, ..BackoffConfig::default() };
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut backoff = Backoff::new(config);
            let cap_us = (cap_ms * 1_000).max(base_ms * 1_000);
            let mut previous_us = base_ms * 1_000;
            for n in 0..retries {
                let expo_us = (base_ms * 1_000).saturating_mul(2u64.saturating_pow(n)).min(cap_us);
                let delay_us = backoff.delay(n, Duration::ZERO, &mut rng).as_micros() as u64;
                prop_assert!(delay_us <= cap_us);
                match jitter {
                    Jitter::None => prop_assert_eq!(delay_us, expo_us),
                    Jitter::Full => prop_assert!(delay_us <= expo_us),
                    Jitter::Equal => prop_assert!(delay_us >= expo_us / 2 && delay_us <= expo_us),
                    Jitter::Decorrelated => {
                        prop_assert!(delay_us >= (base_ms * 1_000).min(cap_us));
                        prop_assert!(delay_us <= (previous_us * 3).max(base_ms * 1_000));
                        previous_us = delay_us;
                    }
                    Jitter::Additive => prop_assert!(delay_us >= expo_us && delay_us <= expo_us + expo_us / 10),
                }
            }
        }
    }
}
