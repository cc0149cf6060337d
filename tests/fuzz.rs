//! Fuzzing, bounded in count: every parser of outside input is fed garbage and near-misses, and
//! none may panic. Garbage is arbitrary bytes; near-misses are real inputs (a shipped scenario, a
//! real trace, a real results line) with bytes flipped, cut or inserted, which reach deeper than
//! random bytes do. `FUZZ_CASES` deepens the search (the test command runs the default).
//!
//! Targets: the scenario loader (TOML, `--set`), the header parsers (`Retry-After`, every
//! rate-limit dialect), the trace reader, the results reader, and the gateway core's request
//! handling (method, target, headers and body as a client could send them).

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use herd_gateway::{Gateway, GatewayConfig, Request, SimTime};
use herd_sim::scenario::{library, Scenario};
use herd_sim::{run, streams, sweep, trace};
use proptest::prelude::*;
use proptest::test_runner::{TestRng, TestRunner};

fn runner(default_cases: u32) -> TestRunner {
    let cases = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    let config = ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let rng = TestRng::deterministic_rng(config.rng_algorithm);
    TestRunner::new_with_rng(config, rng)
}

/// A real input with a few bytes flipped, cut or inserted.
fn mutated(base: &'static [u8]) -> impl Strategy<Value = Vec<u8>> {
    let edit = (0usize..base.len().max(1), 0u8..3, any::<u8>());
    prop::collection::vec(edit, 1..8).prop_map(move |edits| {
        let mut bytes = base.to_vec();
        for (at, kind, byte) in edits {
            let at = at.min(bytes.len());
            match kind {
                0 if at < bytes.len() => bytes[at] = byte,
                1 if at < bytes.len() => {
                    bytes.remove(at);
                }
                _ => bytes.insert(at, byte),
            }
        }
        bytes
    })
}

fn garbage_or(base: &'static [u8]) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![prop::collection::vec(any::<u8>(), 0..512), mutated(base)]
}

fn run_target<S: Strategy>(cases: u32, strategy: S, target: impl Fn(S::Value)) {
    runner(cases)
        .run(&strategy, |value| {
            target(value);
            Ok(())
        })
        .unwrap_or_else(|failure| panic!("{failure}"));
}

#[test]
fn the_scenario_loader_never_panics() {
    let text = library::find("thundering-herd").unwrap().text.as_bytes();
    run_target(400, garbage_or(text), |bytes| {
        let text = String::from_utf8_lossy(&bytes);
        let _ = Scenario::parse("fuzz.toml", &text, &[]);
    });
    let assignments = prop_oneof![
        ".*",
        "[a-z_.\\[\\]0-9]{1,30}=.{0,30}",
        "(instances|gateway|client|workload)\\.[a-z_]{1,12}(\\[[0-9]\\])?=[-0-9a-z\"\\[\\]{}=, ]{0,24}",
    ];
    run_target(400, prop::collection::vec(assignments, 1..4), |sets| {
        let _ = library::find("token-expiry").unwrap().load(&sets);
    });
    // The lab's tables, with any value (NaN, negative, huge, the wrong type): loaded or refused,
    // and a scenario that loads runs a few items to its recovery without a panic.
    let lab = prop_oneof![
        4 => "trigger\\.(from_s|until_s)=[0-9]{1,3}",
        4 => "(trigger\\.factor|arrivals\\.rate_per_s)=0?\\.[0-9]{1,2}",
        2 => "arrivals\\.rate_per_s=[0-9]{1,2}(\\.[0-9])?",
        2 => "(trigger|arrivals)\\.(from_s|until_s|factor|rate|rate_per_s|retry_after_s|kind)=[-0-9.eE\"a-z_]{0,12}",
        1 => Just("trigger.factor=nan".to_string()),
        1 => Just("arrivals.rate_per_s=inf".to_string()),
        1 => Just("trigger = { kind = \"outage\", from_s = 5, until_s = 20, retry_after_s = 3 }".to_string()),
        1 => Just("trigger = { kind = \"server_errors\", from_s = 5, until_s = 20, rate = 0.5 }".to_string()),
    ];
    let ran = std::sync::atomic::AtomicU32::new(0);
    run_target(200, prop::collection::vec(lab, 1..4), |sets| {
        let shipped = library::find("retry-storm").unwrap();
        let mut overrides = shipped.load(&[]).unwrap().small;
        overrides.extend([
            "network.mode=\"fast\"".to_string(),
            "workload.operations=30".to_string(),
        ]);
        overrides.extend(sets);
        if let Ok(scenario) = shipped.load(&overrides) {
            let run = herd_sim::run::run(&scenario, 1, &mut |_| {});
            assert!(run.metrics.recovery.is_some());
            ran.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    });
    assert!(ran.into_inner() > 20, "some of the mutated labs load and run");
}

#[test]
fn the_header_parsers_never_panic() {
    let names = prop::sample::select(vec![
        "Retry-After",
        "RateLimit",
        "RateLimit-Policy",
        "RateLimit-Limit",
        "RateLimit-Remaining",
        "RateLimit-Reset",
        "inin-ratelimit-allowed",
        "inin-ratelimit-count",
        "inin-ratelimit-reset",
        "X-Rate-Limit-Limit",
        "X-Rate-Limit-Remaining",
        "X-Rate-Limit-Reset",
        "X-RateLimit-Remaining",
    ]);
    let value = prop_oneof![
        ".{0,80}",
        "[0-9]{0,25}",
        "\"[a-z.]{0,8}\";(q|r|t|w|pk|qu)=[-:=A-Za-z0-9\"]{0,12}(, ?\"[a-z]{0,4}\";r=[0-9]{0,4})?",
        "(Mon|Tue|Thu), [0-9]{1,2} (Jan|Dec) [0-9]{1,5} [0-9:]{0,8} GMT",
    ];
    let headers = prop::collection::vec((names, value), 0..8);
    run_target(2_000, (headers, any::<u64>()), |(headers, seconds)| {
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(seconds % (1 << 40));
        let headers: Vec<(String, String)> = headers.into_iter().map(|(n, v)| (n.to_string(), v)).collect();
        for (_, value) in &headers {
            let _ = herd_client::headers::parse_retry_after(value, wall);
        }
        let _ = herd_client::headers::parse_rate_limit(&headers, wall);
    });
}

/// A real trace of a small run, made once.
fn real_trace() -> &'static [u8] {
    static TRACE: OnceLock<Vec<u8>> = OnceLock::new();
    TRACE.get_or_init(|| {
        let shipped = library::find("lost-responses").unwrap();
        let mut overrides = shipped.load(&[]).unwrap().small;
        overrides.push("network.mode=\"fast\"".into());
        let scenario = shipped.load(&overrides).unwrap();
        let run = run::run(&scenario, 1, &mut |_| {});
        let lines: Vec<String> = run
            .trace
            .records()
            .iter()
            .take(40)
            .map(herd_sim::trace::Record::line)
            .collect();
        (lines.join("\n") + "\n").into_bytes()
    })
}

