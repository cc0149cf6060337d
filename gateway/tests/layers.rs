//! Layered limits that cannot be cheated: the profile's default layers, the token endpoint's own
//! limit, the cap on live tokens, the early-retry penalty, per-resource keys, the published
//! limits, and 429s that name their rule, key and count.

mod support;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use herd_gateway::config::{Algorithm, GatewayConfig, KeyPart, Layers, LimitRule, TokenCap, WhenTokensFull};
use herd_gateway::events::{AuthFailure, GatewayEventKind};
use herd_gateway::{Gateway, Request, Response, SimTime};
use support::{genesys_token, streams, token_request};

fn gateway_with(config: GatewayConfig) -> Gateway {
    Gateway::new(config, streams(11)).expect("valid config")
}

fn read(gateway: &mut Gateway, now: SimTime, token: &str) -> Response {
    gateway.handle(now, Request::new("GET", "/api/v2/users?pageSize=1").bearer(token))
}

fn at_ms(ms: u64) -> SimTime {
    SimTime::from_millis(ms)
}

/// The last `RateLimited` event: (rule, key, count, limit).
fn last_refusal(gateway: &mut Gateway) -> (String, String, u64, u64) {
    gateway
        .drain_events()
        .into_iter()
        .rev()
        .find_map(|event| match event.kind {
            GatewayEventKind::RateLimited {
                rule,
                key,
                count,
                limit,
                ..
            } => Some((rule, key, count, limit)),
            _ => None,
        })
        .expect("a refusal event")
}

#[test]
fn by_default_a_new_token_never_frees_the_client_wide_bucket() {
    let mut gateway = gateway_with(GatewayConfig::default());
    let first = genesys_token(&mut gateway, SimTime::ZERO);
    for n in 0..300 {
        assert_eq!(
            read(&mut gateway, at_ms(n * 10), &first).status,
            200,
            "request {n}"
        );
    }
    assert_eq!(read(&mut gateway, at_ms(3_000), &first).status, 429);
    // Minting a fresh token: its own per-token bucket is empty, but the client's is not.
    let second = genesys_token(&mut gateway, at_ms(3_100));
    let refused = read(&mut gateway, at_ms(3_200), &second);
    assert_eq!(refused.status, 429, "a new token frees nothing");
    let (rule, key, count, limit) = last_refusal(&mut gateway);
    assert_eq!(
        (rule.as_str(), key.as_str(), count, limit),
        ("client.rate.per.minute", "client:herd-app", 300, 300)
    );
    // The oldest admission (t = 0) leaves the window at 60 s: 56.8 s away, rounded up.
    assert_eq!(refused.header_value("Retry-After"), Some("57"));
    assert_eq!(read(&mut gateway, SimTime::from_secs(60), &second).status, 200);
}

#[test]
fn the_token_endpoint_says_no_with_retry_after() {
    let mut gateway = gateway_with(GatewayConfig::default());
    for n in 0..30 {
        let response = gateway.handle(at_ms(n * 100), token_request());
        assert_eq!(response.status, 200, "token request {n}");
    }
    let refused = gateway.handle(at_ms(3_000), token_request());
    assert_eq!(refused.status, 429);
    assert_eq!(refused.header_value("Retry-After"), Some("57"));
    assert_eq!(
        refused.body_json().unwrap()["code"],
        "too.many.requests.retry.after"
    );
    let (rule, key, count, limit) = last_refusal(&mut gateway);
    assert_eq!(
        (rule.as_str(), key.as_str(), count, limit),
        ("oauth.token.rate.per.minute", "client:herd-app", 30, 30)
    );
    assert_eq!(gateway.stats().token_requests_rate_limited, 1);
    // A wrong secret still counts against the claimed client's token-endpoint limit.
    let forged = Request::new("POST", "/oauth/token")
        .header(
            "Authorization",
            &format!("Basic {}", STANDARD.encode("herd-app:guess")),
        )
        .body("grant_type=client_credentials");
    assert_eq!(gateway.handle(at_ms(3_100), forged).status, 429);
    assert_eq!(
        gateway.handle(SimTime::from_secs(60), token_request()).status,
        200
    );
}

