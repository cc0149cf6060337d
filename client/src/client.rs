//! The async driver: the only part of the client that awaits. For each operation:
//! gate (concurrency, priority) → per attempt: breaker admit → pace → token → send (with the
//! attempt timeout) → classify → backoff sleep, until success, a final failure, or a give-up.
//! Every decision goes to the observer and to `tracing`.
//!
//! State shared by a client's workers (token cache, budget, per-bucket breakers and pacers) sits
//! behind short locks; each [`Worker`] owns its RNG (a ChaCha8 stream of the run's seed), so
//! jitter does not depend on which worker asked first.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use crate::clock::Clock;
use crate::config::{ClientConfig, ConfigError};
use crate::events::{ClientEvent, EventKind, Observer, OutcomeKind};
use crate::gate::{Priority, PriorityGate};
use crate::headers::{
    header, parse_rate_limit, parse_retry_after, parse_retry_after_seconds, server_clock, Headers,
};
use crate::platform::Credentials;
use crate::policy::adaptive::AdaptiveRateLimiter;
use crate::policy::backoff::Backoff;
use crate::policy::breaker::{CircuitBreaker, Permit};
use crate::policy::budget::{RetryBudget, RetryKind, Withdrawal};
use crate::policy::idempotency::idempotency_key;
use crate::policy::pacing::{Item, PaceReason, Pacer, Slot};
use crate::policy::retry::RetryAfterDates;
use crate::policy::retry::{Class, Decision, Failure, GiveUp};
use crate::shared_limiter::SharedLimiter;
use crate::token::{Token, TokenCache};
use crate::transport::{HttpRequest, HttpResponse, Transport, TransportError};

/// The shortest and longest waits between two looks for an earlier slot (a probe, or a limit
/// learned meanwhile) while a send waits for its slot.
const PROBE_LOOK_MIN: Duration = Duration::from_millis(250);
const PROBE_LOOK_MAX: Duration = Duration::from_secs(2);

/// How many times one attempt may wait for an open breaker before giving up.
const BREAKER_WAITS_MAX: u32 = 10_000;

/// The body of an operation.
#[derive(Clone, Debug, PartialEq)]
pub enum OpBody {
    Json(Value),
    /// A versioned update: `fields` plus the `version` the client believes current. When the
    /// version is unknown (or after a 409) the resource is read first; if it already holds
    /// `fields`, the update is done (a lost response's write took effect).
    Versioned {
        fields: Value,
        version: Option<u64>,
    },
}

/// One business operation. Its names are shared (`Arc<str>`), not copied: every event of the
/// operation carries them, and a clone is a count, not an allocation.
#[derive(Clone, Debug, PartialEq)]
pub struct Operation {
    /// Stable across retries and restarts: the idempotency key derives from it.
    pub id: Arc<str>,
    pub priority: Priority,
    pub method: Arc<str>,
    /// Path and query.
    pub path: Arc<str>,
    /// The bucket: breakers and pacing are per family.
    pub family: Arc<str>,
    pub body: Option<OpBody>,
    /// A create: send an `Idempotency-Key` when the client is configured to.
    pub create: bool,
}

impl Operation {
    pub fn get(id: impl Into<Arc<str>>, path: impl Into<Arc<str>>, family: impl Into<Arc<str>>) -> Operation {
        Operation {
            id: id.into(),
            priority: Priority::Normal,
            method: Arc::from("GET"),
            path: path.into(),
            family: family.into(),
            body: None,
            create: false,
        }
    }

    pub fn with_priority(mut self, priority: Priority) -> Operation {
        self.priority = priority;
        self
    }
}

/// How an operation ended: exactly one of these per operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    /// A final answer that is not success (a 4xx, or a status the policy does not retry).
    Failed,
    GaveUp(GiveUp),
}

#[derive(Clone, Debug, PartialEq)]
pub struct OpResult {
    pub outcome: Outcome,
    pub attempts: u32,
    pub status: Option<u16>,
    /// The last response's body, as it came.
    pub body: Option<Body>,
}

impl OpResult {
    pub fn is_ok(&self) -> bool {
        self.outcome == Outcome::Ok
    }

    /// The last response's body as JSON; `None` without a body or when it is not JSON (an HTML
    /// error page). Parsed at each call.
    pub fn json(&self) -> Option<Value> {
        self.body.as_ref().and_then(Body::json)
    }
}

/// A response body as it came over the wire. Its JSON is parsed only when asked for: most
/// results are never read, and parsing every one into a `Value` was 5% of a simulated run.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Body(Vec<u8>);

