//! The HTTP shell inside a turmoil simulation: a plain hyper client gets 200s, then 429 with
//! Retry-After once over the limit, then 401 after its token expires. The same seed twice records
//! identical gateway events; the Date header comes from the simulated epoch.

use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use herd_gateway::config::{GatewayConfig, LimitRule};
use herd_gateway::Gateway;
use herd_sim::shell::service::GatewayService;
use herd_sim::shell::turmoil_host::{serve_turmoil, TurmoilClock};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

type BoxError = Box<dyn std::error::Error>;

struct Seen {
    status: u16,
    retry_after: Option<String>,
    date: String,
    body: String,
}

async fn send(
    sender: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    method: &str,
    uri: &str,
    authorization: &str,
    body: &'static str,
) -> Result<Seen, BoxError> {
    let request = hyper::Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "gateway")
        .header("authorization", authorization)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from_static(body.as_bytes())))?;
    let response = sender.send_request(request).await?;
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap_or("").to_string())
    };
    let (status, retry_after, date) = (
        response.status().as_u16(),
        header("retry-after"),
        header("date").unwrap_or_default(),
    );
    let body = String::from_utf8(response.into_body().collect().await?.to_bytes().to_vec())?;
    Ok(Seen {
        status,
        retry_after,
        date,
        body,
    })
}

/// Runs the scenario and returns the statuses seen and the gateway's events as JSON lines.
fn run(seed: u64) -> (Vec<u16>, String) {
    let mut config = GatewayConfig {
        limits: Some(vec![LimitRule {
            limit: 3,
            ..LimitRule::genesys_token_default()
        }]),
        ..GatewayConfig::default()
    };
    config.clients[0].token_ttl_s = Some(300);
    let epoch_unix_s = config.epoch_unix_s;
    let gateway = Arc::new(Mutex::new(
        Gateway::new(config, herd_sim::streams::gateway_streams(seed)).unwrap(),
    ));
    let mut sim = turmoil::Builder::new()
        .rng_seed(seed)
        .epoch(UNIX_EPOCH + Duration::from_secs(epoch_unix_s))
        .simulation_duration(Duration::from_secs(600))
        .tick_duration(Duration::from_millis(10))
        .build();
    let served = gateway.clone();
    sim.host("gateway", move || {
        let service = GatewayService::new(served.clone(), Arc::new(TurmoilClock));
        async move {
            let listener = turmoil::net::TcpListener::bind("0.0.0.0:80").await?;
            serve_turmoil(listener, service).await?;
            Ok(())
        }
    });
    let statuses = Arc::new(Mutex::new(Vec::new()));
    let seen = statuses.clone();
    sim.client("app", async move {
        let stream = turmoil::net::TcpStream::connect("gateway:80").await?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        let basic = format!("Basic {}", STANDARD.encode("herd-app:herd-secret"));
        let grant = send(
            &mut sender,
            "POST",
            "/oauth/token",
            &basic,
            "grant_type=client_credentials",
        )
        .await?;
        assert_eq!(grant.status, 200);
        assert_eq!(
            grant.date, "Thu, 01 Jan 2026 00:00:00 GMT",
            "Date comes from the simulated epoch"
        );
        let token: serde_json::Value = serde_json::from_str(&grant.body)?;
        let bearer = format!("Bearer {}", token["access_token"].as_str().unwrap());
        for _ in 0..4 {
            let response = send(&mut sender, "GET", "/api/v2/users?pageSize=5", &bearer, "").await?;
            seen.lock().unwrap().push(response.status);
            if response.status == 429 {
                let retry_after: u64 = response.retry_after.expect("429 carries Retry-After").parse()?;
                assert!((59..=60).contains(&retry_after), "Retry-After {retry_after}");
                assert!(response.body.contains("too.many.requests.retry.after"));
            }
        }
        tokio::time::sleep(Duration::from_secs(301)).await;
        let expired = send(&mut sender, "GET", "/api/v2/users", &bearer, "").await?;
        assert_eq!(expired.date, "Thu, 01 Jan 2026 00:05:01 GMT");
        seen.lock().unwrap().push(expired.status);
        Ok(())
    });
    sim.run().expect("simulation completes");
    let events: Vec<String> = gateway
        .lock()
        .unwrap()
        .drain_events()
        .iter()
        .map(|event| serde_json::to_string(event).unwrap())
        .collect();
    let statuses = statuses.lock().unwrap().clone();
    (statuses, events.join("\n"))
}

#[test]
fn hyper_client_sees_200_then_429_then_401() {
    let (statuses, events) = run(11);
    assert_eq!(statuses, vec![200, 200, 200, 429, 401]);
    assert!(events.contains("\"event\":\"rate_limited\""));
    assert!(events.contains("\"reason\":\"expired\""));
    assert!(!events.contains("herd-secret"), "no secret in events");
}

#[test]
fn same_seed_gives_identical_events() {
    let (_, first) = run(5);
    let (_, second) = run(5);
    assert_eq!(first, second);
    let (_, other) = run(6);
    assert_ne!(
        first, other,
        "the seed reaches the network's latency and the token's id draws"
    );
}
