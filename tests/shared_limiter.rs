//! The shared limiter: in simulation (instances of one OAuth client coordinating through one
//! store) and on a real `redis-server` on loopback, started by the test (`scripts/test` installs
//! it on a fresh machine).

use std::net::TcpListener as StdListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use herd_client::clock::TokioClock;
use herd_client::events::{CollectingObserver, EventKind};
use herd_client::shared_limiter::{RedisLimiter, SharedLimiter, SharedRate};
use herd_client::transport::{HttpResponse, HyperTransport, InMemoryTransport};
use herd_client::{Client, ClientConfig, Credentials, Operation, Outcome, Platform};
use herd_gateway::config::{KeyPart, LimitRule};
use herd_gateway::{Gateway, GatewayConfig};
use herd_sim::run;
use herd_sim::scenario::{library, Scenario};
use herd_sim::shell::service::GatewayService;
use herd_sim::shell::tcp::{self as serve, ServeOptions};
use herd_sim::trace::Record;

fn worker_rng(seed: u64, global: u64) -> rand_chacha::ChaCha8Rng {
    herd_sim::streams::rng(seed, herd_sim::streams::Stream::Worker { global })
}

fn shared_limiter_scenario(overrides: &[&str]) -> Scenario {
    let overrides: Vec<String> = overrides.iter().map(std::string::ToString::to_string).collect();
    library::find("shared-limiter").unwrap().load(&overrides).unwrap()
}

#[test]
fn in_simulation_a_shared_limiter_removes_the_429s_of_instances_sharing_a_bucket() {
    let with = run::run(&shared_limiter_scenario(&[]), 1, &mut |_| {});
    let without = run::run(
        &shared_limiter_scenario(&["shared_limiter.kind=\"none\""]),
        1,
        &mut |_| {},
    );
    assert!(with.failures.is_empty() && without.failures.is_empty());
    assert!(
        without.metrics.responses_429 >= 10,
        "four instances overdraw the bucket alone: {}",
        without.metrics.responses_429
    );
    assert!(
        with.metrics.responses_429 <= 2,
        "the shared limiter keeps them under it: {}",
        with.metrics.responses_429
    );
    assert!(
        with.metrics.makespan_s <= without.metrics.makespan_s + 1.0,
        "and costs no time: {} s against {} s",
        with.metrics.makespan_s,
        without.metrics.makespan_s
    );
}

#[test]
fn in_simulation_an_unreachable_store_falls_back_to_local_pacing_and_never_stalls() {
    // The store is down from 50 s to 90 s: every instance notices, paces locally, and
    // uses the store again when it is back.
    let scenario = shared_limiter_scenario(&[
        "shared_limiter.outages=[{ from_s = 50, until_s = 90 }]",
        "workload.operations=900",
    ]);
    let run = run::run(&scenario, 3, &mut |_| {});
    assert!(run.failures.is_empty(), "{:?}", run.failures);
    let mut down = std::collections::BTreeSet::new();
    let mut up = std::collections::BTreeSet::new();
    for record in run.trace.records() {
        if let Record::Client { instance, event, .. } = record {
            match event.kind {
                EventKind::SharedLimiter { available: false } => {
                    down.insert(*instance);
                }
                EventKind::SharedLimiter { available: true } => {
                    up.insert(*instance);
                }
                _ => {}
            }
        }
    }
    assert_eq!(down.len(), 4, "every instance saw the outage");
    assert_eq!(up.len(), 4, "and the store come back");
    assert!(
        run.metrics.makespan_s < 200.0,
        "900 reads at 300/min finish in about two minutes, not stalled: {}",
        run.metrics.makespan_s
    );
}

/// A `redis-server` on a free loopback port, stopped on drop.
struct RedisServer {
    child: Child,
    url: String,
}

