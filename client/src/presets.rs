//! Peer presets: the same engine configured as other clients behave, so that a scenario can put
//! them side by side. Sources are in `docs/` (platform-facts.md §1h, §2d;
//! retry-libraries.md §2.1, §2.2); each preset names its own.
//!
//! A preset replaces the resilience settings and keeps the deployment ones (platform, URLs,
//! concurrency, queue, bulk and page sizes).

use serde::{Deserialize, Serialize};

use crate::config::ClientConfig;
use crate::policy::adaptive::AdaptiveConfig;
use crate::policy::backoff::{BackoffConfig, Jitter, Strategy};
use crate::policy::breaker::{BreakerConfig, BreakerMode, BreakerScope};
use crate::policy::budget::BudgetConfig;
use crate::policy::pacing::PacingConfig;
use crate::policy::retry::{RetryAfterDates, RetryConfig};
use crate::token::TokenConfig;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// herdsim's own default policy.
    #[default]
    Herdsim,
    GenesysJava,
    GenesysGo,
    GenesysPython,
    GenesysJavascript,
    CxoneAgentSdk,
    AwsStandard,
    AwsAdaptive,
    ExponentialNoJitter,
    Tutorial,
    TutorialFullJitter,
    TutorialCappedBackoff,
    Tenacity,
    TutorialUnawaitedPacer,
    TutorialBlindBreaker,
}

