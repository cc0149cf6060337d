//! One OAuth client's card: the running state behind every rule, bounded whatever the client
//! sends.

use std::collections::{BTreeMap, VecDeque};

use super::bounds::{
    burst_allowance, CREATES_MAX, HOLDS_MAX, IN_FLIGHT_GRACE_US, LISTINGS_MAX, PERMANENT_STATUSES,
    RECENT_MAX, WAKE_WINDOW_US,
};
use super::exchange::{Example, Exchange};

/// A count with its worst example (the one with the highest score).
#[derive(Clone, Debug, Default)]
pub(crate) struct Tally {
    pub(crate) count: u64,
    pub(crate) worst: Option<(u64, Example)>,
}

impl Tally {
    fn add(&mut self, score: u64, example: impl FnOnce() -> Example) {
        self.count += 1;
        self.note(score, example);
    }

    fn note(&mut self, score: u64, example: impl FnOnce() -> Example) {
        if self.worst.as_ref().is_none_or(|(worst, _)| score > *worst) {
            self.worst = Some((score, example()));
        }
    }
}

/// The most of something at once, with the example that reached it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Peak {
    pub(crate) value: u64,
    pub(crate) worst: Option<Example>,
}

impl Peak {
    fn offer(&mut self, value: u64, example: impl FnOnce() -> Example) {
        if value > self.value {
            self.value = value;
            self.worst = Some(example());
        }
    }
}

/// A running Retry-After: nothing should be sent into its scope before `until_us`.
#[derive(Clone, Copy, Debug)]
struct Hold {
    since_us: u64,
    until_us: u64,
}

/// Requests counted in the first second after a scope reopened.
#[derive(Clone, Debug)]
struct Wake {
    scope: String,
    from_us: u64,
    count: u64,
    allowed: u64,
    first: Example,
}

#[derive(Clone, Copy, Debug)]
struct Recent {
    until_us: u64,
    since_us: u64,
    permanent: bool,
    status: Option<u16>,
}

#[derive(Clone, Copy, Debug)]
struct Position {
    first: bool,
    failed: bool,
}

/// One OAuth client's card.
#[derive(Clone, Debug, Default)]
pub(crate) struct Card {
    pub(crate) requests: u64,
    pub(crate) rate_limited: Tally,
    pub(crate) early: Tally,
    pub(crate) early_by_bucket: BTreeMap<String, u64>,
    pub(crate) early_by_token: BTreeMap<u64, u64>,
    pub(crate) early_retries: Tally,
    pub(crate) token_requests: u64,
    pub(crate) tokens_per_lifetime: Peak,
    pub(crate) live_tokens: Peak,
    pub(crate) unkeyed_replays: Tally,
    pub(crate) duplicates: Tally,
    pub(crate) permanent_retries: Tally,
    pub(crate) paging_restarts: Tally,
    /// Wake-up windows that went over their allowance.
    bursts_over: u64,
    /// The burst furthest over (or nearest to) its allowance: (count, allowed, example).
    worst_burst: Option<(u64, u64, Example)>,
    holds: BTreeMap<String, Hold>,
    token_holds: BTreeMap<u64, Hold>,
    wakes: Vec<Wake>,
    recent: BTreeMap<u64, Recent>,
    recent_order: VecDeque<u64>,
    token_times: VecDeque<u64>,
    lifetime_us: u64,
    live: BTreeMap<u64, u64>,
    creates: BTreeMap<String, u64>,
    creates_order: VecDeque<String>,
    listings: BTreeMap<String, Position>,
}

impl Card {
    pub(crate) fn observe(&mut self, exchange: &Exchange) {
        let now = exchange.t_us;
        self.requests += 1;
        if exchange.status == Some(429) {
            self.rate_limited.add(0, || exchange.example(String::new()));
        }
        self.close_wakes(now);
        let scopes = Card::scopes(exchange);
        self.early_send(exchange, &scopes);
        self.retry_checks(exchange);
        if exchange.token_request {
            self.token_request(exchange);
        }
        self.writes(exchange);
        if exchange.listing {
            self.paging(exchange);
        }
        self.told(exchange);
    }

