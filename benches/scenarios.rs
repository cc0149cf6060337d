//! Whole-scenario benches and the baselines they are judged against.
//!
//! - `scenario/*`: the shipped thundering herd and token-expiry scenarios at full size
//!   (throughput: gateway requests, so criterion prints simulated requests per wall second).
//! - `per_request/*`: the same 1 200 reads by 400 workers on 2 hosts with no rate limit, through
//!   (a) the harness (client policies, gateway core, trace) on turmoil, (a') the harness in the
//!   fast network mode, (b) a bare turmoil + hyper loop with no policies carrying the same bytes
//!   (the gateway's recorded answer to a read, the same request headers), (c) the gateway core
//!   called directly on a paused tokio runtime (in memory).
//! - `scenario/*` runs each scenario in both network modes.
//! - `tick_ms/*`: the thundering herd at several turmoil tick sizes.
//! - `sweep_threads/*`: eight small runs on one thread and on two.
//!
//! `cargo bench --bench scenarios`; numbers and their ratios are in benches/README.md.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use herd_client::transport::{HttpRequest, HyperTransport, Transport};
use herd_gateway::{Gateway, GatewayConfig, Request, SimTime};
use herd_sim::scenario::{library, Scenario};
use herd_sim::{run, sweep};
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const HOSTS: u32 = 2;
const WORKERS_PER_HOST: u32 = 200;
const READS_PER_WORKER: u32 = 3;

fn shipped(name: &str, overrides: &[&str]) -> Scenario {
    let overrides: Vec<String> = overrides.iter().map(std::string::ToString::to_string).collect();
    library::find(name)
        .expect("a shipped scenario")
        .load(&overrides)
        .expect("it loads")
}

fn run_requests(scenario: &Scenario) -> u64 {
    run::run(scenario, 1, &mut |_| {}).metrics.gateway_requests
}

fn scenarios(c: &mut Criterion) {
    let mut group = c.benchmark_group("scenario");
    group.sample_size(10);
    for (name, mode) in [
        ("thundering-herd", "turmoil"),
        ("thundering-herd", "fast"),
        ("token-expiry", "turmoil"),
        ("token-expiry", "fast"),
    ] {
        let scenario = shipped(name, &[&format!("network.mode=\"{mode}\"")]);
        let id = format!("{name}/{mode}");
        let started = std::time::Instant::now();
        let run = run::run(&scenario, 1, &mut |_| {});
        let wall = started.elapsed().as_secs_f64();
        eprintln!(
            "{id}: {} requests, {:.1} s simulated in {:.3} s wall: {:.0}x real time, {:.0} simulated requests per wall second",
            run.metrics.gateway_requests,
            run.elapsed.as_secs_f64(),
            wall,
            run.elapsed.as_secs_f64() / wall,
            run.metrics.gateway_requests as f64 / wall
        );
        group.throughput(Throughput::Elements(run.metrics.gateway_requests));
        group.bench_function(id, |b| b.iter(|| run_requests(&scenario)));
    }
    group.finish();
}

/// The harness doing the reads with no limit in the way.
fn harness_reads() -> Scenario {
    let workers = format!("instances.workers={WORKERS_PER_HOST}");
    let operations = format!(
        "workload.operations={}",
        HOSTS * WORKERS_PER_HOST * READS_PER_WORKER
    );
    shipped(
        "thundering-herd",
        &[
            &workers,
            &operations,
            "gateway.layers.token_rate_per_min=1000000",
            "gateway.layers.client_rate_per_min=1000000",
        ],
    )
}

/// What one read looks like on the wire: the gateway's real answer to a user GET (status,
/// headers, body) and the request's headers, so that the bare loop carries the same bytes.
type Headers = Vec<(String, String)>;

fn wire_sample() -> (Headers, Headers, Vec<u8>) {
    let mut gateway =
        Gateway::new(GatewayConfig::default(), herd_sim::streams::gateway_streams(1)).expect("valid");
    let auth = format!("Basic {}", STANDARD.encode("herd-app:herd-secret"));
    let grant = gateway.handle(
        SimTime::ZERO,
        Request::new("POST", "/oauth/token")
            .header("authorization", &auth)
            .body("grant_type=client_credentials"),
    );
    let token = grant.body_json().unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let user = gateway.directory().ids().next().unwrap().to_string();
    let request = Request::new("GET", &format!("/api/v2/users/{user}")).bearer(&token);
    let request_headers = request.headers.clone();
    let response = gateway.handle(SimTime::ZERO, request);
    let mut response_headers = response.headers.clone();
    response_headers.push(("date".into(), "Thu, 01 Jan 2026 00:00:00 GMT".into()));
    (request_headers, response_headers, response.body)
}

