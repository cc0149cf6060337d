//! The driver end to end over the in-memory transport, on paused tokio time: 50 workers against a
//! stub platform with a fixed-window limit (429 + Retry-After), expiring tokens and a mass
//! revocation. The stub is written here on purpose: the client does not depend on the simulator.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use herd_client::clock::TokioClock;
use herd_client::events::{CollectingObserver, EventKind, OutcomeKind};
use herd_client::gate::Priority;
use herd_client::transport::{HttpRequest, HttpResponse, InMemoryTransport, TransportError};
use herd_client::{Client, ClientConfig, Credentials, Operation, Outcome, Platform, Preset};
use serde_json::json;

const TOKEN_TTL: Duration = Duration::from_secs(300);
const WINDOW: Duration = Duration::from_secs(10);

#[derive(Default)]
struct StubState {
    token_requests: Vec<Duration>,
    tokens: BTreeMap<String, Duration>,
    window_index: u64,
    window_count: u64,
    rejected: u64,
    unauthorized: u64,
    served: u64,
    per_window: u64,
    revoke_at: Option<Duration>,
    revoked: bool,
}

struct Stub {
    start: tokio::time::Instant,
    state: Mutex<StubState>,
}

fn response(status: u16, headers: &[(&str, String)], body: serde_json::Value) -> HttpResponse {
    HttpResponse {
        status,
        headers: headers.iter().map(|(n, v)| (n.to_string(), v.clone())).collect(),
        body: body.to_string().into_bytes(),
    }
}

impl Stub {
    fn handle(&self, request: HttpRequest) -> HttpResponse {
        let now = self.start.elapsed();
        let mut state = self.state.lock().unwrap();
        if let Some(at) = state.revoke_at {
            if now >= at && !state.revoked {
                state.revoked = true;
                state.tokens.clear();
            }
        }
        if request.url.ends_with("/oauth/token") {
            state.token_requests.push(now);
            let token = format!("tok-{}", state.token_requests.len());
            state.tokens.insert(token.clone(), now + TOKEN_TTL);
            return response(
                200,
                &[],
                json!({"access_token": token, "token_type": "bearer", "expires_in": TOKEN_TTL.as_secs()}),
            );
        }
        let bearer = request
            .headers
            .iter()
            .find(|(n, _)| n == "authorization")
            .map(|(_, v)| v.trim_start_matches("Bearer ").to_string());
        let valid = bearer
            .and_then(|token| state.tokens.get(&token).copied())
            .is_some_and(|expires_at| now < expires_at);
        if !valid {
            state.unauthorized += 1;
            return response(401, &[], json!({"code": "bad.credentials"}));
        }
        let window_index = now.as_secs() / WINDOW.as_secs();
        if window_index != state.window_index {
            state.window_index = window_index;
            state.window_count = 0;
        }
        if state.window_count >= state.per_window {
            state.rejected += 1;
            let window_end = Duration::from_secs((window_index + 1) * WINDOW.as_secs());
            let retry_after_s = (window_end - now).as_micros().div_ceil(1_000_000) as u64;
            return response(
                429,
                &[("Retry-After", retry_after_s.to_string())],
                json!({"code": "too.many.requests.retry.after"}),
            );
        }
        state.window_count += 1;
        state.served += 1;
        response(200, &[], json!({"id": "u", "version": 1}))
    }
}

struct Harness {
    stub: Arc<Stub>,
    client: Client,
    observer: Arc<CollectingObserver>,
}

