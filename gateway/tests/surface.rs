//! The platform's surface as real clients meet it: two hosts, creates and cursors, async jobs,
//! items that fail for good, scopes, targeted faults, both Retry-After forms, form-body
//! credentials and idempotency-key reuse.

mod support;

use herd_gateway::config::{
    Fault, GatewayConfig, HostRole, KeyReuse, Layers, LimitRule, PlatformProfile, RetryAfterStyle,
};
use herd_gateway::events::GatewayEventKind;
use herd_gateway::http::Delivery;
use herd_gateway::ledger::WriteOp;
use herd_gateway::{Gateway, Request, Response, SimTime};
use serde_json::{json, Value};
use support::{basic, genesys_token, streams, token_request};

fn gateway_with(config: GatewayConfig) -> Gateway {
    Gateway::new(config, streams(3)).expect("valid config")
}

fn body(response: &Response) -> Value {
    response.body_json().unwrap_or(Value::Null)
}

fn at(s: u64) -> SimTime {
    SimTime::from_secs(s)
}

#[test]
fn the_token_endpoint_lives_on_the_login_host_only() {
    let mut gateway = gateway_with(GatewayConfig::default());
    let on_api = gateway.handle(at(0), token_request().header("Host", "api.mypurecloud.com"));
    assert_eq!(on_api.status, 404, "the API host has no /oauth/token");
    let on_login = gateway.handle(at(0), token_request().header("Host", "login.mypurecloud.com"));
    assert_eq!(on_login.status, 200);
    let token = body(&on_login)["access_token"].as_str().unwrap().to_string();
    let api_on_login = gateway.handle(
        at(1),
        Request::new("GET", "/api/v2/users")
            .header("Host", "login.mypurecloud.com")
            .bearer(&token),
    );
    assert_eq!(api_on_login.status, 404, "the login host serves no API");
    for host in ["api.mypurecloud.com", "127.0.0.1:8080"] {
        let listed = gateway.handle(
            at(1),
            Request::new("GET", "/api/v2/users")
                .header("Host", host)
                .bearer(&token),
        );
        assert_eq!(listed.status, 200, "{host}");
    }
    let on_address = gateway.handle(at(2), token_request().header("Host", "127.0.0.1:8080"));
    assert_eq!(on_address.status, 200, "an address serves both hosts");
    assert_eq!(gateway.stats().wrong_host, 2);
}

#[test]
fn cxone_discovery_names_the_token_endpoint() {
    let mut gateway = gateway_with(GatewayConfig {
        platform: PlatformProfile::Cxone,
        ..GatewayConfig::default()
    });
    let response = gateway.handle(
        at(0),
        Request::new("GET", "/.well-known/openid-configuration").header("Host", "cxone.niceincontact.com"),
    );
    assert_eq!(response.status, 200);
    assert_eq!(
        body(&response)["token_endpoint"],
        "https://cxone.niceincontact.com/auth/token"
    );
}

#[test]
fn genesys_takes_client_credentials_in_the_form_body_unless_told_not_to() {
    let form = || {
        Request::new("POST", "/oauth/token")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials&client_id=herd-app&client_secret=herd-secret")
    };
    let mut gateway = gateway_with(GatewayConfig::default());
    assert_eq!(gateway.handle(at(0), form()).status, 200);
    let mut strict = gateway_with(GatewayConfig {
        body_credentials: false,
        ..GatewayConfig::default()
    });
    assert_eq!(strict.handle(at(0), form()).status, 401);
}

