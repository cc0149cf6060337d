//! `herdsim serve`: the gateway over real TCP in real time, on loopback only. These tests wait
//! on the real clock by design (a real-time server's Retry-After is real seconds), so their
//! limits are per second and every wait is bounded.

mod support;

use std::io::Read;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use herd_client::clock::TokioClock;
use herd_client::events::{CollectingObserver, EventKind};
use herd_client::gate::Priority;
use herd_client::transport::HyperTransport;
use herd_client::{Client, ClientConfig, Credentials, Operation, Outcome, Platform};
use herd_gateway::config::{KeyPart, LimitRule};
use herd_gateway::{Gateway, GatewayConfig};
use herd_sim::shell::service::GatewayService;
use herd_sim::shell::tcp::{self as serve, ServeOptions};
use support::spawn_serve;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Five requests per second per token.
fn per_second_config() -> GatewayConfig {
    let rule = LimitRule {
        name: "token.rate.per.second".into(),
        limit: 5,
        window_ms: 1_000,
        key: vec![KeyPart::Token],
        ..LimitRule::genesys_token_default()
    };
    GatewayConfig {
        limits: Some(vec![rule]),
        ..GatewayConfig::default()
    }
}

/// A server on a free loopback port; dropping the sender stops it.
async fn start(
    config: GatewayConfig,
    options: ServeOptions,
) -> (
    String,
    Arc<Mutex<Gateway>>,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<serve::ServeStats>,
) {
    let gateway = Arc::new(Mutex::new(
        Gateway::new(config, herd_sim::streams::gateway_streams(1)).unwrap(),
    ));
    let clock = serve::server_clock();
    let service = GatewayService::new(gateway.clone(), clock.clone()).with_event_hook(Arc::new(|_| {}));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve::serve_tcp(
        listener,
        service,
        clock,
        options,
        None,
        async move {
            let _ = stopped.await;
        },
    ));
    (address, gateway, stop, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_client_gets_every_read_through_429s_over_loopback() {
    let (address, gateway, stop, server) = start(per_second_config(), ServeOptions::default()).await;
    let observer = Arc::new(CollectingObserver::default());
    let config = ClientConfig {
        platform: Platform::Genesys,
        base_url: format!("http://{address}"),
        concurrency: 4,
        ..ClientConfig::default()
    };
    let client = Client::new(
        config,
        Credentials::example(Platform::Genesys),
        Arc::new(HyperTransport::http()),
        Arc::new(TokioClock::real()),
        observer.clone(),
    )
    .unwrap();
    let user = gateway
        .lock()
        .unwrap()
        .directory()
        .ids()
        .next()
        .unwrap()
        .to_string();
    let mut workers = Vec::new();
    for id in 0..4u64 {
        let mut worker = client.worker(
            id,
            herd_sim::streams::rng(7, herd_sim::streams::Stream::Worker { global: id }),
        );
        let path = format!("/api/v2/users/{user}");
        workers.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for n in 0..3 {
                let op = Operation::get(format!("read-{id}-{n}"), path.clone(), "users.read")
                    .with_priority(Priority::Normal);
                outcomes.push(worker.execute(op).await.outcome);
            }
            outcomes
        }));
    }
    let started = std::time::Instant::now();
    for worker in workers {
        let outcomes = tokio::time::timeout(Duration::from_secs(20), worker)
            .await
            .expect("bounded")
            .unwrap();
        assert!(
            outcomes.iter().all(|outcome| *outcome == Outcome::Ok),
            "{outcomes:?}"
        );
    }
    let events = observer.take();
    let count = |f: fn(&EventKind) -> bool| events.iter().filter(|event| f(&event.kind)).count();
    assert_eq!(
        count(|k| matches!(k, EventKind::TokenRequest { .. })),
        1,
        "one token for every worker"
    );
    assert!(
        count(|k| matches!(k, EventKind::Response { status: 429, .. })) > 0,
        "12 reads at 5/s meet 429s"
    );
    assert!(gateway.lock().unwrap().stats().rate_limited > 0);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "the client waited out Retry-After in real time"
    );
    stop.send(()).unwrap();
    server.await.unwrap();
}