impl Preset {
    pub const ALL: [Preset; 15] = [
        Preset::Herdsim,
        Preset::GenesysJava,
        Preset::GenesysGo,
        Preset::GenesysPython,
        Preset::GenesysJavascript,
        Preset::CxoneAgentSdk,
        Preset::AwsStandard,
        Preset::AwsAdaptive,
        Preset::ExponentialNoJitter,
        Preset::Tutorial,
        Preset::TutorialFullJitter,
        Preset::TutorialCappedBackoff,
        Preset::Tenacity,
        Preset::TutorialUnawaitedPacer,
        Preset::TutorialBlindBreaker,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Preset::Herdsim => "herdsim",
            Preset::GenesysJava => "genesys-java",
            Preset::GenesysGo => "genesys-go",
            Preset::GenesysPython => "genesys-python",
            Preset::GenesysJavascript => "genesys-javascript",
            Preset::CxoneAgentSdk => "cxone-agent-sdk",
            Preset::AwsStandard => "aws-standard",
            Preset::AwsAdaptive => "aws-adaptive",
            Preset::ExponentialNoJitter => "exponential-no-jitter",
            Preset::Tutorial => "tutorial",
            Preset::TutorialFullJitter => "tutorial-full-jitter",
            Preset::TutorialCappedBackoff => "tutorial-capped-backoff",
            Preset::Tenacity => "tenacity",
            Preset::TutorialUnawaitedPacer => "tutorial-unawaited-pacer",
            Preset::TutorialBlindBreaker => "tutorial-blind-breaker",
        }
    }

    pub fn from_name(name: &str) -> Option<Preset> {
        Preset::ALL.into_iter().find(|preset| preset.name() == name)
    }

    pub fn describe(self) -> &'static str {
        match self {
            Preset::Herdsim => "full jitter above Retry-After, Retry-After shared across the bucket, header pacing, retry budget, per-bucket breakers, idempotency keys",
            Preset::GenesysJava => "Genesys Java/.NET SDK: 429/502/503/504, Retry-After or 3 s, give up over 180 s, then 3^k s",
            Preset::GenesysGo => "Genesys Go SDK (go-retryablehttp): 429 and 5xx but 501, Retry-After or 1..30 s exponential",
            Preset::GenesysPython => "Genesys Python SDK (urllib3 Retry): 413/429/503 only with Retry-After, 10 retries, no backoff",
            Preset::GenesysJavascript => "Genesys JavaScript SDK: never retries (a 429 or 5xx rejects with the body, no headers)",
            Preset::CxoneAgentSdk => "CXone agent SDK: 3 tries, 1 s apart, any status >= 400, sampling breaker on 429/503",
            Preset::AwsStandard => "AWS standard: 3 attempts, full jitter 1..20 s, retry quota 500 (cost 5, timeout 10)",
            Preset::AwsAdaptive => "AWS adaptive: standard plus the CUBIC client-side rate limiter",
            Preset::ExponentialNoJitter => "plain exponential backoff, no jitter, Retry-After ignored",
            Preset::Tutorial => "the tutorials: 5 tries, exponential + 10% jitter, Retry-After honoured, token refreshed 5 min early",
            Preset::TutorialFullJitter => "a tutorial's full jitter: rand() × max(backoff, Retry-After), so it can wait less than the Retry-After; 5 tries",
            Preset::TutorialCappedBackoff => "a tutorial's capped backoff: max(backoff, Retry-After) but never over 30 s, so a longer Retry-After is cut short; 6 tries",
            Preset::Tenacity => "tenacity's recipe on raise_for_status(): every HTTP error, 4xx too, 5 tries, wait_exponential(min 4 s, max 10 s), Retry-After ignored",
            Preset::TutorialUnawaitedPacer => "a tutorial's pacer (300/min and headers) whose waits are computed and logged but never slept; Retry-After honoured, 5 tries",
            Preset::TutorialBlindBreaker => "a tutorial's circuit breaker around a call that raises first: it only ever sees 200s and never opens; 5 tries, exponential",
        }
    }

    /// `base` with this preset's resilience settings.
    pub fn apply(self, base: &ClientConfig) -> ClientConfig {
        let mut config = base.clone();
        let defaults = ClientConfig::default();
        config.retry = defaults.retry;
        config.backoff = defaults.backoff;
        config.budget = defaults.budget;
        config.breaker = defaults.breaker;
        config.pacing = defaults.pacing;
        config.adaptive = defaults.adaptive;
        config.token = defaults.token;
        config.idempotency_keys = defaults.idempotency_keys;
        config.wait_when_open = defaults.wait_when_open;
        match self {
            Preset::Herdsim => {}
            Preset::GenesysJava => genesys_java(&mut config),
            Preset::GenesysGo => genesys_go(&mut config),
            Preset::GenesysPython => genesys_python(&mut config),
            Preset::GenesysJavascript => genesys_javascript(&mut config),
            Preset::CxoneAgentSdk => cxone_agent_sdk(&mut config),
            Preset::AwsStandard => aws_standard(&mut config),
            Preset::AwsAdaptive => {
                aws_standard(&mut config);
                config.adaptive = AdaptiveConfig { enabled: true };
            }
            Preset::ExponentialNoJitter => exponential_no_jitter(&mut config),
            Preset::Tutorial => tutorial(&mut config),
            Preset::TutorialFullJitter => tutorial_full_jitter(&mut config),
            Preset::TutorialCappedBackoff => tutorial_capped_backoff(&mut config),
            Preset::Tenacity => tenacity(&mut config),
            Preset::TutorialUnawaitedPacer => tutorial_unawaited_pacer(&mut config),
            Preset::TutorialBlindBreaker => tutorial_blind_breaker(&mut config),
        }
        // The peers count every attempt, throttled or not, as their libraries do.
        if self != Preset::Herdsim {
            config.retry.throttles_count_as_attempts = true;
        }
        // How each reads an HTTP-date `Retry-After`: urllib3 and the generic libraries against
        // the local clock (`time.time()`, `Date.now()`); the Java, .NET and Go SDKs and the CXone
        // agent SDK parse a number only (`Integer.parseInt`, `Number(h)`), so a date is no
        // `Retry-After` to them. herdsim reads it against the response's `Date`.
        config.retry.retry_after_dates = match self {
            Preset::Herdsim => RetryAfterDates::ServerClock,
            Preset::GenesysPython
            | Preset::Tutorial
            | Preset::TutorialFullJitter
            | Preset::TutorialCappedBackoff
            | Preset::Tenacity
            | Preset::TutorialUnawaitedPacer
            | Preset::TutorialBlindBreaker
            | Preset::ExponentialNoJitter
            | Preset::AwsStandard
            | Preset::AwsAdaptive => RetryAfterDates::LocalClock,
            Preset::GenesysJava | Preset::GenesysGo | Preset::GenesysJavascript | Preset::CxoneAgentSdk => {
                RetryAfterDates::Ignored
            }
        };
        config
    }
}

/// The Genesys JavaScript SDK, as measured (`shared/reference/official-sdks-measured.md` §2–3):
/// no retry at all; a 429 or an error rejects with the parsed body, without its headers.
fn genesys_javascript(config: &mut ClientConfig) {
    bare(config);
    config.retry = RetryConfig {
        max_attempts: 1,
        statuses: Vec::new(),
        retry_connect_errors: false,
        retry_timeouts: false,
        retry_lost_responses: false,
        honour_retry_after: false,
        retry_after_max_s: None,
        max_token_refreshes: 1,
        ..RetryConfig::default()
    };
}

