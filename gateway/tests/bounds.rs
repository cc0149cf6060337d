//! Every kind of state a long-lived gateway keeps is bounded, whatever clients send: tokens,
//! refresh tokens, idempotency keys, the fields stored on a user, the ledger.

mod support;

use herd_gateway::config::{GatewayConfig, Layers};
use herd_gateway::directory::{FIELD_BYTES_MAX, USER_FIELDS_MAX};
use herd_gateway::oauth::REVOKED_REMEMBERED_MAX;
use herd_gateway::{Gateway, Request, SimTime};
use serde_json::{json, Map, Value};
use support::{genesys_token, streams, token_request};

fn unlimited() -> GatewayConfig {
    GatewayConfig {
        layers: Layers::OFF,
        ..GatewayConfig::default()
    }
}

fn at_ms(ms: u64) -> SimTime {
    SimTime::from_micros(ms * 1_000)
}

#[test]
fn a_token_per_request_keeps_at_most_the_live_cap_plus_the_remembered_revoked() {
    let mut gateway = Gateway::new(unlimited(), streams(1)).unwrap();
    let requests = REVOKED_REMEMBERED_MAX as u64 * 3;
    for n in 0..requests {
        assert_eq!(gateway.handle(at_ms(n), token_request()).status, 200);
    }
    assert_eq!(gateway.stats().tokens_issued, requests);
    let cap = GatewayConfig::default().tokens.live_max_per_client as usize;
    assert!(
        gateway.state_size() <= cap + REVOKED_REMEMBERED_MAX + 16,
        "{} held after {requests} token requests",
        gateway.state_size()
    );
}

#[test]
fn idempotency_keys_are_capped_oldest_first() {
    let mut gateway = Gateway::new(unlimited(), streams(2)).unwrap();
    let token = genesys_token(&mut gateway, SimTime::ZERO);
    let creates = herd_gateway_idempotency_max() + 500;
    for n in 0..creates {
        let key = format!("00000000-0000-4000-8000-{n:012x}");
        let response = gateway.handle(
            at_ms(n as u64),
            Request::new("POST", &format!("/api/v2/quality/conversations/c{n}/evaluations"))
                .bearer(&token)
                .header("Idempotency-Key", &key)
                .body(r#"{"evaluator":"x"}"#),
        );
        assert_eq!(response.status, 200);
    }
    assert!(
        gateway.state_size() <= herd_gateway_idempotency_max() + 64,
        "{}",
        gateway.state_size()
    );
}

fn herd_gateway_idempotency_max() -> usize {
    herd_gateway::idempotency::IDEMPOTENCY_KEYS_MAX
}

fn patch(gateway: &mut Gateway, token: &str, t_ms: u64, fields: Map<String, Value>) -> u16 {
    let id = "6a1f0000-0000-4000-8000-000000000001";
    let current = gateway.handle(
        at_ms(t_ms),
        Request::new("GET", &format!("/api/v2/users/{id}")).bearer(token),
    );
    let version = current.body_json().unwrap()["version"].as_u64().unwrap();
    let mut body = fields;
    body.insert("version".into(), json!(version));
    gateway
        .handle(
            at_ms(t_ms + 1),
            Request::new("PATCH", &format!("/api/v2/users/{id}"))
                .bearer(token)
                .body(Value::Object(body).to_string()),
        )
        .status
}

#[test]
fn a_user_holds_a_bounded_number_of_bounded_fields() {
    let mut gateway = Gateway::new(unlimited(), streams(3)).unwrap();
    let token = genesys_token(&mut gateway, SimTime::ZERO);
    let many: Map<String, Value> = (0..=USER_FIELDS_MAX)
        .map(|n| (format!("f{n}"), json!(n)))
        .collect();
    assert_eq!(
        patch(&mut gateway, &token, 10, many),
        400,
        "too many fields at once"
    );
    for n in 0..USER_FIELDS_MAX {
        let one: Map<String, Value> = [(format!("f{n}"), json!(n))].into_iter().collect();
        assert_eq!(patch(&mut gateway, &token, 100 + n as u64 * 10, one), 200);
    }
    let another: Map<String, Value> = [("one.more".to_string(), json!(1))].into_iter().collect();
    assert_eq!(
        patch(&mut gateway, &token, 10_000, another),
        400,
        "a new field beyond the cap"
    );
    let known: Map<String, Value> = [("f0".to_string(), json!("changed"))].into_iter().collect();
    assert_eq!(
        patch(&mut gateway, &token, 10_100, known),
        200,
        "a stored field can still change"
    );
    let huge: Map<String, Value> = [("f1".to_string(), json!("x".repeat(FIELD_BYTES_MAX)))]
        .into_iter()
        .collect();
    assert_eq!(
        patch(&mut gateway, &token, 10_200, huge),
        400,
        "a value over the size bound"
    );
}

#[test]
fn a_bounded_ledger_forgets_the_oldest_keys_and_writes() {
    use herd_gateway::ledger::{Ledger, Write, WriteOp};
    let mut ledger = Ledger::bounded(100);
    for n in 0..1_000u64 {
        for _ in 0..2 {
            ledger.record(Write {
                at: SimTime::ZERO,
                request: n,
                op: WriteOp::CreateEvaluation,
                key: format!("c{n}"),
                version: None,
            });
        }
    }
    assert!(ledger.writes().len() <= 200);
    assert_eq!(ledger.distinct_keys(WriteOp::CreateEvaluation), 100);
    assert_eq!(ledger.duplicate_creates(), 100, "exact among the keys it keeps");
    assert_eq!(ledger.applied(WriteOp::CreateEvaluation, "c999"), 2);
    assert_eq!(ledger.applied(WriteOp::CreateEvaluation, "c0"), 0, "forgotten");
}
