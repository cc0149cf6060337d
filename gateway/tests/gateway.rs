//! The gateway core's behaviour for both platform profiles, through `Gateway::handle` only.

mod support;

use herd_gateway::config::{
    Algorithm, BackgroundConsumer, CapacityChange, Fault, GatewayConfig, HeaderDialect, KeyPart, Layers,
    LimitRule, PlatformProfile,
};
use herd_gateway::events::{AuthFailure, GatewayEventKind};
use herd_gateway::http::Delivery;
use herd_gateway::ledger::WriteOp;
use herd_gateway::{Gateway, Request, Response, SimTime};
use serde_json::json;
use support::{basic, genesys_token, streams};

fn cxone_token(gateway: &mut Gateway, now: SimTime) -> serde_json::Value {
    let response = gateway.handle(
        now,
        Request::new("POST", "/auth/token")
            .header("Authorization", &basic("herd-app", "herd-secret"))
            .body("grant_type=password&username=herd-key&password=herd-key-secret"),
    );
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    response.body_json().unwrap()
}

fn rule(limit: u64, algorithm: Algorithm) -> LimitRule {
    LimitRule {
        limit,
        algorithm,
        ..LimitRule::genesys_token_default()
    }
}

fn gateway_with(config: GatewayConfig) -> Gateway {
    Gateway::new(config, streams(7)).expect("valid config")
}

fn get_users(gateway: &mut Gateway, now: SimTime, token: &str) -> Response {
    gateway.handle(now, Request::new("GET", "/api/v2/users?pageSize=1").bearer(token))
}

#[test]
fn genesys_admits_up_to_the_limit_then_429_with_normalized_body() {
    let config = GatewayConfig {
        limits: Some(vec![rule(3, Algorithm::SlidingLog)]),
        ..GatewayConfig::default()
    };
    let mut gateway = gateway_with(config);
    let token = genesys_token(&mut gateway, SimTime::ZERO);
    for second in 0..3 {
        let response = get_users(&mut gateway, SimTime::from_secs(second), &token);
        assert_eq!(response.status, 200);
        assert!(response.header_value("ININ-Correlation-Id").is_some());
        assert!(
            response.header_value("inin-ratelimit-allowed").is_none(),
            "no rate-limit headers by default"
        );
    }
    let rejected = get_users(&mut gateway, SimTime::from_millis(10_500), &token);
    assert_eq!(rejected.status, 429);
    // The oldest admission (t = 0) leaves the 60 s window at t = 60 s: 49.5 s away, rounded up.
    assert_eq!(rejected.header_value("Retry-After"), Some("50"));
    let body = rejected.body_json().unwrap();
    assert_eq!(body["code"], "too.many.requests.retry.after");
    assert_eq!(body["status"], 429);
    assert_eq!(
        body["message"],
        "Rate limit exceeded the maximum. Retry the request in [50] seconds"
    );
    assert_eq!(
        body["contextId"].as_str(),
        rejected.header_value("ININ-Correlation-Id")
    );
    assert_eq!(
        get_users(&mut gateway, SimTime::from_secs(60), &token).status,
        200
    );
    let events = gateway.drain_events();
    assert!(events.iter().any(|e| matches!(
        &e.kind,
        GatewayEventKind::RateLimited {
            wait_ms: 49_500,
            retry_after_s: Some(50),
            ..
        }
    )));
}