impl Body {
    pub fn from_bytes(bytes: Vec<u8>) -> Body {
        Body(bytes)
    }

    pub fn from_json(value: &Value) -> Body {
        Body(serde_json::to_vec(value).expect("a Value serializes"))
    }

    /// The body as JSON, or `None` when it is not JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.0).ok()
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Its length only: a body is the platform's data, and a `Debug` line is no place for it.
impl std::fmt::Debug for Body {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "Body(<{} bytes>)", self.0.len())
    }
}

struct Bucket {
    breaker: CircuitBreaker,
    pacer: Pacer,
    adaptive: AdaptiveRateLimiter,
    in_flight: u64,
    /// Wakes the sends waiting for their learned slots when an answer made room that they
    /// should take at once (see [`Pacer::on_success`]), rather than at their next timed look.
    room: Arc<tokio::sync::Notify>,
}

struct ClientState {
    budget: RetryBudget,
    buckets: BTreeMap<String, Bucket>,
    /// Until when the shared limiter is skipped after failing (local pacing meanwhile).
    shared_limiter_down_until: Option<Duration>,
}

struct Inner {
    config: ClientConfig,
    transport: Arc<dyn Transport>,
    clock: Arc<dyn Clock>,
    observer: Arc<dyn Observer>,
    tokens: TokenCache,
    gate: PriorityGate,
    state: Mutex<ClientState>,
    namespace: String,
    shared_limiter: Option<Arc<dyn SharedLimiter>>,
    /// The operation id of client-wide events (token requests): empty.
    no_operation: Arc<str>,
}

/// A client: shared by all the workers of one service instance. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl Client {
    pub fn new(
        config: ClientConfig,
        credentials: Credentials,
        transport: Arc<dyn Transport>,
        clock: Arc<dyn Clock>,
        observer: Arc<dyn Observer>,
    ) -> Result<Client, ConfigError> {
        config.validate()?;
        let tokens = TokenCache::new(&config.token, credentials.clone(), config.token_url());
        let gate = PriorityGate::new(config.concurrency as usize, config.queue_max as usize);
        let state = ClientState {
            budget: RetryBudget::new(&config.budget),
            buckets: BTreeMap::new(),
            shared_limiter_down_until: None,
        };
        let namespace = credentials.client_id().to_string();
        Ok(Client {
            inner: Arc::new(Inner {
                config,
                transport,
                clock,
                observer,
                tokens,
                gate,
                state: Mutex::new(state),
                namespace,
                shared_limiter: None,
                no_operation: Arc::from(""),
            }),
        })
    }

    /// Reserves every request's slot in `limiter` first (a rate shared with other instances of
    /// the same OAuth client), falling back to local pacing while it is unreachable. Call it
    /// before making workers.
    pub fn with_shared_limiter(mut self, limiter: Arc<dyn SharedLimiter>) -> Client {
        let inner =
            Arc::get_mut(&mut self.inner).expect("with_shared_limiter is called before the client is shared");
        inner.shared_limiter = Some(limiter);
        self
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// A worker with its own RNG (its jitter draws). In a simulation the harness derives `rng`
    /// from the run's seed, one stream per worker.
    pub fn worker(&self, id: u64, rng: ChaCha8Rng) -> Worker {
        Worker {
            client: self.clone(),
            id,
            rng,
        }
    }

    /// Breaker openings over all buckets so far.
    pub fn breaker_openings(&self) -> u64 {
        self.inner
            .state()
            .buckets
            .values()
            .map(|bucket| bucket.breaker.openings())
            .sum()
    }
}

impl Inner {
    fn state(&self) -> MutexGuard<'_, ClientState> {
        self.state.lock().expect("client state lock")
    }

    fn emit(&self, worker: u64, op: &Arc<str>, kind: EventKind) {
        let event = ClientEvent {
            at: self.clock.now(),
            worker,
            op: op.clone(),
            kind,
        };
        tracing::debug!(target: "herd_client", worker = event.worker, op = %event.op, event = ?event.kind);
        self.observer.on_event_owned(event);
    }
}

impl ClientState {
    fn bucket(&mut self, config: &ClientConfig, family: &str) -> &mut Bucket {
        // Looked up by `&str` first: a bucket is made once, and a lookup allocates nothing.
        if !self.buckets.contains_key(family) {
            self.buckets.insert(
                family.to_string(),
                Bucket {
                    breaker: CircuitBreaker::new(config.breaker.clone()),
                    pacer: Pacer::new(config.pacing.with_platform_prior(config.platform)),
                    adaptive: AdaptiveRateLimiter::new(),
                    in_flight: 0,
                    room: Arc::new(tokio::sync::Notify::new()),
                },
            );
        }
        self.buckets.get_mut(family).expect("the bucket was just made")
    }
}

