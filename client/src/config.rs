//! The client's configuration: serde (TOML-friendly), every tunable named with its unit.

use serde::{Deserialize, Serialize};

use crate::platform::Platform;
use crate::policy::adaptive::AdaptiveConfig;
use crate::policy::backoff::BackoffConfig;
use crate::policy::breaker::BreakerConfig;
use crate::policy::budget::BudgetConfig;
use crate::policy::pacing::PacingConfig;
use crate::policy::retry::RetryConfig;
use crate::shared_limiter::SharedLimiterUse;
use crate::token::TokenConfig;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientConfig {
    pub platform: Platform,
    /// The API base URL, e.g. `https://api.mypurecloud.com` (in a simulation, `http://gateway`).
    pub base_url: String,
    /// The token URL; derived from `base_url` and the platform when absent.
    pub token_url: Option<String>,
    /// Operations running at once (the rest wait in priority order).
    pub concurrency: u32,
    /// Operations allowed to wait; more are refused at once.
    pub queue_max: u32,
    /// Each attempt's timeout.
    pub attempt_timeout_ms: u64,
    /// While a breaker is open, wait for it (within the deadline) instead of failing fast.
    pub wait_when_open: bool,
    /// Send a stable `Idempotency-Key` with creates.
    pub idempotency_keys: bool,
    /// Items per bulk request (Genesys `PATCH /api/v2/users/bulk`: at most 50).
    pub bulk_max: u32,
    /// Items per page when listing.
    pub page_size: u32,
    pub retry: RetryConfig,
    pub backoff: BackoffConfig,
    pub budget: BudgetConfig,
    pub breaker: BreakerConfig,
    pub pacing: PacingConfig,
    pub adaptive: AdaptiveConfig,
    pub token: TokenConfig,
    /// How a shared limiter, if the client is given one, is used.
    pub shared_limiter: SharedLimiterUse,
}

impl Default for ClientConfig {
    fn default() -> ClientConfig {
        ClientConfig {
            platform: Platform::Genesys,
            base_url: "http://gateway".to_string(),
            token_url: None,
            concurrency: 16,
            queue_max: 100_000,
            attempt_timeout_ms: 30_000,
            wait_when_open: true,
            idempotency_keys: true,
            bulk_max: 50,
            page_size: 100,
            retry: RetryConfig::default(),
            backoff: BackoffConfig::default(),
            budget: BudgetConfig::TokenBucket {
                capacity: 500,
                retry_cost: 5,
                timeout_cost: 10,
                success_reward: 1,
                refill_per_s: 1,
            },
            breaker: BreakerConfig::default(),
            pacing: PacingConfig::default(),
            // CUBIC collapses to its 0.5 rps floor after a long Retry-After pause (the measured
            // send rate decays to zero): on in the aws-adaptive preset, off by default.
            adaptive: AdaptiveConfig { enabled: false },
            token: TokenConfig::default(),
            shared_limiter: SharedLimiterUse::default(),
        }
    }
}

/// A configuration the client cannot run with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub field: &'static str,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for ConfigError {}