#[test]
fn tokens_expire_and_are_revoked() {
    let mut config = GatewayConfig::default();
    config.clients[0].token_ttl_s = Some(300);
    config.faults.push(Fault::RevokeTokens { at_s: 1_000 });
    let mut gateway = gateway_with(config);
    assert_eq!(
        gateway.next_wakeup(),
        Some(SimTime::from_secs(1_000)),
        "the revocation is the gateway's only own work"
    );
    let token = genesys_token(&mut gateway, SimTime::ZERO);
    assert_eq!(
        get_users(&mut gateway, SimTime::from_secs(299), &token).status,
        200
    );
    let expired = get_users(&mut gateway, SimTime::from_secs(300), &token);
    assert_eq!(expired.status, 401);
    assert_eq!(expired.body_json().unwrap()["code"], "bad.credentials");
    let fresh = genesys_token(&mut gateway, SimTime::from_secs(900));
    assert_eq!(
        get_users(&mut gateway, SimTime::from_secs(999), &fresh).status,
        200
    );
    assert_eq!(
        get_users(&mut gateway, SimTime::from_secs(1_000), &fresh).status,
        401
    );
    assert_eq!(gateway.next_wakeup(), None);
    let missing = gateway.handle(SimTime::from_secs(1_001), Request::new("GET", "/api/v2/users"));
    assert_eq!(missing.body_json().unwrap()["code"], "authentication.required");
    let reasons: Vec<AuthFailure> = gateway
        .drain_events()
        .into_iter()
        .filter_map(|e| match e.kind {
            GatewayEventKind::Unauthorized { reason, .. } => Some(reason),
            _ => None,
        })
        .collect();
    assert_eq!(
        reasons,
        vec![AuthFailure::Expired, AuthFailure::Revoked, AuthFailure::Missing]
    );
}

#[test]
fn genesys_paging_walks_every_user_once() {
    let config = GatewayConfig {
        layers: herd_gateway::config::Layers::OFF,
        ..GatewayConfig::default()
    };
    let mut gateway = gateway_with(config);
    let token = genesys_token(&mut gateway, SimTime::ZERO);
    let mut next = Some("/api/v2/users?pageSize=30&pageNumber=1".to_string());
    let mut seen = Vec::new();
    while let Some(uri) = next {
        let body = gateway
            .handle(SimTime::ZERO, Request::new("GET", &uri).bearer(&token))
            .body_json()
            .unwrap();
        assert_eq!(body["total"], 100);
        assert_eq!(body["pageCount"], 4);
        seen.extend(
            body["entities"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["id"].as_str().unwrap().to_string()),
        );
        next = body.get("nextUri").and_then(|v| v.as_str()).map(str::to_string);
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (100, 100));
    let bad = gateway.handle(
        SimTime::ZERO,
        Request::new("GET", "/api/v2/users?pageSize=0").bearer(&token),
    );
    assert_eq!(bad.status, 400);
}

#[test]
fn versioned_updates_and_bulk_results() {
    let config = GatewayConfig {
        layers: herd_gateway::config::Layers::OFF,
        ..GatewayConfig::default()
    };
    let mut gateway = gateway_with(config);
    let token = genesys_token(&mut gateway, SimTime::ZERO);
    let id = gateway.directory().ids().next().unwrap().to_string();
    let patch = |version: u64| {
        Request::new("PATCH", &format!("/api/v2/users/{id}"))
            .bearer(&token)
            .body(json!({"version": version, "title": "Agent"}).to_string())
    };
    let first = gateway.handle(SimTime::ZERO, patch(1));
    assert_eq!(
        (first.status, first.body_json().unwrap()["version"].as_u64()),
        (200, Some(2))
    );
    let stale = gateway.handle(SimTime::ZERO, patch(1));
    assert_eq!(stale.status, 409);
    assert_eq!(gateway.ledger().applied(WriteOp::UpdateUser, &id), 1);

    let ids: Vec<String> = gateway.directory().ids().take(3).map(str::to_string).collect();
    let items = json!([
        {"id": ids[0], "version": 2, "title": "Lead"},
        {"id": ids[1], "version": 1, "title": "Lead"},
        {"id": "missing", "version": 1},
    ]);
    let bulk = gateway.handle(
        SimTime::ZERO,
        Request::new("PATCH", "/api/v2/users/bulk")
            .bearer(&token)
            .body(items.to_string()),
    );
    let body = bulk.body_json().unwrap();
    assert_eq!(bulk.status, 200);
    assert_eq!(body["errorCount"], 1);
    assert_eq!(body["errorIndexes"], json!([2]));
    assert_eq!(body["results"][2]["status"], 404);
    let too_many: Vec<_> = (0..51).map(|_| json!({"id": ids[0], "version": 3})).collect();
    let refused = gateway.handle(
        SimTime::ZERO,
        Request::new("PATCH", "/api/v2/users/bulk")
            .bearer(&token)
            .body(json!(too_many).to_string()),
    );
    assert_eq!(refused.status, 400);
    assert!(refused.body_json().unwrap()["message"]
        .as_str()
        .unwrap()
        .contains("Max 50"));
}

