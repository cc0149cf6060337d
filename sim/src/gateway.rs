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

use std::collections::hash_map::DefaultHasher;
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::time::Duration;

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde_json::{json, Value};

use crate::config::{ConfigError, GatewayConfig, HeaderDialect, Platform};
use crate::directory::{Directory, UpdateError};
use crate::events::{AuthFailure, EventKind, GatewayEvent};
use crate::faults::{FaultPlan, Injected};
use crate::http::{Delivery, Request, Response};
use crate::ledger::{Ledger, Write, WriteOp};
use crate::limiter::Verdict;
use crate::limits::{RateLimits, RuleVerdict, Subject};
use crate::oauth::TokenStore;
use crate::routes::{route, Route, CXONE_PREFIX};
use crate::time::SimTime;

/// Idle limiter keys, dead tokens and old idempotency keys are pruned after this many requests,
/// or after this much simulated time, whichever comes first.
const PRUNE_EVERY_REQUESTS: u64 = 1_024;
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// How long an idempotency key is remembered.
const IDEMPOTENCY_TTL: Duration = Duration::from_secs(86_400);
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
    pub conflicts: u64,
    pub bad_requests: u64,
    pub background_admitted: u64,
    pub background_rejected: u64,
}

struct BackgroundState {
    name: String,
    client: String,
    family: String,
    token_seq: u64,
    next_at: SimTime,
    interval: Duration,
    until: SimTime,
}

struct IdempotentEntry {
    body_hash: u64,
    stored_at: SimTime,
    response: Response,
}

/// The per-request context.
struct Ctx {
    now: SimTime,
    request: u64,
    correlation_id: String,
}

/// The simulated platform gateway.
pub struct Gateway {
    config: GatewayConfig,
    /// Fault draws (stream 0).
    fault_rng: ChaCha8Rng,
    /// Tokens, correlation ids and resource ids (stream 1): adding an id never shifts a fault draw.
    id_rng: ChaCha8Rng,
    tokens: TokenStore,
    limits: RateLimits,
    faults: FaultPlan,
    directory: Directory,
    idempotency: BTreeMap<String, IdempotentEntry>,
    ledger: Ledger,
    events: Vec<GatewayEvent>,
    stats: GatewayStats,
    background: Vec<BackgroundState>,
    revocations: Vec<SimTime>,
    revocations_done: usize,
    latest: SimTime,
    pruned_at: SimTime,
}