const PYTHON_CLIENT: &str = r#"
import base64, json, sys, time, urllib.error, urllib.request
base = sys.argv[1]
basic = base64.b64encode(b"herd-app:herd-secret").decode()
request = urllib.request.Request(base + "/oauth/token", data=b"grant_type=client_credentials", headers={"Authorization": "Basic " + basic, "Content-Type": "application/x-www-form-urlencoded"})
token = json.load(urllib.request.urlopen(request, timeout=5))["access_token"]
def get():
    request = urllib.request.Request(base + "/api/v2/users?pageSize=1", headers={"Authorization": "Bearer " + token})
    try:
        return urllib.request.urlopen(request, timeout=5).status, None
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Retry-After")
for attempt in range(20):
    status, retry_after = get()
    if status == 429:
        break
else:
    sys.exit("never rate-limited")
assert retry_after is not None and int(retry_after) >= 1, retry_after
time.sleep(int(retry_after))
status, _ = get()
assert status == 200, status
print("token, 429 with Retry-After %s, then 200" % retry_after)
"#;

#[test]
fn a_plain_python_client_gets_a_token_hits_429_and_is_served_after_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("serve.toml");
    std::fs::write(
        &scenario,
        "name = \"serve\"\ndescription = \"5/s\"\n[gateway]\nplatform = \"genesys\"\n[[gateway.limits]]\nname = \"per.second\"\nlimit = 5\nwindow_ms = 1000\nkey = [\"token\"]\n[workload]\nkind = \"read\"\noperations = 1\n",
    )
    .unwrap();
    let record = dir.path().join("served.jsonl");
    let (mut server, mut stdout, base) =
        spawn_serve(&[scenario.to_str().unwrap(), "--record", record.to_str().unwrap()]);
    let python = Command::new("python3")
        .args(["-c", PYTHON_CLIENT, &base])
        .output()
        .expect("python3 runs (CPython is on the machine)");
    let (status, rest) = support::stop(&mut server, &mut stdout);
    assert!(
        python.status.success(),
        "python: {}{}",
        String::from_utf8_lossy(&python.stdout),
        String::from_utf8_lossy(&python.stderr)
    );
    assert!(String::from_utf8_lossy(&python.stdout).contains("then 200"));
    assert!(status.success(), "the server stops cleanly on SIGTERM");
    assert!(
        rest.contains(" 429 ") && rest.contains("/oauth/token 200"),
        "one log line per request:\n{rest}"
    );
    assert!(
        rest.contains("final:") && rest.contains("rate-limited"),
        "a final summary:\n{rest}"
    );
    let trace = std::fs::read_to_string(&record).unwrap();
    assert!(
        trace.contains("\"event\":\"rate_limited\"") && trace.contains("\"event\":\"token_issued\""),
        "{trace}"
    );
    // The banner prints the simulator's test credentials on purpose (a user needs them); no
    // request line and no trace carries a secret.
    let request_lines: Vec<&str> = rest.lines().filter(|line| line.contains("ms")).collect();
    assert!(!request_lines.is_empty());
    assert!(
        !trace.contains("herd-secret") && request_lines.iter().all(|line| !line.contains("herd-secret")),
        "no secret in request logs or traces"
    );
}