/// What one attempt produced.
enum AttemptEnd {
    Success {
        status: u16,
        body: Option<Body>,
    },
    Failure {
        failure: Failure,
        retry_after: Option<Duration>,
        body: Option<Body>,
    },
}

/// One operation's progress.
struct Run {
    attempt: u32,
    /// Attempts answered with a throttle that did not count against `max_attempts`.
    throttles: u32,
    started: Duration,
    backoff: Backoff,
    withdrawal: Option<Withdrawal>,
    token_refreshes: u32,
    last_status: Option<u16>,
}

/// One worker: runs operations one at a time with its own RNG.
pub struct Worker {
    client: Client,
    id: u64,
    rng: ChaCha8Rng,
}

impl Worker {
    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    fn inner(&self) -> Arc<Inner> {
        self.client.inner.clone()
    }

    /// Runs one operation to its single outcome.
    pub async fn execute(&mut self, mut op: Operation) -> OpResult {
        let inner = self.inner();
        let queued_at = inner.clock.now();
        let Ok(_permit) = inner.gate.acquire(op.priority).await else {
            return self.finish(
                &op,
                OpResult {
                    outcome: Outcome::GaveUp(GiveUp::QueueFull),
                    attempts: 0,
                    status: None,
                    body: None,
                },
            );
        };
        let started = inner.clock.now();
        inner.emit(
            self.id,
            &op.id,
            EventKind::Queued {
                priority: op.priority,
                waited_ms: (started - queued_at).as_millis() as u64,
            },
        );
        inner.state().budget.on_request(started);
        let mut run = Run {
            attempt: 0,
            throttles: 0,
            started,
            backoff: Backoff::new(inner.config.backoff.clone()),
            withdrawal: None,
            token_refreshes: 0,
            last_status: None,
        };
        loop {
            run.attempt += 1;
            // Pace first, then ask the breaker, so that no permit outlives a long pacing wait
            // (the breaker may open and go half-open meanwhile: a permit from before would send
            // past its probes). When the breaker kept us waiting, pace again and send only if the
            // permit still stands.
            let permit = loop {
                self.pace(&op, run.started).await;
                let (permit, waited) = match self.admit(&op, &run).await {
                    Ok(admitted) => admitted,
                    Err(reason) => return self.give_up(&op, &run, reason),
                };
                if !waited {
                    break permit;
                }
                self.pace(&op, run.started).await;
                if inner
                    .state()
                    .bucket(&inner.config, &op.family)
                    .breaker
                    .holds(permit)
                {
                    break permit;
                }
            };
            let end = match inner
                .tokens
                .get(&*inner.transport, &*inner.clock, &|kind| {
                    inner.emit(self.id, &inner.no_operation, kind);
                })
                .await
            {
                Ok(token) => self
                    .attempt(&mut op, &run, &token)
                    .await
                    .map(|end| (end, Some(token))),
                Err(error) => {
                    let failure = match (error.status, error.transport) {
                        (Some(status), _) => Failure::Status { status },
                        (None, Some(TransportError::Timeout)) => Failure::Timeout,
                        (None, Some(TransportError::Lost)) => Failure::Lost,
                        (None, _) => Failure::Connect,
                    };
                    Ok((
                        AttemptEnd::Failure {
                            failure,
                            retry_after: error.retry_after,
                            body: None,
                        },
                        None,
                    ))
                }
            };
            let (end, token) = match end {
                Ok(end) => end,
                Err(done) => {
                    self.settle_breaker(&op, permit, false);
                    return self.finish(&op, done);
                }
            };
            match end {
                AttemptEnd::Success { status, body } => {
                    self.settle_breaker(&op, permit, false);
                    inner.state().budget.on_success(inner.clock.now(), run.withdrawal);
                    return self.finish(
                        &op,
                        OpResult {
                            outcome: Outcome::Ok,
                            attempts: run.attempt,
                            status: Some(status),
                            body,
                        },
                    );
                }
                AttemptEnd::Failure {
                    failure,
                    retry_after,
                    body,
                } => {
                    let status = match failure {
                        Failure::Status { status } => Some(status),
                        _ => None,
                    };
                    run.last_status = status;
                    let counts = inner
                        .state()
                        .bucket(&inner.config, &op.family)
                        .breaker
                        .counts_as_failure(status);
                    self.settle_breaker(&op, permit, counts && token.is_some());
                    let versioned = matches!(op.body, Some(OpBody::Versioned { .. }));
                    let class = if token.is_none() && status == Some(401) {
                        Class::Final
                    } else {
                        inner.config.retry.classify(failure, versioned)
                    };
                    if class == Class::Unauthorized {
                        if let Some(token) =
                            token.filter(|_| run.token_refreshes < inner.config.retry.max_token_refreshes)
                        {
                            run.token_refreshes += 1;
                            if inner.tokens.invalidate(token.generation) {
                                inner.emit(
                                    self.id,
                                    &op.id,
                                    EventKind::TokenInvalidated {
                                        generation: token.generation,
                                    },
                                );
                            }
                            continue;
                        }
                    }
                    if class == Class::Conflict {
                        if let Some(OpBody::Versioned { version, .. }) = op.body.as_mut() {
                            *version = None;
                        }
                    }
                    if let Some(done) = self
                        .retry_or_stop(&op, &mut run, failure, class, retry_after, body)
                        .await
                    {
                        return done;
                    }
                }
            }
        }
    }

