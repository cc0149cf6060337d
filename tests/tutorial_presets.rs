//! Each tutorial preset reproduces its documented bug in a run, and herdsim's own policy does
//! not: waits below the Retry-After, a Retry-After cut to 30 s, permanent 4xx retried, paced
//! waits that are never slept, a breaker that never opens.

use herd_client::events::EventKind;
use herd_sim::run::Run;
use herd_sim::scenario::library;
use herd_sim::trace::Record;

fn run(name: &str, preset: &str, extra: &[&str]) -> Run {
    let shipped = library::find(name).expect("shipped");
    let mut overrides = shipped.load(&[]).expect("loads").small;
    overrides.push("network.mode=\"fast\"".into());
    overrides.push(format!("preset=\"{preset}\""));
    overrides.extend(extra.iter().map(ToString::to_string));
    let scenario = shipped.load(&overrides).expect("loads");
    herd_sim::run::run(&scenario, scenario.seed, &mut |_| {})
}

/// Every retry's (delay, Retry-After) in ms.
fn retries(run: &Run) -> Vec<(u64, Option<u64>)> {
    run.trace
        .records()
        .iter()
        .filter_map(|record| match record {
            Record::Client { event, .. } => match &event.kind {
                EventKind::Retry {
                    delay_ms,
                    retry_after_ms,
                    ..
                } => Some((*delay_ms, *retry_after_ms)),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

#[test]
fn full_jitter_over_the_floor_waits_less_than_the_retry_after() {
    let below = |run: &Run| {
        retries(run)
            .iter()
            .filter(|(delay, retry_after)| retry_after.is_some_and(|ra| *delay < ra))
            .count()
    };
    let tutorial = run("thundering-herd", "tutorial-full-jitter", &[]);
    assert!(
        below(&tutorial) > 10,
        "{} retries below their Retry-After",
        below(&tutorial)
    );
    assert!(tutorial.metrics.sends_before_retry_after > 0);
    assert_eq!(below(&run("thundering-herd", "herdsim", &[])), 0);
}

#[test]
fn a_capped_backoff_cuts_a_longer_retry_after_short() {
    let tutorial = run(
        "thundering-herd",
        "tutorial-capped-backoff",
        &[
            "gateway.layers.token_rate_per_min=10",
            "gateway.layers.client_rate_per_min=10",
        ],
    );
    let cut = retries(&tutorial)
        .iter()
        .filter(|(delay, retry_after)| retry_after.is_some_and(|ra| ra > 30_000) && *delay == 30_000)
        .count();
    assert!(
        cut > 0,
        "a Retry-After over 30 s waited exactly 30 s: {:?}",
        &retries(&tutorial)[..5.min(retries(&tutorial).len())]
    );
}

#[test]
fn tenacity_retries_permanent_errors_five_times() {
    // Limits far above the load: every error is a 404.
    let extra = [
        "bad_items.missing_pct=20",
        "gateway.layers.token_rate_per_min=100000",
        "gateway.layers.client_rate_per_min=100000",
    ];
    let tenacity = run("thundering-herd", "tenacity", &extra);
    let own = run("thundering-herd", "herdsim", &extra);
    let responses_404 = |run: &Run| {
        run.trace
            .records()
            .iter()
            .filter(|record| {
                matches!(record, Record::Client { event, .. }
                    if matches!(event.kind, EventKind::Response { status: 404, .. }))
            })
            .count() as u64
    };
    assert!(own.metrics.failed > 0, "some items are missing users");
    assert_eq!(
        responses_404(&own),
        own.metrics.failed,
        "herdsim asks once for a missing user"
    );
    assert_eq!(
        responses_404(&tenacity),
        5 * own.metrics.failed,
        "tenacity asks five times for each missing user"
    );
    assert_eq!(
        tenacity.metrics.failed, 0,
        "a 404 is only one more error to retry"
    );
}

#[test]
fn an_unawaited_pacer_logs_its_waits_and_sends_anyway() {
    let tutorial = run("thundering-herd", "tutorial-unawaited-pacer", &[]);
    let records = tutorial.trace.records();
    let mut paced_then_sent = 0;
    for (i, record) in records.iter().enumerate() {
        let Record::Client { event, at, .. } = record else {
            continue;
        };
        let EventKind::Paced { delay_ms, .. } = event.kind else {
            continue;
        };
        if delay_ms < 1_000 {
            continue;
        }
        // The same worker's next attempt goes at once, not `delay_ms` later.
        let next = records.iter().skip(i + 1).find_map(|later| match later {
            Record::Client {
                event: e, at: sent, ..
            } if e.worker == event.worker => match e.kind {
                EventKind::Attempt { .. } => Some(*sent),
                _ => None,
            },
            _ => None,
        });
        if next.is_some_and(|sent| {
            sent.as_duration() < at.as_duration() + std::time::Duration::from_millis(delay_ms)
        }) {
            paced_then_sent += 1;
        }
    }
    assert!(
        paced_then_sent > 10,
        "{paced_then_sent} sends went before their paced wait"
    );
    assert!(tutorial.metrics.responses_429 > run("thundering-herd", "herdsim", &[]).metrics.responses_429);
}

#[test]
fn a_breaker_that_only_sees_successes_never_opens() {
    let blind = run("maintenance-window", "tutorial-blind-breaker", &[]);
    assert!(
        blind.metrics.responses_5xx >= 5,
        "the window sends 503s: {}",
        blind.metrics.responses_5xx
    );
    assert_eq!(blind.metrics.breaker_openings, 0);
    let seeing = run(
        "maintenance-window",
        "tutorial-blind-breaker",
        &["client.breaker.sees_failures=true"],
    );
    assert!(
        seeing.metrics.breaker_openings > 0,
        "the same breaker, shown the failures, opens"
    );
}