#[test]
fn users_are_created_once_per_email_and_listed_by_cursor() {
    let mut gateway = gateway_with(GatewayConfig::default());
    let token = genesys_token(&mut gateway, at(0));
    let create = |email: &str| {
        Request::new("POST", "/api/v2/users")
            .bearer(&token)
            .body(json!({"name": "New Person", "email": email}).to_string())
    };
    let created = gateway.handle(at(1), create("new.person@herd.example"));
    assert_eq!(created.status, 200, "{:?}", body(&created));
    assert_eq!(body(&created)["email"], "new.person@herd.example");
    let again = gateway.handle(at(2), create("New.Person@herd.example"));
    assert_eq!(again.status, 409, "a duplicate email, whatever its case");
    let taken = gateway.handle(at(2), create("user.00003@herd.example"));
    assert_eq!(taken.status, 409, "a seeded user's email");
    let invalid = gateway.handle(at(2), create("not-an-address"));
    assert_eq!(invalid.status, 400);
    assert_eq!(
        gateway
            .ledger()
            .applied(WriteOp::CreateUser, "new.person@herd.example"),
        1
    );

    // 101 users now: pages of 40 by cursor, then no cursor on the last page.
    let mut target = "/api/v2/users/query?pageSize=40".to_string();
    let mut seen = Vec::new();
    for page in 0.. {
        assert!(page < 5, "paging ends");
        let response = gateway.handle(at(3), Request::new("GET", &target).bearer(&token));
        assert_eq!(response.status, 200);
        let page_body = body(&response);
        seen.extend(
            page_body["entities"]
                .as_array()
                .unwrap()
                .iter()
                .map(|user| user["id"].as_str().unwrap().to_string()),
        );
        match page_body.get("cursor").and_then(Value::as_str) {
            Some(cursor) => {
                assert_eq!(
                    page_body["nextUri"],
                    format!("/api/v2/users/query?pageSize=40&cursor={cursor}")
                );
                target = page_body["nextUri"].as_str().unwrap().to_string();
            }
            None => break,
        }
    }
    let unique: std::collections::BTreeSet<&String> = seen.iter().collect();
    assert_eq!((seen.len(), unique.len()), (101, 101));
    let forged = gateway.handle(
        at(3),
        Request::new("GET", "/api/v2/users/query?cursor=40").bearer(&token),
    );
    assert_eq!(forged.status, 400, "a cursor is opaque");
}

