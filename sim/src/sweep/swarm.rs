//! Swarm environments: gateways drawn around a scenario, so that a setting is chosen for the
//! platforms it may meet rather than for the one its scenario describes.
//!
//! Environment 0 of every swarm is the scenario as written; environment `i > 0` is drawn from
//! its own random stream (`streams::Stream::Swarm`) of the swarm's seed, so it is the same
//! whatever the swarm's size. Each draw picks, independently and uniformly, one value of:
//!
//! | what | values | applied to |
//! |---|---|---|
//! | limiter algorithm | sliding log, sliding window, fixed window, token bucket | every API rule |
//! | window | × 1/60, 1/6, 1, 2 of the rule's own (a minute becomes 1 s, 10 s, 60 s, 120 s; at least 1 s) | every API rule; the limit scales with it, so the rate stays |
//! | burst | × 0.1, 0.5, 1, 2 of the window's limit | token buckets only |
//! | key | as written, or per OAuth client where it was per token (a new token frees nothing) | every API rule (1 in 4 environments) |
//! | 5xx | none (half), or 1%, 2%, 5% of admitted API requests answer 503 | the whole run |
//! | lost responses | none (half), or 0.5%, 1%, 2% of writes applied with their response lost | the whole run |
//! | token lifetime | 300 s, 900 s, 1 h, 24 h (Genesys lets a client choose 300–172 800 s) | every OAuth client |
//! | `Retry-After` | seconds, HTTP-date, missing, too short (capped at 1 s), huge (the true wait + 4 of the rule's windows) | every rule |
//! | background load | none, or 10%, 25%, 50% of the tightest shared rule's rate, on the first OAuth client | the whole run |
//!
//! The token endpoint's own limit keeps its algorithm and window. The rules the layers make
//! become explicit rules (the layers are then off), so that their algorithm can change.
//!
//! A drawn environment may be slower than the scenario's own platform (a background consumer
//! takes half the rate, a huge `Retry-After` holds a client for five windows), so its
//! `duration_s` is 4× the scenario's, and 5× that again under a huge `Retry-After`: a setting
//! breaks on the environment, not on a time limit written for another platform. A run that
//! finishes its work ends then, whatever its limit.

use herd_gateway::config::{
    Algorithm, BackgroundConsumer, Fault, KeyPart, Layers, LimitRule, RetryAfterStyle,
};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::scenario::Scenario;
use crate::streams::{self, Stream};

/// How the environment's refusals write `Retry-After`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryAfterKind {
    Seconds,
    Date,
    Missing,
    /// Capped at 1 s, below the true wait.
    TooShort,
    /// The true wait plus [`HUGE_WINDOWS`] of the rule's windows.
    Huge,
}

/// How many of its rule's windows a huge `Retry-After` adds to the true wait.
pub const HUGE_WINDOWS: u64 = 4;

/// How much longer than the scenario's `duration_s` a drawn environment runs at most, and
/// how much longer again under a huge `Retry-After`.
const DURATION_STRETCH: u64 = 4;
const HUGE_STRETCH: u64 = HUGE_WINDOWS + 1;

/// The most environments a swarm may have.
pub const SWARM_MAX: u32 = 256;

/// The changes of one swarm environment to its scenario (all `None`/zero for environment 0).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Environment {
    /// The swarm's seed and this environment's place in it: with the scenario and the base
    /// overrides, they make it again (`--swarm-env SEED:INDEX`).
    pub seed: u64,
    pub index: u32,
    /// `None`: the scenario as written.
    pub draw: Option<Draw>,
}

/// What one environment drew.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Draw {
    pub algorithm: Algorithm,
    /// The rules' windows become this many sixtieths of their own.
    pub window_sixtieths: u64,
    /// A token bucket's capacity, in tenths of its window's limit.
    pub burst_tenths: u64,
    /// Rules keyed by token are keyed by OAuth client instead.
    pub per_client: bool,
    pub server_errors_permille: u64,
    pub lost_responses_permille: u64,
    pub token_ttl_s: u64,
    pub retry_after: RetryAfterKind,
    /// Background load, in percent of the tightest shared rule's rate.
    pub background_pct: u64,
}

