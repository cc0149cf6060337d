//! `Gateway::handle` on its hot paths: admitted and rejected requests, with and without headers.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use herd_gateway::config::{Algorithm, GatewayConfig, HeaderDialect, LimitRule};
use herd_gateway::{Gateway, Request, SimTime};

fn gateway(limit: u64, algorithm: Algorithm, headers: HeaderDialect) -> (Gateway, Request) {
    let rule = LimitRule {
        limit,
        algorithm,
        ..LimitRule::genesys_token_default()
    };
    let config = GatewayConfig {
        limits: Some(vec![rule]),
        headers,
        ..GatewayConfig::default()
    };
    let mut gateway = Gateway::new(config, herd_sim::streams::gateway_streams(1)).expect("valid config");
    let auth = format!("Basic {}", STANDARD.encode("herd-app:herd-secret"));
    let grant = gateway.handle(
        SimTime::ZERO,
        Request::new("POST", "/oauth/token")
            .header("authorization", &auth)
            .body("grant_type=client_credentials"),
    );
    let token = grant.body_json().expect("token body")["access_token"]
        .as_str()
        .expect("token")
        .to_string();
    let user = gateway.directory().ids().next().expect("a user").to_string();
    (
        gateway,
        Request::new("GET", &format!("/api/v2/users/{user}")).bearer(&token),
    )
}

fn handle(c: &mut Criterion) {
    let mut group = c.benchmark_group("gateway_handle");
    group.throughput(Throughput::Elements(1));
    let cases = [
        ("admit", 1_000_000, Algorithm::TokenBucket, HeaderDialect::None),
        (
            "admit_sliding_log",
            100_000,
            Algorithm::SlidingLog,
            HeaderDialect::None,
        ),
        (
            "admit_ietf_headers",
            1_000_000,
            Algorithm::TokenBucket,
            HeaderDialect::Ietf,
        ),
        ("reject", 1, Algorithm::SlidingLog, HeaderDialect::None),
    ];
    for (name, limit, algorithm, headers) in cases {
        let (mut gateway, request) = gateway(limit, algorithm, headers);
        let mut now = SimTime::from_secs(1);
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                now = now + Duration::from_micros(700);
                let response = gateway.handle(now, request.clone());
                gateway.drain_events();
                response.status
            });
        });
    }
    group.finish();
}

criterion_group!(benches, handle);
criterion_main!(benches);