impl RedisServer {
    fn start() -> RedisServer {
        let port = StdListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/test installs it: apt-get install redis-server)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        RedisServer {
            child,
            url: format!("redis://127.0.0.1:{port}/"),
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_reserves_slots_atomically_across_limiters_with_either_algorithm() {
    let redis = RedisServer::start();
    // Two instances' limiters on one key: GCRA at 600/min (100 ms apart) with a burst of 2.
    let a = RedisLimiter::new(&redis.url, SharedRate::gcra(600, 2), "test-gcra").unwrap();
    let b = RedisLimiter::new(&redis.url, SharedRate::gcra(600, 2), "test-gcra").unwrap();
    // Slots as times since the first call (the call's own time plus its wait), so that a slow
    // machine's time between calls does not count against the limiter.
    let started = Instant::now();
    let mut slots = Vec::new();
    for index in 0..6 {
        let limiter = if index % 2 == 0 { &a } else { &b };
        let wait = limiter.reserve("herd-app").await.unwrap();
        slots.push((started.elapsed() + wait).as_millis() as i64);
    }
    let expected = [0, 0, 100, 200, 300, 400];
    for (slot, expected) in slots.iter().zip(expected) {
        assert!(
            (slot - expected).abs() <= 40,
            "slots {slots:?}, expected about {expected:?}"
        );
    }
    // A sliding log of 3 per second: three at once, the fourth a second after the first.
    let log = RedisLimiter::new(&redis.url, SharedRate::sliding_log(3, 1_000), "test-log").unwrap();
    let started = Instant::now();
    let mut slots = Vec::new();
    for _ in 0..5 {
        let wait = log.reserve("herd-app").await.unwrap();
        slots.push((started.elapsed() + wait).as_millis() as i64);
    }
    assert!(
        slots[..3].iter().all(|slot| *slot <= 40)
            && (960..=1_040).contains(&slots[3])
            && (960..=1_040).contains(&slots[4]),
        "{slots:?}"
    );
    // Many concurrent reservations: never more than the limit in any window of slots.
    let log = Arc::new(
        RedisLimiter::new(&redis.url, SharedRate::sliding_log(5, 1_000), "test-concurrent").unwrap(),
    );
    let started = Instant::now();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let log = log.clone();
            tokio::spawn(async move {
                let wait = log.reserve("herd-app").await.unwrap();
                started.elapsed() + wait
            })
        })
        .collect();
    let mut slots = Vec::new();
    for task in tasks {
        slots.push(task.await.unwrap().as_millis() as i64);
    }
    slots.sort_unstable();
    for (index, slot) in slots.iter().enumerate() {
        if let Some(sixth) = slots.get(index + 5) {
            // Slots are measured when each reply arrives: allow for a reply's delay on a busy machine.
            assert!(sixth - slot >= 900, "six slots within a second: {slots:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_or_silent_redis_never_stalls_the_client() {
    // Nothing listens on this port (connection refused), and this one accepts but never answers.
    let closed = StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let held = Arc::new(Mutex::new(Vec::new()));
    let holder = held.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = silent.accept().await {
            holder.lock().unwrap().push(stream);
        }
    });
    for port in [closed, silent_port] {
        let limiter = RedisLimiter::new(
            &format!("redis://127.0.0.1:{port}/"),
            SharedRate::gcra(600, 1),
            "dead",
        )
        .unwrap();
        let stub = InMemoryTransport::new(|request: herd_client::transport::HttpRequest| async move {
            let body = if request.url.ends_with("/oauth/token") {
                r#"{"access_token":"t","token_type":"bearer","expires_in":86399}"#
            } else {
                r#"{"id":"u"}"#
            };
            Ok(HttpResponse {
                status: 200,
                headers: vec![("content-type".into(), "application/json".into())],
                body: body.as_bytes().to_vec(),
            })
        });
        let observer = Arc::new(CollectingObserver::default());
        let client = Client::new(
            ClientConfig::default(),
            Credentials::example(Platform::Genesys),
            Arc::new(stub),
            Arc::new(TokioClock::real()),
            observer.clone(),
        )
        .unwrap()
        .with_shared_limiter(Arc::new(limiter));
        let mut worker = client.worker(0, worker_rng(1, 0));
        let started = Instant::now();
        for n in 0..20 {
            let result = worker
                .execute(Operation::get(
                    format!("read-{n}"),
                    "/api/v2/users/u",
                    "users.read",
                ))
                .await;
            assert_eq!(result.outcome, Outcome::Ok);
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "port {port}: one timeout, then local pacing: {:?}",
            started.elapsed()
        );
        let downs = observer
            .take()
            .iter()
            .filter(|event| matches!(event.kind, EventKind::SharedLimiter { available: false }))
            .count();
        assert_eq!(downs, 1, "port {port}: the outage is noticed once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_coordinate_through_redis_against_the_real_time_gateway() {
    let redis = RedisServer::start();
    // The platform: 10 requests per second per OAuth client, shared by three instances.
    let rule = LimitRule {
        name: "client.rate.per.second".into(),
        limit: 10,
        window_ms: 1_000,
        key: vec![KeyPart::Client],
        ..LimitRule::genesys_token_default()
    };
    let run = |shared: Option<SharedRate>, prefix: &'static str| {
        let (rule, url) = (rule.clone(), redis.url.clone());
        async move {
            let gateway = Arc::new(Mutex::new(
                Gateway::new(
                    GatewayConfig {
                        limits: Some(vec![rule]),
                        ..GatewayConfig::default()
                    },
                    herd_sim::streams::gateway_streams(1),
                )
                .unwrap(),
            ));
            let clock = serve::server_clock();
            let service =
                GatewayService::new(gateway.clone(), clock.clone()).with_event_hook(Arc::new(|_| {}));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let server = tokio::spawn(serve::serve_tcp(
                listener,
                service,
                clock,
                ServeOptions::default(),
                None,
                async move {
                    let _ = stopped.await;
                },
            ));
            let user = gateway
                .lock()
                .unwrap()
                .directory()
                .ids()
                .next()
                .unwrap()
                .to_string();
            let mut tasks = Vec::new();
            for instance in 0..3u64 {
                let config = ClientConfig {
                    base_url: format!("http://{address}"),
                    concurrency: 3,
                    // Redis's coordination alone: no learned limit (its ramp would soften the
                    // uncoordinated run's overdraw, which is the contrast measured here).
                    pacing: herd_client::policy::pacing::PacingConfig {
                        learn: false,
                        ..Default::default()
                    },
                    ..ClientConfig::default()
                };
                let mut client = Client::new(
                    config,
                    Credentials::example(Platform::Genesys),
                    Arc::new(HyperTransport::http()),
                    Arc::new(TokioClock::real()),
                    Arc::new(CollectingObserver::default()),
                )
                .unwrap();
                if let Some(rate) = shared {
                    client =
                        client.with_shared_limiter(Arc::new(RedisLimiter::new(&url, rate, prefix).unwrap()));
                }
                for worker in 0..3u64 {
                    let mut worker =
                        client.worker(instance * 3 + worker, worker_rng(9, instance * 3 + worker));
                    let path = format!("/api/v2/users/{user}");
                    tasks.push(tokio::spawn(async move {
                        for n in 0..3 {
                            let result = worker
                                .execute(Operation::get(format!("read-{n}"), path.clone(), "users.read"))
                                .await;
                            assert_eq!(result.outcome, Outcome::Ok);
                        }
                    }));
                }
            }
            for task in tasks {
                tokio::time::timeout(Duration::from_secs(30), task)
                    .await
                    .expect("bounded")
                    .unwrap();
            }
            let rejected = gateway.lock().unwrap().stats().rate_limited;
            stop.send(()).unwrap();
            server.await.unwrap();
            rejected
        }
    };
    let alone = run(None, "unused").await;
    // A fifth of a second more than the platform's window absorbs loopback and scheduling delays.
    let coordinated = run(Some(SharedRate::sliding_log(10, 1_200)), "coordinated").await;
    assert!(
        alone >= 5,
        "27 reads by three uncoordinated instances meet the 10/s bucket: {alone} rejected"
    );
    assert!(
        coordinated <= 1,
        "through Redis they stay under it: {coordinated} rejected"
    );
}