/// A bare turmoil + hyper loop: a server answering every request with the gateway's recorded
/// answer to a user read (same headers, same body), clients sending the same GET through the
/// same pooled hyper client; no policies, no gateway logic, no trace.
fn bare_turmoil_reads() -> u64 {
    let (request_headers, response_headers, body) = wire_sample();
    let (response_headers, body) = (Arc::new(response_headers), Bytes::from(body));
    let mut sim = turmoil::Builder::new()
        .rng_seed(1)
        .tick_duration(Duration::from_millis(5))
        .min_message_latency(Duration::from_millis(5))
        .max_message_latency(Duration::from_millis(25))
        .tcp_capacity(1_024)
        .build();
    sim.host("gateway", move || {
        let (response_headers, body) = (response_headers.clone(), body.clone());
        async move {
            let listener = turmoil::net::TcpListener::bind("0.0.0.0:80").await?;
            loop {
                let (stream, _) = listener.accept().await?;
                let (response_headers, body) = (response_headers.clone(), body.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |_request| {
                        let mut response = hyper::Response::builder().status(200);
                        for (name, value) in response_headers.iter() {
                            response = response.header(name.as_str(), value.as_str());
                        }
                        let response = response.body(Full::new(body.clone())).expect("a response");
                        async move { Ok::<_, Infallible>(response) }
                    });
                    let _ = http1::Builder::new()
                        .auto_date_header(false)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    });
    let answered = Arc::new(Mutex::new(0u64));
    for host in 0..HOSTS {
        let (answered, request_headers) = (answered.clone(), request_headers.clone());
        sim.client(format!("client-{host}"), async move {
            let transport = Arc::new(HyperTransport::turmoil());
            let mut workers = Vec::new();
            for _ in 0..WORKERS_PER_HOST {
                let (transport, answered, headers) =
                    (transport.clone(), answered.clone(), request_headers.clone());
                workers.push(tokio::spawn(async move {
                    for _ in 0..READS_PER_WORKER {
                        let request = HttpRequest {
                            method: "GET".into(),
                            url: "http://gateway/api/v2/users/u".into(),
                            headers: headers.clone(),
                            body: Vec::new(),
                        };
                        if transport
                            .send(request)
                            .await
                            .is_ok_and(|response| response.status == 200)
                        {
                            *answered.lock().unwrap() += 1;
                        }
                    }
                }));
            }
            for worker in workers {
                worker.await?;
            }
            Ok(())
        });
    }
    sim.run().expect("the bare loop runs");
    let answered = *answered.lock().unwrap();
    answered
}

/// The gateway core called directly by tasks on a paused tokio runtime, with the same latency
/// model drawn from a seeded RNG: no network, no HTTP, no client policies.
fn in_memory_reads() -> u64 {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let config = GatewayConfig {
            layers: herd_gateway::config::Layers::OFF,
            ..GatewayConfig::default()
        };
        let gateway = Arc::new(Mutex::new(
            Gateway::new(config, herd_sim::streams::gateway_streams(1)).expect("valid"),
        ));
        let origin = tokio::time::Instant::now();
        let now = move || SimTime::from_duration(origin.elapsed());
        let auth = format!("Basic {}", STANDARD.encode("herd-app:herd-secret"));
        let grant = gateway.lock().unwrap().handle(
            now(),
            Request::new("POST", "/oauth/token")
                .header("authorization", &auth)
                .body("grant_type=client_credentials"),
        );
        let token = grant.body_json().unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        let user = gateway
            .lock()
            .unwrap()
            .directory()
            .ids()
            .next()
            .unwrap()
            .to_string();
        let answered = Arc::new(Mutex::new(0u64));
        let mut workers = Vec::new();
        for worker in 0..u64::from(HOSTS * WORKERS_PER_HOST) {
            let (gateway, answered, token, user) =
                (gateway.clone(), answered.clone(), token.clone(), user.clone());
            workers.push(tokio::spawn(async move {
                let mut rng = ChaCha8Rng::seed_from_u64(1);
                rng.set_stream(worker);
                for _ in 0..READS_PER_WORKER {
                    tokio::time::sleep(Duration::from_millis(rng.random_range(5..=25))).await;
                    let response = gateway.lock().unwrap().handle(
                        now(),
                        Request::new("GET", &format!("/api/v2/users/{user}")).bearer(&token),
                    );
                    tokio::time::sleep(Duration::from_millis(rng.random_range(5..=25))).await;
                    if response.status == 200 {
                        *answered.lock().unwrap() += 1;
                    }
                }
            }));
        }
        for worker in workers {
            worker.await.expect("a worker");
        }
        let answered = *answered.lock().unwrap();
        answered
    })
}

