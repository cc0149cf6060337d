//! Whole runs against the platform's wider surface: herdsim's client against items that fail for
//! good, missing scopes, async jobs and a crash, natural-key creates through lost responses,
//! hung responses, an outage of the login host at token expiry, a 5xx burst on one family, and
//! skewed clocks against HTTP-date Retry-Afters.

use herd_client::events::EventKind;
use herd_client::Outcome;
use herd_gateway::events::GatewayEventKind;
use herd_gateway::ledger::WriteOp;
use herd_sim::run;
use herd_sim::scenario::{library, Scenario};
use herd_sim::trace::{NetworkAction, Record};
use herd_sim::world::{self, RunEnd, WorldOutput};

fn scenario(text: &str) -> Scenario {
    Scenario::parse("test.toml", text, &[]).unwrap_or_else(|error| panic!("{error}"))
}

fn simulate(scenario: &Scenario) -> WorldOutput {
    let output = world::simulate(scenario, 1, &mut |_| {});
    assert_eq!(output.end, RunEnd::Completed, "{:?}", output.error);
    output
}

fn client_events(output: &WorldOutput) -> impl Iterator<Item = (herd_gateway::SimTime, &EventKind)> {
    output.trace.records().iter().filter_map(|record| match record {
        Record::Client { at, event, .. } => Some((*at, &event.kind)),
        _ => None,
    })
}

fn gateway_events(output: &WorldOutput) -> impl Iterator<Item = &GatewayEventKind> {
    output.trace.records().iter().filter_map(|record| match record {
        Record::Gateway(event) => Some(&event.kind),
        _ => None,
    })
}

#[test]
fn a_missing_scope_is_a_final_answer_never_a_refresh_or_a_retry() {
    let output = simulate(&scenario(
        r#"
name = "scopes"
description = "an OAuth client without the users scope updates users"
duration_s = 600
[gateway]
platform = "genesys"
[[gateway.clients]]
id = "herd-app"
secret = "herd-secret"
scopes = ["users:readonly"]
[instances]
workers = 4
[workload]
kind = "update"
operations = 20
"#,
    ));
    assert_eq!(output.outcomes.len(), 20);
    for item in output.plan.iter().flatten().flatten() {
        let record = output.outcomes.of(item).expect("every item has an outcome");
        assert_eq!(
            (record.outcome, record.attempts),
            (Outcome::Failed, 1),
            "{}",
            item.id
        );
    }
    assert_eq!(output.gateway_stats.forbidden, 20);
    assert_eq!(
        output.gateway_stats.tokens_issued, 1,
        "a 403 is not a 401: no refresh"
    );
}

#[test]
fn analytics_jobs_resume_polling_after_a_crash_instead_of_resubmitting() {
    let output = simulate(&scenario(
        r#"
name = "jobs"
description = "analytics jobs, the instance crashes while they run"
duration_s = 900
[gateway]
platform = "genesys"
[gateway.data]
job_duration_s = 60
[instances]
workers = 4
[network]
crashes = [{ instance = 0, at_s = 20, restart_after_s = 5 }]
[workload]
kind = "analytics_jobs"
jobs = 8
"#,
    ));
    assert!(output
        .outcomes
        .records()
        .all(|record| record.outcome == Outcome::Ok));
    let submitted: Vec<u64> = output
        .plan
        .iter()
        .flatten()
        .flatten()
        .map(|item| {
            let (op, key) = item
                .kind
                .write(herd_gateway::config::PlatformProfile::Genesys)
                .unwrap();
            assert_eq!(op, WriteOp::SubmitJob);
            output.ledger.applied(op, &key)
        })
        .collect();
    assert_eq!(
        submitted,
        vec![1; 8],
        "one submit per job, the crash notwithstanding"
    );
    let crashed_at = output
        .trace
        .records()
        .iter()
        .find_map(|record| match record {
            Record::Network {
                at,
                action: NetworkAction::Crash,
                ..
            } => Some(*at),
            _ => None,
        })
        .expect("the crash happened");
    let polls_after = client_events(&output)
        .filter(|(at, kind)| *at > crashed_at && matches!(kind, EventKind::Attempt { .. }))
        .count();
    assert!(
        polls_after > 8,
        "the restarted instance went on polling ({polls_after})"
    );
    let pages = output
        .trace
        .records()
        .iter()
        .filter(|record| {
            matches!(record, Record::Client { event, .. }
                if event.op.contains("#page") && matches!(event.kind, EventKind::Attempt { .. }))
        })
        .count();
    assert_eq!(pages, 8 * 3, "250 conversations in pages of 100, per job");
}

#[test]
fn users_are_created_once_through_lost_responses() {
    let output = simulate(&scenario(
        r#"
name = "users"
description = "create users while responses get lost"
duration_s = 600
[gateway]
platform = "genesys"
[[gateway.faults]]
kind = "lost_response"
rate = 0.3
[instances]
workers = 4
[workload]
kind = "create_users"
operations = 40
"#,
    ));
    let conflicts = client_events(&output)
        .filter(|(_, kind)| matches!(kind, EventKind::Response { status: 409, .. }))
        .count();
    assert!(
        conflicts > 0,
        "some retries met the user their lost attempt created"
    );
    assert!(output
        .outcomes
        .records()
        .all(|record| record.outcome == Outcome::Ok));
    assert_eq!(output.ledger.duplicate_creates(), 0);
    assert_eq!(output.ledger.writes().len(), 40);
}