/// Nothing but retries: no budget, breaker, pacing, adaptive limiter or idempotency keys, and a
/// token refreshed only when it expires or on 401 — what the SDKs and libraries do.
fn bare(config: &mut ClientConfig) {
    config.budget = BudgetConfig::None;
    config.breaker = BreakerConfig {
        mode: BreakerMode::Disabled,
        ..BreakerConfig::default()
    };
    config.pacing = PacingConfig {
        from_headers: false,
        share_retry_after: false,
        spread_ms: 0,
        limit_per_min: None,
        burst: 1,
        escalation_cap_ms: 0,
        learn: false,
        prior_per_window: None,
        learn_window_ms: 60_000,
        obey: true,
    };
    config.adaptive = AdaptiveConfig { enabled: false };
    config.token = TokenConfig { refresh_margin_s: 0 };
    config.idempotency_keys = false;
    config.retry.reread_on_conflict = false;
    config.retry.retry_after_jitter_ms = 0;
}

/// purecloudlabs/platform-client-sdk-common `purecloudjava/templates/ApiClient.mustache`
/// (`RetryConfiguration`, `Retry`) and `pureclouddotnet/templates/ApiClient.mustache`: statuses
/// 429/502/503/504; Retry-After × 1000 ms or `retryAfterDefaultMs = 3000`; give up when that
/// exceeds `defaultMaxRetry = 180000` ms; after `maxRetriesBeforeBackoff = 5` retries of a 5xx,
/// 3^k s with k = min(3, elapsed / `backoffIntervalMs = 300000` + 1); `retryMax = 5`. Retries are
/// off by default (`maxRetryTimeSec = 0`); this preset turns them on with a 600 s budget of time.
fn genesys_java(config: &mut ClientConfig) {
    bare(config);
    config.retry = RetryConfig {
        max_attempts: 6,
        deadline_ms: Some(600_000),
        statuses: vec![429, 502, 503, 504],
        retry_connect_errors: false,
        retry_timeouts: false,
        retry_lost_responses: false,
        retry_after_max_s: Some(180),
        retry_after_default_ms: Some(3_000),
        retry_after_jitter_ms: 0,
        retries_before_backoff: 5,
        reread_on_conflict: false,
        ..RetryConfig::default()
    };
    config.backoff = BackoffConfig {
        strategy: Strategy::GenesysStepped,
        jitter: Jitter::None,
        step_interval_ms: 300_000,
        ..BackoffConfig::default()
    };
}

/// SDKC `purecloudgo/templates/apiclient.mustache` with hashicorp/go-retryablehttp: 429 retried
/// unless Retry-After > 180 s; every 5xx but 501 and transport errors retried; Retry-After honoured
/// on 429/503, otherwise `RetryWaitMin * 2^n` up to `RetryWaitMax` (retryablehttp's 1 s and 30 s),
/// `RetryMax` 4 (retryablehttp's default; the SDK's own default 0 means off).
fn genesys_go(config: &mut ClientConfig) {
    bare(config);
    let mut statuses: Vec<u16> = (500..=599).filter(|&status| status != 501).collect();
    statuses.insert(0, 429);
    config.retry = RetryConfig {
        max_attempts: 5,
        deadline_ms: None,
        statuses,
        retry_after_max_s: Some(180),
        retry_after_jitter_ms: 0,
        reread_on_conflict: false,
        ..RetryConfig::default()
    };
    config.backoff = BackoffConfig {
        strategy: Strategy::Exponential,
        jitter: Jitter::None,
        base_ms: 1_000,
        cap_ms: 30_000,
        ..BackoffConfig::default()
    };
}

/// SDKC `purecloudpython/templates/rest.mustache` builds `urllib3.util.Retry()`: total 10,
/// `RETRY_AFTER_STATUS_CODES = {413, 429, 503}` retried only when Retry-After is present,
/// `backoff_factor = 0`, Retry-After uncapped; connection and read errors count against total.
fn genesys_python(config: &mut ClientConfig) {
    bare(config);
    config.retry = RetryConfig {
        max_attempts: 11,
        deadline_ms: None,
        statuses: vec![413, 429, 503],
        require_retry_after: true,
        retry_after_max_s: None,
        retry_after_jitter_ms: 0,
        reread_on_conflict: false,
        ..RetryConfig::default()
    };
    config.backoff = BackoffConfig {
        strategy: Strategy::None,
        jitter: Jitter::None,
        ..BackoffConfig::default()
    };
}