impl Gateway {
    pub fn new(config: GatewayConfig, seed: u64) -> Result<Gateway, ConfigError> {
        config.validate()?;
        let mut fault_rng = ChaCha8Rng::seed_from_u64(seed);
        fault_rng.set_stream(0);
        let mut id_rng = ChaCha8Rng::seed_from_u64(seed);
        id_rng.set_stream(1);
        let background = config
            .background
            .iter()
            .enumerate()
            .map(|(index, consumer)| BackgroundState {
                name: consumer.name.clone(),
                client: consumer.client.clone(),
                family: consumer.family.clone(),
                // Background consumers hold tokens of their own, numbered from the top.
                token_seq: u64::MAX - index as u64,
                next_at: SimTime::from_secs(consumer.from_s),
                interval: Duration::from_micros(60_000_000 / consumer.rate_per_min),
                until: consumer.until_s.map_or(SimTime::NEVER, SimTime::from_secs),
            })
            .collect();
        let faults = FaultPlan::new(config.faults.clone());
        Ok(Gateway {
            tokens: TokenStore::new(),
            limits: RateLimits::new(config.effective_limits()),
            revocations: faults.revocation_times(),
            faults,
            directory: Directory::new(config.platform, config.data.users),
            idempotency: BTreeMap::new(),
            ledger: Ledger::default(),
            events: Vec::new(),
            stats: GatewayStats::default(),
            background,
            revocations_done: 0,
            latest: SimTime::ZERO,
            pruned_at: SimTime::ZERO,
            fault_rng,
            id_rng,
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

    /// Takes the events recorded since the last call, in order.
    pub fn drain_events(&mut self) -> Vec<GatewayEvent> {
        std::mem::take(&mut self.events)
    }

    /// How many limiter keys, tokens and idempotency keys are held (memory-bound tests).
    pub fn state_size(&self) -> usize {
        self.limits.key_count() + self.tokens.held() + self.idempotency.len()
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
        if self.config.platform == Platform::Genesys {
            response
                .headers
                .push(("ININ-Correlation-Id".to_string(), ctx.correlation_id));
        }
        response
    }

    /// When the gateway next has work of its own (a scheduled revocation or a background draw),
    /// if it has any. Limits, tokens and windows need none: they are evaluated at each request.
    pub fn next_wakeup(&self) -> Option<SimTime> {
        let revocation = self.revocations.get(self.revocations_done).copied();
        let background = self
            .background
            .iter()
            .filter(|state| state.next_at < state.until)
            .map(|state| state.next_at)
            .min();
        [revocation, background].into_iter().flatten().min()
    }

    /// Applies scheduled revocations and background draws up to `now`, in time order.
    pub fn advance_to(&mut self, now: SimTime) {
        // Time never runs backwards for the core: a later request at an earlier `now` is taken
        // at this one (as in `handle`).
        let now = now.max(self.latest);
        self.latest = now;
        while let Some(&at) = self.revocations.get(self.revocations_done) {
            if at > now {
                break;
            }
            let count = self.tokens.revoke_all(at);
            self.events.push(GatewayEvent {
                at,
                request: 0,
                kind: EventKind::TokensRevoked { count },
            });
            self.revocations_done += 1;
        }
        loop {
            let due = self
                .background
                .iter()
                .enumerate()
                .filter(|(_, state)| state.next_at <= now && state.next_at < state.until)
                .min_by_key(|(index, state)| (state.next_at, *index))
                .map(|(index, _)| index);
            let Some(index) = due else { break };
            let state = &mut self.background[index];
            let at = state.next_at;
            state.next_at = at + state.interval;
            let (name, client, family, token_seq) = (
                state.name.clone(),
                state.client.clone(),
                state.family.clone(),
                state.token_seq,
            );
            let check = self.limits.check(
                at,
                Subject {
                    token_seq,
                    client: &client,
                    family: &family,
                },
            );
            let admitted = check.admitted();
            if admitted {
                self.limits.record(at, &check);
                self.stats.background_admitted += 1;
            } else {
                self.stats.background_rejected += 1;
            }
            self.events.push(GatewayEvent {
                at,
                request: 0,
                kind: EventKind::Background {
                    consumer: name,
                    admitted,
                },
            });
        }
    }

    fn prune(&mut self, now: SimTime) {
        self.pruned_at = now;
        self.limits.prune(now);
        self.tokens.prune(now);
        self.idempotency
            .retain(|_, entry| now < entry.stored_at + IDEMPOTENCY_TTL);
    }

    fn emit(&mut self, ctx: &Ctx, kind: EventKind) {
        self.events.push(GatewayEvent {
            at: ctx.now,
            request: ctx.request,
            kind,
        });
    }

    fn uuid(&mut self) -> String {
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
        let family = route.family();
        if let Some(maintenance) = self.faults.maintenance(ctx.now) {
            return self.injected(ctx, family, maintenance);
        }
        if route == Route::Token {
            return self.token(ctx, request);
        }
        let (token_seq, client) = match self
            .tokens
            .authenticate(ctx.now, request.header_value("authorization"))
        {
            Ok((token_seq, client)) => (token_seq, client.to_string()),
            Err((reason, token_seq)) => return self.unauthorized(ctx, family, reason, token_seq),
        };
        if let Some(throttle) = self.faults.throttle(ctx.now, &mut self.fault_rng) {
            return self.injected(ctx, family, throttle);
        }
        let check = self.limits.check(
            ctx.now,
            Subject {
                token_seq,
                client: &client,
                family,
            },
        );
        if let Some(rejection) = check.binding_rejection() {
            let rejection = rejection.clone();
            let tightest = check.tightest().cloned();
            return self.rate_limited(ctx, family, token_seq, &rejection, tightest.as_ref());
        }
        self.limits.record(ctx.now, &check);
        // Headers describe the state after this admission; asking again consumes nothing.
        let headers = match self.config.headers {
            HeaderDialect::None => None,
            _ => {
                let after = self.limits.check(
                    ctx.now,
                    Subject {
                        token_seq,
                        client: &client,
                        family,
                    },
                );
                after
                    .tightest()
                    .map(|tightest| self.rate_limit_headers(ctx.now, tightest))
            }
        };
        let mut response = match self.faults.server_error(ctx.now, &mut self.fault_rng) {
            Some(fault) => self.injected(ctx, family, fault),
            None => {
                let response = self.serve(ctx, &route, request);
                self.stats.admitted += 1;
                let remaining = check.tightest().map(|t| t.verdict.remaining.saturating_sub(1));
                self.emit(
                    ctx,
                    EventKind::Admitted {
                        family: family.to_string(),
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

    /// The way out: a write's response may be lost, any response may be slow.
    fn deliver(&mut self, ctx: &Ctx, route: &Route, mut response: Response) -> Response {
        let applied_write = route.is_write() && (200..300).contains(&response.status);
        if applied_write && self.faults.lose_response(ctx.now, &mut self.fault_rng) {
            self.stats.faults += 1;
            self.emit(
                ctx,
                EventKind::Fault {
                    family: route.family().to_string(),
                    fault: "lost_response".into(),
                    status: 0,
                },
            );
            response.delivery = Delivery::Lost;
        } else if let Some(delay_ms) = self.faults.slow_ms(ctx.now, &mut self.fault_rng) {
            self.emit(
                ctx,
                EventKind::Fault {
                    family: route.family().to_string(),
                    fault: format!("slow_{delay_ms}ms"),
                    status: response.status,
                },
            );
            response.delivery = Delivery::DelayedMs(delay_ms);
        }
        response
    }

    fn token(&mut self, ctx: &Ctx, request: &Request) -> Response {
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
                self.emit(
                    ctx,
                    EventKind::TokenIssued {
                        client: grant.client,
                        token_seq: grant.token_seq,
                        grant: grant.grant.to_string(),
                        expires_in_s: grant.expires_in_s,
                    },
                );
                Response::json(200, &grant.body)
            }
            Err(refused) => {
                self.emit(
                    ctx,
                    EventKind::TokenRefused {
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
        family: &str,
        reason: AuthFailure,
        token_seq: Option<u64>,
    ) -> Response {
        self.stats.unauthorized += 1;
        self.emit(
            ctx,
            EventKind::Unauthorized {
                family: family.to_string(),
                reason,
                token_seq,
            },
        );
        match (self.config.platform, reason) {
            (Platform::Genesys, AuthFailure::Missing) => self.error_body(
                ctx,
                401,
                "authentication.required",
                "No authentication bearer token specified in authorization header.",
            ),
            (Platform::Genesys, _) => {
                self.error_body(ctx, 401, "bad.credentials", "Invalid login credentials.")
            }
            (Platform::Cxone, _) => Response::json(
                401,
                &json!({"error": "invalid_token", "error_description": "The access token is invalid or has expired"}),
            ),
        }
    }

    fn rate_limited(
        &mut self,
        ctx: &Ctx,
        family: &str,
        token_seq: u64,
        rejection: &RuleVerdict,
        tightest: Option<&RuleVerdict>,
    ) -> Response {
        self.stats.rate_limited += 1;
        let true_retry_after_s = ctx
            .now
            .secs_until_ceil(rejection.verdict.retry_at)
            .clamp(1, RETRY_AFTER_MAX_S);
        let cap_s = self
            .limits
            .rules()
            .nth(rejection.rule_index)
            .and_then(|rule| rule.retry_after_max_s);
        let retry_after_s = cap_s.map_or(true_retry_after_s, |cap_s| true_retry_after_s.min(cap_s.max(1)));
        let wait_ms = (rejection.verdict.retry_at.min(SimTime::NEVER) - ctx.now).as_millis() as u64;
        self.emit(
            ctx,
            EventKind::RateLimited {
                family: family.to_string(),
                token_seq,
                rule: rejection.rule.clone(),
                key: rejection.key.clone(),
                wait_ms,
                retry_after_s: Some(retry_after_s),
            },
        );
        let mut response = self.too_many_requests(ctx, Some(retry_after_s), false);
        if let Some(described) = tightest {
            response
                .headers
                .extend(self.rate_limit_headers(ctx.now, described));
        }
        response
    }

    fn too_many_requests(&mut self, ctx: &Ctx, retry_after_s: Option<u64>, html: bool) -> Response {
        let mut response = if html {
            Response::html(429, "Too Many Requests")
        } else {
            let seconds = retry_after_s.map_or("a few".to_string(), |s| s.to_string());
            match self.config.platform {
                Platform::Genesys => Response::json(
                    429,
                    &json!({
                        "message": format!("Rate limit exceeded the maximum. Retry the request in [{seconds}] seconds"),
                        "code": "too.many.requests.retry.after",
                        "status": 429,
                        "contextId": ctx.correlation_id,
                        "details": [],
                        "errors": [],
                    }),
                ),
                Platform::Cxone => Response::json(
                    429,
                    &json!({
                        "error": "Too Many Requests",
                        "error_description": format!("Rate limit exceeded. Retry the request in {seconds} seconds"),
                    }),
                ),
            }
        };
        if let Some(seconds) = retry_after_s {
            response
                .headers
                .push(("Retry-After".to_string(), seconds.to_string()));
        }
        response
    }

    fn injected(&mut self, ctx: &Ctx, family: &str, fault: Injected) -> Response {
        self.stats.faults += 1;
        let response = match fault {
            Injected::Maintenance { retry_after_s } => {
                let mut response = self.error_body(
                    ctx,
                    503,
                    "service.unavailable",
                    "The service is currently unavailable for maintenance",
                );
                if let Some(seconds) = retry_after_s {
                    response
                        .headers
                        .push(("Retry-After".to_string(), seconds.to_string()));
                }
                response
            }
            Injected::Throttle { retry_after_s, html } => self.too_many_requests(ctx, retry_after_s, html),
            Injected::ServerError { status, html: true } => Response::html(status, status_text(status)),
            Injected::ServerError { status, html: false } => {
                let code = status_text(status).to_ascii_lowercase().replace(' ', ".");
                self.error_body(ctx, status, &code, "The server encountered an error")
            }
        };
        self.emit(
            ctx,
            EventKind::Fault {
                family: family.to_string(),
                fault: fault.name().to_string(),
                status: response.status,
            },
        );
        response
    }

    fn bad_request(&mut self, ctx: &Ctx, status: u16, code: &str, message: &str) -> Response {
        self.stats.bad_requests += 1;
        self.emit(
            ctx,
            EventKind::BadRequest {
                status,
                reason: code.to_string(),
            },
        );
        self.error_body(ctx, status, code, message)
    }

    /// The platform's error body: Genesys `ErrorBody`, CXone `{error, error_description}`.
    fn error_body(&self, ctx: &Ctx, status: u16, code: &str, message: &str) -> Response {
        match self.config.platform {
            Platform::Genesys => Response::json(
                status,
                &json!({
                    "message": message, "code": code, "status": status,
                    "contextId": ctx.correlation_id, "details": [], "errors": [],
                }),
            ),
            Platform::Cxone => Response::json(status, &json!({"error": code, "error_description": message})),
        }
    }

    /// The rate-limit headers of the configured dialect for one rule's state.
    fn rate_limit_headers(&self, now: SimTime, described: &RuleVerdict) -> Vec<(String, String)> {
        let Verdict {
            limit,
            remaining,
            reset_at,
            ..
        } = described.verdict;
        let reset_in_s = now.secs_until_ceil(reset_at).min(RETRY_AFTER_MAX_S);
        let header = |name: &str, value: String| (name.to_string(), value);
        match self.config.headers {
            HeaderDialect::None => Vec::new(),
            HeaderDialect::Inin => vec![
                header("inin-ratelimit-allowed", limit.to_string()),
                header(
                    "inin-ratelimit-count",
                    limit.saturating_sub(remaining).to_string(),
                ),
                header("inin-ratelimit-reset", reset_in_s.to_string()),
            ],
            HeaderDialect::XRateLimit => {
                let reset_epoch_s = self.config.epoch_unix_s + (now.as_micros() / 1_000_000) + reset_in_s;
                vec![
                    header("X-Rate-Limit-Limit", limit.to_string()),
                    header("X-Rate-Limit-Remaining", remaining.to_string()),
                    header("X-Rate-Limit-Reset", reset_epoch_s.to_string()),
                ]
            }
            HeaderDialect::Ietf => {
                let window_s = described.window_ms.div_ceil(1_000);
                vec![
                    header(
                        "RateLimit-Policy",
                        format!("\"{}\";q={limit};w={window_s}", described.rule),
                    ),
                    header(
                        "RateLimit",
                        format!("\"{}\";r={remaining};t={reset_in_s}", described.rule),
                    ),
                ]
            }
        }
    }

    fn serve(&mut self, ctx: &Ctx, route: &Route, request: &Request) -> Response {
        match route {
            Route::Token => unreachable!("token requests are answered before authentication"),
            Route::ListUsers => self.list_users(ctx, request),
            Route::GetUser(id) => match self.directory.get(id) {
                Some(user) => Response::json(200, &self.directory.view(user)),
                None => self.error_body(ctx, 404, "not.found", "The user was not found"),
            },
            Route::UpdateUser(id) => match parse_json(&request.body) {
                Some(patch) => self.update_user(ctx, id, &patch),
                None => self.bad_request(ctx, 400, "bad.request", "The body is not valid JSON"),
            },
            Route::BulkUpdateUsers => self.bulk_update_users(ctx, request),
            Route::CreateEvaluation(conversation) => {
                let conversation = conversation.clone();
                self.idempotent(ctx, request, |gateway, ctx, body| {
                    gateway.create_evaluation(ctx, &conversation, body)
                })
            }
            Route::CreateAgents => self.idempotent(ctx, request, Gateway::create_agents),
        }
    }

    fn list_users(&mut self, ctx: &Ctx, request: &Request) -> Response {
        let query: BTreeMap<String, String> = request.query().into_iter().collect();
        let number = |name: &str, default: u64| -> Option<u64> {
            query.get(name).map_or(Some(default), |text| text.parse().ok())
        };
        let total = self.directory.len();
        let page_size_max = self.config.data.page_size_max;
        match self.config.platform {
            Platform::Genesys => {
                let (Some(page_size), Some(page_number)) = (number("pageSize", 25), number("pageNumber", 1))
                else {
                    return self.bad_request(
                        ctx,
                        400,
                        "bad.request",
                        "pageSize and pageNumber must be whole numbers",
                    );
                };
                if page_size == 0 || page_size > page_size_max || page_number == 0 {
                    return self.bad_request(ctx, 400, "bad.request", "pageSize or pageNumber out of range");
                }
                let page_count = total.div_ceil(page_size).max(1);
                let uri = |n: u64| format!("/api/v2/users?pageSize={page_size}&pageNumber={n}");
                let offset = (page_number - 1).saturating_mul(page_size);
                let entities: Vec<Value> = self
                    .directory
                    .page(offset, page_size)
                    .iter()
                    .map(|user| self.directory.view(user))
                    .collect();
                let mut body = json!({
                    "entities": entities, "pageSize": page_size, "pageNumber": page_number,
                    "total": total, "pageCount": page_count,
                    "firstUri": uri(1), "selfUri": uri(page_number), "lastUri": uri(page_count),
                });
                if page_number < page_count {
                    body["nextUri"] = json!(uri(page_number + 1));
                }
                if page_number > 1 {
                    body["previousUri"] = json!(uri(page_number - 1));
                }
                Response::json(200, &body)
            }
            Platform::Cxone => {
                let (Some(skip), Some(top)) = (number("skip", 0), number("top", 100)) else {
                    return self.bad_request(ctx, 400, "bad.request", "skip and top must be whole numbers");
                };
                if top == 0 || top > page_size_max {
                    return self.bad_request(ctx, 400, "bad.request", "top out of range");
                }
                let uri = |skip: u64| format!("{CXONE_PREFIX}/agents?skip={skip}&top={top}");
                let agents: Vec<Value> = self
                    .directory
                    .page(skip, top)
                    .iter()
                    .map(|user| self.directory.view(user))
                    .collect();
                let mut links = json!({"self": uri(skip)});
                if skip.saturating_add(top) < total {
                    links["next"] = json!(uri(skip + top));
                }
                if skip > 0 {
                    links["previous"] = json!(uri(skip.saturating_sub(top)));
                }
                let poll_time = std::time::UNIX_EPOCH
                    + Duration::from_secs(self.config.epoch_unix_s)
                    + ctx.now.as_duration();
                Response::json(
                    200,
                    &json!({
                        "businessUnitId": 4_600_001,
                        "lastPollTime": httpdate::fmt_http_date(poll_time),
                        "totalRecords": total,
                        "agents": agents,
                        "_links": links,
                    }),
                )
            }
        }
    }

    /// One versioned update, recorded in the ledger when applied.
    fn apply_update(&mut self, ctx: &Ctx, id: &str, patch: &Value) -> Result<Value, (u16, String, String)> {
        let require_version = self.config.platform == Platform::Genesys;
        match self.directory.update(id, patch, require_version) {
            Ok(version) => {
                let view = self
                    .directory
                    .view(self.directory.get(id).expect("updated user exists"));
                self.ledger.record(Write {
                    at: ctx.now,
                    request: ctx.request,
                    op: WriteOp::UpdateUser,
                    key: id.to_string(),
                    version: Some(version),
                });
                self.emit(
                    ctx,
                    EventKind::WriteApplied {
                        op: WriteOp::UpdateUser.as_str().into(),
                        key: id.to_string(),
                        version: Some(version),
                    },
                );
                Ok(view)
            }
            Err(UpdateError::Conflict { sent, current }) => {
                self.stats.conflicts += 1;
                self.emit(
                    ctx,
                    EventKind::Conflict {
                        key: id.to_string(),
                        sent,
                        current,
                    },
                );
                Err((
                    409,
                    "conflict".into(),
                    format!("The version supplied ({sent}) does not match the current version ({current})"),
                ))
            }
            Err(UpdateError::NotFound) => Err((404, "not.found".into(), "The user was not found".into())),
            Err(UpdateError::MissingVersion) => {
                Err((400, "bad.request".into(), "version is required".into()))
            }
            Err(UpdateError::Invalid(why)) => Err((400, "bad.request".into(), why.into())),
        }
    }

    fn update_user(&mut self, ctx: &Ctx, id: &str, patch: &Value) -> Response {
        match self.apply_update(ctx, id, patch) {
            Ok(view) => Response::json(200, &view),
            Err((status, code, message)) => self.error_body(ctx, status, &code, &message),
        }
    }

    fn bulk_update_users(&mut self, ctx: &Ctx, request: &Request) -> Response {
        let Some(Value::Array(items)) = parse_json(&request.body) else {
            return self.bad_request(
                ctx,
                400,
                "bad.request",
                "The body must be a JSON array of user updates",
            );
        };
        if items.is_empty() || items.len() as u64 > self.config.data.bulk_max {
            let message = format!("Max {} users can be updated at a time", self.config.data.bulk_max);
            return self.bad_request(ctx, 400, "bad.request", &message);
        }
        let mut results = Vec::with_capacity(items.len());
        let mut error_indexes = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let id = item.get("id").and_then(Value::as_str).unwrap_or("").to_string();
            match self.apply_update(ctx, &id, item) {
                Ok(view) => results.push(json!({"id": id, "success": true, "status": 200, "entity": view})),
                Err((status, code, message)) => {
                    error_indexes.push(index);
                    results.push(json!({"id": id, "success": false, "status": status, "error": {"code": code, "message": message}}));
                }
            }
        }
        Response::json(
            200,
            &json!({"results": results, "errorCount": error_indexes.len(), "errorIndexes": error_indexes}),
        )
    }

    fn create_evaluation(&mut self, ctx: &Ctx, conversation: &str, body: &Value) -> Response {
        if !body.is_object() {
            return self.bad_request(ctx, 400, "bad.request", "The body must be a JSON object");
        }
        let id = self.uuid();
        self.record_create(ctx, WriteOp::CreateEvaluation, conversation);
        Response::json(
            200,
            &json!({
                "id": id,
                "conversation": {"id": conversation},
                "status": "PENDING",
                "selfUri": format!("/api/v2/quality/conversations/{conversation}/evaluations/{id}"),
            }),
        )
    }

    fn create_agents(&mut self, ctx: &Ctx, body: &Value) -> Response {
        let Some(agents) = body.get("agents").and_then(Value::as_array) else {
            return self.bad_request(ctx, 400, "bad.request", "The body must be {\"agents\": [...]}");
        };
        if agents.is_empty() || agents.len() as u64 > self.config.data.bulk_max {
            let message = format!(
                "Between 1 and {} agents can be created at a time",
                self.config.data.bulk_max
            );
            return self.bad_request(ctx, 400, "bad.request", &message);
        }
        let agents = agents.clone();
        let mut results = Vec::with_capacity(agents.len());
        let mut error_count = 0;
        for agent in &agents {
            match agent.get("userName").and_then(Value::as_str) {
                Some(user_name) if !user_name.is_empty() => {
                    let fields: BTreeMap<String, Value> = agent
                        .as_object()
                        .map(|object| {
                            object
                                .iter()
                                .filter(|(k, _)| *k != "userName")
                                .map(|(k, v)| (k.clone(), v.clone()))
                                .collect()
                        })
                        .unwrap_or_default();
                    let id = self.directory.insert(user_name.to_string(), fields);
                    self.record_create(ctx, WriteOp::CreateAgent, user_name);
                    results.push(json!({"agentId": id.parse::<u64>().unwrap_or(0), "userName": user_name, "success": true, "error": null}));
                }
                _ => {
                    error_count += 1;
                    results.push(json!({"agentId": null, "success": false, "error": "userName is required"}));
                }
            }
        }
        Response::json(200, &json!({"errorCount": error_count, "agentResults": results}))
    }

    fn record_create(&mut self, ctx: &Ctx, op: WriteOp, key: &str) {
        self.ledger.record(Write {
            at: ctx.now,
            request: ctx.request,
            op,
            key: key.to_string(),
            version: None,
        });
        self.emit(
            ctx,
            EventKind::WriteApplied {
                op: op.as_str().into(),
                key: key.to_string(),
                version: None,
            },
        );
    }

    /// Runs a create under the request's `Idempotency-Key`, when the gateway honours them: the same
    /// key with the same body replays the stored response; with another body it is refused (422).
    fn idempotent(
        &mut self,
        ctx: &Ctx,
        request: &Request,
        create: impl FnOnce(&mut Gateway, &Ctx, &Value) -> Response,
    ) -> Response {
        let Some(body) = parse_json(&request.body) else {
            return self.bad_request(ctx, 400, "bad.request", "The body is not valid JSON");
        };
        let key = match request.header_value("idempotency-key") {
            Some(key) if self.idempotency_enabled() => key.to_string(),
            _ => return create(self, ctx, &body),
        };
        if !is_uuid(&key) {
            return self.bad_request(ctx, 400, "bad.request", "Idempotency-Key must be a UUID");
        }
        let body_hash = hash_bytes(&request.body);
        if let Some(entry) = self.idempotency.get(&key) {
            if entry.body_hash != body_hash {
                return self.error_body(
                    ctx,
                    422,
                    "idempotency.key.reused",
                    "The Idempotency-Key was used with another body",
                );
            }
            let replay = entry.response.clone().with_header("Idempotent-Replayed", "true");
            self.emit(ctx, EventKind::IdempotentReplay { key: key.clone() });
            return replay;
        }
        let response = create(self, ctx, &body);
        if (200..300).contains(&response.status) {
            self.idempotency.insert(
                key,
                IdempotentEntry {
                    body_hash,
                    stored_at: ctx.now,
                    response: response.clone(),
                },
            );
        }
        response
    }

    fn idempotency_enabled(&self) -> bool {
        self.config.data.idempotency_keys
    }
}

fn parse_json(body: &[u8]) -> Option<Value> {
    serde_json::from_slice(body).ok()
}

fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}

fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(group, len)| group.len() == len && group.chars().all(|c| c.is_ascii_hexdigit()))
}

fn status_text(status: u16) -> &'static str {
    match status {
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Server Error",
    }
}
