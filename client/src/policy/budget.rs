//! Retry budgets: a limit on retries across all operations of a client, so that a failing
//! dependency gets less traffic from retries, not more.
//!
//! - Token bucket (AWS standard: capacity 500, cost 5 per retry, 10 per timeout retry, +1 for a
//!   first-try success, the cost back for a successful retry), plus a time refill so that it can
//!   never stall forever (aws-sdk-go-v2#3550: the adaptive quota "never refills").
//! - Ratio (Finagle/Envoy/tower `TpsBudget`): retries at most `ratio_pct`% of requests over a
//!   sliding window, plus a floor of `min_retries_per_s` so that a quiet client can still retry.
//!
//! Quantities are integers (milli-tokens, per-second buckets): deterministic.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum BudgetConfig {
    #[default]
    None,
    TokenBucket {
        #[serde(default = "default_capacity")]
        capacity: u64,
        #[serde(default = "default_retry_cost")]
        retry_cost: u64,
        #[serde(default = "default_timeout_cost")]
        timeout_cost: u64,
        /// Added for a success at the first attempt (AWS `NO_RETRY_INCREMENT`).
        #[serde(default = "default_success_reward")]
        success_reward: u64,
        /// Tokens added per second whatever happens (0 reproduces AWS exactly).
        #[serde(default = "default_refill_per_s")]
        refill_per_s: u64,
    },
    Ratio {
        #[serde(default = "default_ratio_pct")]
        ratio_pct: u64,
        #[serde(default = "default_window_ms")]
        window_ms: u64,
        #[serde(default = "default_min_retries_per_s")]
        min_retries_per_s: u64,
    },
}

fn default_capacity() -> u64 {
    500
}
fn default_retry_cost() -> u64 {
    5
}
fn default_timeout_cost() -> u64 {
    10
}
fn default_success_reward() -> u64 {
    1
}
fn default_refill_per_s() -> u64 {
    1
}
fn default_ratio_pct() -> u64 {
    20
}
fn default_window_ms() -> u64 {
    10_000
}
fn default_min_retries_per_s() -> u64 {
    1
}

/// What kind of retry is asking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryKind {
    Ordinary,
    Timeout,
}

/// A withdrawal, to be settled when the retried attempt ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Withdrawal {
    cost_milli: u64,
}

#[derive(Clone, Debug)]
pub enum RetryBudget {
    Unlimited,
    TokenBucket {
        capacity_milli: u64,
        level_milli: u64,
        retry_cost: u64,
        timeout_cost: u64,
        success_reward: u64,
        refill_per_s: u64,
        updated_at: Duration,
    },
    Ratio {
        ratio_pct: u64,
        window: Duration,
        min_retries_per_s: u64,
        buckets: VecDeque<(u64, u64, u64)>,
    },
}

impl RetryBudget {
    pub fn new(config: &BudgetConfig) -> RetryBudget {
        match *config {
            BudgetConfig::None => RetryBudget::Unlimited,
            BudgetConfig::TokenBucket {
                capacity,
                retry_cost,
                timeout_cost,
                success_reward,
                refill_per_s,
            } => RetryBudget::TokenBucket {
                capacity_milli: capacity * 1_000,
                level_milli: capacity * 1_000,
                retry_cost,
                timeout_cost,
                success_reward,
                refill_per_s,
                updated_at: Duration::ZERO,
            },
            BudgetConfig::Ratio {
                ratio_pct,
                window_ms,
                min_retries_per_s,
            } => RetryBudget::Ratio {
                ratio_pct,
                window: Duration::from_millis(window_ms.max(1_000)),
                min_retries_per_s,
                buckets: VecDeque::new(),
            },
        }
    }

    /// Counts a first attempt (the ratio budget's denominator).
    pub fn on_request(&mut self, now: Duration) {
        if let RetryBudget::Ratio { .. } = self {
            self.bucket(now).1 += 1;
        }
    }

    /// Asks to retry; `None` means the budget is exhausted.
    pub fn withdraw(&mut self, now: Duration, kind: RetryKind) -> Option<Withdrawal> {
        self.refill(now);
        match self {
            RetryBudget::Unlimited => Some(Withdrawal { cost_milli: 0 }),
            RetryBudget::TokenBucket {
                level_milli,
                retry_cost,
                timeout_cost,
                ..
            } => {
                let cost = match kind {
                    RetryKind::Ordinary => *retry_cost,
                    RetryKind::Timeout => *timeout_cost,
                } * 1_000;
                (*level_milli >= cost).then(|| {
                    *level_milli -= cost;
                    Withdrawal { cost_milli: cost }
                })
            }
            RetryBudget::Ratio {
                ratio_pct,
                window,
                min_retries_per_s,
                buckets,
            } => {
                let (requests, retries) = buckets
                    .iter()
                    .fold((0, 0), |(q, r), (_, bq, br)| (q + bq, r + br));
                let allowed = requests * *ratio_pct / 100 + *min_retries_per_s * window.as_secs();
                if retries >= allowed {
                    return None;
                }
                self.bucket(now).2 += 1;
                Some(Withdrawal { cost_milli: 0 })
            }
        }
    }

    /// Settles an attempt's end: a success refunds a retry's cost or rewards a first-try success.
    pub fn on_success(&mut self, now: Duration, withdrawal: Option<Withdrawal>) {
        self.refill(now);
        if let RetryBudget::TokenBucket {
            capacity_milli,
            level_milli,
            success_reward,
            ..
        } = self
        {
            let deposit = withdrawal.map_or(*success_reward * 1_000, |w| w.cost_milli);
            *level_milli = (*level_milli + deposit).min(*capacity_milli);
        }
    }