/// nice-devone/nice-cxone-agent-sdk: `RetryOptions.default()` = 3 attempts, `retryInterval` 1000 ms,
/// any status >= 400; Retry-After read as seconds; cockatiel `SamplingBreaker` threshold 0.2 over
/// 10 s with at least 2 requests per second, cooling 10 s, counting 429 and 503.
fn cxone_agent_sdk(config: &mut ClientConfig) {
    bare(config);
    config.retry = RetryConfig {
        max_attempts: 3,
        deadline_ms: None,
        statuses: (400..=599).filter(|&status| status != 401).collect(),
        retry_after_max_s: None,
        retry_after_jitter_ms: 0,
        reread_on_conflict: false,
        ..RetryConfig::default()
    };
    config.backoff = BackoffConfig {
        strategy: Strategy::Constant,
        jitter: Jitter::None,
        base_ms: 1_000,
        cap_ms: 1_000,
        ..BackoffConfig::default()
    };
    config.breaker = BreakerConfig {
        mode: BreakerMode::FailureRate {
            threshold_pct: 20,
            window_ms: 10_000,
            min_calls: 20,
        },
        open_ms: 10_000,
        half_open_probes: 1,
        scope: BreakerScope::All,
        failure_statuses: vec![429, 503],
        sees_failures: true,
    };
    config.wait_when_open = false;
}

/// smithy-rs `RetryConfig` standard: 3 attempts, initial 1 s, max backoff 20 s, full jitter; the
/// retry quota `token_bucket.rs`: 500 tokens, 5 per retry, 10 per timeout retry, +1 per first-try
/// success, never refilled by time; plain `Retry-After` is not read (only `x-amz-retry-after`).
fn aws_standard(config: &mut ClientConfig) {
    bare(config);
    config.retry = RetryConfig {
        max_attempts: 3,
        deadline_ms: None,
        honour_retry_after: false,
        budget_exempt_retry_after: false,
        retry_after_max_s: None,
        retry_after_jitter_ms: 0,
        reread_on_conflict: false,
        ..RetryConfig::default()
    };
    config.backoff = BackoffConfig {
        strategy: Strategy::Exponential,
        jitter: Jitter::Full,
        base_ms: 1_000,
        cap_ms: 20_000,
        ..BackoffConfig::default()
    };
    config.budget = BudgetConfig::TokenBucket {
        capacity: 500,
        retry_cost: 5,
        timeout_cost: 10,
        success_reward: 1,
        refill_per_s: 0,
    };
}

/// Exponential backoff as most hand-written loops do it: doubling from 500 ms to 30 s, no jitter,
/// Retry-After ignored (the "exponential" column of the AWS backoff study).
fn exponential_no_jitter(config: &mut ClientConfig) {
    bare(config);
    config.retry = RetryConfig {
        honour_retry_after: false,
        retry_after_max_s: None,
        retry_after_jitter_ms: 0,
        reread_on_conflict: false,
        ..RetryConfig::default()
    };
    config.backoff = BackoffConfig {
        strategy: Strategy::Exponential,
        jitter: Jitter::None,
        base_ms: 500,
        cap_ms: 30_000,
        ..BackoffConfig::default()
    };
}

/// The tutorials' client (the claims platform-facts.md refutes): 5 tries, 1 s doubling plus 10 %
/// jitter, Retry-After honoured, rate-limit headers read, the token refreshed 5 minutes before a
/// presumed one-hour expiry.
fn tutorial(config: &mut ClientConfig) {
    bare(config);
    config.retry = RetryConfig {
        max_attempts: 5,
        deadline_ms: None,
        retry_after_max_s: None,
        retry_after_jitter_ms: 0,
        reread_on_conflict: false,
        ..RetryConfig::default()
    };
    config.backoff = BackoffConfig {
        strategy: Strategy::Exponential,
        jitter: Jitter::Additive,
        base_ms: 1_000,
        cap_ms: 60_000,
        additive_jitter_pct: 10,
        ..BackoffConfig::default()
    };
    config.pacing = PacingConfig {
        from_headers: true,
        share_retry_after: false,
        spread_ms: 0,
        limit_per_min: None,
        burst: 1,
        escalation_cap_ms: 0,
        learn: false,
        prior_per_window: None,
        learn_window_ms: 60_000,
        obey: true,
    };
    config.token = TokenConfig {
        refresh_margin_s: 300,
    };
}

/// The tutorials' loop, which the five tutorial presets vary: 5 tries, exponential from 1 s
/// (doubling, capped at 60 s), no jitter, `Retry-After` honoured as a floor.
fn tutorial_loop(config: &mut ClientConfig) {
    bare(config);
    config.retry = RetryConfig {
        max_attempts: 5,
        deadline_ms: None,
        retry_after_max_s: None,
        retry_after_jitter_ms: 0,
        reread_on_conflict: false,
        ..RetryConfig::default()
    };
    config.backoff = BackoffConfig {
        strategy: Strategy::Exponential,
        jitter: Jitter::None,
        base_ms: 1_000,
        cap_ms: 60_000,
        ..BackoffConfig::default()
    };
}

