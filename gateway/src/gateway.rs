//! The gateway core: `Gateway::handle(now, request) -> Response`. No I/O, no clock, no runtime.
//!
//! One request passes these stages, in order (each may answer instead of passing it on):
//! routing (404/405, 413) → maintenance (503) → token endpoint → authentication (401) →
//! edge throttling fault (429) → limiters, all must admit (429 + Retry-After) → 5xx fault →
//! the resource → lost-response or slow-response fault on the way out.
//!
//! Background consumers and scheduled revocations are applied in time order up to the `now` of
//! each call. [`Gateway::next_wakeup`] says when the next one is due, so a shell can call
//! [`Gateway::advance_to`] then and events carry their own times in execution order.

use std::time::Duration;

use rand::RngCore;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::background::Schedule;
use crate::config::{
    scopes_for_family, GatewayConfig, GatewayConfigError, HeaderDialect, HostRole, Hosts, PlatformProfile,
    RetryAfterStyle,
};
use crate::directory::Directory;
use crate::events::{AuthFailure, GatewayEvent, GatewayEventKind};
use crate::faults::{FaultPlan, FaultRetryAfter, Injected, Target};
use crate::http::{Delivery, Refusal, Request, Response};
use crate::idempotency::IdempotencyStore;
use crate::ledger::Ledger;
use crate::oauth::TokenStore;
use crate::routes::{route, Route};
use crate::rules::{Check, RateLimits, RuleVerdict, Subject};
use crate::time::SimTime;
use crate::{rate_headers, replies};

/// Idle limiter keys, dead tokens and old idempotency keys are pruned after this many requests,
/// or after this much simulated time, whichever comes first.
const PRUNE_EVERY_REQUESTS: u64 = 1_024;
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// Refusals kept for the limits report (`limits_report`): the most recent, across all keys.
const RECENT_REFUSALS_MAX: usize = 256;
/// The longest Retry-After the gateway ever advertises.
const RETRY_AFTER_MAX_S: u64 = 86_400;

/// Counters over a gateway's life.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GatewayStats {
    pub requests: u64,
    pub admitted: u64,
    pub rate_limited: u64,
    pub unauthorized: u64,
    pub faults: u64,
    pub tokens_issued: u64,
    /// Admitted requests that the resource answered with a 4xx (a missing `version`, a 404).
    pub resource_4xx: u64,
    /// Token requests the token endpoint's own limit refused (429).
    pub token_requests_rate_limited: u64,
    /// Token requests refused for bad credentials, grants or the live-token cap.
    pub token_requests_refused: u64,
    /// Requests refused with 403: outside the OAuth client's scopes.
    pub forbidden: u64,
    /// Requests for a route on the other host (a token request to the API host): 404.
    pub wrong_host: u64,
    /// Token requests that named the login host.
    pub token_requests_on_login_host: u64,
    /// Token requests that named neither host (an address, served as both).
    pub token_requests_on_address: u64,
    /// Live tokens revoked to make room under the cap (`tokens.when_full = "revoke_oldest"`).
    pub tokens_evicted: u64,
    pub conflicts: u64,
    pub bad_requests: u64,
    pub background_admitted: u64,
    pub background_rejected: u64,
}

/// The per-request context.
pub(crate) struct Ctx {
    pub(crate) now: SimTime,
    pub(crate) request: u64,
    pub(crate) correlation_id: String,
}

/// The gateway's random streams, each its own: adding an id never shifts a fault draw. The
/// harness derives both from the run's seed (`herd_sim::streams` owns the map).
pub struct GatewayStreams {
    /// Fault draws.
    pub faults: ChaCha8Rng,
    /// Tokens, correlation ids and resource ids.
    pub ids: ChaCha8Rng,
}

/// The simulated platform gateway.
pub struct Gateway {
    pub(crate) config: GatewayConfig,
    pub(crate) fault_rng: ChaCha8Rng,
    pub(crate) id_rng: ChaCha8Rng,
    pub(crate) tokens: TokenStore,
    pub(crate) limits: RateLimits,
    pub(crate) faults: FaultPlan,
    pub(crate) directory: Directory,
    pub(crate) idempotency: IdempotencyStore,
    pub(crate) ledger: Ledger,
    pub(crate) events: Vec<GatewayEvent>,
    pub(crate) stats: GatewayStats,
    pub(crate) schedule: Schedule,
    /// The last refusals, oldest first, bounded by [`RECENT_REFUSALS_MAX`].
    pub(crate) recent_refusals: std::collections::VecDeque<(SimTime, Refusal)>,
    pub(crate) hosts: Hosts,
    pub(crate) jobs: crate::jobs::Jobs,
    pub(crate) latest: SimTime,
    pub(crate) pruned_at: SimTime,
}