fn harness(config: ClientConfig, per_window: u64, revoke_at: Option<Duration>) -> Harness {
    let state = StubState {
        per_window,
        revoke_at,
        ..StubState::default()
    };
    let stub = Arc::new(Stub {
        start: tokio::time::Instant::now(),
        state: Mutex::new(state),
    });
    let served = stub.clone();
    let transport = InMemoryTransport::new(move |request| {
        let stub = served.clone();
        async move {
            // A little network latency, so requests overlap.
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok::<_, TransportError>(stub.handle(request))
        }
    });
    let observer = Arc::new(CollectingObserver::default());
    let clock = TokioClock::with_epoch(UNIX_EPOCH + Duration::from_secs(1_767_225_600));
    let client = Client::new(
        config,
        Credentials::example(Platform::Genesys),
        Arc::new(transport),
        Arc::new(clock),
        observer.clone(),
    )
    .unwrap();
    Harness {
        stub,
        client,
        observer,
    }
}

async fn run_workers(harness: &Harness, workers: u64, ops_per_worker: u64) -> Vec<Outcome> {
    let mut tasks = Vec::new();
    for id in 0..workers {
        let mut worker = harness.client.worker(id, test_rng(42, id));
        tasks.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for n in 0..ops_per_worker {
                let op = Operation::get(format!("w{id}-op{n}"), "/api/v2/users/u", "users.read")
                    .with_priority(Priority::Normal);
                outcomes.push(worker.execute(op).await.outcome);
            }
            outcomes
        }));
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.extend(task.await.unwrap());
    }
    outcomes
}

/// Attempts started at a later instant than a 429 whose Retry-After had not yet passed.
fn sends_before_retry_after(observer: &CollectingObserver) -> usize {
    let mut closed_until = Duration::ZERO;
    let mut learned_at = Duration::ZERO;
    let mut violations = 0;
    for event in observer.snapshot() {
        match event.kind {
            EventKind::Response {
                status: 429,
                retry_after_ms: Some(ms),
                ..
            } if event.at + Duration::from_millis(ms) > closed_until => {
                closed_until = event.at + Duration::from_millis(ms);
                learned_at = event.at;
            }
            EventKind::Attempt { .. } if event.at > learned_at && event.at < closed_until => violations += 1,
            _ => {}
        }
    }
    violations
}

fn done_per_op(observer: &CollectingObserver) -> BTreeMap<String, u32> {
    let mut done = BTreeMap::new();
    for event in observer.snapshot() {
        if let EventKind::Done { .. } = event.kind {
            *done.entry(event.op.to_string()).or_insert(0) += 1;
        }
    }
    done
}

