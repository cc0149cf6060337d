//! The scorecard's rules: each line states its rule, its value, pass or fail, and the worst
//! example. The rules are fixed here so that a card reads the same from `serve` and `grade`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::bounds::burst_allowance;
use super::card::{Card, Peak, Tally};
use super::exchange::Example;

/// Every rule, in the order a card shows them: (id, the rule as stated).
pub const RULES: [(&str, &str); 10] = [
    ("rate_limited", "at most 10% of API requests (token requests aside) are answered 429"),
    (
        "early_sends",
        "no request into a bucket, or on a token, while a Retry-After it was told is running (requests within 250 ms of it were in flight)",
    ),
    ("early_retries", "no retry of a request before its own Retry-After ran out"),
    ("token_requests", "at most 2 token requests by one client within one token lifetime (one per expiry, one refresh ahead)"),
    ("live_tokens", "at most 2 live tokens per client at once"),
    (
        "unkeyed_replays",
        "no create sent again without an Idempotency-Key where the platform honours keys",
    ),
    ("duplicate_writes", "no create applied twice (from the ledger)"),
    (
        "permanent_retries",
        "no request sent again after a permanent 4xx (400, 403, 404, 405, 409, 410, 413, 422)",
    ),
    ("paging_restarts", "a listing whose later page failed resumes from that page, not from the first"),
    (
        "wakeup_bursts",
        "in the first second after a bucket reopens, at most two seconds' worth of its rate (and at least 3) requests",
    ),
];

/// One rule's verdict.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Line {
    pub id: &'static str,
    pub rule: &'static str,
    /// The count (or the peak, for `token_requests`, `live_tokens`, `wakeup_bursts`).
    pub value: u64,
    /// The most `value` may be.
    pub allowed: u64,
    pub pass: bool,
    pub worst: Option<Example>,
    /// A breakdown, where the rule has one (early sends by bucket and by token).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub by: Vec<(String, u64)>,
}

/// One client's card, or the total.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CardReport {
    pub client: String,
    pub requests: u64,
    pub rate_limited: u64,
    pub token_requests: u64,
    pub pass: bool,
    pub lines: Vec<Line>,
}

impl CardReport {
    pub fn line(&self, id: &str) -> Option<&Line> {
        self.lines.iter().find(|line| line.id == id)
    }

    /// The ids of the rules that failed.
    pub fn failed(&self) -> Vec<&'static str> {
        self.lines
            .iter()
            .filter(|line| !line.pass)
            .map(|line| line.id)
            .collect()
    }
}

/// The scorecard: every client's card and the total.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScorecardReport {
    /// The time of the last request seen, in s.
    pub t_s: f64,
    pub pass: bool,
    pub total: CardReport,
    pub clients: Vec<CardReport>,
}

impl ScorecardReport {
    pub fn client(&self, name: &str) -> Option<&CardReport> {
        self.clients.iter().find(|card| card.client == name)
    }
}

/// The most entries a breakdown shows (the largest first).
const BREAKDOWN_MAX: usize = 10;

fn rule(id: &str) -> &'static str {
    RULES
        .iter()
        .find(|(rule_id, _)| *rule_id == id)
        .map(|(_, text)| *text)
        .expect("every line names a rule")
}

fn counted(id: &'static str, tally: &Tally, allowed: u64) -> Line {
    Line {
        id,
        rule: rule(id),
        value: tally.count,
        allowed,
        pass: tally.count <= allowed,
        worst: tally.worst.as_ref().map(|(_, example)| example.clone()),
        by: Vec::new(),
    }
}

fn peaked(id: &'static str, peak: &Peak, allowed: u64) -> Line {
    Line {
        id,
        rule: rule(id),
        value: peak.value,
        allowed,
        pass: peak.value <= allowed,
        worst: peak.worst.clone(),
        by: Vec::new(),
    }
}