#[test]
fn idempotency_keys_deduplicate_creates_and_lost_responses_still_apply() {
    let config = GatewayConfig {
        layers: herd_gateway::config::Layers::OFF,
        faults: vec![Fault::LostResponse {
            families: Vec::new(),
            host: None,
            from_s: 0,
            until_s: Some(10),
            rate: 1.0,
        }],
        ..GatewayConfig::default()
    };
    let mut gateway = gateway_with(config);
    let token = genesys_token(&mut gateway, SimTime::ZERO);
    let key = "0b7a3c1e-1111-4222-8333-444455556666";
    let create = |key: Option<&str>, form: &str| {
        let mut request = Request::new("POST", "/api/v2/quality/conversations/conv-1/evaluations")
            .bearer(&token)
            .body(json!({"evaluationForm": {"id": form}}).to_string());
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        request
    };
    let lost = gateway.handle(SimTime::from_secs(1), create(Some(key), "f1"));
    assert_eq!(lost.delivery, Delivery::Lost);
    assert_eq!(
        gateway.ledger().applied(WriteOp::CreateEvaluation, "conv-1"),
        1,
        "applied although lost"
    );
    let replay = gateway.handle(SimTime::from_secs(20), create(Some(key), "f1"));
    assert_eq!(
        (replay.status, replay.header_value("Idempotent-Replayed")),
        (200, Some("true"))
    );
    assert_eq!(gateway.ledger().duplicate_creates(), 0);
    assert_eq!(
        gateway
            .handle(SimTime::from_secs(21), create(Some(key), "f2"))
            .status,
        422
    );
    assert_eq!(
        gateway
            .handle(SimTime::from_secs(22), create(Some("not-a-uuid"), "f1"))
            .status,
        400
    );
    gateway.handle(SimTime::from_secs(23), create(None, "f1"));
    assert_eq!(
        gateway.ledger().duplicate_creates(),
        1,
        "a retried create without a key is a duplicate"
    );
}

#[test]
fn header_dialects_describe_the_tightest_rule() {
    let expected =
        [
            (
                HeaderDialect::Inin,
                vec![
                    ("inin-ratelimit-allowed", "5"),
                    ("inin-ratelimit-count", "1"),
                    ("inin-ratelimit-reset", "60"),
                ],
            ),
            (
                HeaderDialect::XRateLimit,
                vec![
                    ("X-Rate-Limit-Limit", "5"),
                    ("X-Rate-Limit-Remaining", "4"),
                    ("X-Rate-Limit-Reset", "1767225660"),
                ],
            ),
            (
                HeaderDialect::Ietf,
                vec![
                (
                    "RateLimit-Policy",
                    "\"client.credentials.token.rate.per.minute\";q=5;qu=\"requests\";w=60;pk=:dG9rZW4jMQ==:",
                ),
                ("RateLimit", "\"client.credentials.token.rate.per.minute\";r=4;t=60;pk=:dG9rZW4jMQ==:"),
            ],
            ),
            (HeaderDialect::None, vec![]),
        ];
    for (dialect, headers) in expected {
        let config = GatewayConfig {
            headers: dialect,
            layers: Layers::OFF,
            limits: Some(vec![rule(5, Algorithm::SlidingLog)]),
            ..GatewayConfig::default()
        };
        let mut gateway = gateway_with(config);
        let token = genesys_token(&mut gateway, SimTime::ZERO);
        let response = get_users(&mut gateway, SimTime::ZERO, &token);
        for (name, value) in &headers {
            assert_eq!(response.header_value(name), Some(*value), "{dialect:?} {name}");
        }
        let rate_headers = response
            .headers
            .iter()
            .filter(|(n, _)| n.to_ascii_lowercase().contains("rate"))
            .count();
        assert_eq!(rate_headers, headers.len(), "{dialect:?}");
    }
}