    /// The scopes a request counts against, with their rates: its buckets, and its family
    /// (faults say Retry-After for a family). Made once per request.
    fn scopes(exchange: &Exchange) -> Vec<(String, u64)> {
        let mut scopes: Vec<(String, u64)> = exchange
            .buckets
            .iter()
            .map(|bucket| (bucket.id.clone(), rate_milli(bucket)))
            .collect();
        if !exchange.family.is_empty() {
            scopes.push(Card::family_scope(exchange));
        }
        scopes
    }

    /// The family's scope; its rate is its tightest bucket's, what its requests may use after
    /// it reopens.
    fn family_scope(exchange: &Exchange) -> (String, u64) {
        let rate = exchange.buckets.iter().map(rate_milli).min().unwrap_or(0);
        (format!("family:{}", exchange.family), rate)
    }

    fn early_send(&mut self, exchange: &Exchange, scopes: &[(String, u64)]) {
        let now = exchange.t_us;
        let mut early_by = Vec::new();
        let mut most_left = 0;
        for (scope, _) in scopes {
            let Some(hold) = self.holds.get(scope).copied() else {
                continue;
            };
            if now >= hold.until_us {
                self.holds.remove(scope);
            } else if now > hold.since_us.saturating_add(IN_FLIGHT_GRACE_US) {
                most_left = most_left.max(hold.until_us - now);
                early_by.push(scope.clone());
            }
        }
        for wake in &mut self.wakes {
            let open = wake.from_us <= now && now < wake.from_us.saturating_add(WAKE_WINDOW_US);
            if open && scopes.iter().any(|(scope, _)| *scope == wake.scope) {
                if wake.count == 0 {
                    wake.first = exchange.example(String::new());
                }
                wake.count += 1;
            }
        }
        let token_early = exchange.token_seq.and_then(|token| {
            let hold = *self.token_holds.get(&token)?;
            if now >= hold.until_us {
                self.token_holds.remove(&token);
                None
            } else {
                (now > hold.since_us.saturating_add(IN_FLIGHT_GRACE_US))
                    .then_some((token, hold.until_us - now))
            }
        });
        if let Some((token, left)) = token_early {
            *self.early_by_token.entry(token).or_insert(0) += 1;
            most_left = most_left.max(left);
        }
        if early_by.is_empty() && token_early.is_none() {
            return;
        }
        for scope in &early_by {
            *self.early_by_bucket.entry(scope.clone()).or_insert(0) += 1;
        }
        let scope = early_by
            .first()
            .cloned()
            .unwrap_or_else(|| "its token".to_string());
        self.early.add(most_left, || {
            exchange.example(format!(
                "{} ms before the Retry-After for {scope} ran out",
                most_left.div_ceil(1_000)
            ))
        });
    }

    fn close_wakes(&mut self, now: u64) {
        let mut open = Vec::with_capacity(self.wakes.len());
        for wake in std::mem::take(&mut self.wakes) {
            if now >= wake.from_us.saturating_add(WAKE_WINDOW_US) || open.len() >= HOLDS_MAX {
                self.settle(wake);
            } else {
                open.push(wake);
            }
        }
        self.wakes = open;
    }

    fn settle(&mut self, wake: Wake) {
        settle(&mut self.bursts_over, &mut self.worst_burst, wake);
    }

