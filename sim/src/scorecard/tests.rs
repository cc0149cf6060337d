use super::*;

fn exchange(t_ms: u64, method: &str, target: &str, status: Option<u16>) -> Exchange {
    Exchange {
        t_us: t_ms * 1_000,
        method: method.to_string(),
        target: target.to_string(),
        status,
        client: Some("app".to_string()),
        token_seq: Some(1),
        family: "users.read".to_string(),
        buckets: vec![Bucket {
            id: "per_token/token#1".to_string(),
            limit: 60,
            window_ms: 60_000,
        }],
        retry_after_ms: None,
        refused_by: None,
        idempotency_key: false,
        keyed_create: false,
        listing: false,
        token_request: false,
        fingerprint: fingerprint(method, target, b""),
        issued: None,
        created: Vec::new(),
    }
}

fn refused(t_ms: u64, target: &str, wait_s: u64) -> Exchange {
    let mut e = exchange(t_ms, "GET", target, Some(429));
    e.retry_after_ms = Some(wait_s * 1_000);
    e.refused_by = Some("per_token/token#1".to_string());
    e
}

fn line<'a>(report: &'a ScorecardReport, id: &str) -> &'a Line {
    report
        .client("app")
        .and_then(|card| card.line(id))
        .expect("a line")
}

#[test]
fn a_client_that_waits_out_retry_after_passes() {
    let mut card = Scorecard::new();
    card.observe(&exchange(0, "GET", "/api/v2/users/a", Some(200)));
    card.observe(&refused(10, "/api/v2/users/b", 2));
    // In flight when the 429 was said: not early.
    card.observe(&exchange(100, "GET", "/api/v2/users/c", Some(429)));
    card.observe(&exchange(2_020, "GET", "/api/v2/users/b", Some(200)));
    let report = card.report();
    assert_eq!(line(&report, "early_sends").value, 0);
    assert_eq!(line(&report, "early_retries").value, 0);
    assert!(line(&report, "early_sends").pass);
}

#[test]
fn another_thread_sending_during_a_retry_after_is_an_early_send() {
    let mut card = Scorecard::new();
    card.observe(&refused(0, "/api/v2/users/b", 10));
    for i in 0..5 {
        card.observe(&exchange(
            1_000 + i * 100,
            "GET",
            &format!("/api/v2/users/x{i}"),
            Some(429),
        ));
    }
    card.observe(&exchange(5_000, "GET", "/api/v2/users/b", Some(429)));
    let report = card.report();
    let early = line(&report, "early_sends");
    assert_eq!(early.value, 6);
    assert!(!early.pass);
    assert_eq!(
        early.worst.as_ref().map(|w| w.t_s),
        Some(1.0),
        "the earliest relative to its Retry-After"
    );
    assert!(
        early.by.contains(&("per_token/token#1".to_string(), 6)),
        "{:?}",
        early.by
    );
    assert!(early.by.contains(&("token#1".to_string(), 6)), "{:?}", early.by);
    assert_eq!(line(&report, "early_retries").value, 1);
    assert!(!report.pass);
    assert!(!report.total.pass);
}

#[test]
fn a_permanent_error_sent_again_is_counted_once_per_repeat() {
    let mut card = Scorecard::new();
    for t in 0..3 {
        card.observe(&exchange(t * 1_000, "GET", "/api/v2/users/missing", Some(404)));
    }
    card.observe(&exchange(4_000, "GET", "/api/v2/users/other", Some(200)));
    assert_eq!(line(&card.report(), "permanent_retries").value, 2);
}

#[test]
fn tokens_per_lifetime_and_live_tokens() {
    let mut card = Scorecard::new();
    for (i, t) in [0u64, 10, 20].into_iter().enumerate() {
        let mut e = exchange(t, "POST", "/oauth/token", Some(200));
        e.token_request = true;
        e.fingerprint = 0;
        e.token_seq = None;
        e.issued = Some(Issued {
            token_seq: i as u64 + 1,
            expires_in_s: 60,
        });
        card.observe(&e);
    }
    let report = card.report();
    assert_eq!(line(&report, "token_requests").value, 3);
    assert_eq!(line(&report, "live_tokens").value, 3);
    assert!(!line(&report, "live_tokens").pass);
    // Revoking them all, then one more: one live.
    card.revoked(None, None);
    let mut e = exchange(120_000, "POST", "/oauth/token", Some(200));
    e.token_request = true;
    e.issued = Some(Issued {
        token_seq: 4,
        expires_in_s: 60,
    });
    card.observe(&e);
    assert_eq!(line(&card.report(), "token_requests").value, 3, "a peak stays");
}