#[test]
fn background_consumer_shares_the_client_bucket_and_capacity_drops() {
    let shared = LimitRule {
        name: "client.rate".into(),
        limit: 60,
        key: vec![KeyPart::Client],
        schedule: vec![CapacityChange { at_s: 120, limit: 10 }],
        ..LimitRule::genesys_token_default()
    };
    let config = GatewayConfig {
        limits: Some(vec![shared]),
        background: vec![BackgroundConsumer {
            name: "wallboard".into(),
            client: "herd-app".into(),
            rate_per_min: 50,
            from_s: 0,
            until_s: None,
            family: "users.read".into(),
        }],
        ..GatewayConfig::default()
    };
    let mut gateway = gateway_with(config);
    // The consumer draws every 1.2 s from t = 0: the gateway says when its next draw is due.
    assert_eq!(gateway.next_wakeup(), Some(SimTime::ZERO));
    gateway.advance_to(SimTime::from_millis(1_000));
    assert_eq!(gateway.next_wakeup(), Some(SimTime::from_millis(1_200)));
    let token = genesys_token(&mut gateway, SimTime::ZERO);
    // By t = 59.9 s the consumer has drawn 50 of the 60: only 10 are left for us.
    let now = SimTime::from_millis(59_900);
    let statuses: Vec<u16> = (0..12)
        .map(|_| get_users(&mut gateway, now, &token).status)
        .collect();
    assert_eq!(statuses.iter().filter(|&&s| s == 200).count(), 10);
    assert_eq!(gateway.stats().background_admitted, 50);
    // After the drop to 10/min the consumer alone overdraws the bucket.
    get_users(&mut gateway, SimTime::from_secs(300), &token);
    assert!(gateway.stats().background_rejected > 0);
}

#[test]
fn short_retry_after_is_capped_below_the_true_wait() {
    let short = LimitRule {
        retry_after_max_s: Some(1),
        retry_after: Default::default(),
        ..rule(1, Algorithm::FixedWindow)
    };
    let config = GatewayConfig {
        limits: Some(vec![short]),
        ..GatewayConfig::default()
    };
    let mut gateway = gateway_with(config);
    let token = genesys_token(&mut gateway, SimTime::ZERO);
    assert_eq!(get_users(&mut gateway, SimTime::ZERO, &token).status, 200);
    let rejected = get_users(&mut gateway, SimTime::from_secs(1), &token);
    assert_eq!(rejected.header_value("Retry-After"), Some("1"));
    assert!(gateway.drain_events().iter().any(|e| matches!(
        e.kind,
        GatewayEventKind::RateLimited {
            wait_ms: 59_000,
            retry_after_s: Some(1),
            ..
        }
    )));
}

#[test]
fn huge_retry_after_adds_to_the_true_wait_and_is_told_as_sent() {
    let huge = LimitRule {
        retry_after_extra_s: 240,
        ..rule(1, Algorithm::FixedWindow)
    };
    let config = GatewayConfig {
        limits: Some(vec![huge]),
        ..GatewayConfig::default()
    };
    assert_eq!(config.longest_retry_after_s(), 300);
    let mut gateway = gateway_with(config);
    let token = genesys_token(&mut gateway, SimTime::ZERO);
    assert_eq!(get_users(&mut gateway, SimTime::ZERO, &token).status, 200);
    let rejected = get_users(&mut gateway, SimTime::from_secs(1), &token);
    assert_eq!(rejected.header_value("Retry-After"), Some("299"));
    assert!(gateway.drain_events().iter().any(|e| matches!(
        e.kind,
        GatewayEventKind::RateLimited {
            wait_ms: 59_000,
            retry_after_s: Some(299),
            ..
        }
    )));
    let both = LimitRule {
        retry_after_extra_s: 10,
        retry_after_max_s: Some(1),
        ..rule(1, Algorithm::FixedWindow)
    };
    let config = GatewayConfig {
        limits: Some(vec![both]),
        ..GatewayConfig::default()
    };
    let error = config
        .validate()
        .expect_err("a shortened and lengthened Retry-After");
    assert!(error.field.ends_with("retry_after_extra_s"), "{error}");
}