    /// The token bucket's level in whole tokens (for events); `None` for other budgets.
    pub fn level(&self) -> Option<u64> {
        match self {
            RetryBudget::TokenBucket { level_milli, .. } => Some(level_milli / 1_000),
            _ => None,
        }
    }

    fn refill(&mut self, now: Duration) {
        match self {
            RetryBudget::TokenBucket {
                capacity_milli,
                level_milli,
                refill_per_s,
                updated_at,
                ..
            } => {
                if now > *updated_at {
                    let gained = (now - *updated_at).as_millis() as u64 * *refill_per_s;
                    *level_milli = (*level_milli + gained).min(*capacity_milli);
                    *updated_at = now;
                }
            }
            RetryBudget::Ratio { window, buckets, .. } => {
                let oldest_s = now.saturating_sub(*window).as_secs();
                while buckets.front().is_some_and(|(second, _, _)| *second < oldest_s) {
                    buckets.pop_front();
                }
            }
            RetryBudget::Unlimited => {}
        }
    }

    fn bucket(&mut self, now: Duration) -> &mut (u64, u64, u64) {
        self.refill(now);
        let RetryBudget::Ratio { buckets, .. } = self else {
            unreachable!("only the ratio budget has buckets")
        };
        let second = now.as_secs();
        if buckets.back().is_none_or(|(s, _, _)| *s != second) {
            buckets.push_back((second, 0, 0));
        }
        assert!(buckets.len() <= 3_601, "ratio window is bounded");
        buckets.back_mut().expect("just pushed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn aws(refill_per_s: u64) -> RetryBudget {
        RetryBudget::new(&BudgetConfig::TokenBucket {
            capacity: 20,
            retry_cost: 5,
            timeout_cost: 10,
            success_reward: 1,
            refill_per_s,
        })
    }

    #[test]
    fn token_bucket_costs_refunds_and_rewards() {
        let mut budget = aws(0);
        let now = Duration::ZERO;
        let first = budget.withdraw(now, RetryKind::Ordinary).unwrap();
        budget.withdraw(now, RetryKind::Timeout).unwrap();
        assert_eq!(budget.level(), Some(5));
        assert!(budget.withdraw(now, RetryKind::Timeout).is_none());
        budget.on_success(now, Some(first));
        assert_eq!(budget.level(), Some(10));
        budget.on_success(now, None);
        assert_eq!(budget.level(), Some(11));
    }

    #[test]
    fn token_bucket_refills_so_it_cannot_stall() {
        let mut budget = aws(1);
        while budget.withdraw(Duration::ZERO, RetryKind::Ordinary).is_some() {}
        assert!(budget
            .withdraw(Duration::from_secs(4), RetryKind::Ordinary)
            .is_none());
        assert!(budget
            .withdraw(Duration::from_secs(5), RetryKind::Ordinary)
            .is_some());
    }

    #[test]
    fn ratio_budget_allows_a_share_plus_a_floor() {
        let mut budget = RetryBudget::new(&BudgetConfig::Ratio {
            ratio_pct: 10,
            window_ms: 10_000,
            min_retries_per_s: 0,
        });
        for _ in 0..100 {
            budget.on_request(Duration::from_secs(1));
        }
        let granted = (0..50)
            .filter(|_| {
                budget
                    .withdraw(Duration::from_secs(2), RetryKind::Ordinary)
                    .is_some()
            })
            .count();
        assert_eq!(granted, 10);
        // Once the requests leave the window, only the floor is left (0 here).
        assert!(budget
            .withdraw(Duration::from_secs(12), RetryKind::Ordinary)
            .is_none());
        let mut floor = RetryBudget::new(&BudgetConfig::Ratio {
            ratio_pct: 10,
            window_ms: 10_000,
            min_retries_per_s: 1,
        });
        assert!(
            floor
                .withdraw(Duration::from_secs(500), RetryKind::Ordinary)
                .is_some(),
            "the floor never stalls"
        );
    }

    proptest! {
        #[test]
        fn token_bucket_never_overdraws(ops in prop::collection::vec((0u8..4, 0u64..3_000), 1..300)) {
            // Both bounds, and the decision itself: a withdrawal is granted exactly when the
            // level (after refill) covers its cost, and the level never leaves 0..=capacity.
            let mut budget = aws(1);
            let mut now = Duration::ZERO;
            let mut outstanding = Vec::new();
            for (op, advance_ms) in ops {
                now += Duration::from_millis(advance_ms);
                let kind = if op == 1 { RetryKind::Timeout } else { RetryKind::Ordinary };
                let cost = if op == 1 { 10 } else { 5 };
                match op {
                    0 | 1 => {
                        budget.refill(now);
                        let before = budget.level().unwrap();
                        match budget.withdraw(now, kind) {
                            Some(w) => {
                                prop_assert!(before >= cost, "granted {cost} from a level of {before}");
                                prop_assert_eq!(budget.level().unwrap() + cost, before, "a grant takes exactly its cost");
                                outstanding.push(w);
                            }
                            None => {
                                prop_assert!(before < cost, "refused {cost} from a level of {before}");
                            }
                        }
                    }
                    2 => budget.on_success(now, outstanding.pop()),
                    _ => budget.on_success(now, None),
                }
                prop_assert!(budget.level().unwrap() <= 20);
            }

        }
    }
}