    /// Waits for the bucket's breaker to admit this attempt.
    /// Asks the breaker, waiting while it is open (when configured to): the permit, and whether
    /// it waited for it.
    async fn admit(&mut self, op: &Operation, run: &Run) -> Result<(Permit, bool), GiveUp> {
        let inner = self.inner();
        for round in 0..BREAKER_WAITS_MAX {
            let now = inner.clock.now();
            let (admitted, transition) = inner
                .state()
                .bucket(&inner.config, &op.family)
                .breaker
                .admit(now, run.attempt > 1);
            if let Some(transition) = transition {
                inner.emit(
                    self.id,
                    &op.id,
                    EventKind::BreakerTransition {
                        family: op.family.clone(),
                        from: transition.from,
                        to: transition.to,
                    },
                );
            }
            let until = match admitted {
                Ok(permit) => return Ok((permit, round > 0)),
                Err(until) => until,
            };
            let deadline = inner
                .config
                .retry
                .deadline_ms
                .map(|ms| run.started + Duration::from_millis(ms));
            if !inner.config.wait_when_open || deadline.is_some_and(|deadline| until > deadline) {
                return Err(GiveUp::CircuitOpen);
            }
            let delay = until.saturating_sub(now).max(Duration::from_millis(1));
            inner.emit(
                self.id,
                &op.id,
                EventKind::BreakerWait {
                    family: op.family.clone(),
                    delay_ms: delay.as_millis() as u64,
                },
            );
            tokio::time::sleep(delay).await;
        }
        Err(GiveUp::CircuitOpen)
    }

    fn settle_breaker(&self, op: &Operation, permit: Permit, failed: bool) {
        let inner = self.inner();
        let now = inner.clock.now();
        let transition = inner.state().bucket(&inner.config, &op.family).breaker.record(
            now,
            permit,
            failed && inner.config.breaker.sees_failures,
        );
        if let Some(transition) = transition {
            inner.emit(
                self.id,
                &op.id,
                EventKind::BreakerTransition {
                    family: op.family.clone(),
                    from: transition.from,
                    to: transition.to,
                },
            );
        }
    }