impl Gateway {
    pub fn new(config: GatewayConfig, streams: GatewayStreams) -> Result<Gateway, GatewayConfigError> {
        config.validate()?;
        let faults = FaultPlan::new(config.faults.clone());
        Ok(Gateway {
            tokens: TokenStore::new(),
            limits: RateLimits::new(config.effective_limits()),
            schedule: Schedule::new(&config.background, faults.revocation_times()),
            recent_refusals: std::collections::VecDeque::new(),
            hosts: config.hosts(),
            jobs: crate::jobs::Jobs::default(),
            faults,
            directory: Directory::new(config.platform, config.data.users),
            idempotency: IdempotencyStore::default(),
            ledger: Ledger::default(),
            events: Vec::new(),
            stats: GatewayStats::default(),
            latest: SimTime::ZERO,
            pruned_at: SimTime::ZERO,
            fault_rng: streams.faults,
            id_rng: streams.ids,
            config,
        })
    }

    pub fn config(&self) -> &GatewayConfig {
        &self.config
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    pub fn stats(&self) -> &GatewayStats {
        &self.stats
    }

    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    /// Bounds what a long-lived gateway keeps of its ledger ([`crate::ledger::SERVE_LEDGER_MAX`]
    /// writes and keys): for `herdsim serve`. A run keeps everything, to count exactly.
    pub fn bound_ledger(&mut self) {
        self.ledger = Ledger::bounded(crate::ledger::SERVE_LEDGER_MAX);
    }

    /// The events recorded since the last [`Gateway::drain_events`], in order, left in place.
    pub fn pending_events(&self) -> &[GatewayEvent] {
        &self.events
    }

    /// Takes the events recorded since the last call, in order.
    pub fn drain_events(&mut self) -> Vec<GatewayEvent> {
        std::mem::take(&mut self.events)
    }

    /// How many limiter keys, tokens and idempotency keys are held (memory-bound tests).
    pub fn state_size(&self) -> usize {
        self.limits.key_count() + self.tokens.held() + self.idempotency.len() + self.jobs.len()
    }

    /// Handles one request at `now`. `now` earlier than a previous call's is taken as that one.
    pub fn handle(&mut self, now: SimTime, request: Request) -> Response {
        let now = now.max(self.latest);
        self.latest = now;
        self.advance_to(now);
        self.stats.requests += 1;
        if self.stats.requests.is_multiple_of(PRUNE_EVERY_REQUESTS) || now >= self.pruned_at + PRUNE_EVERY {
            self.prune(now);
        }
        let ctx = Ctx {
            now,
            request: self.stats.requests,
            correlation_id: self.uuid(),
        };
        let mut response = self.dispatch(&ctx, &request);
        if self.config.platform == PlatformProfile::Genesys {
            response
                .headers
                .push(("ININ-Correlation-Id".to_string(), ctx.correlation_id));
        }
        response
    }

    /// The live state of every bucket that applies to the caller (its token and its OAuth
    /// client), and the recent refusals of those buckets: what `GET /__herdsim/limits` shows.
    /// The platform publishes configured limits only; this is the harness's window into the
    /// counts behind a 429. Reads nothing but state, consumes nothing.
    pub fn limits_report(
        &mut self,
        now: SimTime,
        authorization: Option<&str>,
    ) -> Result<serde_json::Value, AuthFailure> {
        let now = now.max(self.latest);
        let (token_seq, client) = match self.tokens.authenticate(now, authorization) {
            Ok((token_seq, client)) => (token_seq, client.to_string()),
            Err((reason, _)) => return Err(reason),
        };
        let buckets = self.limits.describe(now, token_seq, &client);
        let keys: std::collections::BTreeSet<&str> =
            buckets.iter().map(|bucket| bucket.key.as_str()).collect();
        let recent: Vec<serde_json::Value> = self
            .recent_refusals
            .iter()
            .filter(|(_, refusal)| keys.contains(refusal.key.as_str()))
            .map(|(at, refusal)| {
                serde_json::json!({"t_s": at.as_micros() as f64 / 1e6, "rule": refusal.rule, "key": refusal.key,
                    "count": refusal.count, "limit": refusal.limit})
            })
            .collect();
        Ok(serde_json::json!({
            "t_s": now.as_micros() as f64 / 1e6,
            "client": client,
            "token_seq": token_seq,
            "buckets": buckets,
            "recent_refusals": recent,
        }))
    }

    /// Every bucket in use at `now`, fullest first, at most `max`: the live dashboard's view.
    /// Advances their state; consumes nothing.
    pub fn buckets(&mut self, now: SimTime, max: usize) -> Vec<crate::rules::BucketState> {
        let now = now.max(self.latest);
        self.limits.describe_all(now, max)
    }

    /// When the gateway next has work of its own (a scheduled revocation or a background draw),
    /// if it has any. Limits, tokens and windows need none: they are evaluated at each request.
    #[must_use]
    pub fn next_wakeup(&self) -> Option<SimTime> {
        self.schedule.next_due()
    }

    /// Applies scheduled revocations and background draws up to `now`, in time order.
    pub fn advance_to(&mut self, now: SimTime) {
        // Time never runs backwards for the core: a later request at an earlier `now` is taken
        // at this one (as in `handle`).
        let now = now.max(self.latest);
        self.latest = now;
        while let Some(at) = self.schedule.take_revocation(now) {
            let count = self.tokens.revoke_all(at);
            self.events.push(GatewayEvent {
                at,
                request: 0,
                kind: GatewayEventKind::TokensRevoked { count },
            });
        }
        while let Some(draw) = self.schedule.take_draw(now) {
            debug_assert!(draw.at <= now, "a draw is applied no earlier than it is due");
            let subject = Subject {
                token_seq: draw.token_seq,
                client: &draw.client,
                family: &draw.family,
                resource: "",
            };
            let check = self.limits.check(draw.at, subject);
            let admitted = check.admitted();
            if admitted {
                self.limits.record(draw.at, &check);
                self.stats.background_admitted += 1;
            } else {
                self.stats.background_rejected += 1;
            }
            let kind = GatewayEventKind::Background {
                consumer: draw.consumer,
                admitted,
            };
            self.events.push(GatewayEvent {
                at: draw.at,
                request: 0,
                kind,
            });
        }
    }

    fn prune(&mut self, now: SimTime) {
        self.pruned_at = now;
        self.limits.prune(now);
        self.tokens.prune(now);
        self.idempotency.prune(now);
        self.jobs.prune(now);
    }

    pub(crate) fn emit(&mut self, ctx: &Ctx, kind: GatewayEventKind) {
        self.events.push(GatewayEvent {
            at: ctx.now,
            request: ctx.request,
            kind,
        });
    }

    pub(crate) fn uuid(&mut self) -> String {
        let mut bytes = [0u8; 16];
        self.id_rng.fill_bytes(&mut bytes);
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut uuid = String::with_capacity(36);
        for (index, byte) in bytes.iter().enumerate() {
            if matches!(index, 4 | 6 | 8 | 10) {
                uuid.push('-');
            }
            uuid.push(char::from(HEX[usize::from(byte >> 4)]));
            uuid.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
        uuid
    }

    fn dispatch(&mut self, ctx: &Ctx, request: &Request) -> Response {
        if request.body.len() as u64 > self.config.max_body_bytes {
            return self.bad_request(
                ctx,
                413,
                "request.entity.too.large",
                "The request body is too large",
            );
        }
        let route = match route(self.config.platform, &request.method, request.path()) {
            Ok(route) => route,
            Err(no_route) if no_route.status == 405 => {
                return self.bad_request(ctx, 405, "method.not.allowed", "Method not allowed")
            }
            Err(_) => return self.bad_request(ctx, 404, "not.found", "The requested resource was not found"),
        };
        // The platform's two hosts: a token request to the API host is a 404 there, and so is an
        // API request to the login host. A `Host` that names neither is served as both.
        let named_host = self.hosts.role_of(request.header_value("host"));
        if route == Route::Token {
            match named_host {
                Some(HostRole::Login) => self.stats.token_requests_on_login_host += 1,
                None => self.stats.token_requests_on_address += 1,
                Some(HostRole::Api) => {}
            }
        }
        if named_host.is_some_and(|host| host != route.host()) {
            self.stats.wrong_host += 1;
            return self.bad_request(ctx, 404, "not.found", "The requested resource was not found");
        }
        let family = route.family();
        let target = Target {
            family,
            host: route.host(),
        };
        if let Some(maintenance) = self.faults.maintenance(ctx.now, target) {
            return self.injected(ctx, family, maintenance);
        }
        match route {
            Route::Token => return self.token(ctx, request, target),
            Route::Discovery => return self.discovery(named_host),
            _ => {}
        }
        let (token_seq, client) = match self
            .tokens
            .authenticate(ctx.now, request.header_value("authorization"))
        {
            Ok((token_seq, client)) => (token_seq, client.to_string()),
            Err((reason, token_seq)) => return self.unauthorized(ctx, family, reason, token_seq),
        };
        if let Some(required) = self.missing_scope(&client, family) {
            self.stats.forbidden += 1;
            self.emit(ctx, GatewayEventKind::Forbidden { family, token_seq });
            return replies::forbidden(self.config.platform, &ctx.correlation_id, required);
        }
        if let Some(throttle) = self.faults.throttle(ctx.now, target, &mut self.fault_rng) {
            return self.injected(ctx, family, throttle);
        }
        let subject = Subject {
            token_seq,
            client: &client,
            family,
            resource: route.resource(),
        };
        let check = self.limits.check(ctx.now, subject);
        if let Some(rejection) = check.binding_rejection() {
            let rejection = rejection.clone();
            self.limits.record_refusal(ctx.now, &check);
            return self.rate_limited(ctx, family, token_seq, &rejection, Some(&check));
        }
        self.limits.record(ctx.now, &check);
        // Headers describe the state after this admission; asking again consumes nothing.
        let headers = match self.config.headers {
            HeaderDialect::None => None,
            _ => {
                let after = self.limits.check(ctx.now, subject);
                Some(self.rate_limit_headers(ctx.now, &after))
            }
        };
        let mut response = match self.faults.server_error(ctx.now, target, &mut self.fault_rng) {
            Some(fault) => self.injected(ctx, family, fault),
            None => {
                let response = self.serve(ctx, &route, request, &client);
                self.stats.admitted += 1;
                if (400..500).contains(&response.status) {
                    self.stats.resource_4xx += 1;
                }
                let remaining = check.tightest().map(|t| t.verdict.remaining.saturating_sub(1));
                self.emit(
                    ctx,
                    GatewayEventKind::Admitted {
                        family,
                        token_seq,
                        status: response.status,
                        remaining,
                    },
                );
                response
            }
        };
        response.headers.extend(headers.unwrap_or_default());
        self.deliver(ctx, &route, response)
    }

    /// The scopes a request of `family` needs, when the client has none of them.
    fn missing_scope(&self, client: &str, family: &str) -> Option<&'static [&'static str]> {
        let granted = self
            .config
            .clients
            .iter()
            .find(|config| config.id == client)?
            .scopes
            .as_ref()?;
        let required = scopes_for_family(family);
        let allowed = required.is_empty() || required.iter().any(|scope| granted.iter().any(|g| g == scope));
        (!allowed).then_some(required)
    }

    /// CXone's OpenID discovery document: where the issuer's token endpoint is (platform-facts
    /// §2a). Served on the login host; the address it names is the one the request came to.
    fn discovery(&self, named_host: Option<HostRole>) -> Response {
        let issuer = match named_host {
            Some(_) => format!("https://{}", self.hosts.login),
            None => String::new(),
        };
        Response::json(
            200,
            &serde_json::json!({
                "issuer": issuer,
                "token_endpoint": format!("{issuer}/auth/token"),
                "grant_types_supported": ["password", "refresh_token", "client_credentials"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            }),
        )
    }

    /// The way out: a write's response may be lost, any response may be slow (on top of a bulk
    /// request's own time).
    fn deliver(&mut self, ctx: &Ctx, route: &Route, mut response: Response) -> Response {
        let target = Target {
            family: route.family(),
            host: route.host(),
        };
        let applied_write = route.is_write() && (200..300).contains(&response.status);
        if applied_write && self.faults.lose_response(ctx.now, target, &mut self.fault_rng) {
            self.stats.faults += 1;
            self.emit(
                ctx,
                GatewayEventKind::Fault {
                    family: route.family(),
                    fault: "lost_response".into(),
                    status: 0,
                },
            );
            response.delivery = Delivery::Lost;
        } else if let Some(delay_ms) = self.faults.slow_ms(ctx.now, target, &mut self.fault_rng) {
            self.emit(
                ctx,
                GatewayEventKind::Fault {
                    family: route.family(),
                    fault: format!("slow_{delay_ms}ms"),
                    status: response.status,
                },
            );
            response.delivery = match response.delivery {
                Delivery::DelayedMs(own_ms) => Delivery::DelayedMs(own_ms + delay_ms),
                _ => Delivery::DelayedMs(delay_ms),
            };
        }
        response
    }

    fn token(&mut self, ctx: &Ctx, request: &Request, target: Target) -> Response {
        let authorization = request.header_value("authorization");
        // Faults that name the token endpoint (`families = ["oauth"]` or `host = "login"`).
        if let Some(throttle) = self.faults.throttle(ctx.now, target, &mut self.fault_rng) {
            return self.injected(ctx, "oauth", throttle);
        }
        // The token endpoint's own limit, keyed by the client the request claims to be: every
        // token request counts, granted or not.
        if let Some(client) = crate::oauth::claimed_client(authorization, &request.body) {
            let subject = Subject {
                token_seq: 0,
                client: &client,
                family: "oauth",
                resource: "",
            };
            let check = self.limits.check(ctx.now, subject);
            if let Some(rejection) = check.binding_rejection().cloned() {
                self.limits.record_refusal(ctx.now, &check);
                self.stats.token_requests_rate_limited += 1;
                return self.rate_limited(ctx, "oauth", 0, &rejection, None);
            }
            self.limits.record(ctx.now, &check);
        }
        if let Some(fault) = self.faults.server_error(ctx.now, target, &mut self.fault_rng) {
            return self.injected(ctx, "oauth", fault);
        }
        let response = self.grant(ctx, request);
        self.deliver(ctx, &Route::Token, response)
    }

    fn grant(&mut self, ctx: &Ctx, request: &Request) -> Response {
        let authorization = request.header_value("authorization");
        match self.tokens.grant(
            &self.config,
            &mut self.id_rng,
            ctx.now,
            authorization,
            &request.body,
        ) {
            Ok(grant) => {
                self.stats.tokens_issued += 1;
                if let Some(evicted) = grant.evicted {
                    self.stats.tokens_evicted += 1;
                    let kind = GatewayEventKind::TokenEvicted {
                        client: grant.client.clone(),
                        token_seq: evicted,
                    };
                    self.emit(ctx, kind);
                }
                self.emit(
                    ctx,
                    GatewayEventKind::TokenIssued {
                        client: grant.client,
                        token_seq: grant.token_seq,
                        grant: grant.grant.to_string(),
                        expires_in_s: grant.expires_in_s,
                    },
                );
                Response::json(200, &grant.body)
            }
            Err(refused) => {
                self.stats.token_requests_refused += 1;
                self.emit(
                    ctx,
                    GatewayEventKind::TokenRefused {
                        status: refused.status,
                        error: refused.error.to_string(),
                    },
                );
                Response::json(refused.status, &refused.body())
            }
        }
    }

    fn unauthorized(
        &mut self,
        ctx: &Ctx,
        family: &'static str,
        reason: AuthFailure,
        token_seq: Option<u64>,
    ) -> Response {
        self.stats.unauthorized += 1;
        self.emit(
            ctx,
            GatewayEventKind::Unauthorized {
                family,
                reason,
                token_seq,
            },
        );
        replies::unauthorized(self.config.platform, &ctx.correlation_id, reason)
    }

    fn rate_limited(
        &mut self,
        ctx: &Ctx,
        family: &'static str,
        token_seq: u64,
        rejection: &RuleVerdict,
        described: Option<&Check>,
    ) -> Response {
        self.stats.rate_limited += 1;
        let true_retry_after_s = ctx
            .now
            .secs_until_ceil(rejection.verdict.retry_at)
            .clamp(1, RETRY_AFTER_MAX_S);
        let rule = self.limits.rules().nth(rejection.rule_index);
        let cap_s = rule.and_then(|rule| rule.retry_after_max_s);
        let style = rule.map_or(RetryAfterStyle::Seconds, |rule| rule.retry_after);
        let extra_s = rule.map_or(0, |rule| rule.retry_after_extra_s);
        let retry_after_s = cap_s
            .map_or(true_retry_after_s, |cap_s| true_retry_after_s.min(cap_s.max(1)))
            .saturating_add(extra_s)
            .min(RETRY_AFTER_MAX_S);
        let wait_ms = (rejection.verdict.retry_at.min(SimTime::NEVER) - ctx.now).as_millis() as u64;
        self.emit(
            ctx,
            GatewayEventKind::RateLimited {
                family,
                token_seq,
                rule: rejection.rule.clone(),
                key: rejection.key.clone(),
                count: rejection.verdict.count,
                limit: rejection.verdict.limit,
                wait_ms,
                retry_after_s: (style != RetryAfterStyle::Missing).then_some(retry_after_s),
            },
        );
        let refusal = Refusal {
            rule: rejection.rule.clone(),
            key: rejection.key.clone(),
            count: rejection.verdict.count,
            limit: rejection.verdict.limit,
        };
        self.recent_refusals.push_back((ctx.now, refusal.clone()));
        if self.recent_refusals.len() > RECENT_REFUSALS_MAX {
            self.recent_refusals.pop_front();
        }
        let mut response = self.too_many_requests(ctx, Some(retry_after_s), false);
        self.add_retry_after(
            ctx.now,
            &mut response,
            Some(FaultRetryAfter {
                seconds: retry_after_s,
                style,
            }),
        );
        response.refusal = Some(refusal);
        if let Some(described) = described {
            response
                .headers
                .extend(self.rate_limit_headers(ctx.now, described));
        }
        response
    }

    fn too_many_requests(&self, ctx: &Ctx, retry_after_s: Option<u64>, html: bool) -> Response {
        replies::too_many_requests(self.config.platform, &ctx.correlation_id, retry_after_s, html)
    }

    /// Writes `Retry-After` in its style: delay-seconds, or an HTTP-date on the platform's clock
    /// rounded up to the next whole second (so the date is never before the true reset).
    fn add_retry_after(&self, now: SimTime, response: &mut Response, retry_after: Option<FaultRetryAfter>) {
        let Some(FaultRetryAfter { seconds, style }) = retry_after else {
            return;
        };
        let value = match style {
            RetryAfterStyle::Missing => return,
            RetryAfterStyle::Seconds => seconds.to_string(),
            RetryAfterStyle::Date => {
                let at_us = now.as_micros().saturating_add(seconds.saturating_mul(1_000_000));
                let at_s = self.config.epoch_unix_s + at_us.div_ceil(1_000_000);
                httpdate::fmt_http_date(std::time::UNIX_EPOCH + Duration::from_secs(at_s))
            }
        };
        response.headers.push(("Retry-After".to_string(), value));
    }

    fn injected(&mut self, ctx: &Ctx, family: &'static str, fault: Injected) -> Response {
        self.stats.faults += 1;
        let response = match fault {
            Injected::Maintenance { retry_after } => {
                let mut response = self.error_body(
                    ctx,
                    503,
                    "service.unavailable",
                    "The service is currently unavailable for maintenance",
                );
                self.add_retry_after(ctx.now, &mut response, retry_after);
                response
            }
            Injected::Throttle { retry_after, html } => {
                let mut response = self.too_many_requests(ctx, retry_after.map(|r| r.seconds), html);
                self.add_retry_after(ctx.now, &mut response, retry_after);
                response
            }
            Injected::ServerError {
                status,
                html,
                retry_after,
            } => {
                let mut response =
                    replies::server_error(self.config.platform, &ctx.correlation_id, status, html);
                self.add_retry_after(ctx.now, &mut response, retry_after);
                response
            }
            Injected::Hang => {
                let mut response = Response::new(504);
                response.delivery = Delivery::Hang;
                response
            }
        };
        self.emit(
            ctx,
            GatewayEventKind::Fault {
                family,
                fault: fault.name().to_string(),
                status: if fault == Injected::Hang {
                    0
                } else {
                    response.status
                },
            },
        );
        response
    }

    pub(crate) fn bad_request(&mut self, ctx: &Ctx, status: u16, code: &str, message: &str) -> Response {
        self.stats.bad_requests += 1;
        self.emit(
            ctx,
            GatewayEventKind::BadRequest {
                status,
                reason: code.to_string(),
            },
        );
        self.error_body(ctx, status, code, message)
    }

    /// The platform's error body for this request.
    pub(crate) fn error_body(&self, ctx: &Ctx, status: u16, code: &str, message: &str) -> Response {
        replies::error_body(self.config.platform, &ctx.correlation_id, status, code, message)
    }

    /// The rate-limit headers of the configured dialect for the rules that applied.
    fn rate_limit_headers(&self, now: SimTime, described: &Check) -> Vec<(String, String)> {
        rate_headers::render(
            self.config.headers,
            self.config.epoch_unix_s,
            now,
            described,
            RETRY_AFTER_MAX_S,
        )
    }
}