#[test]
fn faults_maintenance_throttle_html_and_slow() {
    let config = GatewayConfig {
        layers: herd_gateway::config::Layers::OFF,
        faults: vec![
            Fault::Maintenance {
                families: Vec::new(),
                host: None,
                retry_after: Default::default(),
                from_s: 10,
                until_s: Some(20),
                retry_after_s: Some(30),
            },
            Fault::Throttle {
                families: Vec::new(),
                host: None,
                retry_after: Default::default(),
                from_s: 30,
                until_s: Some(40),
                rate: 1.0,
                retry_after_s: None,
                html: true,
            },
            Fault::ServerErrors {
                families: Vec::new(),
                host: None,
                retry_after: Default::default(),
                retry_after_s: None,
                from_s: 50,
                until_s: Some(60),
                rate: 1.0,
                status: 502,
                html: false,
            },
            Fault::Slow {
                families: Vec::new(),
                host: None,
                from_s: 70,
                until_s: Some(80),
                rate: 1.0,
                delay_ms: 2_500,
            },
        ],
        ..GatewayConfig::default()
    };
    let mut gateway = gateway_with(config);
    let token = genesys_token(&mut gateway, SimTime::ZERO);
    let maintenance = get_users(&mut gateway, SimTime::from_secs(15), &token);
    assert_eq!(
        (maintenance.status, maintenance.header_value("Retry-After")),
        (503, Some("30"))
    );
    let throttled = get_users(&mut gateway, SimTime::from_secs(35), &token);
    assert_eq!(
        (throttled.status, throttled.header_value("Retry-After")),
        (429, None)
    );
    assert_eq!(throttled.header_value("content-type"), Some("text/html"));
    let bad_gateway = get_users(&mut gateway, SimTime::from_secs(55), &token);
    assert_eq!(
        (
            bad_gateway.status,
            bad_gateway.body_json().unwrap()["code"].as_str()
        ),
        (502, Some("bad.gateway"))
    );
    let slow = get_users(&mut gateway, SimTime::from_secs(75), &token);
    assert_eq!((slow.status, slow.delivery), (200, Delivery::DelayedMs(2_500)));
    assert_eq!(
        get_users(&mut gateway, SimTime::from_secs(85), &token).delivery,
        Delivery::Now
    );
}

#[test]
fn cxone_profile_tokens_paging_and_bulk_create() {
    let config = GatewayConfig {
        platform: PlatformProfile::Cxone,
        layers: herd_gateway::config::Layers::OFF,
        ..GatewayConfig::default()
    };
    let mut gateway = gateway_with(config);
    let grant = cxone_token(&mut gateway, SimTime::ZERO);
    assert_eq!(grant["expires_in"], 3_600);
    let token = grant["access_token"].as_str().unwrap().to_string();
    let mut next = Some("/inContactAPI/services/v31.0/agents?skip=0&top=40".to_string());
    let mut pages = 0;
    let mut agents = 0;
    while let Some(uri) = next {
        let response = gateway.handle(SimTime::from_secs(1), Request::new("GET", &uri).bearer(&token));
        assert!(response.header_value("ININ-Correlation-Id").is_none());
        let body = response.body_json().unwrap();
        assert_eq!(body["totalRecords"], 100);
        agents += body["agents"].as_array().unwrap().len();
        pages += 1;
        next = body["_links"]
            .get("next")
            .and_then(|v| v.as_str())
            .map(str::to_string);
    }
    assert_eq!((pages, agents), (3, 100));
    let create =
        json!({"agents": [{"userName": "new.agent@herd", "firstName": "New"}, {"firstName": "Nameless"}]});
    let response = gateway.handle(
        SimTime::from_secs(2),
        Request::new("POST", "/inContactAPI/services/v31.0/agents")
            .bearer(&token)
            .body(create.to_string()),
    );
    let body = response.body_json().unwrap();
    assert_eq!(body["errorCount"], 1);
    assert_eq!(body["agentResults"][0]["success"], true);
    assert_eq!(
        gateway.ledger().applied(WriteOp::CreateAgent, "new.agent@herd"),
        1
    );
    // PUT on CXone takes an optional version.
    let update = gateway.handle(
        SimTime::from_secs(3),
        Request::new("PUT", "/inContactAPI/services/v31.0/agents/100001")
            .bearer(&token)
            .body(json!({"teamId": 4}).to_string()),
    );
    assert_eq!(update.status, 200);
    let expired = gateway.handle(
        SimTime::from_secs(3_600),
        Request::new("GET", "/inContactAPI/services/v31.0/agents/100001").bearer(&token),
    );
    assert_eq!(
        (expired.status, expired.body_json().unwrap()["error"].as_str()),
        (401, Some("invalid_token"))
    );
}