/// Sends raw bytes and reads what comes back until the server closes or 3 s pass.
async fn raw(address: &str, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let _ = stream.write_all(bytes).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_huge_slow_and_too_many_clients_are_answered_or_refused_never_a_crash() {
    let options = ServeOptions {
        max_connections: 64,
        idle_timeout: Duration::from_millis(1_500),
        shutdown_grace: Duration::from_millis(200),
        ..ServeOptions::default()
    };
    let (address, _gateway, stop, server) = start(GatewayConfig::default(), options).await;
    assert!(
        raw(&address, b"garbage\r\n\r\n")
            .await
            .starts_with("HTTP/1.1 400"),
        "malformed HTTP gets 400"
    );
    let huge = format!(
        "GET /api/v2/users HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "a".repeat(100_000)
    );
    let answer = raw(&address, huge.as_bytes()).await;
    assert!(
        answer.starts_with("HTTP/1.1 431"),
        "a huge head is refused: {answer:.60}"
    );
    let body = vec![b'x'; 600_000];
    let mut oversized = format!(
        "POST /api/v2/users/bulk HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    oversized.extend_from_slice(&body);
    assert!(
        raw(&address, &oversized).await.starts_with("HTTP/1.1 413"),
        "a body over max_body_bytes gets 413"
    );

    // A slow client holds half a request head; it is cut off, and others are served meanwhile.
    let mut slow = TcpStream::connect(&address).await.unwrap();
    slow.write_all(b"GET /api/v2/users HTTP/1.1\r\n").await.unwrap();
    assert!(raw(
        &address,
        b"GET /api/v2/users HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
    )
    .await
    .starts_with("HTTP/1.1 401"));
    let mut rest = Vec::new();
    let cut = tokio::time::timeout(Duration::from_secs(6), slow.read_to_end(&mut rest)).await;
    assert!(
        cut.is_ok(),
        "the slow client is disconnected after the header timeout"
    );

    // Many clients at once, within the bound: every one is answered.
    let answers: Vec<_> = (0..50)
        .map(|_| {
            tokio::spawn({
                let address = address.clone();
                async move {
                    raw(
                        &address,
                        b"GET /api/v2/users HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
                    )
                    .await
                }
            })
        })
        .collect();
    for answer in answers {
        assert!(answer.await.unwrap().starts_with("HTTP/1.1 401"));
    }
    // Past the bound: idle connections hold every slot, the next ones get 503 and are closed.
    let mut held = Vec::new();
    for _ in 0..64 {
        held.push(TcpStream::connect(&address).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let refused = raw(&address, b"GET /api/v2/users HTTP/1.1\r\nhost: x\r\n\r\n").await;
    assert!(
        refused.starts_with("HTTP/1.1 503"),
        "over the connection bound: {refused:.60}"
    );
    drop(held);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        raw(
            &address,
            b"GET /api/v2/users HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
        )
        .await
        .starts_with("HTTP/1.1 401"),
        "still serving"
    );
    stop.send(()).unwrap();
    let stats = server.await.unwrap();
    assert!(stats.refused >= 1 && stats.connections >= 118, "{stats:?}");
}

#[test]
fn serve_logs_requests_as_json_lines_when_asked() {
    let (mut server, mut stdout, base) = spawn_serve(&["thundering-herd", "--log-format", "json"]);
    let mut stream = std::net::TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    std::io::Write::write_all(
        &mut stream,
        b"GET /api/v2/users HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    let (status, rest) = support::stop(&mut server, &mut stdout);
    assert!(status.success());
    let line = rest
        .lines()
        .find(|line| line.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON line in {rest}"));
    let value: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(
        (
            value["method"].as_str(),
            value["target"].as_str(),
            value["status"].as_u64()
        ),
        (Some("GET"), Some("/api/v2/users"), Some(401))
    );
}

/// "Why was this 429": the request log names the rule, key and count; `/__herdsim/limits` shows
/// the caller's buckets and their recent refusals; secrets in a query string never reach a log.
#[test]
fn serve_explains_every_429_and_shows_the_callers_buckets() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("why.toml");
    std::fs::write(
        &scenario,
        "name = \"why\"\ndescription = \"5/min\"\n[gateway]\nplatform = \"genesys\"\n[[gateway.limits]]\nname = \"per.minute\"\nlimit = 5\nkey = [\"token\"]\n[workload]\nkind = \"read\"\noperations = 1\n",
    )
    .unwrap();
    let (mut server, mut stdout, base) = spawn_serve(&[scenario.to_str().unwrap()]);
    let basic = format!(
        "Basic {}",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "herd-app:herd-secret")
    );
    let (status, body) = support::http(
        &base,
        "POST",
        "/oauth/token",
        &[
            ("authorization", &basic),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        "grant_type=client_credentials",
    );
    assert_eq!(status, 200, "{body}");
    let token: serde_json::Value = serde_json::from_str(&body).unwrap();
    let bearer = format!("Bearer {}", token["access_token"].as_str().unwrap());
    // A PATCH without `version`: admitted by the limits, refused by the resource (400).
    let user = herd_gateway::directory::Directory::id_for(herd_gateway::config::PlatformProfile::Genesys, 0);
    let (status, _) = support::http(
        &base,
        "PATCH",
        &format!("/api/v2/users/{user}"),
        &[("authorization", &bearer)],
        "{\"title\": \"t\"}",
    );
    assert_eq!(status, 400);
    let statuses: Vec<u16> = (0..5)
        .map(|_| {
            support::http(
                &base,
                "GET",
                "/api/v2/users?pageSize=1",
                &[("authorization", &bearer)],
                "",
            )
            .0
        })
        .collect();
    assert_eq!(statuses, vec![200, 200, 200, 200, 429]);
    let (status, report) = support::http(
        &base,
        "GET",
        "/__herdsim/limits",
        &[("authorization", &bearer)],
        "",
    );
    assert_eq!(status, 200, "{report}");
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    let bucket = report["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["rule"] == "per.minute")
        .expect("the scenario's rule");
    assert_eq!(
        (
            bucket["key"].as_str(),
            bucket["count"].as_u64(),
            bucket["limit"].as_u64()
        ),
        (Some("token#1"), Some(5), Some(5))
    );
    let layers: Vec<&str> = report["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["rule"].as_str())
        .collect();
    assert!(
        layers.contains(&"client.rate.per.minute"),
        "the client-wide layer too: {layers:?}"
    );
    assert_eq!(report["recent_refusals"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(support::http(&base, "GET", "/__herdsim/limits", &[], "").0, 401);
    let leaked = "/api/v2/users?client_secret=s3cr3t-q&password=p4ss-q&access_token=t0k-q&pageSize=1";
    support::http(&base, "GET", leaked, &[("authorization", &bearer)], "");
    let (status, rest) = support::stop(&mut server, &mut stdout);
    assert!(status.success());
    let refused = rest
        .lines()
        .find(|line| line.contains(" 429 "))
        .unwrap_or_else(|| panic!("no 429 line in {rest}"));
    assert!(
        refused.contains("rule=per.minute key=token#1 count=5/5"),
        "{refused}"
    );
    for secret in ["s3cr3t-q", "p4ss-q", "t0k-q"] {
        assert!(!rest.contains(secret), "{secret} reached the log:\n{rest}");
    }
    assert!(rest.contains("client_secret=<redacted>"), "{rest}");
    assert!(rest.contains("(1 answered 4xx by the resource)"), "{rest}");
}

/// Serve routes by the `Host` a request names: the token endpoint on `login.…`, the API on
/// `api.…`, both on an address; the log and the summary say which host each request used.
#[test]
fn serve_routes_by_host_as_the_platform_does() {
    let (mut server, mut stdout, base) = spawn_serve(&["thundering-herd"]);
    let basic = format!(
        "Basic {}",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "herd-app:herd-secret")
    );
    let token = |host: &str| {
        support::http(
            &base,
            "POST",
            "/oauth/token",
            &[
                ("host", host),
                ("authorization", &basic),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            "grant_type=client_credentials",
        )
    };
    assert_eq!(
        token("api.mypurecloud.com").0,
        404,
        "no token endpoint on the API host"
    );
    let (status, body) = token("login.mypurecloud.com");
    assert_eq!(status, 200, "{body}");
    let (status, _) = token("127.0.0.1");
    assert_eq!(status, 200, "an address serves both hosts");
    let granted: serde_json::Value = serde_json::from_str(&body).unwrap();
    let bearer = format!("Bearer {}", granted["access_token"].as_str().unwrap());
    let list = |host: &str| {
        support::http(
            &base,
            "GET",
            "/api/v2/users",
            &[("host", host), ("authorization", &bearer)],
            "",
        )
        .0
    };
    assert_eq!(list("login.mypurecloud.com"), 404, "no API on the login host");
    assert_eq!(list("api.mypurecloud.com"), 200);
    let (status, rest) = support::stop(&mut server, &mut stdout);
    assert!(status.success());
    let token_lines: Vec<&str> = rest
        .lines()
        .filter(|line| line.contains("POST   /oauth/token"))
        .collect();
    assert_eq!(token_lines.len(), 3, "{rest}");
    assert!(
        token_lines[0].contains("404") && token_lines[0].contains("host=api.mypurecloud.com (api)"),
        "{rest}"
    );
    assert!(
        token_lines[1].contains("host=login.mypurecloud.com (login)"),
        "{rest}"
    );
    assert!(token_lines[2].contains("host=127.0.0.1 (both)"), "{rest}");
    assert!(
        rest.contains(
            "token requests by host: 1 login, 1 an address (serves both); 2 requests to the wrong host"
        ),
        "{rest}"
    );
}

/// A connection lives at most its deadline: a keep-alive client is closed after it (between
/// requests), counted apart from timeouts of bodies, and the next connection is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_is_closed_at_its_deadline_and_counted() {
    let options = ServeOptions {
        connection_deadline: Duration::from_millis(600),
        shutdown_grace: Duration::from_millis(200),
        ..ServeOptions::default()
    };
    let (address, _gateway, stop, server) = start(GatewayConfig::default(), options).await;
    let mut stream = TcpStream::connect(&address).await.unwrap();
    let request = b"GET /api/v2/users HTTP/1.1\r\nhost: x\r\n\r\n";
    stream.write_all(request).await.unwrap();
    let mut first = [0u8; 12];
    stream.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 401", "served while young");
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "closed at its deadline");
    assert!(raw(
        &address,
        b"GET /api/v2/users HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
    )
    .await
    .starts_with("HTTP/1.1 401"));
    stop.send(()).unwrap();
    let stats = server.await.unwrap();
    assert_eq!(stats.deadline_closed, 1, "{stats:?}");
    assert_eq!((stats.body_timeouts, stats.body_errors), (0, 0));
}

/// The idle timeout outlasts the longest Retry-After the scenario can send.
#[test]
fn the_default_idle_timeout_outlasts_the_scenarios_longest_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("long.toml");
    std::fs::write(
        &scenario,
        "name = \"long\"\ndescription = \"a long maintenance Retry-After\"\n[gateway]\nplatform = \"genesys\"\n\
         [[gateway.faults]]\nkind = \"maintenance\"\nfrom_s = 3600\nuntil_s = 4000\nretry_after_s = 300\n\
         [workload]\nkind = \"read\"\noperations = 1\n",
    )
    .unwrap();
    for (args, idle) in [
        (vec![], "idle timeout 315 s"),
        (vec!["--idle-timeout-s", "20"], "idle timeout 20 s"),
    ] {
        let mut all = vec![scenario.to_str().unwrap(), "--log-format", "none"];
        all.extend(args);
        let (mut server, mut stdout, _base) = spawn_serve(&all);
        // Read up to the banner's connection line before stopping: a SIGTERM that came before
        // the server's handler would end it without a word.
        let mut printed = String::new();
        while !printed.contains("connections: at most") {
            let mut line = String::new();
            if std::io::BufRead::read_line(&mut stdout, &mut line).unwrap() == 0 {
                break;
            }
            printed.push_str(&line);
        }
        let _ = support::stop(&mut server, &mut stdout);
        assert!(printed.contains(idle), "{idle} in {printed}");
    }
    assert_eq!(
        serve::idle_timeout_for(0),
        Duration::from_secs(75),
        "never below 75 s"
    );
}

/// The idle keep-alive wait and a slow head are timed apart: an idle pooled connection outlives
/// the head timeout, a head that began and stalls is cut at it, and is counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_head_is_cut_while_an_idle_connection_lives_on() {
    let options = ServeOptions {
        idle_timeout: Duration::from_secs(30),
        head_read_timeout: Duration::from_millis(800),
        shutdown_grace: Duration::from_millis(200),
        ..ServeOptions::default()
    };
    let (address, _gateway, stop, server) = start(GatewayConfig::default(), options).await;
    let request = b"GET /api/v2/users HTTP/1.1\r\nhost: x\r\n\r\n";
    let mut idle = TcpStream::connect(&address).await.unwrap();
    idle.write_all(request).await.unwrap();
    let mut answer = vec![0u8; 12];
    idle.read_exact(&mut answer).await.unwrap();
    assert_eq!(&answer, b"HTTP/1.1 401");
    let mut slow = TcpStream::connect(&address).await.unwrap();
    slow.write_all(b"GET /api/v2/users HTTP/1.1\r\nhost:")
        .await
        .unwrap();
    let mut rest = Vec::new();
    let cut = tokio::time::timeout(Duration::from_secs(4), slow.read_to_end(&mut rest)).await;
    assert!(cut.is_ok(), "the slow head is cut at its timeout");
    // Past the head timeout, the idle connection still serves.
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let mut drained = vec![0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_millis(100), idle.read(&mut drained)).await;
    idle.write_all(request).await.unwrap();
    let mut again = vec![0u8; 12];
    tokio::time::timeout(Duration::from_secs(2), idle.read_exact(&mut again))
        .await
        .expect("answered")
        .unwrap();
    assert_eq!(&again, b"HTTP/1.1 401", "the idle pooled connection was kept");
    stop.send(()).unwrap();
    let stats = server.await.unwrap();
    assert_eq!(stats.head_timeouts, 1, "{stats:?}");
}