#[tokio::test(start_paused = true)]
async fn fifty_workers_through_429s_and_token_expiry() {
    let config = ClientConfig {
        concurrency: 50,
        ..ClientConfig::default()
    };
    let harness = harness(config, 100, None);
    let outcomes = run_workers(&harness, 50, 40).await;
    let state = harness.stub.state.lock().unwrap();
    assert_eq!(outcomes.len(), 2_000);
    assert!(
        outcomes.iter().all(|o| *o == Outcome::Ok),
        "every operation succeeded"
    );
    let done = done_per_op(&harness.observer);
    assert_eq!(done.len(), 2_000);
    assert!(
        done.values().all(|&n| n == 1),
        "exactly one outcome per operation"
    );
    assert_eq!(state.served, 2_000);
    // 2000 requests at 100 per 10 s take over 190 s; tokens live 300 s with a 60 s margin.
    let makespan = tokio::time::Instant::now() - harness.stub.start;
    assert!(makespan >= Duration::from_secs(190), "{makespan:?}");
    assert!(state.rejected > 0, "the herd hit the limit");
    assert_eq!(state.unauthorized, 0, "tokens were refreshed before they expired");
    let expected_tokens = 1 + (makespan.as_secs() / 240) as usize;
    assert_eq!(
        state.token_requests.len(),
        expected_tokens,
        "one token request per expiry: {:?}",
        state.token_requests
    );
    assert!(state
        .token_requests
        .windows(2)
        .all(|pair| pair[1] - pair[0] >= Duration::from_secs(240)));
    // The shared Retry-After holds the whole herd: once a 429 is seen, nobody sends before it passes.
    assert_eq!(sends_before_retry_after(&harness.observer), 0);
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_401s_after_revocation_causes_one_token_request() {
    let config = ClientConfig {
        concurrency: 50,
        // No learned limit either: its ramp would pace the wave.
        pacing: herd_client::policy::pacing::PacingConfig {
            learn: false,
            ..Default::default()
        },
        ..ClientConfig::default()
    };
    // No limit to speak of; the revocation lands while a wave of requests is in flight.
    let harness = harness(config, 1_000_000, Some(Duration::from_millis(70)));
    let outcomes = run_workers(&harness, 50, 6).await;
    let state = harness.stub.state.lock().unwrap();
    assert!(outcomes.iter().all(|o| *o == Outcome::Ok));
    assert!(
        state.unauthorized >= 10,
        "many workers saw the revocation: {}",
        state.unauthorized
    );
    assert_eq!(
        state.token_requests.len(),
        2,
        "the first token and one refresh: {:?}",
        state.token_requests
    );
    let invalidations = harness
        .observer
        .snapshot()
        .iter()
        .filter(|e| matches!(e.kind, EventKind::TokenInvalidated { .. }))
        .count();
    assert_eq!(invalidations, 1, "only the first 401 of the burst invalidates");
}

#[tokio::test(start_paused = true)]
async fn a_preset_without_shared_retry_after_storms_more() {
    let herdsim = harness(
        ClientConfig {
            concurrency: 50,
            ..ClientConfig::default()
        },
        100,
        None,
    );
    run_workers(&herdsim, 50, 10).await;
    let python = harness(
        Preset::GenesysPython.apply(&ClientConfig {
            concurrency: 50,
            ..ClientConfig::default()
        }),
        100,
        None,
    );
    let outcomes = run_workers(&python, 50, 10).await;
    assert!(
        outcomes.iter().all(|o| *o == Outcome::Ok),
        "urllib3 retries 429 with Retry-After ten times"
    );
    let (ours, theirs) = (
        herdsim.stub.state.lock().unwrap().rejected,
        python.stub.state.lock().unwrap().rejected,
    );
    assert!(theirs > ours, "herdsim {ours} 429s, python preset {theirs}");
}

#[tokio::test(start_paused = true)]
async fn permanent_errors_are_final_and_queue_overflow_is_refused() {
    let transport = InMemoryTransport::new(|request: HttpRequest| async move {
        let status = if request.url.ends_with("/oauth/token") {
            200
        } else {
            404
        };
        Ok::<_, TransportError>(response(
            status,
            &[],
            json!({"access_token": "t", "expires_in": 3600}),
        ))
    });
    let observer = Arc::new(CollectingObserver::default());
    let config = ClientConfig {
        concurrency: 1,
        queue_max: 0,
        ..ClientConfig::default()
    };
    let clock = TokioClock::with_epoch(UNIX_EPOCH);
    let client = Client::new(
        config,
        Credentials::example(Platform::Genesys),
        Arc::new(transport),
        Arc::new(clock),
        observer.clone(),
    )
    .unwrap();
    let mut worker = client.worker(0, test_rng(1, 0));
    let result = worker
        .execute(Operation::get("missing", "/api/v2/users/nobody", "users.read"))
        .await;
    assert_eq!(
        (result.outcome, result.attempts, result.status),
        (Outcome::Failed, 1, Some(404))
    );
    let done = observer.snapshot().into_iter().filter_map(|e| match e.kind {
        EventKind::Done { outcome, .. } => Some(outcome),
        _ => None,
    });
    assert_eq!(done.collect::<Vec<_>>(), vec![OutcomeKind::Failed]);
    let events = serde_json::to_string(&observer.snapshot()).unwrap();
    assert!(
        !events.contains("herd-secret") && !events.contains("Bearer"),
        "no secret in events"
    );
}

/// A worker's RNG for a test: stream `id` of `seed`.
fn test_rng(seed: u64, id: u64) -> rand_chacha::ChaCha8Rng {
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(id);
    rng
}