    /// Proactive pacing: header quota, client limit and adaptive rate reserve a slot once; then the
    /// bucket's shared Retry-After is checked again after every sleep, because a 429 may have
    /// closed the bucket while this worker slept.
    async fn pace(&mut self, op: &Operation, started: Duration) {
        let inner = self.inner();
        let item = Item {
            started,
            deadline: inner
                .config
                .retry
                .deadline_ms
                .map(|ms| started + Duration::from_millis(ms)),
        };
        self.reserve_shared(op).await;
        let now = inner.clock.now();
        let (reserved, mut reservation) = {
            let mut state = inner.state();
            let bucket = state.bucket(&inner.config, &op.family);
            let mut wait = bucket
                .pacer
                .acquire_for(now, item, bucket.in_flight, &mut self.rng);
            if inner.config.adaptive.enabled {
                let adaptive = bucket.adaptive.acquire(now);
                if adaptive > Duration::ZERO && wait.is_none_or(|(w, _)| adaptive > w) {
                    wait = Some((adaptive, PaceReason::Adaptive));
                }
            }
            (wait, bucket.pacer.take_reservation())
        };
        if let Some((delay, reason)) = reserved {
            inner.emit(
                self.id,
                &op.id,
                EventKind::Paced {
                    family: op.family.clone(),
                    delay_ms: delay.as_millis() as u64,
                    reason,
                },
            );
            if !inner.config.pacing.obey {
                // Computed, logged, never slept: the request goes now.
                if let Some(slot) = reservation {
                    inner
                        .state()
                        .bucket(&inner.config, &op.family)
                        .pacer
                        .sent(slot, now);
                }
                return;
            }
            if let (PaceReason::Learned, Some(slot)) = (reason, reservation) {
                self.wait_for_slot_or_probe(op, slot).await;
            } else {
                tokio::time::sleep(delay).await;
            }
        }
        if !inner.config.pacing.obey {
            return;
        }
        // Bounded: each round sleeps past a closing time that only a newer 429 can extend.
        for _ in 0..1_000 {
            let now = inner.clock.now();
            let wait = {
                let mut state = inner.state();
                let pacer = &mut state.bucket(&inner.config, &op.family).pacer;
                let wait = pacer.closed_wait(now, &mut self.rng);
                if wait.is_none() {
                    // It goes now: a send held past its slot is logged when it goes.
                    if let Some(slot) = reservation {
                        pacer.sent(slot, now);
                    }
                }
                wait
            };
            let Some(delay) = wait else { return };
            inner.emit(
                self.id,
                &op.id,
                EventKind::Paced {
                    family: op.family.clone(),
                    delay_ms: delay.as_millis() as u64,
                    reason: PaceReason::RetryAfter,
                },
            );
            tokio::time::sleep(delay).await;
            // The closure outlived the learned slot: reserve it again, after the closure.
            if let Some(slot) = reservation {
                let now = inner.clock.now();
                let (again, slot) = inner
                    .state()
                    .bucket(&inner.config, &op.family)
                    .pacer
                    .reserve_again(slot, now, &mut self.rng);
                reservation = slot;
                if let (true, Some(slot)) = (again > now, slot) {
                    inner.emit(
                        self.id,
                        &op.id,
                        EventKind::Paced {
                            family: op.family.clone(),
                            delay_ms: (again - now).as_millis() as u64,
                            reason: PaceReason::Learned,
                        },
                    );
                    self.wait_for_slot_or_probe(op, slot).await;
                }
            }
        }
    }

    /// Waits for a learned-limit slot, or goes earlier as a probe when an admitted probe has
    /// shown the platform has room beyond the limit, or what it learned since frees the slot
    /// already. The slot may move later meanwhile (an older item past half its time takes it). It looks again after each quarter of the wait left (between
    /// [`PROBE_LOOK_MIN`] and [`PROBE_LOOK_MAX`] apart): timers only, so the run replays exactly.
    async fn wait_for_slot_or_probe(&mut self, op: &Operation, slot: Slot) {
        let inner = self.inner();
        let room = inner.state().bucket(&inner.config, &op.family).room.clone();
        loop {
            // Made before the look, so that room made after it wakes this send.
            let made_room = room.notified();
            let now = inner.clock.now();
            let (reserved_at, slow_start) = {
                let mut state = inner.state();
                let pacer = &mut state.bucket(&inner.config, &op.family).pacer;
                match pacer.slot_at(slot) {
                    Some(at) if now < at && !pacer.go_early(slot, now) => (at, pacer.slow_start()),
                    _ => return,
                }
            };
            let left = reserved_at - now;
            let look = (left / 4).clamp(PROBE_LOOK_MIN, PROBE_LOOK_MAX).min(left);
            if slow_start {
                // `biased`: polled in this order, not at random, so that the run replays.
                tokio::select! {
                    biased;
                    () = made_room => {}
                    () = tokio::time::sleep(look) => {}
                }
            } else {
                // Once refused, nothing makes room at once (see `Pacer::on_success`).
                tokio::time::sleep(look).await;
            }
        }
    }