/// `sleep(random() * max(base * 2**n, retry_after))`: full jitter applied after the floor is
/// taken, so the wait is anywhere from 0 to the floor and usually below the `Retry-After`.
fn tutorial_full_jitter(config: &mut ClientConfig) {
    tutorial_loop(config);
    config.retry.jitter_scales_floor = true;
}

/// `sleep(min(max(base * 2**n, retry_after), 30))`: the cap meant for the backoff also cuts a
/// longer `Retry-After` short, so it retries into a window that has not reopened.
fn tutorial_capped_backoff(config: &mut ClientConfig) {
    tutorial_loop(config);
    config.retry.max_attempts = 6;
    config.retry.delay_cap_ms = Some(30_000);
}

/// tenacity's README recipe wrapped around `response.raise_for_status()`:
/// `@retry(stop=stop_after_attempt(5), wait=wait_exponential(multiplier=1, min=4, max=10))`.
/// Every `HTTPError` is retried, permanent 4xx included; `Retry-After` is never read; waits of
/// 4, 4, 8 and 10 s (modelled as 4 s doubling to 10 s); connection errors raise too.
fn tenacity(config: &mut ClientConfig) {
    bare(config);
    config.retry = RetryConfig {
        max_attempts: 5,
        deadline_ms: None,
        statuses: (400..=599).filter(|&status| status != 401).collect(),
        honour_retry_after: false,
        retry_after_max_s: None,
        retry_after_jitter_ms: 0,
        reread_on_conflict: false,
        ..RetryConfig::default()
    };
    config.backoff = BackoffConfig {
        strategy: Strategy::Exponential,
        jitter: Jitter::None,
        base_ms: 4_000,
        cap_ms: 10_000,
        ..BackoffConfig::default()
    };
}

/// A client-side limiter of 300 per minute and header pacing, whose computed wait is logged and
/// never awaited (`asyncio.sleep(wait)` without `await`, `setTimeout` with nothing after it): the
/// requests go at once. `Retry-After` is honoured on the retry.
fn tutorial_unawaited_pacer(config: &mut ClientConfig) {
    tutorial_loop(config);
    config.pacing.from_headers = true;
    config.pacing.limit_per_min = Some(300);
    config.pacing.obey = false;
}

/// A circuit breaker (5 failures in a row, open 30 s) wrapped around a function that raises on
/// any non-2xx before returning to it: the breaker records only the successes, and never opens.
fn tutorial_blind_breaker(config: &mut ClientConfig) {
    tutorial_loop(config);
    config.breaker = BreakerConfig {
        mode: BreakerMode::Consecutive { failures: 5 },
        open_ms: 30_000,
        half_open_probes: 1,
        scope: BreakerScope::All,
        failure_statuses: vec![429, 500, 502, 503, 504],
        sees_failures: false,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_validates_keeps_deployment_and_has_a_unique_name() {
        let base = ClientConfig {
            concurrency: 7,
            base_url: "http://x".into(),
            ..ClientConfig::default()
        };
        let mut names = Vec::new();
        for preset in Preset::ALL {
            let config = preset.apply(&base);
            assert_eq!(config.validate(), Ok(()), "{preset:?}");
            assert_eq!((config.concurrency, config.base_url.as_str()), (7, "http://x"));
            assert_eq!(Preset::from_name(preset.name()), Some(preset));
            names.push(preset.name());
        }
        names.dedup();
        assert_eq!(names.len(), Preset::ALL.len());
    }

    #[test]
    fn presets_carry_their_sources_numbers() {
        let java = Preset::GenesysJava.apply(&ClientConfig::default());
        assert_eq!(java.retry.statuses, vec![429, 502, 503, 504]);
        assert_eq!(
            (java.retry.retry_after_default_ms, java.retry.retry_after_max_s),
            (Some(3_000), Some(180))
        );
        let python = Preset::GenesysPython.apply(&ClientConfig::default());
        assert!(python.retry.require_retry_after);
        assert_eq!(python.retry.max_attempts, 11);
        let go = Preset::GenesysGo.apply(&ClientConfig::default());
        assert!(go.retry.statuses.contains(&500) && !go.retry.statuses.contains(&501));
        let aws = Preset::AwsAdaptive.apply(&ClientConfig::default());
        assert!(aws.adaptive.enabled);
        assert_eq!(
            aws.budget,
            BudgetConfig::TokenBucket {
                capacity: 500,
                retry_cost: 5,
                timeout_cost: 10,
                success_reward: 1,
                refill_per_s: 0
            }
        );
    }
}