#[test]
fn the_trace_reader_never_panics() {
    assert!(trace::parse_trace(real_trace()).is_ok(), "the real trace reads");
    run_target(600, garbage_or(real_trace()), |bytes| {
        let _ = trace::parse_trace(&bytes);
    });
}

/// A real results line of a small sweep, made once.
fn real_results() -> &'static [u8] {
    static RESULTS: OnceLock<Vec<u8>> = OnceLock::new();
    RESULTS.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("herdsim-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("r.jsonl");
        let shipped = library::find("thundering-herd").unwrap();
        let mut overrides = shipped.load(&[]).unwrap().small;
        overrides.push("network.mode=\"fast\"".into());
        let scenario = shipped.load(&overrides).unwrap();
        let points = vec![sweep::Point::new()];
        let jobs = sweep::jobs(1, 1, 0..2, None);
        let writer = sweep::ResultWriter::append(&path).unwrap();
        sweep::execute(
            &sweep::Plan::grid(&[scenario], &[], &points),
            &jobs,
            1,
            &|record| {
                writer.write(&record).unwrap();
            },
        );
        let bytes = std::fs::read(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        bytes
    })
}

#[test]
fn the_results_reader_never_panics() {
    let records = sweep::parse_records(real_results()).expect("the real results read");
    assert_eq!(records.len(), 2);
    run_target(600, garbage_or(real_results()), |bytes| {
        if let Ok(records) = sweep::parse_records(&bytes) {
            // Whatever reads must also summarize.
            let _ = sweep::summarize(&records, &[]);
        }
    });
}

