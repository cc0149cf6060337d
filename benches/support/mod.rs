//! What the benches share: the per-request variants (the harness on turmoil and in the fast
//! mode, a bare turmoil + hyper loop carrying the same bytes, the gateway core in memory), each
//! doing `reads_per_worker` reads by 400 workers on 2 hosts with no limit in the way.
#![allow(dead_code)]

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use herd_client::transport::{HttpRequest, HyperTransport, Transport};
use herd_gateway::{Gateway, GatewayConfig, Request, SimTime};
use herd_sim::run;
use herd_sim::scenario::{library, Scenario};
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub const HOSTS: u32 = 2;
pub const WORKERS_PER_HOST: u32 = 200;

pub fn shipped(name: &str, overrides: &[&str]) -> Scenario {
    let overrides: Vec<String> = overrides.iter().map(std::string::ToString::to_string).collect();
    library::find(name)
        .expect("a shipped scenario")
        .load(&overrides)
        .expect("it loads")
}

pub fn run_requests(scenario: &Scenario) -> u64 {
    run::run(scenario, 1, &mut |_| {}).metrics.gateway_requests
}

/// The harness doing the reads with no limit in the way.
pub fn harness_reads(reads_per_worker: u32) -> Scenario {
    let workers = format!("instances.workers={WORKERS_PER_HOST}");
    let operations = format!(
        "workload.operations={}",
        HOSTS * WORKERS_PER_HOST * reads_per_worker
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
pub type Headers = Vec<(String, String)>;

pub fn wire_sample() -> (Headers, Headers, Vec<u8>) {
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
pub fn bare_turmoil_reads(reads_per_worker: u32) -> u64 {
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
                    for _ in 0..reads_per_worker {
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
pub fn in_memory_reads(reads_per_worker: u32) -> u64 {
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
                for _ in 0..reads_per_worker {
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