impl Environment {
    /// Environment `index` of the swarm of `seed`.
    pub fn draw(seed: u64, index: u32) -> Environment {
        if index == 0 {
            return Environment {
                seed,
                index,
                draw: None,
            };
        }
        let mut rng = streams::rng(seed, Stream::Swarm { environment: index });
        let mut pick = |values: &[u64]| values[rng.random_range(0..values.len())];
        let algorithm = [
            Algorithm::SlidingLog,
            Algorithm::SlidingWindow,
            Algorithm::FixedWindow,
            Algorithm::TokenBucket,
        ][pick(&[0, 1, 2, 3]) as usize];
        let window_sixtieths = pick(&[1, 10, 60, 120]);
        let burst_tenths = pick(&[1, 5, 10, 20]);
        let per_client = pick(&[0, 0, 0, 1]) == 1;
        let server_errors_permille = pick(&[0, 0, 0, 10, 20, 50]);
        let lost_responses_permille = pick(&[0, 0, 0, 5, 10, 20]);
        let token_ttl_s = pick(&[300, 900, 3_600, 86_400]);
        let retry_after = [
            RetryAfterKind::Seconds,
            RetryAfterKind::Date,
            RetryAfterKind::Missing,
            RetryAfterKind::TooShort,
            RetryAfterKind::Huge,
        ][pick(&[0, 1, 2, 3, 4]) as usize];
        let background_pct = pick(&[0, 10, 25, 50]);
        Environment {
            seed,
            index,
            draw: Some(Draw {
                algorithm,
                window_sixtieths,
                burst_tenths,
                per_client,
                server_errors_permille,
                lost_responses_permille,
                token_ttl_s,
                retry_after,
                background_pct,
            }),
        }
    }

    /// The first `count` environments of the swarm of `seed`.
    pub fn swarm(seed: u64, count: u32) -> Vec<Environment> {
        (0..count).map(|index| Environment::draw(seed, index)).collect()
    }

    /// `e3`: how tables name it.
    pub fn name(&self) -> String {
        format!("e{}", self.index)
    }

    /// What it changed, in a line.
    pub fn label(&self) -> String {
        let Some(draw) = &self.draw else {
            return "the scenario as written".to_string();
        };
        let algorithm = match draw.algorithm {
            Algorithm::SlidingLog => "sliding log",
            Algorithm::SlidingWindow => "sliding window",
            Algorithm::FixedWindow => "fixed window",
            Algorithm::TokenBucket => "token bucket",
        };
        let mut parts = vec![format!(
            "{algorithm}, windows ×{}",
            sixtieths(draw.window_sixtieths)
        )];
        if draw.algorithm == Algorithm::TokenBucket {
            parts.push(format!("burst {}× the limit", tenths(draw.burst_tenths)));
        }
        if draw.per_client {
            parts.push("per client".to_string());
        }
        if draw.server_errors_permille > 0 {
            parts.push(format!("5xx {}%", tenths(draw.server_errors_permille)));
        }
        if draw.lost_responses_permille > 0 {
            parts.push(format!("lost {}%", tenths(draw.lost_responses_permille)));
        }
        parts.push(format!("tokens {}", duration(draw.token_ttl_s)));
        parts.push(
            match draw.retry_after {
                RetryAfterKind::Seconds => "Retry-After seconds",
                RetryAfterKind::Date => "Retry-After date",
                RetryAfterKind::Missing => "no Retry-After",
                RetryAfterKind::TooShort => "Retry-After too short",
                RetryAfterKind::Huge => "Retry-After huge",
            }
            .to_string(),
        );
        if draw.background_pct > 0 {
            parts.push(format!("background {}%", draw.background_pct));
        }
        parts.join(", ")
    }