    /// The shared limiter's reservation, if there is one and it is not known to be down. A
    /// reservation that fails or takes longer than `shared_limiter.timeout_ms` marks it down for
    /// `shared_limiter.retry_after_failure_ms`; local pacing goes on meanwhile.
    async fn reserve_shared(&mut self, op: &Operation) {
        let inner = self.inner();
        let Some(limiter) = inner.shared_limiter.clone() else {
            return;
        };
        let config = &inner.config.shared_limiter;
        let now = inner.clock.now();
        let was_down = inner.state().shared_limiter_down_until;
        if was_down.is_some_and(|until| now < until) {
            return;
        }
        let key = if config.per_family {
            format!("{}:{}", inner.namespace, op.family)
        } else {
            inner.namespace.clone()
        };
        let reply =
            tokio::time::timeout(Duration::from_millis(config.timeout_ms), limiter.reserve(&key)).await;
        match reply {
            Ok(Ok(wait)) => {
                if was_down.is_some() {
                    inner.state().shared_limiter_down_until = None;
                    inner.emit(self.id, &op.id, EventKind::SharedLimiter { available: true });
                }
                // The fleet's limiter orders the bucket's sends: the prior needs no ramp.
                inner
                    .state()
                    .bucket(&inner.config, &op.family)
                    .pacer
                    .coordinated();
                if !wait.is_zero() {
                    inner.emit(
                        self.id,
                        &op.id,
                        EventKind::Paced {
                            family: op.family.clone(),
                            delay_ms: wait.as_millis() as u64,
                            reason: PaceReason::Shared,
                        },
                    );
                    tokio::time::sleep(wait).await;
                }
            }
            Ok(Err(_)) | Err(_) => {
                let until = inner.clock.now() + Duration::from_millis(config.retry_after_failure_ms);
                let newly_down = inner.state().shared_limiter_down_until.replace(until).is_none();
                if newly_down {
                    inner.emit(self.id, &op.id, EventKind::SharedLimiter { available: false });
                }
            }
        }
    }

    /// Sends one attempt (reading the version first for a versioned update that needs it).
    /// `Err` ends the operation at once (a versioned update found already applied).
    async fn attempt(
        &mut self,
        op: &mut Operation,
        run: &Run,
        token: &Token,
    ) -> Result<AttemptEnd, OpResult> {
        if let Some(OpBody::Versioned {
            fields,
            version: None,
        }) = op.body.clone()
        {
            let read = self
                .send(
                    op,
                    run,
                    token,
                    &Arc::from("GET"),
                    &op.path.clone(),
                    Vec::new(),
                    None,
                )
                .await;
            let AttemptEnd::Success {
                body: Some(current), ..
            } = &read
            else {
                return Ok(read);
            };
            let Some(current) = current.json() else {
                return Ok(read);
            };
            let current = self.inner().config.platform.single_user(current);
            let applied = fields.as_object().is_some_and(|fields| {
                fields
                    .iter()
                    .all(|(name, value)| current.get(name) == Some(value))
            });
            if applied {
                return Err(OpResult {
                    outcome: Outcome::Ok,
                    attempts: run.attempt,
                    status: Some(200),
                    body: Some(Body::from_json(&current)),
                });
            }
            let version = current.get("version").and_then(Value::as_u64);
            self.inner().emit(
                self.id,
                &op.id,
                EventKind::ConflictReread {
                    attempt: run.attempt,
                    version,
                },
            );
            op.body = Some(OpBody::Versioned { fields, version });
        }
        let (body, key) = match &op.body {
            None => (Vec::new(), None),
            Some(OpBody::Json(value)) => (serde_json::to_vec(value).expect("JSON serializes"), None),
            Some(OpBody::Versioned { fields, version }) => {
                let mut object = fields.as_object().cloned().unwrap_or_default();
                if let Some(version) = version {
                    object.insert("version".into(), Value::from(*version));
                }
                let body = self.inner().config.platform.update_body(object);
                (
                    serde_json::to_vec(&body).expect("JSON serializes"),
                    None::<String>,
                )
            }
        };
        let inner = self.inner();
        let key = key.or_else(|| {
            (op.create && inner.config.idempotency_keys)
                .then(|| idempotency_key(&inner.namespace, &op.id, &body))
        });
        let (method, path) = (op.method.clone(), op.path.clone());
        Ok(self.send(op, run, token, &method, &path, body, key).await)
    }