#[test]
fn a_hung_response_costs_one_attempt_timeout_and_the_retry_succeeds() {
    let output = simulate(&scenario(
        r#"
name = "hang"
description = "a fifth of the reads hang"
duration_s = 600
[gateway]
platform = "genesys"
[[gateway.faults]]
kind = "hang"
rate = 0.2
families = ["users.read"]
[instances]
workers = 4
[client]
attempt_timeout_ms = 2000
[workload]
kind = "read"
operations = 40
"#,
    ));
    assert!(output
        .outcomes
        .records()
        .all(|record| record.outcome == Outcome::Ok));
    let timeouts = client_events(&output)
        .filter(|(_, kind)| {
            matches!(
                kind,
                EventKind::TransportFailed {
                    error: herd_client::transport::TransportError::Timeout,
                    ..
                }
            )
        })
        .count();
    assert!(timeouts > 0, "hung attempts time out");
}

#[test]
fn a_login_outage_at_token_expiry_is_ridden_out_by_refreshing_ahead() {
    for mode in ["turmoil", "fast"] {
        let output = simulate(&scenario(&format!(
            r#"
name = "login-outage"
description = "the login host is down when the first token expires"
duration_s = 1200
[gateway]
platform = "genesys"
[[gateway.clients]]
id = "herd-app"
secret = "herd-secret"
token_ttl_s = 300
[[gateway.limits]]
name = "slow"
limit = 6
key = ["client"]
[[gateway.faults]]
kind = "maintenance"
from_s = 270
until_s = 420
retry_after_s = 30
host = "login"
[network]
mode = "{mode}"
[instances]
workers = 2
[workload]
kind = "read"
operations = 60
"#
        )));
        assert!(
            output
                .outcomes
                .records()
                .all(|record| record.outcome == Outcome::Ok),
            "{mode}"
        );
        let refused = gateway_events(&output)
            .filter(|kind| matches!(kind, GatewayEventKind::Unauthorized { .. }))
            .count();
        assert_eq!(
            refused, 0,
            "{mode}: refreshed before the outage, no request met an expired token"
        );
        let token_503s = gateway_events(&output)
            .filter(|kind| matches!(kind, GatewayEventKind::Fault { family, .. } if *family == "oauth"))
            .count();
        assert_eq!(token_503s, 0, "{mode}: no token request went into the window");
        assert_eq!(
            output.gateway_stats.token_requests_on_login_host, output.gateway_stats.tokens_issued,
            "{mode}: every token came from the login host, by name"
        );
    }
}

#[test]
fn a_5xx_burst_on_writes_spares_the_reads() {
    let output = simulate(&scenario(
        r#"
name = "write-burst"
description = "writes fail for a minute; reads do not"
duration_s = 900
[gateway]
platform = "genesys"
[[gateway.faults]]
kind = "server_errors"
rate = 1.0
status = 503
retry_after_s = 5
until_s = 20
families = ["users.write"]
[instances]
workers = 4
[workload]
kind = "mixed"
reads = 40
updates = 40
"#,
    ));
    assert!(output
        .outcomes
        .records()
        .all(|record| record.outcome == Outcome::Ok));
    for item in output
        .plan
        .iter()
        .flatten()
        .flatten()
        .filter(|item| item.id.starts_with("read-"))
    {
        let record = output.outcomes.of(item).expect("every item has an outcome");
        assert_eq!(
            record.attempts, 1,
            "{}: reads never met the writes' burst or breaker",
            item.id
        );
    }
    let read_breaker_opened = client_events(&output).any(|(_, kind)| {
        matches!(kind, EventKind::BreakerTransition { family, to: herd_client::policy::breaker::BreakerState::Open, .. } if &**family == "users.read")
    });
    assert!(!read_breaker_opened);
}

#[test]
fn skewed_clocks_make_a_local_reading_of_an_http_date_early_and_herdsim_is_not() {
    let shipped = library::find("clock-skew").expect("shipped");
    let sends = |preset: &str| {
        let scenario = shipped
            .load(&[
                format!("preset={preset}"),
                "workload.operations=60".into(),
                "instances.workers=10".into(),
                "gateway.limits[0].limit=20".into(),
            ])
            .unwrap();
        run::run(&scenario, 1, &mut |_| {}).metrics
    };
    let herdsim = sends("herdsim");
    assert_eq!(herdsim.sends_before_retry_after, 0);
    assert_eq!(herdsim.ok, herdsim.items);
    let python = sends("genesys-python");
    assert!(
        python.sends_before_retry_after > 20,
        "urllib3 reads the date against its own clock, 20 s and more ahead: {}",
        python.sends_before_retry_after
    );
}

#[test]
fn a_jwt_is_judged_by_the_platforms_clock_not_a_skewed_local_one() {
    // CXone tokens are JWTs that live an hour; the instance's clock runs two hours ahead. Read
    // against the local clock, every token would look expired on arrival.
    let output = simulate(&scenario(
        r#"
name = "jwt-skew"
description = "a JWT read on a clock two hours fast"
duration_s = 900
[gateway]
platform = "cxone"
[instances]
workers = 4
clock_offset_ms = 7200000
[workload]
kind = "read"
operations = 40
"#,
    ));
    assert!(output
        .outcomes
        .records()
        .all(|record| record.outcome == Outcome::Ok));
    assert_eq!(
        output.gateway_stats.tokens_issued, 1,
        "one token, kept for its hour"
    );
}