#[test]
fn garbage_requests_get_4xx_never_a_panic() {
    let mut gateway = gateway_with(GatewayConfig::default());
    let token = genesys_token(&mut gateway, SimTime::ZERO);
    let cases = [
        Request::new("GET", "/"),
        Request::new("BREW", "/api/v2/users"),
        Request::new("PATCH", "/api/v2/users/x")
            .bearer(&token)
            .body("{not json"),
        Request::new("PATCH", "/api/v2/users/bulk")
            .bearer(&token)
            .body("{}"),
        Request::new("POST", "/oauth/token")
            .header("Authorization", "Basic ###")
            .body("grant_type=client_credentials"),
        Request::new("POST", "/oauth/token")
            .header("Authorization", &basic("herd-app", "herd-secret"))
            .body(vec![0xff, 0xfe]),
        Request::new("GET", "/api/v2/users?pageSize=abc").bearer(&token),
        Request::new("POST", "/api/v2/quality/conversations/c/evaluations")
            .bearer(&token)
            .body(vec![0u8; 600_000]),
    ];
    for request in cases {
        let described = format!("{} {}", request.method, request.target);
        let status = gateway.handle(SimTime::ZERO, request).status;
        assert!((400..500).contains(&status), "{described} gave {status}");
    }
}

#[test]
fn same_seed_same_events_other_seed_other_ids() {
    let run = |seed: u64| {
        let config = GatewayConfig {
            faults: vec![Fault::ServerErrors {
                families: Vec::new(),
                host: None,
                retry_after: Default::default(),
                retry_after_s: None,
                from_s: 0,
                until_s: None,
                rate: 0.3,
                status: 503,
                html: false,
            }],
            ..GatewayConfig::default()
        };
        let mut gateway = Gateway::new(config, streams(seed)).unwrap();
        let token = genesys_token(&mut gateway, SimTime::ZERO);
        let statuses: Vec<u16> = (0..50)
            .map(|i| get_users(&mut gateway, SimTime::from_millis(i * 10), &token).status)
            .collect();
        (statuses, format!("{:?}", gateway.drain_events()), token)
    };
    assert_eq!(run(1), run(1));
    let (statuses_a, _, token_a) = run(1);
    let (statuses_b, _, token_b) = run(2);
    assert_ne!(token_a, token_b);
    assert_ne!(statuses_a, statuses_b);
}

#[test]
fn memory_stays_bounded_under_token_churn() {
    let mut config = GatewayConfig::default();
    config.clients[0].token_ttl_s = Some(300);
    let mut gateway = gateway_with(config);
    let mut peak = 0;
    for minute in 0..600u64 {
        let now = SimTime::from_secs(minute * 60);
        let token = genesys_token(&mut gateway, now);
        for i in 0..5 {
            get_users(&mut gateway, now + std::time::Duration::from_millis(i), &token);
        }
        peak = peak.max(gateway.state_size());
    }
    // Tokens live 300 s and are remembered one hour after: about 65 tokens and their keys.
    assert!(peak < 200, "state grew to {peak}");
}