    #[allow(clippy::too_many_arguments)]
    async fn send(
        &mut self,
        op: &Operation,
        run: &Run,
        token: &Token,
        method: &Arc<str>,
        path: &Arc<str>,
        body: Vec<u8>,
        idempotency_key: Option<String>,
    ) -> AttemptEnd {
        let inner = self.inner();
        let mut headers = vec![(
            "authorization".to_string(),
            format!("Bearer {}", token.value.expose()),
        )];
        if !body.is_empty() {
            headers.push(("content-type".into(), "application/json".into()));
        }
        if let Some(key) = idempotency_key {
            headers.push(("idempotency-key".into(), key));
        }
        let request = HttpRequest {
            method: method.to_string(),
            url: format!("{}{}", inner.config.base_url.trim_end_matches('/'), path),
            headers,
            body,
        };
        inner.emit(
            self.id,
            &op.id,
            EventKind::Attempt {
                attempt: run.attempt,
                method: method.clone(),
                path: path.clone(),
                family: op.family.clone(),
                token_generation: token.generation,
            },
        );
        inner.state().bucket(&inner.config, &op.family).in_flight += 1;
        let sent_at = inner.clock.now();
        let timeout = Duration::from_millis(inner.config.attempt_timeout_ms);
        let result = match tokio::time::timeout(timeout, inner.transport.send(request)).await {
            Ok(result) => result,
            Err(_elapsed) => Err(TransportError::Timeout),
        };
        let now = inner.clock.now();
        let latency_ms = (now - sent_at).as_millis() as u64;
        let mut state = inner.state();
        let bucket = state.bucket(&inner.config, &op.family);
        bucket.in_flight -= 1;
        match result {
            Err(error) => {
                drop(state);
                inner.emit(
                    self.id,
                    &op.id,
                    EventKind::TransportFailed {
                        attempt: run.attempt,
                        error,
                        latency_ms,
                    },
                );
                let failure = match error {
                    TransportError::Connect | TransportError::Invalid => Failure::Connect,
                    TransportError::Timeout => Failure::Timeout,
                    TransportError::Lost => Failure::Lost,
                };
                AttemptEnd::Failure {
                    failure,
                    retry_after: None,
                    body: None,
                }
            }
            Ok(response) => {
                let HttpResponse {
                    status,
                    headers,
                    body,
                } = response;
                // Dates (HTTP-date Retry-Afters, epoch resets) are read against the clock the
                // client is configured to trust: the server's `Date`, or its own.
                let dates = inner.config.retry.retry_after_dates;
                let reference = match dates {
                    RetryAfterDates::ServerClock => server_clock(&headers, inner.clock.wall()),
                    RetryAfterDates::LocalClock | RetryAfterDates::Ignored => inner.clock.wall(),
                };
                let retry_after = read_retry_after(&headers, reference, dates);
                bucket
                    .pacer
                    .on_rate_limit(now, parse_rate_limit(&headers, reference));
                // A 503 that says when (a maintenance window) closes the family as a 429 does:
                // the platform asked every caller, not just this one, to come back later.
                if status == 429 || status == 503 {
                    if let Some(wait) = retry_after {
                        if status == 429 {
                            bucket.pacer.on_rate_limited(now, wait);
                        }
                        bucket.pacer.on_retry_after(now, wait);
                    } else if status == 429 {
                        bucket.pacer.on_refused_unsaid(now);
                    }
                } else if (200..300).contains(&status) {
                    let made_room = bucket.pacer.on_success(now, now.saturating_sub(sent_at));
                    if made_room {
                        bucket.room.notify_waiters();
                    }
                }
                if inner.config.adaptive.enabled {
                    bucket.adaptive.on_response(now, status == 429);
                }
                drop(state);
                let retry_after_ms = retry_after.map(|wait| wait.as_millis() as u64);
                let correlation_id = header(&headers, "inin-correlation-id").map(str::to_string);
                let said_retry_after = header(&headers, "retry-after").map(str::to_string);
                inner.emit(
                    self.id,
                    &op.id,
                    EventKind::Response {
                        attempt: run.attempt,
                        status,
                        latency_ms,
                        retry_after_ms,
                        retry_after: said_retry_after,
                        correlation_id,
                    },
                );
                let body = Some(Body::from_bytes(body));
                if (200..300).contains(&status) {
                    AttemptEnd::Success { status, body }
                } else {
                    AttemptEnd::Failure {
                        failure: Failure::Status { status },
                        retry_after,
                        body,
                    }
                }
            }
        }
    }