#[test]
fn the_live_token_cap_revokes_the_oldest_or_refuses() {
    let capped = |when_full| GatewayConfig {
        tokens: TokenCap {
            live_max_per_client: 2,
            when_full,
        },
        ..GatewayConfig::default()
    };
    let mut gateway = gateway_with(capped(WhenTokensFull::RevokeOldest));
    let oldest = genesys_token(&mut gateway, SimTime::ZERO);
    let middle = genesys_token(&mut gateway, at_ms(10));
    let newest = genesys_token(&mut gateway, at_ms(20));
    assert_eq!(
        read(&mut gateway, at_ms(30), &oldest).status,
        401,
        "the oldest was revoked"
    );
    assert_eq!(read(&mut gateway, at_ms(40), &middle).status, 200);
    assert_eq!(read(&mut gateway, at_ms(50), &newest).status, 200);
    assert_eq!(gateway.stats().tokens_evicted, 1);
    let events = gateway.drain_events();
    assert!(events
        .iter()
        .any(|e| matches!(e.kind, GatewayEventKind::TokenEvicted { token_seq: 1, .. })));
    assert!(events.iter().any(|e| matches!(
        e.kind,
        GatewayEventKind::Unauthorized {
            reason: AuthFailure::Revoked,
            token_seq: Some(1),
            ..
        }
    )));

    let mut gateway = gateway_with(capped(WhenTokensFull::Refuse));
    genesys_token(&mut gateway, SimTime::ZERO);
    genesys_token(&mut gateway, at_ms(10));
    let refused = gateway.handle(at_ms(20), token_request());
    assert_eq!(refused.status, 400);
    assert_eq!(refused.body_json().unwrap()["error"], "invalid_request");
    assert_eq!(gateway.stats().token_requests_refused, 1);
    assert_eq!(gateway.stats().tokens_issued, 2);
}

fn one_per_minute(early_penalty_ms: Option<u64>) -> GatewayConfig {
    GatewayConfig {
        layers: Layers::OFF,
        limits: Some(vec![LimitRule {
            name: "strict".into(),
            limit: 1,
            early_penalty_ms,
            ..LimitRule::genesys_token_default()
        }]),
        ..GatewayConfig::default()
    }
}

#[test]
fn early_retries_extend_the_lockout_only_when_the_rule_says_so() {
    // (penalty, the times of the requests in seconds, the status each gets)
    let cases: [(Option<u64>, &[u64], &[u16]); 3] = [
        // No penalty: an early retry is refused, and the bucket reopens at 60 s all the same.
        (None, &[0, 1, 2, 60], &[200, 429, 429, 200]),
        // With a penalty, each request refused while locked out adds 10 s: 60 → 70 → 80 → 90 s.
        (
            Some(10_000),
            &[0, 1, 2, 3, 61, 91],
            &[200, 429, 429, 429, 429, 200],
        ),
        // An honest client that waits out its Retry-After meets no penalty.
        (Some(10_000), &[0, 1, 60], &[200, 429, 200]),
    ];
    for (penalty, times_s, expected) in cases {
        let mut gateway = gateway_with(one_per_minute(penalty));
        let token = genesys_token(&mut gateway, SimTime::ZERO);
        let got: Vec<u16> = times_s
            .iter()
            .map(|&s| read(&mut gateway, SimTime::from_secs(s), &token).status)
            .collect();
        assert_eq!(got, expected, "penalty {penalty:?} at {times_s:?}");
    }
    let mut gateway = gateway_with(one_per_minute(Some(10_000)));
    let token = genesys_token(&mut gateway, SimTime::ZERO);
    read(&mut gateway, SimTime::ZERO, &token);
    let first = read(&mut gateway, SimTime::from_secs(1), &token);
    let second = read(&mut gateway, SimTime::from_secs(2), &token);
    assert_eq!(first.header_value("Retry-After"), Some("59"));
    assert_eq!(
        second.header_value("Retry-After"),
        Some("68"),
        "the lockout grew by the penalty"
    );
}

#[test]
fn per_resource_keys_limit_each_resource_apart() {
    let config = GatewayConfig {
        layers: Layers::OFF,
        limits: Some(vec![LimitRule {
            name: "user.write.rate".into(),
            limit: 1,
            key: vec![KeyPart::Resource],
            families: vec!["users.write".into()],
            ..LimitRule::genesys_token_default()
        }]),
        ..GatewayConfig::default()
    };
    let mut gateway = gateway_with(config);
    let token = genesys_token(&mut gateway, SimTime::ZERO);
    let ids: Vec<String> = gateway.directory().ids().take(2).map(str::to_string).collect();
    let patch = |gateway: &mut Gateway, now: SimTime, id: &str, version: u64| {
        let body = format!("{{\"version\": {version}, \"title\": \"t\"}}");
        gateway
            .handle(
                now,
                Request::new("PATCH", &format!("/api/v2/users/{id}"))
                    .bearer(&token)
                    .body(body),
            )
            .status
    };
    assert_eq!(patch(&mut gateway, at_ms(0), &ids[0], 1), 200);
    assert_eq!(
        patch(&mut gateway, at_ms(10), &ids[0], 2),
        429,
        "the same user again"
    );
    assert_eq!(
        patch(&mut gateway, at_ms(20), &ids[1], 1),
        200,
        "another user has its own key"
    );
    let (rule, key, ..) = last_refusal(&mut gateway);
    assert_eq!(
        (rule.as_str(), key),
        ("user.write.rate", format!("resource:{}", ids[0]))
    );
}