#[test]
fn an_analytics_job_is_queued_then_fulfilled_and_paged_by_cursor() {
    let mut gateway = gateway_with(GatewayConfig::default());
    let token = genesys_token(&mut gateway, at(0));
    let submitted = gateway.handle(
        at(10),
        Request::new("POST", "/api/v2/analytics/conversations/details/jobs")
            .bearer(&token)
            .body(r#"{"interval":"2026-01-01T00:00:00Z/2026-01-02T00:00:00Z"}"#),
    );
    assert_eq!(submitted.status, 202);
    let job = body(&submitted)["jobId"].as_str().unwrap().to_string();
    let status = |gateway: &mut Gateway, s: u64| {
        let response = gateway.handle(
            at(s),
            Request::new(
                "GET",
                &format!("/api/v2/analytics/conversations/details/jobs/{job}"),
            )
            .bearer(&token),
        );
        body(&response)["state"].as_str().unwrap_or("").to_string()
    };
    assert_eq!(status(&mut gateway, 11), "QUEUED");
    assert_eq!(status(&mut gateway, 21), "PENDING");
    let early = gateway.handle(
        at(21),
        Request::new(
            "GET",
            &format!("/api/v2/analytics/conversations/details/jobs/{job}/results"),
        )
        .bearer(&token),
    );
    assert_eq!(early.status, 400, "results only once fulfilled");
    assert_eq!(status(&mut gateway, 30), "FULFILLED");
    let mut cursor: Option<String> = None;
    let mut conversations = 0;
    loop {
        let target = match &cursor {
            Some(cursor) => {
                format!(
                    "/api/v2/analytics/conversations/details/jobs/{job}/results?pageSize=100&cursor={cursor}"
                )
            }
            None => format!("/api/v2/analytics/conversations/details/jobs/{job}/results?pageSize=100"),
        };
        let page = gateway.handle(at(31), Request::new("GET", &target).bearer(&token));
        assert_eq!(page.status, 200);
        let page = body(&page);
        conversations += page["conversations"].as_array().unwrap().len();
        match page.get("cursor").and_then(Value::as_str) {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(conversations, 250);
    let polls = gateway
        .drain_events()
        .iter()
        .filter(
            |event| matches!(&event.kind, GatewayEventKind::Admitted { family, .. } if *family == "analytics"),
        )
        .count();
    assert!(
        polls >= 7,
        "polling and paging spend quota like any request ({polls})"
    );
}

#[test]
fn a_missing_scope_is_403_and_spends_no_quota() {
    let mut config = GatewayConfig::default();
    config.clients[0].scopes = Some(vec!["users:readonly".into()]);
    config.limits = Some(vec![LimitRule {
        limit: 1,
        ..LimitRule::genesys_token_default()
    }]);
    config.layers = Layers::OFF;
    let mut gateway = gateway_with(config);
    let token = genesys_token(&mut gateway, at(0));
    let write = gateway.handle(
        at(1),
        Request::new("PATCH", "/api/v2/users/6a1f0000-0000-4000-8000-000000000001")
            .bearer(&token)
            .body(r#"{"version":1,"name":"x"}"#),
    );
    assert_eq!(write.status, 403);
    assert_eq!(body(&write)["code"], "missing.any.scopes");
    let read = gateway.handle(at(1), Request::new("GET", "/api/v2/users").bearer(&token));
    assert_eq!(read.status, 200, "the 403 spent none of the one admission");
    assert_eq!(gateway.stats().forbidden, 1);
}

#[test]
fn retry_after_comes_as_seconds_a_date_or_not_at_all() {
    let styled = |style: RetryAfterStyle| {
        let config = GatewayConfig {
            layers: Layers::OFF,
            limits: Some(vec![LimitRule {
                limit: 1,
                retry_after: style,
                ..LimitRule::genesys_token_default()
            }]),
            ..GatewayConfig::default()
        };
        let mut gateway = gateway_with(config);
        let token = genesys_token(&mut gateway, at(0));
        let list = |gateway: &mut Gateway, now: SimTime| {
            gateway.handle(now, Request::new("GET", "/api/v2/users").bearer(&token))
        };
        assert_eq!(list(&mut gateway, SimTime::from_millis(10_500)).status, 200);
        let refused = list(&mut gateway, SimTime::from_millis(20_250));
        assert_eq!(refused.status, 429);
        refused.header_value("Retry-After").map(str::to_string)
    };
    // The window reopens at 70.5 s: 50.25 s after the refusal, 51 s rounded up.
    assert_eq!(styled(RetryAfterStyle::Seconds).as_deref(), Some("51"));
    // Epoch 2026-01-01T00:00:00Z; 20.25 s + 51 s, rounded up to the next second.
    assert_eq!(
        styled(RetryAfterStyle::Date).as_deref(),
        Some("Thu, 01 Jan 2026 00:01:12 GMT")
    );
    assert_eq!(styled(RetryAfterStyle::Missing), None);
}

#[test]
fn maintenance_and_5xx_carry_retry_after_and_faults_hit_only_their_targets() {
    let config = GatewayConfig {
        faults: vec![
            Fault::Maintenance {
                from_s: 100,
                until_s: Some(200),
                retry_after_s: Some(60),
                retry_after: RetryAfterStyle::Date,
                families: Vec::new(),
                host: Some(HostRole::Login),
            },
            Fault::ServerErrors {
                from_s: 0,
                until_s: Some(100),
                rate: 1.0,
                status: 503,
                html: false,
                retry_after_s: Some(5),
                retry_after: RetryAfterStyle::Seconds,
                families: vec!["users.write".into()],
                host: None,
            },
        ],
        ..GatewayConfig::default()
    };
    let mut gateway = gateway_with(config);
    let token = genesys_token(&mut gateway, at(0));
    let read = gateway.handle(at(1), Request::new("GET", "/api/v2/users").bearer(&token));
    assert_eq!(read.status, 200, "the burst hits writes only");
    let write = gateway.handle(
        at(1),
        Request::new("PATCH", "/api/v2/users/6a1f0000-0000-4000-8000-000000000001")
            .bearer(&token)
            .body(r#"{"version":1,"name":"x"}"#),
    );
    assert_eq!(
        (write.status, write.header_value("Retry-After")),
        (503, Some("5"))
    );
    let login_down = gateway.handle(at(150), token_request());
    assert_eq!(login_down.status, 503);
    assert_eq!(
        login_down.header_value("Retry-After"),
        Some("Thu, 01 Jan 2026 00:03:30 GMT")
    );
    let api_up = gateway.handle(at(150), Request::new("GET", "/api/v2/users").bearer(&token));
    assert_eq!(api_up.status, 200, "the login host's window spares the API");
}

#[test]
fn a_hang_never_answers_and_bulk_takes_time_per_item() {
    let config = GatewayConfig {
        faults: vec![Fault::Hang {
            from_s: 0,
            until_s: None,
            rate: 1.0,
            families: vec!["users.read".into()],
            host: None,
        }],
        ..GatewayConfig::default()
    };
    let mut gateway = gateway_with(config);
    let token = genesys_token(&mut gateway, at(0));
    let hung = gateway.handle(at(1), Request::new("GET", "/api/v2/users").bearer(&token));
    assert_eq!(hung.delivery, Delivery::Hang);
    let items: Vec<Value> = (1..=20)
        .map(|n| json!({"id": format!("6a1f0000-0000-4000-8000-{n:012x}"), "version": 1, "title": "t"}))
        .collect();
    let bulk = gateway.handle(
        at(2),
        Request::new("PATCH", "/api/v2/users/bulk")
            .bearer(&token)
            .body(Value::Array(items).to_string()),
    );
    assert_eq!(bulk.status, 200);
    assert_eq!(bulk.delivery, Delivery::DelayedMs(200), "20 items at 10 ms each");
}

#[test]
fn items_that_fail_for_good_fail_alone_inside_a_bulk() {
    let mut gateway = gateway_with(GatewayConfig::default());
    let token = genesys_token(&mut gateway, at(0));
    let items = json!([
        {"id": "6a1f0000-0000-4000-8000-000000000001", "version": 1, "title": "ok"},
        {"id": "6a1f0000-0000-4000-8000-ffffffffffff", "version": 1, "title": "missing"},
        {"id": "6a1f0000-0000-4000-8000-000000000002", "version": 1, "state": "sideways"},
    ]);
    let bulk = gateway.handle(
        at(1),
        Request::new("PATCH", "/api/v2/users/bulk")
            .bearer(&token)
            .body(items.to_string()),
    );
    let results = body(&bulk)["results"].clone();
    let statuses: Vec<u64> = results
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [200, 404, 400]);
    assert_eq!(body(&bulk)["errorIndexes"], json!([1, 2]));
}

#[test]
fn a_reused_idempotency_key_is_refused_or_replayed_as_configured() {
    let create = |token: &str, form: &str| {
        Request::new("POST", "/api/v2/quality/conversations/c1/evaluations")
            .bearer(token)
            .header("Idempotency-Key", "6b2f3a4e-0000-4000-8000-000000000001")
            .body(json!({"evaluationForm": {"id": form}}).to_string())
    };
    for (reuse, second_status) in [(KeyReuse::Reject, 422), (KeyReuse::Replay, 200)] {
        let mut config = GatewayConfig::default();
        config.data.idempotency_reuse = reuse;
        let mut gateway = gateway_with(config);
        let token = genesys_token(&mut gateway, at(0));
        assert_eq!(gateway.handle(at(1), create(&token, "a")).status, 200);
        let second = gateway.handle(at(2), create(&token, "b"));
        assert_eq!(second.status, second_status, "{reuse:?}");
        assert_eq!(gateway.ledger().applied(WriteOp::CreateEvaluation, "c1"), 1);
    }
}

#[test]
fn cxone_shapes_follow_the_secondary_evidence() {
    let mut gateway = gateway_with(GatewayConfig {
        platform: PlatformProfile::Cxone,
        ..GatewayConfig::default()
    });
    let granted = gateway.handle(
        at(0),
        Request::new("POST", "/auth/token")
            .header("Authorization", &basic("herd-app", "herd-secret"))
            .body("grant_type=password&username=herd-key&password=herd-key-secret"),
    );
    let token = body(&granted)["access_token"].as_str().unwrap().to_string();
    let one = gateway.handle(
        at(1),
        Request::new("GET", "/inContactAPI/services/v31.0/agents/100001").bearer(&token),
    );
    assert_eq!(body(&one)["agents"][0]["agentId"], 100_001);
    let put = gateway.handle(
        at(1),
        Request::new("PUT", "/inContactAPI/services/v31.0/agents/100001")
            .bearer(&token)
            .body(r#"{"agent":{"agentId":"100001","lastName":"Herd"}}"#),
    );
    assert_eq!(put.status, 200);
    let one = gateway.handle(
        at(2),
        Request::new("GET", "/inContactAPI/services/v31.0/agents/100001").bearer(&token),
    );
    assert_eq!(body(&one)["agents"][0]["lastName"], "Herd");
    let list = gateway.handle(
        at(61),
        Request::new("GET", "/inContactAPI/services/v31.0/agents?top=1").bearer(&token),
    );
    assert_eq!(body(&list)["lastPollTime"], "2026-01-01T00:01:01.000Z");
}

#[test]
fn users_are_listed_by_id_in_the_order_asked_and_the_missing_left_out() {
    let mut gateway = gateway_with(GatewayConfig::default());
    let token = genesys_token(&mut gateway, at(0));
    let id = |n: u64| herd_gateway::directory::Directory::id_for(PlatformProfile::Genesys, n);
    let target = format!("/api/v2/users?id={}&id[]={}&id={}", id(7), id(3), id(1_000_000));
    let listed = gateway.handle(at(1), Request::new("GET", &target).bearer(&token));
    assert_eq!(listed.status, 200);
    let ids: Vec<String> = body(&listed)["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, vec![id(7), id(3)]);
    let many: Vec<String> = (0..101).map(|n| format!("id={}", id(n))).collect();
    let refused = gateway.handle(
        at(1),
        Request::new("GET", &format!("/api/v2/users?{}", many.join("&"))).bearer(&token),
    );
    assert_eq!(refused.status, 400, "at most 100 ids");
}
