//! The trace's canonical lines: the direct encoder of the common events writes exactly what
//! serde writes, byte for byte, so that trace hashes mean the same whichever path wrote a line.
//! Compared on every record of every shipped scenario (small, fast mode) under presets that
//! retry, give up and fail in different ways, and on strings that need escaping.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use herd_client::events::{ClientEvent, EventKind};
use herd_gateway::events::{GatewayEvent, GatewayEventKind};
use herd_gateway::SimTime;
use herd_sim::run;
use herd_sim::scenario::library;
use herd_sim::trace::Record;

/// The event's name in its line, for counting which kinds were compared.
fn kind_of(line: &[u8]) -> String {
    let value: serde_json::Value = serde_json::from_slice(line).expect("a JSON line");
    format!(
        "{}:{}",
        value["src"]
            .as_str()
            .unwrap_or("")
            .split('-')
            .next()
            .unwrap_or(""),
        value["event"].as_str().unwrap_or("")
    )
}

fn check(record: &Record, compared: &mut BTreeMap<String, u64>) {
    let (mut direct, mut reference) = (Vec::new(), Vec::new());
    record.write_line(&mut direct);
    record.write_line_serde(&mut reference);
    assert_eq!(
        String::from_utf8_lossy(&direct),
        String::from_utf8_lossy(&reference),
        "the direct line is serde's"
    );
    *compared.entry(kind_of(&reference)).or_default() += 1;
}

#[test]
fn direct_lines_are_serdes_on_every_shipped_scenario() {
    let presets = [
        "herdsim",
        "tutorial",
        "tenacity",
        "genesys-javascript",
        "cxone-agent-sdk",
    ];
    let mut compared: BTreeMap<String, u64> = BTreeMap::new();
    for shipped in library::shipped() {
        for preset in presets {
            let plain = shipped.load(&[]).expect("a shipped scenario loads");
            let mut overrides = plain.small.clone();
            overrides.push("network.mode=\"fast\"".into());
            overrides.push(format!("preset=\"{preset}\""));
            let scenario = shipped.load(&overrides).expect("it loads with a preset");
            let run = run::run(&scenario, scenario.seed, &mut |_| {});
            for record in run.trace.records() {
                check(record, &mut compared);
            }
        }
    }
    // Every event the direct encoder writes was compared, and so were events it leaves to serde.
    for kind in [
        "client:queued",
        "client:paced",
        "client:attempt",
        "client:response",
        "client:retry",
        "client:done",
        "gateway:admitted",
        "gateway:rate_limited",
        "client:token_request",
        "gateway:token_issued",
    ] {
        assert!(
            compared.get(kind).copied().unwrap_or(0) > 0,
            "no {kind} line was compared: {compared:?}"
        );
    }
}

#[test]
fn direct_lines_escape_as_serde_does() {
    let texts = [
        "",
        "plain",
        "quote \" and backslash \\",
        "control \u{1} \n \t",
        "del \u{7f}",
        "é and 日本",
        "</script>",
    ];
    let mut compared = BTreeMap::new();
    for text in texts {
        let shared: Arc<str> = Arc::from(text);
        let client = |kind: EventKind| Record::Client {
            at: SimTime::from_micros(1_234_567),
            instance: 3,
            event: ClientEvent {
                at: Duration::from_micros(7),
                worker: 42,
                op: shared.clone(),
                kind,
            },
        };
        check(
            &client(EventKind::Attempt {
                attempt: 2,
                method: shared.clone(),
                path: shared.clone(),
                family: shared.clone(),
                token_generation: u64::MAX,
            }),
            &mut compared,
        );
        check(
            &client(EventKind::Response {
                attempt: 1,
                status: 429,
                latency_ms: 0,
                retry_after_ms: None,
                retry_after: Some(text.to_string()),
                correlation_id: Some(text.to_string()),
            }),
            &mut compared,
        );
        check(
            &Record::Gateway(GatewayEvent {
                at: SimTime::from_micros(0),
                request: 9,
                kind: GatewayEventKind::RateLimited {
                    family: "users.read",
                    token_seq: 1,
                    rule: text.to_string(),
                    key: text.to_string(),
                    count: 0,
                    limit: 1,
                    wait_ms: 2,
                    retry_after_s: Some(3),
                },
            }),
            &mut compared,
        );
    }
    assert_eq!(compared.values().sum::<u64>(), 3 * texts.len() as u64);
}
