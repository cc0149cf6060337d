//! The client's sans-IO decisions and header parsers: what each attempt pays for resilience.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::{criterion_group, criterion_main, Criterion};
use herd_client::headers::{parse_rate_limit, parse_retry_after};
use herd_client::policy::backoff::{Backoff, BackoffConfig, Jitter};
use herd_client::policy::breaker::{BreakerConfig, CircuitBreaker};
use herd_client::policy::budget::{BudgetConfig, RetryBudget, RetryKind};
use herd_client::policy::pacing::{Pacer, PacingConfig};
use herd_client::policy::retry::{Failure, RetryConfig};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn wall() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_767_225_600)
}

fn decisions(c: &mut Criterion) {
    let mut group = c.benchmark_group("policy");
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for jitter in [Jitter::Full, Jitter::Decorrelated] {
        let mut backoff = Backoff::new(BackoffConfig {
            jitter,
            ..BackoffConfig::default()
        });
        let mut retry = 0u32;
        group.bench_function(format!("backoff_{jitter:?}").to_lowercase(), |b| {
            b.iter(|| {
                retry = (retry + 1) % 10;
                backoff.delay(retry, Duration::ZERO, &mut rng)
            });
        });
    }
    let config = RetryConfig::default();
    let mut backoff = Backoff::new(BackoffConfig::default());
    group.bench_function("retry_decide_429", |b| {
        let failure = Failure::Status { status: 429 };
        b.iter(|| {
            let class = config.classify(failure, false);
            config.decide(
                2,
                2,
                failure,
                class,
                Some(Duration::from_secs(3)),
                Duration::from_secs(1),
                &mut backoff,
                &mut rng,
            )
        });
    });
    let mut budget = RetryBudget::new(&BudgetConfig::TokenBucket {
        capacity: 500,
        retry_cost: 5,
        timeout_cost: 10,
        success_reward: 1,
        refill_per_s: 1,
    });
    let mut now = Duration::ZERO;
    group.bench_function("budget_withdraw_refund", |b| {
        b.iter(|| {
            now += Duration::from_millis(1);
            let withdrawal = budget.withdraw(now, RetryKind::Ordinary);
            budget.on_success(now, withdrawal);
        });
    });
    let mut breaker = CircuitBreaker::new(BreakerConfig::default());
    group.bench_function("breaker_admit_record", |b| {
        b.iter(|| {
            now += Duration::from_millis(1);
            let (permit, _) = breaker.admit(now, false);
            breaker.record(now, permit.expect("closed"), false)
        });
    });
    let mut pacer = Pacer::new(PacingConfig {
        limit_per_min: Some(6_000_000),
        ..PacingConfig::default()
    });
    group.bench_function("pacer_acquire", |b| {
        b.iter(|| {
            now += Duration::from_millis(1);
            pacer.acquire(now, 3, &mut rng)
        });
    });
    group.finish();
}

fn parsers(c: &mut Criterion) {
    let mut group = c.benchmark_group("headers");
    group.bench_function("retry_after_seconds", |b| {
        b.iter(|| parse_retry_after("42", wall()));
    });
    group.bench_function("retry_after_http_date", |b| {
        b.iter(|| parse_retry_after("Thu, 01 Jan 2026 00:00:30 GMT", wall()));
    });
    let ietf: Vec<(String, String)> = vec![
        ("content-type".into(), "application/json".into()),
        (
            "RateLimit-Policy".into(),
            "\"token.rate.per.minute\";q=300;w=60".into(),
        ),
        ("RateLimit".into(), "\"token.rate.per.minute\";r=12;t=41".into()),
    ];
    group.bench_function("rate_limit_ietf", |b| b.iter(|| parse_rate_limit(&ietf, wall())));
    let none: Vec<(String, String)> = vec![
        ("content-type".into(), "application/json".into()),
        ("ININ-Correlation-Id".into(), "x".into()),
    ];
    group.bench_function("rate_limit_none", |b| b.iter(|| parse_rate_limit(&none, wall())));
    group.finish();
}

criterion_group!(benches, decisions, parsers);
criterion_main!(benches);