fn breakdown<K: ToString>(counts: impl Iterator<Item = (K, u64)>) -> Vec<(String, u64)> {
    let mut by: Vec<(String, u64)> = counts.map(|(key, count)| (key.to_string(), count)).collect();
    by.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    by.truncate(BREAKDOWN_MAX);
    by
}

fn card_report(client: &str, card: &Card) -> CardReport {
    let mut early = counted("early_sends", &card.early, 0);
    early.by = breakdown(card.early_by_bucket.iter().map(|(k, v)| (k.clone(), *v)));
    early.by.extend(breakdown(
        card.early_by_token
            .iter()
            .map(|(token, v)| (format!("token#{token}"), *v)),
    ));
    let (over, worst_burst) = card.bursts();
    let (count, allowed, worst) = worst_burst
        .map_or((0, burst_allowance(0), None), |(count, allowed, example)| {
            (count, allowed, Some(example))
        });
    let bursts = Line {
        id: "wakeup_bursts",
        rule: rule("wakeup_bursts"),
        value: count,
        allowed,
        pass: over == 0,
        worst,
        by: Vec::new(),
    };
    let lines = vec![
        {
            let allowed = card.requests.saturating_sub(card.token_requests) / 10;
            counted("rate_limited", &card.rate_limited, allowed)
        },
        early,
        counted("early_retries", &card.early_retries, 0),
        peaked("token_requests", &card.tokens_per_lifetime, 2),
        peaked("live_tokens", &card.live_tokens, 2),
        counted("unkeyed_replays", &card.unkeyed_replays, 0),
        counted("duplicate_writes", &card.duplicates, 0),
        counted("permanent_retries", &card.permanent_retries, 0),
        counted("paging_restarts", &card.paging_restarts, 0),
        bursts,
    ];
    CardReport {
        client: client.to_string(),
        requests: card.requests,
        rate_limited: card.rate_limited.count,
        token_requests: card.token_requests,
        pass: lines.iter().all(|line| line.pass),
        lines,
    }
}

/// The total: counts add up, peaks take the largest, and a line fails if any client's fails;
/// the worst example is the failing client's (or the largest).
fn total(cards: &[CardReport]) -> CardReport {
    let lines = RULES
        .iter()
        .enumerate()
        .map(|(index, (id, text))| {
            let of: Vec<&Line> = cards.iter().map(|card| &card.lines[index]).collect();
            let summed = !matches!(*id, "token_requests" | "live_tokens" | "wakeup_bursts");
            let value = if summed {
                of.iter().map(|line| line.value).sum()
            } else {
                of.iter().map(|line| line.value).max().unwrap_or(0)
            };
            let worst_line = of
                .iter()
                .filter(|line| !line.pass)
                .max_by_key(|line| line.value)
                .or_else(|| {
                    of.iter()
                        .filter(|line| line.worst.is_some())
                        .max_by_key(|line| line.value)
                });
            let allowed = if summed {
                of.iter().map(|line| line.allowed).sum()
            } else {
                worst_line.or(of.first()).map_or(0, |line| line.allowed)
            };
            Line {
                id,
                rule: text,
                value,
                allowed,
                pass: of.iter().all(|line| line.pass),
                worst: worst_line.and_then(|line| line.worst.clone()),
                by: Vec::new(),
            }
        })
        .collect::<Vec<Line>>();
    CardReport {
        client: "total".to_string(),
        requests: cards.iter().map(|card| card.requests).sum(),
        rate_limited: cards.iter().map(|card| card.rate_limited).sum(),
        token_requests: cards.iter().map(|card| card.token_requests).sum(),
        pass: lines.iter().all(|line| line.pass),
        lines,
    }
}

pub(super) fn report(cards: &BTreeMap<String, Card>, last_us: u64) -> ScorecardReport {
    let clients: Vec<CardReport> = cards.iter().map(|(name, card)| card_report(name, card)).collect();
    let total = total(&clients);
    ScorecardReport {
        t_s: last_us as f64 / 1e6,
        pass: total.pass,
        total,
        clients,
    }
}