#[test]
fn the_gateway_core_answers_anything_a_client_sends() {
    let method = prop::sample::select(vec!["GET", "POST", "PATCH", "PUT", "DELETE", "BREW", ""]);
    let target = prop_oneof![
        ".{0,60}",
        "/api/v2/(users|organizations/limits/namespaces|quality/conversations)(/[-a-z0-9%]{0,40}){0,3}(\\?[a-zA-Z=&0-9]{0,30})?",
        "/api/v2/users/query\\?(pageSize=[0-9]{0,4}&)?cursor=[0-9a-f]{0,20}",
        "/api/v2/analytics/conversations/details/jobs(/[-a-z0-9]{0,36}(/results(\\?cursor=[0-9a-fz]{0,20})?)?)?",
        "/(oauth|auth)/token(\\?.{0,20})?",
        "/\\.well-known/openid-configuration",
    ];
    let header = (
        prop::sample::select(vec![
            "authorization",
            "content-type",
            "idempotency-key",
            "host",
            "x-junk",
        ]),
        prop_oneof![
            ".{0,40}",
            "(Basic|Bearer) [A-Za-z0-9+/=]{0,40}",
            "(api|login)\\.[a-z.]{0,20}(:[0-9]{0,6})?"
        ],
    );
    let body = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        "\\{\"(name|email|interval|version|state)\":\"[a-z@./:0-9-]{0,30}\"(,\"(name|email)\":\"[a-z@.]{0,20}\")?\\}"
            .prop_map(String::into_bytes),
    ];
    let request = (
        method,
        target,
        prop::collection::vec(header, 0..4),
        body,
        any::<bool>(),
    );
    // One gateway for every case, a millisecond apart: state carries over, as under serve. Half
    // the requests carry a real token, so that the resources behind authentication see garbage.
    let mut first = Gateway::new(GatewayConfig::default(), streams::gateway_streams(1)).unwrap();
    let granted = first.handle(
        SimTime::ZERO,
        Request::new("POST", "/oauth/token")
            .header("authorization", "Basic aGVyZC1hcHA6aGVyZC1zZWNyZXQ=")
            .body("grant_type=client_credentials"),
    );
    let token = granted.body_json().unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let gateway = std::cell::RefCell::new(first);
    let at_ms = std::cell::Cell::new(0u64);
    run_target(
        2_000,
        request,
        |(method, target, headers, body, authenticated)| {
            at_ms.set(at_ms.get() + 1);
            let mut request = Request::new(method, &target).body(body);
            if authenticated {
                request = request.bearer(&token);
            }
            for (name, value) in headers {
                request = request.header(name, &value);
            }
            let response = gateway
                .borrow_mut()
                .handle(SimTime::from_millis(at_ms.get()), request);
            assert!(
                (100..600).contains(&response.status),
                "status {}",
                response.status
            );
        },
    );
}

/// A real record of a served session (gateway events and exchanges), made once through the
/// service the server uses, on a fixed clock.
fn real_record() -> &'static [u8] {
    use std::sync::{Arc, Mutex};

    use herd_sim::scorecard;
    use herd_sim::shell::service::{GatewayClock, GatewayService};

    struct Fixed(Mutex<u64>);
    impl GatewayClock for Fixed {
        fn now(&self) -> SimTime {
            let mut at = self.0.lock().unwrap();
            *at += 40_000;
            SimTime::from_micros(*at)
        }
    }
    static RECORD: OnceLock<Vec<u8>> = OnceLock::new();
    RECORD.get_or_init(|| {
        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let gateway = Gateway::new(GatewayConfig::default(), streams::gateway_streams(1)).unwrap();
        let (events, exchanges) = (lines.clone(), lines.clone());
        let service = GatewayService::new(Arc::new(Mutex::new(gateway)), Arc::new(Fixed(Mutex::new(0))))
            .with_event_hook(Arc::new(move |batch| {
                let mut lines = events.lock().unwrap();
                lines.extend(
                    batch
                        .into_iter()
                        .map(|event| trace::Record::Gateway(event).line()),
                );
            }))
            .with_exchange_hook(Arc::new(move |exchange| {
                exchanges
                    .lock()
                    .unwrap()
                    .push(scorecard::exchange_line(&exchange));
            }));
        let basic = "Basic aGVyZC1hcHA6aGVyZC1zZWNyZXQ=";
        let (token, _) = service.respond_core(
            Request::new("POST", "/oauth/token")
                .header("authorization", basic)
                .body("grant_type=client_credentials"),
        );
        let token = token.body_json().unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        for n in 0..12 {
            let target = [
                "/api/v2/users?pageSize=25&pageNumber=2",
                "/api/v2/users/missing",
                "/nowhere",
            ][n % 3];
            service.respond_core(Request::new("GET", target).bearer(&token));
        }
        service.respond_core(
            Request::new("POST", "/api/v2/quality/conversations/c1/evaluations")
                .bearer(&token)
                .body("{}"),
        );
        let lines = lines.lock().unwrap();
        (lines.join("\n") + "\n").into_bytes()
    })
}

#[test]
fn the_record_reader_and_the_referee_never_panic() {
    let text = String::from_utf8_lossy(real_record()).into_owned();
    let mut card = herd_sim::scorecard::Scorecard::new();
    for line in text.lines() {
        card.observe_line(line).expect("the real record reads");
    }
    assert_eq!(
        card.report().total.requests,
        14,
        "every exchange of the real record counts"
    );
    run_target(600, garbage_or(real_record()), |bytes| {
        let mut card = herd_sim::scorecard::Scorecard::new();
        for line in String::from_utf8_lossy(&bytes).lines() {
            let _ = card.observe_line(line);
        }
        let _ = card.report();
    });
}