impl ClientConfig {
    pub fn token_url(&self) -> String {
        self.token_url
            .clone()
            .unwrap_or_else(|| self.platform.token_url(&self.base_url))
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let error = |field, message: &str| {
            Err(ConfigError {
                field,
                message: message.to_string(),
            })
        };
        if self.concurrency == 0 {
            return error("concurrency", "must be at least 1");
        }
        if self.retry.max_attempts == 0 {
            return error(
                "retry.max_attempts",
                "must be at least 1 (the first attempt counts)",
            );
        }
        if self.bulk_max == 0 || self.page_size == 0 {
            return error("bulk_max", "bulk_max and page_size must be positive");
        }
        if self.attempt_timeout_ms == 0 {
            return error("attempt_timeout_ms", "must be positive");
        }
        const DAY_MS: u64 = 86_400_000;
        let ranges: [(&'static str, u64, u64, u64); 13] = [
            ("concurrency", u64::from(self.concurrency), 1, 100_000),
            ("queue_max", u64::from(self.queue_max), 0, 10_000_000),
            ("attempt_timeout_ms", self.attempt_timeout_ms, 1, 3_600_000),
            ("bulk_max", u64::from(self.bulk_max), 1, 10_000),
            ("page_size", u64::from(self.page_size), 1, 100_000),
            (
                "retry.max_attempts",
                u64::from(self.retry.max_attempts),
                1,
                10_000,
            ),
            (
                "retry.deadline_ms",
                self.retry.deadline_ms.unwrap_or(1),
                1,
                365 * DAY_MS,
            ),
            ("backoff.base_ms", self.backoff.base_ms, 0, DAY_MS),
            ("backoff.cap_ms", self.backoff.cap_ms, 0, DAY_MS),
            ("breaker.open_ms", self.breaker.open_ms, 0, DAY_MS),
            ("pacing.spread_ms", self.pacing.spread_ms, 0, DAY_MS),
            (
                "pacing.escalation_cap_ms",
                self.pacing.escalation_cap_ms,
                0,
                DAY_MS,
            ),
            ("token.refresh_margin_s", self.token.refresh_margin_s, 0, 172_800),
        ];
        for (field, value, low, high) in ranges {
            if !(low..=high).contains(&value) {
                return Err(ConfigError {
                    field,
                    message: format!("{value} is outside {low}..={high}"),
                });
            }
        }
        let budget_values: Vec<(&'static str, u64, u64)> = match &self.budget {
            crate::policy::budget::BudgetConfig::None => Vec::new(),
            crate::policy::budget::BudgetConfig::TokenBucket {
                capacity,
                retry_cost,
                timeout_cost,
                success_reward,
                refill_per_s,
            } => vec![
                ("budget.capacity", *capacity, 1_000_000_000),
                ("budget.retry_cost", *retry_cost, 1_000_000),
                ("budget.timeout_cost", *timeout_cost, 1_000_000),
                ("budget.success_reward", *success_reward, 1_000_000),
                ("budget.refill_per_s", *refill_per_s, 1_000_000),
            ],
            crate::policy::budget::BudgetConfig::Ratio {
                ratio_pct,
                window_ms,
                min_retries_per_s,
            } => vec![
                ("budget.ratio_pct", *ratio_pct, 1_000),
                ("budget.window_ms", (*window_ms).max(1), 365 * DAY_MS),
                ("budget.min_retries_per_s", *min_retries_per_s, 1_000_000),
            ],
        };
        for (field, value, high) in budget_values {
            if value > high {
                return Err(ConfigError {
                    field,
                    message: format!("{value} is outside 0..={high}"),
                });
            }
        }
        if let Some(limit) = self.pacing.limit_per_min {
            if !(1..=1_000_000).contains(&limit) {
                return error(
                    "pacing.limit_per_min",
                    "must be within 1..=1000000 (leave it out for no limit)",
                );
            }
        }
        if self.backoff.cap_ms < self.backoff.base_ms {
            return error("backoff.cap_ms", "must not be below backoff.base_ms");
        }
        if !self.base_url.starts_with("http://") && !self.base_url.starts_with("https://") {
            return error("base_url", "must start with http:// or https://");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_toml_round_trips() {
        let config = ClientConfig::default();
        assert_eq!(config.validate(), Ok(()));
        assert_eq!(config.token_url(), "http://gateway/oauth/token");
        let text = toml::to_string(&config).unwrap();
        assert_eq!(toml::from_str::<ClientConfig>(&text).unwrap(), config);
        let partial: ClientConfig =
            toml::from_str("concurrency = 4\n[backoff]\njitter = \"decorrelated\"\ncap_ms = 2000\n").unwrap();
        assert_eq!(
            (
                partial.concurrency,
                partial.backoff.cap_ms,
                partial.backoff.base_ms
            ),
            (4, 2_000, 500)
        );
        assert!(toml::from_str::<ClientConfig>("concurency = 4").is_err());
        let bad = ClientConfig {
            concurrency: 0,
            ..ClientConfig::default()
        };
        assert_eq!(bad.validate().unwrap_err().field, "concurrency");
    }
}