#[test]
fn the_configured_limits_can_be_read_as_on_the_platform() {
    let mut gateway = gateway_with(GatewayConfig::default());
    let token = genesys_token(&mut gateway, SimTime::ZERO);
    let all = gateway.handle(
        at_ms(10),
        Request::new("GET", "/api/v2/organizations/limits/namespaces").bearer(&token),
    );
    assert_eq!(all.status, 200);
    let entities = all.body_json().unwrap()["entities"].clone();
    let keys: Vec<(String, String, u64)> = entities
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["key"].as_str().unwrap().into(),
                e["namespace"].as_str().unwrap().into(),
                e["value"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        vec![
            (
                "client.credentials.token.rate.per.minute".into(),
                "platform.api".into(),
                300
            ),
            ("client.rate.per.minute".into(), "platform.api".into(), 300),
            ("oauth.token.rate.per.minute".into(), "authorization".into(), 30),
        ]
    );
    let one = gateway.handle(
        at_ms(20),
        Request::new("GET", "/api/v2/organizations/limits/namespaces/authorization").bearer(&token),
    );
    assert_eq!(one.body_json().unwrap()["entities"].as_array().unwrap().len(), 1);
    let missing = gateway.handle(
        at_ms(30),
        Request::new("GET", "/api/v2/organizations/limits/namespaces/nope").bearer(&token),
    );
    assert_eq!(missing.status, 404);
    let anonymous = gateway.handle(
        at_ms(40),
        Request::new("GET", "/api/v2/organizations/limits/namespaces"),
    );
    assert_eq!(
        anonymous.status, 401,
        "the limits API needs a token like any other"
    );
}

#[test]
fn ietf_headers_carry_one_item_per_layer_that_applied() {
    let config = GatewayConfig {
        headers: herd_gateway::config::HeaderDialect::Ietf,
        layers: Layers {
            client_rate_per_min: 100,
            ..Layers::default()
        },
        ..GatewayConfig::default()
    };
    let mut gateway = gateway_with(config);
    let token = genesys_token(&mut gateway, SimTime::ZERO);
    let response = read(&mut gateway, at_ms(10), &token);
    let pk = |key: &str| STANDARD.encode(key);
    assert_eq!(
        response.header_value("RateLimit-Policy").unwrap(),
        format!(
            "\"client.credentials.token.rate.per.minute\";q=300;qu=\"requests\";w=60;pk=:{}:, \
             \"client.rate.per.minute\";q=100;qu=\"requests\";w=60;pk=:{}:",
            pk("token#1"),
            pk("client:herd-app")
        )
    );
    assert_eq!(
        response.header_value("RateLimit").unwrap(),
        format!(
            "\"client.credentials.token.rate.per.minute\";r=299;t=60;pk=:{}:, \"client.rate.per.minute\";r=99;t=60;pk=:{}:",
            pk("token#1"),
            pk("client:herd-app")
        )
    );
}

#[test]
fn every_default_layer_is_a_documented_setting() {
    let off = GatewayConfig {
        layers: Layers::OFF,
        ..GatewayConfig::default()
    };
    assert!(off.effective_limits().is_empty());
    let org = GatewayConfig {
        layers: Layers {
            org_rate_per_min: 3000,
            ..Layers::default()
        },
        ..GatewayConfig::default()
    };
    let names: Vec<String> = org.effective_limits().into_iter().map(|rule| rule.name).collect();
    assert!(
        names.contains(&"org.user.rate.per.minute".to_string()),
        "{names:?}"
    );
    let bad = GatewayConfig {
        layers: Layers {
            client_rate_per_min: 2_000_000,
            ..Layers::default()
        },
        ..GatewayConfig::default()
    };
    assert_eq!(bad.validate().unwrap_err().field, "layers.client_rate_per_min");
    assert_eq!(
        Algorithm::default(),
        Algorithm::SlidingLog,
        "layers are exact sliding logs"
    );
}