    /// After a failed attempt: sleeps and returns `None` to retry, or the operation's result.
    async fn retry_or_stop(
        &mut self,
        op: &Operation,
        run: &mut Run,
        failure: Failure,
        class: Class,
        retry_after: Option<Duration>,
        body: Option<Body>,
    ) -> Option<OpResult> {
        let inner = self.inner();
        let now = inner.clock.now();
        let decision = inner.config.retry.decide(
            run.attempt,
            run.attempt - run.throttles,
            failure,
            class,
            retry_after,
            now - run.started,
            &mut run.backoff,
            &mut self.rng,
        );
        let (delay, class) = match decision {
            Decision::GiveUp(GiveUp::NotRetryable) => {
                return Some(self.finish(
                    op,
                    OpResult {
                        outcome: Outcome::Failed,
                        attempts: run.attempt,
                        status: run.last_status,
                        body,
                    },
                ));
            }
            Decision::GiveUp(reason) => return Some(self.give_up(op, run, reason)),
            Decision::Retry { delay, class, .. } => (delay, class),
        };
        if class == Class::Throttled && !inner.config.retry.throttles_count_as_attempts {
            run.throttles += 1;
        }
        let kind = if failure == Failure::Timeout {
            RetryKind::Timeout
        } else {
            RetryKind::Ordinary
        };
        // A retry that waits the server's own Retry-After adds no load before the server asked
        // for it: it spends no budget (unless the configuration says it should). Nor does a
        // throttle without one, where throttles are not failures: the platform said "later",
        // and the backoff and the pacer slow down; the budget is for failures.
        let retry = &inner.config.retry;
        let told_when = retry.budget_exempt_retry_after
            && ((retry_after.is_some() && retry.honour_retry_after)
                || (class == Class::Throttled && !retry.throttles_count_as_attempts));
        if told_when {
            let retry_after_ms = retry_after.map(|wait| wait.as_millis() as u64);
            inner.emit(
                self.id,
                &op.id,
                EventKind::Retry {
                    attempt: run.attempt,
                    delay_ms: delay.as_millis() as u64,
                    class,
                    retry_after_ms,
                },
            );
            tokio::time::sleep(delay).await;
            return None;
        }
        let withdrawal = {
            let mut state = inner.state();
            let withdrawal = state.budget.withdraw(now, kind);
            if withdrawal.is_none() {
                let level = state.budget.level();
                drop(state);
                inner.emit(self.id, &op.id, EventKind::BudgetDenied { level });
            }
            withdrawal
        };
        let Some(withdrawal) = withdrawal else {
            return Some(self.give_up(op, run, GiveUp::BudgetExhausted));
        };
        run.withdrawal = Some(withdrawal);
        let retry_after_ms = retry_after.map(|wait| wait.as_millis() as u64);
        inner.emit(
            self.id,
            &op.id,
            EventKind::Retry {
                attempt: run.attempt,
                delay_ms: delay.as_millis() as u64,
                class,
                retry_after_ms,
            },
        );
        tokio::time::sleep(delay).await;
        None
    }

    fn give_up(&self, op: &Operation, run: &Run, reason: GiveUp) -> OpResult {
        self.finish(
            op,
            OpResult {
                outcome: Outcome::GaveUp(reason),
                attempts: run.attempt,
                status: run.last_status,
                body: None,
            },
        )
    }

    fn finish(&self, op: &Operation, result: OpResult) -> OpResult {
        let (outcome, reason) = match result.outcome {
            Outcome::Ok => (OutcomeKind::Ok, None),
            Outcome::Failed => (OutcomeKind::Failed, None),
            Outcome::GaveUp(reason) => (OutcomeKind::GaveUp, Some(reason)),
        };
        self.inner().emit(
            self.id,
            &op.id,
            EventKind::Done {
                outcome,
                attempts: result.attempts,
                status: result.status,
                reason,
            },
        );
        result
    }
}

/// A response's `Retry-After` as a wait, read as the client is configured to read HTTP-dates.
fn read_retry_after(
    headers: &Headers,
    reference: std::time::SystemTime,
    dates: RetryAfterDates,
) -> Option<Duration> {
    let value = header(headers, "retry-after")?;
    match dates {
        RetryAfterDates::ServerClock | RetryAfterDates::LocalClock => parse_retry_after(value, reference),
        RetryAfterDates::Ignored => parse_retry_after_seconds(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_is_parsed_when_asked_and_never_printed() {
        let check = |bytes: &[u8], json: Option<Value>| {
            let body = Body::from_bytes(bytes.to_vec());
            assert_eq!(body.json(), json, "{}", String::from_utf8_lossy(bytes));
            assert_eq!(body.as_bytes(), bytes);
            assert_eq!(format!("{body:?}"), format!("Body(<{} bytes>)", bytes.len()));
            let result = OpResult {
                outcome: Outcome::Ok,
                attempts: 1,
                status: Some(200),
                body: Some(body),
            };
            assert_eq!(result.json(), json);
        };
        check(
            br#"{"id":"u1","version":3}"#,
            Some(serde_json::json!({"id": "u1", "version": 3})),
        );
        check(b"<html>Bad Gateway</html>", None);
        check(b"", None);
        let value = serde_json::json!({"access_token": "secret-value"});
        let body = Body::from_json(&value);
        assert_eq!(body.json(), Some(value));
        assert!(
            !format!("{body:?}").contains("secret"),
            "a body's content is not in Debug"
        );
    }
}