    /// The scenario in this environment, validated. An error is herdsim's (a draw must always
    /// make a valid scenario), named for the report.
    pub fn apply(&self, base: &Scenario) -> Result<Scenario, String> {
        let Some(draw) = &self.draw else {
            return Ok(base.clone());
        };
        let mut scenario = base.clone();
        let gateway = &mut scenario.gateway;
        let mut rules = gateway.effective_limits();
        for rule in &mut rules {
            if !rule.is_token_endpoint() {
                reshape(rule, draw);
            }
            match draw.retry_after {
                RetryAfterKind::Seconds => rule.retry_after = RetryAfterStyle::Seconds,
                RetryAfterKind::Date => rule.retry_after = RetryAfterStyle::Date,
                RetryAfterKind::Missing => rule.retry_after = RetryAfterStyle::Missing,
                RetryAfterKind::TooShort => {
                    rule.retry_after = RetryAfterStyle::Seconds;
                    rule.retry_after_max_s = Some(1);
                    rule.retry_after_extra_s = 0;
                }
                RetryAfterKind::Huge => {
                    rule.retry_after = RetryAfterStyle::Seconds;
                    rule.retry_after_max_s = None;
                    rule.retry_after_extra_s = (rule.window_ms.div_ceil(1_000) * HUGE_WINDOWS).min(86_400);
                }
            }
        }
        let background_rate = shared_rate_per_min(&rules).map(|rate| rate * draw.background_pct / 100);
        let stretch = DURATION_STRETCH
            * if draw.retry_after == RetryAfterKind::Huge {
                HUGE_STRETCH
            } else {
                1
            };
        // A scenario with a trigger is counted second by second, for a week at the most.
        let most_s = if base.trigger.is_some() {
            7 * 86_400
        } else {
            herd_gateway::config::TIME_S_MAX
        };
        scenario.duration_s = base
            .duration_s
            .saturating_mul(stretch)
            .min(most_s)
            .max(base.duration_s);
        gateway.layers = Layers::OFF;
        gateway.limits = Some(rules);
        if draw.server_errors_permille > 0 {
            gateway.faults.push(Fault::server_errors_503(
                draw.server_errors_permille as f64 / 1_000.0,
                0,
                None,
            ));
        }
        if draw.lost_responses_permille > 0 {
            gateway.faults.push(Fault::LostResponse {
                from_s: 0,
                until_s: None,
                rate: draw.lost_responses_permille as f64 / 1_000.0,
                families: Vec::new(),
                host: None,
            });
        }
        for client in &mut gateway.clients {
            client.token_ttl_s = Some(draw.token_ttl_s);
        }
        if let (Some(rate_per_min), Some(client)) =
            (background_rate.filter(|&rate| rate > 0), gateway.clients.first())
        {
            gateway.background.push(BackgroundConsumer {
                name: "swarm-background".to_string(),
                client: client.id.clone(),
                rate_per_min,
                from_s: 0,
                until_s: None,
                family: "users.read".to_string(),
            });
        }
        scenario.validate().map_err(|(field, message)| {
            format!(
                "swarm environment {} ({}) makes an invalid scenario: {field}: {message}",
                self.name(),
                self.label()
            )
        })?;
        Ok(scenario)
    }
}

/// The rule's algorithm, window (at the same rate), burst and key, as drawn.
fn reshape(rule: &mut LimitRule, draw: &Draw) {
    let window_ms = (rule.window_ms * draw.window_sixtieths / 60).max(1_000);
    let scale = |limit: u64| -> u64 {
        let scaled = (u128::from(limit) * u128::from(window_ms) + u128::from(rule.window_ms) / 2)
            / u128::from(rule.window_ms.max(1));
        u64::try_from(scaled).unwrap_or(u64::MAX).max(1)
    };
    rule.limit = scale(rule.limit);
    for change in &mut rule.schedule {
        change.limit = scale(change.limit);
    }
    rule.window_ms = window_ms;
    rule.algorithm = draw.algorithm;
    rule.burst =
        (draw.algorithm == Algorithm::TokenBucket).then(|| (rule.limit * draw.burst_tenths / 10).max(1));
    if draw.per_client && rule.key.contains(&KeyPart::Token) {
        let mut key: Vec<KeyPart> = Vec::new();
        for part in &rule.key {
            let part = if *part == KeyPart::Token {
                KeyPart::Client
            } else {
                *part
            };
            if !key.contains(&part) {
                key.push(part);
            }
        }
        rule.key = key;
    }
}