    fn retry_checks(&mut self, exchange: &Exchange) {
        if exchange.fingerprint == 0 {
            return;
        }
        let now = exchange.t_us;
        let Some(previous) = self.recent.get(&exchange.fingerprint).copied() else {
            return;
        };
        // The same request again: it was sent after its answer came, so no in-flight grace.
        if now < previous.until_us {
            let left = previous.until_us - now;
            self.early_retries.add(left, || {
                exchange.example(format!(
                    "retried {} ms before its Retry-After ran out",
                    left.div_ceil(1_000)
                ))
            });
        }
        if previous.permanent {
            let status = previous.status.unwrap_or(0);
            self.permanent_retries.add(u64::from(status), || {
                exchange.example(format!("retried after a {status}, which no retry changes"))
            });
        }
        if exchange.keyed_create && exchange.method == "POST" && !exchange.idempotency_key {
            self.unkeyed_replays.add(0, || {
                exchange.example(
                    "a create sent again without an Idempotency-Key, where the platform honours keys"
                        .to_string(),
                )
            });
        }
    }

    fn token_request(&mut self, exchange: &Exchange) {
        let now = exchange.t_us;
        self.token_requests += 1;
        if let Some(issued) = exchange.issued {
            self.lifetime_us = issued.expires_in_s.saturating_mul(1_000_000);
            self.live.retain(|_, expires| *expires > now);
            if self.live.len() < HOLDS_MAX {
                self.live
                    .insert(issued.token_seq, now.saturating_add(self.lifetime_us));
            }
            let live = self.live.len() as u64;
            self.live_tokens.offer(live, || {
                exchange.example(format!("{live} live tokens of this client at once"))
            });
        }
        if self.lifetime_us > 0 {
            while self
                .token_times
                .front()
                .is_some_and(|at| at.saturating_add(self.lifetime_us) <= now)
            {
                self.token_times.pop_front();
            }
            if self.token_times.len() < RECENT_MAX {
                self.token_times.push_back(now);
            }
            let within = self.token_times.len() as u64;
            let lifetime_s = self.lifetime_us / 1_000_000;
            self.tokens_per_lifetime.offer(within, || {
                exchange.example(format!(
                    "{within} token requests within one token lifetime ({lifetime_s} s)"
                ))
            });
        }
    }

    fn writes(&mut self, exchange: &Exchange) {
        for key in &exchange.created {
            let applied = self.creates.entry(key.clone()).or_insert(0);
            *applied += 1;
            let times = *applied;
            if times > 1 {
                self.duplicates
                    .add(times, || exchange.example(format!("{key} applied {times} times")));
            } else {
                self.creates_order.push_back(key.clone());
                if self.creates_order.len() > CREATES_MAX {
                    if let Some(oldest) = self.creates_order.pop_front() {
                        self.creates.remove(&oldest);
                    }
                }
            }
        }
    }

    fn paging(&mut self, exchange: &Exchange) {
        let first = exchange.first_page();
        let failed = exchange.status.is_none_or(|status| status >= 400);
        let path = exchange.path().to_string();
        if let Some(previous) = self.listings.get(&path) {
            if first && !previous.first && previous.failed {
                self.paging_restarts.add(0, || {
                    exchange.example(
                        "the first page again after a later page failed: paging restarted, not resumed"
                            .to_string(),
                    )
                });
            }
        }
        if self.listings.len() < LISTINGS_MAX || self.listings.contains_key(&path) {
            self.listings.insert(path, Position { first, failed });
        }
    }