#[test]
fn unkeyed_replays_and_duplicates() {
    let mut card = Scorecard::new();
    let mut create = exchange(0, "POST", "/api/v2/quality/conversations/c1/evaluations", None);
    create.keyed_create = true;
    create.created = vec!["create_evaluation:c1".to_string()];
    card.observe(&create);
    create.t_us = 1_000_000;
    create.status = Some(200);
    card.observe(&create);
    let report = card.report();
    assert_eq!(line(&report, "unkeyed_replays").value, 1);
    assert_eq!(line(&report, "duplicate_writes").value, 1);
    // With a key, a replay is fine.
    let mut keyed = Scorecard::new();
    create.idempotency_key = true;
    keyed.observe(&create);
    keyed.observe(&create);
    assert_eq!(line(&keyed.report(), "unkeyed_replays").value, 0);
}

#[test]
fn paging_restarted_after_a_failed_later_page() {
    let mut card = Scorecard::new();
    let page = |t, n: u64, status| {
        let mut e = exchange(
            t,
            "GET",
            &format!("/api/v2/users?pageSize=25&pageNumber={n}"),
            status,
        );
        e.listing = true;
        e
    };
    card.observe(&page(0, 1, Some(200)));
    card.observe(&page(10, 2, Some(503)));
    card.observe(&page(20, 2, Some(200)));
    assert_eq!(line(&card.report(), "paging_restarts").value, 0, "resumed");
    card.observe(&page(30, 3, None));
    card.observe(&page(40, 1, Some(200)));
    assert_eq!(line(&card.report(), "paging_restarts").value, 1);
}

#[test]
fn a_herd_waking_at_one_instant_is_a_burst() {
    let mut card = Scorecard::new();
    card.observe(&refused(0, "/api/v2/users/a", 1));
    // 60/min allows 2 s of rate = 2, at least 3.
    for i in 0..8 {
        card.observe(&exchange(
            1_000 + i,
            "GET",
            &format!("/api/v2/users/w{i}"),
            Some(200),
        ));
    }
    card.observe(&exchange(5_000, "GET", "/api/v2/users/z", Some(200)));
    let report = card.report();
    let burst = line(&report, "wakeup_bursts");
    assert_eq!((burst.value, burst.allowed, burst.pass), (8, 3, false));
    // Spread out, the same requests pass.
    let mut spread = Scorecard::new();
    spread.observe(&refused(0, "/api/v2/users/a", 1));
    for i in 0..8 {
        spread.observe(&exchange(
            1_000 + i * 400,
            "GET",
            &format!("/api/v2/users/w{i}"),
            Some(200),
        ));
    }
    assert!(line(&spread.report(), "wakeup_bursts").pass);
}

#[test]
fn record_lines_round_trip_and_garbage_is_an_error() {
    let mut e = refused(5, "/api/v2/users/a", 3);
    e.created = vec!["k".into()];
    let line = exchange_line(&e);
    assert!(line.starts_with(r#"{"t_us":5000,"src":"exchange""#), "{line}");
    let mut card = Scorecard::new();
    card.observe_line(&line).expect("an exchange line");
    card.observe_line(r#"{"t_us":1,"src":"gateway","request":0,"event":"tokens_revoked","count":2}"#)
        .expect("a gateway line");
    assert_eq!(card.report().total.requests, 1);
    assert!(card.observe_line("{not json").is_err());
    assert!(card.observe_line(r#"{"src":"exchange","t_us":"x"}"#).is_err());
}

#[test]
fn clients_beyond_the_cap_share_one_card() {
    let mut card = Scorecard::new();
    for i in 0..(CLIENTS_MAX + 10) {
        let mut e = exchange(i as u64, "GET", "/api/v2/users", Some(200));
        e.client = Some(format!("c{i}"));
        card.observe(&e);
    }
    let report = card.report();
    assert_eq!(report.clients.len(), CLIENTS_MAX + 1);
    assert_eq!(report.client(OTHER_CLIENTS).map(|c| c.requests), Some(10));
    assert_eq!(report.total.requests, (CLIENTS_MAX + 10) as u64);
}

#[test]
fn extreme_times_and_waits_never_overflow() {
    let mut card = Scorecard::new();
    for t in [u64::MAX / 1_000, u64::MAX / 1_000 - 1, 0] {
        let mut e = refused(t, "/api/v2/users/a", 1);
        e.retry_after_ms = Some(u64::MAX);
        e.token_request = true;
        e.issued = Some(Issued {
            token_seq: t,
            expires_in_s: u64::MAX,
        });
        card.observe(&e);
    }
    let mut line = exchange_line(&refused(1, "/x", 1));
    line = line.replace("\"t_us\":1000", &format!("\"t_us\":{}", u64::MAX));
    card.observe_line(&line).expect("a huge time still reads");
    assert_eq!(card.report().total.requests, 4);
}