fn per_request(c: &mut Criterion) {
    let reads = u64::from(HOSTS * WORKERS_PER_HOST * READS_PER_WORKER);
    let harness = harness_reads();
    assert_eq!(
        run::run(&harness, 1, &mut |_| {}).metrics.ok,
        reads,
        "the harness does every read"
    );
    let mut harness_fast = harness.clone();
    harness_fast.network.mode = herd_sim::scenario::NetworkMode::Fast;
    assert_eq!(
        run::run(&harness_fast, 1, &mut |_| {}).metrics.ok,
        reads,
        "the fast mode does every read"
    );
    assert_eq!(bare_turmoil_reads(), reads, "the bare loop does every read");
    assert_eq!(in_memory_reads(), reads, "the in-memory loop does every read");
    let mut group = c.benchmark_group("per_request");
    group.sample_size(20);
    group.throughput(Throughput::Elements(reads));
    group.bench_function("harness", |b| b.iter(|| run_requests(&harness)));
    group.bench_function("harness_fast", |b| b.iter(|| run_requests(&harness_fast)));
    group.bench_function("bare_turmoil_hyper", |b| b.iter(bare_turmoil_reads));
    group.bench_function("in_memory_core", |b| b.iter(in_memory_reads));
    group.finish();
}

fn tick_sizes(c: &mut Criterion) {
    let mut group = c.benchmark_group("tick_ms");
    group.sample_size(10);
    for tick_ms in [1u64, 5, 10, 20] {
        let scenario = shipped("thundering-herd", &[&format!("tick_ms={tick_ms}")]);
        let run = run::run(&scenario, 1, &mut |_| {});
        eprintln!(
            "tick {tick_ms} ms: makespan {:.2} s, {} attempts, {} 429s, latency p50 {} ms",
            run.metrics.makespan_s,
            run.metrics.attempts,
            run.metrics.responses_429,
            run.metrics.latency_ms_p50
        );
        group.bench_with_input(BenchmarkId::from_parameter(tick_ms), &scenario, |b, scenario| {
            b.iter(|| run_requests(scenario));
        });
    }
    group.finish();
}

fn sweep_threads(c: &mut Criterion) {
    // Eight runs of the small token-expiry scenario (6 simulated minutes each), on turmoil.
    let scenario = shipped(
        "token-expiry",
        &[
            "workload.operations=60",
            "gateway.data.users=60",
            "instances.workers=4",
            "gateway.layers.token_rate_per_min=5",
            "gateway.layers.client_rate_per_min=10",
        ],
    );
    let points = vec![sweep::Point::new()];
    let jobs = sweep::jobs(1, 0..8, None);
    let mut group = c.benchmark_group("sweep_threads");
    group.sample_size(10);
    group.throughput(Throughput::Elements(jobs.len() as u64));
    for threads in [1usize, 2] {
        group.bench_with_input(BenchmarkId::from_parameter(threads), &threads, |b, &threads| {
            b.iter(|| {
                let done = Mutex::new(0u32);
                sweep::execute(
                    std::slice::from_ref(&scenario),
                    &[],
                    &points,
                    &jobs,
                    threads,
                    &|_| *done.lock().unwrap() += 1,
                );
                done.into_inner().unwrap()
            });
        });
    }
    group.finish();
}

criterion_group!(benches, scenarios, per_request, tick_sizes, sweep_threads);
criterion_main!(benches);