    /// What the answer told the client: a Retry-After holds its scope, its token and the request.
    fn told(&mut self, exchange: &Exchange) {
        let now = exchange.t_us;
        let wait = exchange
            .retry_after_ms
            .filter(|_| matches!(exchange.status, Some(429 | 503)));
        let until_us = wait.map(|ms| now.saturating_add(ms.saturating_mul(1_000)));
        if let Some(until_us) = until_us.filter(|until| *until > now) {
            let (scope, rate) = match &exchange.refused_by {
                Some(bucket) => (
                    bucket.clone(),
                    exchange
                        .buckets
                        .iter()
                        .find(|b| &b.id == bucket)
                        .map_or(0, rate_milli),
                ),
                None => Card::family_scope(exchange),
            };
            self.expect_wake(&scope, until_us, rate, exchange);
            hold(&mut self.holds, scope, now, until_us);
            if let Some(token) = exchange.token_seq {
                hold(&mut self.token_holds, token, now, until_us);
            }
        }
        if exchange.fingerprint != 0 {
            let entry = Recent {
                until_us: until_us.unwrap_or(0),
                since_us: self
                    .recent
                    .get(&exchange.fingerprint)
                    .filter(|r| r.until_us > now)
                    .map_or(now, |r| r.since_us),
                permanent: exchange
                    .status
                    .is_some_and(|status| PERMANENT_STATUSES.contains(&status)),
                status: exchange.status,
            };
            if self.recent.insert(exchange.fingerprint, entry).is_none() {
                self.recent_order.push_back(exchange.fingerprint);
                if self.recent_order.len() > RECENT_MAX {
                    if let Some(oldest) = self.recent_order.pop_front() {
                        self.recent.remove(&oldest);
                    }
                }
            }
        }
    }

    /// A Retry-After said `scope` reopens at `until_us`: the requests of the second after it are
    /// its wake-up. Instants within a second of one already expected are the same wake-up.
    fn expect_wake(&mut self, scope: &str, until_us: u64, rate: u64, exchange: &Exchange) {
        let known = self
            .wakes
            .iter()
            .any(|wake| wake.scope == scope && wake.from_us.abs_diff(until_us) < WAKE_WINDOW_US);
        if known {
            return;
        }
        self.wakes.push(Wake {
            scope: scope.to_string(),
            from_us: until_us,
            count: 0,
            allowed: burst_allowance(rate),
            first: exchange.example(String::new()),
        });
    }

    pub(crate) fn revoked(&mut self, token_seq: Option<u64>) {
        match token_seq {
            Some(token) => {
                self.live.remove(&token);
            }
            None => self.live.clear(),
        }
    }

    /// The wake-up bursts as of now, the windows still open counted as they stand: how many
    /// went over their allowance, and the worst. Reads the card; settles nothing.
    pub(crate) fn bursts(&self) -> (u64, Option<(u64, u64, Example)>) {
        let (mut over, mut worst) = (self.bursts_over, self.worst_burst.clone());
        for wake in &self.wakes {
            settle(&mut over, &mut worst, wake.clone());
        }
        (over, worst)
    }
}

/// Adds a finished wake-up window to the bursts: over its allowance or not, and the worst so
/// far, by excess over its allowance.
fn settle(over: &mut u64, worst: &mut Option<(u64, u64, Example)>, wake: Wake) {
    let Wake {
        scope,
        count,
        allowed,
        mut first,
        ..
    } = wake;
    first.note = format!("{count} requests into {scope} in the first second after it reopened");
    if count > allowed {
        *over += 1;
    }
    // Excess over the allowance, compared without going negative.
    let worse = worst.as_ref().is_none_or(|(worst, worst_allowed, _)| {
        count.saturating_add(*worst_allowed) > worst.saturating_add(allowed)
    });
    if worse {
        *worst = Some((count, allowed, first));
    }
}

fn hold<K: Ord>(holds: &mut BTreeMap<K, Hold>, key: K, now: u64, until_us: u64) {
    if holds.len() >= HOLDS_MAX {
        holds.retain(|_, hold| hold.until_us > now);
        if holds.len() >= HOLDS_MAX {
            return;
        }
    }
    let entry = holds.entry(key).or_insert(Hold {
        since_us: now,
        until_us,
    });
    if entry.until_us <= now {
        entry.since_us = now;
    }
    entry.until_us = entry.until_us.max(until_us);
}

/// A bucket's rate in requests per second × 1000.
fn rate_milli(bucket: &super::exchange::Bucket) -> u64 {
    if bucket.window_ms == 0 {
        return 0;
    }
    bucket.limit.saturating_mul(1_000_000) / bucket.window_ms
}