/// The per-minute rate of the tightest API rule that a background consumer of the same OAuth
/// client shares (keyed by client or organization, not by token); `None` when there is none.
fn shared_rate_per_min(rules: &[LimitRule]) -> Option<u64> {
    rules
        .iter()
        .filter(|rule| !rule.is_token_endpoint() && rule.shared_with_client_consumers())
        .map(|rule| rule.limit.saturating_mul(60_000) / rule.window_ms.max(1))
        .min()
}

fn sixtieths(n: u64) -> String {
    match n {
        1 => "1/60".to_string(),
        10 => "1/6".to_string(),
        n if n.is_multiple_of(60) => (n / 60).to_string(),
        n => format!("{n}/60"),
    }
}

fn tenths(n: u64) -> String {
    if n.is_multiple_of(10) {
        (n / 10).to_string()
    } else {
        format!("{}.{}", n / 10, n % 10)
    }
}

fn duration(seconds: u64) -> String {
    match seconds {
        s if s.is_multiple_of(3_600) => format!("{} h", s / 3_600),
        s if s.is_multiple_of(60) => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn herd() -> Scenario {
        crate::scenario::library::find("thundering-herd")
            .expect("shipped")
            .load(&[])
            .expect("loads")
    }

    #[test]
    fn environment_zero_is_the_scenario_and_the_others_are_fixed_by_seed_and_index() {
        let base = herd();
        assert_eq!(Environment::draw(5, 0).apply(&base).expect("valid"), base);
        let eight = Environment::swarm(5, 8);
        let sixteen = Environment::swarm(5, 16);
        assert_eq!(
            eight[..],
            sixteen[..8],
            "an environment does not depend on the swarm's size"
        );
        assert_ne!(Environment::swarm(6, 8), eight, "another seed, another swarm");
        let distinct: std::collections::BTreeSet<_> = sixteen.iter().map(|env| &env.draw).collect();
        assert!(
            distinct.len() >= 12,
            "16 draws give at most a few repeats: {}",
            distinct.len()
        );
    }

    #[test]
    fn every_draw_makes_a_valid_scenario_that_keeps_the_rate() {
        let base = herd();
        let mut changed_algorithm = 0;
        for env in Environment::swarm(1, 64) {
            let scenario = env.apply(&base).unwrap_or_else(|error| panic!("{error}"));
            let Some(draw) = &env.draw else { continue };
            let rules = scenario.gateway.effective_limits();
            assert_eq!(
                rules.len(),
                base.gateway.effective_limits().len(),
                "{}",
                env.label()
            );
            for rule in rules.iter().filter(|rule| !rule.is_token_endpoint()) {
                let per_min = rule.limit as f64 * 60_000.0 / rule.window_ms as f64;
                assert!(
                    (per_min - 300.0).abs() <= 300.0 * 0.05 + 60_000.0 / rule.window_ms as f64,
                    "{}: {per_min}/min",
                    env.label()
                );
                assert_eq!(rule.algorithm, draw.algorithm);
                changed_algorithm += usize::from(draw.algorithm != Algorithm::SlidingLog);
            }
            assert!(scenario
                .gateway
                .clients
                .iter()
                .all(|client| client.token_ttl_s == Some(draw.token_ttl_s)));
        }
        assert!(changed_algorithm > 0, "some draws change the algorithm");
    }
}
