//! The HTTP service: one hyper 1.x service over the gateway core, served over turmoil TCP
//! (`turmoil_host`), real TCP (`tcp`) or in memory (the world's memory network). It only converts, locks, asks the clock, and carries out the core's
//! delivery decision (send now, hold, or drop the connection).
//!
//! `auto_date_header(false)`: hyper would read the system clock; `Date` is written from the
//! gateway's simulated epoch plus the clock's `now` instead.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

use herd_gateway::events::GatewayEvent;
use herd_gateway::http::{Delivery, Request, Response};
use herd_gateway::{Gateway, SimTime};

use crate::scorecard::{self, Exchange};

/// The longest a hung response holds its connection before it is closed without an answer.
pub const HANG_HOLD_MAX: Duration = Duration::from_secs(600);

/// The largest request head (request line and headers) the service reads.
pub const HEAD_BYTES_MAX: usize = 32 * 1024;

/// Where the shell's `now` comes from.
pub trait GatewayClock: Send + Sync + 'static {
    fn now(&self) -> SimTime;
}

/// Time since the clock was made, from tokio's clock: real time in `herdsim serve`, paused time
/// in tests with `start_paused`.
#[derive(Clone, Copy, Debug)]
pub struct RuntimeClock {
    start: tokio::time::Instant,
}

impl RuntimeClock {
    pub fn starting_now() -> RuntimeClock {
        RuntimeClock {
            start: tokio::time::Instant::now(),
        }
    }
}

impl GatewayClock for RuntimeClock {
    fn now(&self) -> SimTime {
        SimTime::from_duration(self.start.elapsed())
    }
}

/// The service error that makes hyper close the connection without a response (lost response).
#[derive(Debug)]
pub struct ResponseLost;

impl fmt::Display for ResponseLost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("response lost on purpose (lost-response fault)")
    }
}

impl std::error::Error for ResponseLost {}

/// Receives the gateway's events right after each request, in execution order.
pub type EventHook = Arc<dyn Fn(Vec<GatewayEvent>) + Send + Sync>;

/// Receives every request's [`Exchange`] (for the referee), right after its events.
pub type ExchangeHook = Arc<dyn Fn(Exchange) + Send + Sync>;

/// The gateway behind a lock, with its clock. Cheap to clone: one per connection.
#[derive(Clone)]
pub struct GatewayService {
    gateway: Arc<Mutex<Gateway>>,
    clock: Arc<dyn GatewayClock>,
    max_body_bytes: usize,
    hosts: herd_gateway::config::Hosts,
    on_events: Option<EventHook>,
    on_exchange: Option<ExchangeHook>,
    pages: Option<PageHook>,
    /// A request body must arrive within this (real-time serving only).
    body_read_timeout: Option<Duration>,
    cut: Arc<Cut>,
}

/// What the shell cut short, for the server's stats: never counted as bad requests.
#[derive(Debug, Default)]
pub struct Cut {
    /// Bodies that did not arrive within the body read timeout (answered 408).
    pub body_timeouts: std::sync::atomic::AtomicU64,
    /// Bodies that broke off (the client went away mid-body).
    pub body_errors: std::sync::atomic::AtomicU64,
}

/// Serves the harness's own pages under `/__herdsim/` (beside the limits report): called under
/// the gateway's lock with its time; `None` leaves the request to the gateway (a 404).
pub type PageHook = Arc<dyn Fn(&mut Gateway, SimTime, &Request) -> Option<Response> + Send + Sync>;

impl GatewayService {
    pub fn new(gateway: Arc<Mutex<Gateway>>, clock: Arc<dyn GatewayClock>) -> GatewayService {
        let (max_body_bytes, hosts) = {
            let gateway = gateway.lock().expect("gateway lock");
            (gateway.config().max_body_bytes as usize, gateway.config().hosts())
        };
        GatewayService {
            gateway,
            clock,
            max_body_bytes,
            hosts,
            on_events: None,
            on_exchange: None,
            pages: None,
            body_read_timeout: None,
            cut: Arc::default(),
        }
    }

    /// Hands the gateway's events to `hook` after every request (the harness merges them into
    /// its trace); without a hook they stay in the gateway until drained.
    pub fn with_event_hook(mut self, hook: EventHook) -> GatewayService {
        self.on_events = Some(hook);
        self
    }

    /// Hands every request's [`Exchange`] to `hook` (the real-time server's scorecard).
    pub fn with_exchange_hook(mut self, hook: ExchangeHook) -> GatewayService {
        self.on_exchange = Some(hook);
        self
    }

    /// Serves the harness's pages under `/__herdsim/` through `pages`.
    pub fn with_pages(mut self, pages: PageHook) -> GatewayService {
        self.pages = Some(pages);
        self
    }

    /// Cuts a request whose body does not arrive within `timeout` (answered 408, counted in
    /// [`GatewayService::cut`]).
    pub fn with_body_read_timeout(mut self, timeout: Duration) -> GatewayService {
        self.body_read_timeout = Some(timeout);
        self
    }

    /// What the shell cut short so far.
    pub fn cut(&self) -> &Cut {
        &self.cut
    }

    /// Answers one request through the core: the response and its `Date` header. (The fast
    /// network mode calls this directly; HTTP goes through [`GatewayService::respond`].)
    pub fn respond_core(&self, request: Request) -> (Response, String) {
        let mut gateway = self.gateway.lock().expect("gateway lock");
        let now = self.clock.now();
        if request.method == "GET" && request.path() == LIMITS_PATH {
            let response = limits_report(&mut gateway, now, &request);
            return (response, http_date(gateway.config().epoch_unix_s, now));
        }
        if request.path().starts_with(HARNESS_PREFIX)
            || request.path() == HARNESS_PREFIX.trim_end_matches('/')
        {
            if let Some(response) = self
                .pages
                .as_ref()
                .and_then(|pages| pages(&mut gateway, now, &request))
            {
                return (response, http_date(gateway.config().epoch_unix_s, now));
            }
        }
        let seen = self
            .on_exchange
            .as_ref()
            .map(|_| Seen::before(&gateway, now, &request));
        let earlier = gateway.pending_events().len();
        let response = gateway.handle(now, request);
        let date = http_date(gateway.config().epoch_unix_s, now);
        let epoch_unix_s = gateway.config().epoch_unix_s;
        let exchange =
            seen.map(|seen| seen.after(now, &response, &gateway.pending_events()[earlier..], epoch_unix_s));
        if let Some(hook) = &self.on_events {
            hook(gateway.drain_events());
        }
        if let (Some(hook), Some(exchange)) = (&self.on_exchange, exchange) {
            hook(exchange);
        }
        (response, date)
    }

    /// Which platform host a `Host` header names (`None`: an address, served as both).
    pub fn host_role(&self, host: &str) -> Option<herd_gateway::config::HostRole> {
        self.hosts.role_of(Some(host))
    }

    pub fn gateway(&self) -> &Arc<Mutex<Gateway>> {
        &self.gateway
    }

    /// Runs the gateway's own work (background draws, revocations) at its times, forever: the
    /// events then appear in the trace when they happen, not at the next request.
    pub async fn run_timers(self) {
        loop {
            let (now, next) = {
                let gateway = self.gateway.lock().expect("gateway lock");
                (self.clock.now(), gateway.next_wakeup())
            };
            let Some(next) = next else { return };
            if next > now {
                tokio::time::sleep(next - now).await;
            }
            let mut gateway = self.gateway.lock().expect("gateway lock");
            gateway.advance_to(self.clock.now());
            if let Some(hook) = &self.on_events {
                hook(gateway.drain_events());
            }
        }
    }

    /// Answers one HTTP request through the core.
    pub async fn respond(
        &self,
        request: hyper::Request<Incoming>,
    ) -> Result<hyper::Response<Full<Bytes>>, ResponseLost> {
        let (parts, body) = request.into_parts();
        let target = parts
            .uri
            .path_and_query()
            .map_or("/", |pq| pq.as_str())
            .to_string();
        let collect = Limited::new(body, self.max_body_bytes).collect();
        let collected = match self.body_read_timeout {
            Some(timeout) => match tokio::time::timeout(timeout, collect).await {
                Ok(collected) => collected,
                Err(_) => {
                    self.cut
                        .body_timeouts
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    return Ok(plain(408, "the request body did not arrive in time"));
                }
            },
            None => collect.await,
        };
        let body = match collected {
            Ok(collected) => collected.to_bytes(),
            Err(error) if error.is::<http_body_util::LengthLimitError>() => return Ok(self.too_large()),
            Err(_) => {
                // The client broke off mid-body: nothing to answer, and not a bad request.
                self.cut
                    .body_errors
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return Err(ResponseLost);
            }
        };
        let mut core_request = Request::new(parts.method.as_str(), &target).body(body.to_vec());
        for (name, value) in &parts.headers {
            // A header that is not UTF-8 is passed on lossily: the core never sees raw bytes.
            core_request.headers.push((
                name.as_str().to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            ));
        }
        let (response, date) = self.respond_core(core_request);
        match response.delivery {
            Delivery::Lost => return Err(ResponseLost),
            Delivery::DelayedMs(delay_ms) => tokio::time::sleep(Duration::from_millis(delay_ms)).await,
            Delivery::Hang => {
                // Held until the client gives up and closes the connection (which drops this
                // future), and at most `HANG_HOLD_MAX`: then closed without a response.
                tokio::time::sleep(HANG_HOLD_MAX).await;
                return Err(ResponseLost);
            }
            Delivery::Now => {}
        }
        Ok(to_hyper(response, &date))
    }

    fn too_large(&self) -> hyper::Response<Full<Bytes>> {
        // The core answers 413 for an oversized body; give it one that is just over the bound.
        let oversized = Request::new("POST", "/").body(vec![0u8; self.max_body_bytes + 1]);
        let (response, date) = self.respond_core(oversized);
        to_hyper(response, &date)
    }
}

/// What the referee needs of a request, read before the core takes it.
struct Seen {
    caller: herd_gateway::caller::Caller,
    method: String,
    target: String,
    idempotency_key: bool,
    fingerprint: u64,
}

impl Seen {
    fn before(gateway: &Gateway, now: SimTime, request: &Request) -> Seen {
        let caller = gateway.caller_of(now, request);
        let target = crate::shell::redact::redacted_target(&request.target);
        // A token request's body carries credentials: it is never fingerprinted.
        let fingerprint = if caller.token_request {
            0
        } else {
            scorecard::fingerprint(&request.method, &target, &request.body)
        };
        Seen {
            method: request.method.clone(),
            idempotency_key: request.header_value("idempotency-key").is_some(),
            caller,
            target,
            fingerprint,
        }
    }

    fn after(
        self,
        now: SimTime,
        response: &Response,
        events: &[GatewayEvent],
        epoch_unix_s: u64,
    ) -> Exchange {
        use herd_gateway::events::GatewayEventKind;
        let status = match response.delivery {
            Delivery::Lost | Delivery::Hang => None,
            Delivery::Now | Delivery::DelayedMs(_) => Some(response.status),
        };
        let wall_now = std::time::UNIX_EPOCH + Duration::from_secs(epoch_unix_s) + now.as_duration();
        let retry_after_ms = response
            .header_value("retry-after")
            .and_then(|value| herd_client::headers::parse_retry_after(value, wall_now))
            .map(|wait| wait.as_millis() as u64);
        let mut issued = None;
        let mut created = Vec::new();
        for event in events {
            match &event.kind {
                GatewayEventKind::TokenIssued {
                    token_seq,
                    expires_in_s,
                    ..
                } => {
                    issued = Some(scorecard::Issued {
                        token_seq: *token_seq,
                        expires_in_s: *expires_in_s,
                    });
                }
                GatewayEventKind::WriteApplied { op, key, .. }
                    if op.starts_with("create") || op == "submit_job" =>
                {
                    created.push(format!("{op}:{key}"));
                }
                _ => {}
            }
        }
        let caller = self.caller;
        Exchange {
            t_us: now.as_micros(),
            method: self.method,
            target: self.target,
            status,
            client: caller.client,
            token_seq: caller.token_seq,
            family: caller.family.to_string(),
            buckets: caller
                .buckets
                .into_iter()
                .map(|bucket| scorecard::Bucket {
                    id: bucket.id,
                    limit: bucket.limit,
                    window_ms: bucket.window_ms,
                })
                .collect(),
            retry_after_ms,
            refused_by: response
                .refusal
                .as_ref()
                .map(|refusal| format!("{}/{}", refusal.rule, refusal.key)),
            idempotency_key: self.idempotency_key,
            keyed_create: caller.keyed_create,
            listing: caller.listing,
            token_request: caller.token_request,
            fingerprint: self.fingerprint,
            issued,
            created,
        }
    }
}

fn http_date(epoch_unix_s: u64, now: SimTime) -> String {
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + Duration::from_secs(epoch_unix_s) + now.as_duration())
}

/// The prefix of the harness's own paths, which the platforms do not use.
pub const HARNESS_PREFIX: &str = "/__herdsim/";

/// A short answer from the shell itself (never through the core), closing the connection.
fn plain(status: u16, message: &str) -> hyper::Response<Full<Bytes>> {
    let body = serde_json::json!({"message": message, "status": status}).to_string();
    let mut response = hyper::Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::BAD_REQUEST);
    let headers = response.headers_mut();
    headers.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    headers.insert(
        hyper::header::CONNECTION,
        hyper::header::HeaderValue::from_static("close"),
    );
    response
}

/// The harness's own path, which the platform does not use: the live counts of the caller's
/// buckets and their recent refusals ("why was this 429").
pub const LIMITS_PATH: &str = "/__herdsim/limits";

fn limits_report(gateway: &mut Gateway, now: SimTime, request: &Request) -> Response {
    match gateway.limits_report(now, request.header_value("authorization")) {
        Ok(report) => Response::json(200, &report),
        Err(reason) => Response::json(
            401,
            &serde_json::json!({"error": "unauthorized", "reason": reason,
                "message": "GET /__herdsim/limits with the bearer token whose buckets you want to see"}),
        ),
    }
}

fn to_hyper(response: Response, date: &str) -> hyper::Response<Full<Bytes>> {
    let mut builder = hyper::Response::builder()
        .status(response.status)
        .header("date", date);
    for (name, value) in &response.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    if let Some(refusal) = response.refusal {
        // Never on the wire: the real-time server's request log reads it.
        builder = builder.extension(refusal);
    }
    builder
        .body(Full::new(Bytes::from(response.body)))
        .unwrap_or_else(|_| {
            let mut fallback = hyper::Response::new(Full::new(Bytes::from_static(b"invalid response")));
            *fallback.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
            fallback
        })
}

/// Serves one connection until it closes. Errors (client gone, malformed HTTP already answered
/// with 400 by hyper, lost responses) end the connection and nothing else.
pub async fn serve_connection<IO>(io: IO, service: GatewayService)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let handler = service_fn(move |request| {
        let service = service.clone();
        async move { service.respond(request).await }
    });
    let _ended = http1::Builder::new()
        .auto_date_header(false)
        .max_header_size(HEAD_BYTES_MAX)
        .max_buf_size(64 * 1024)
        .serve_connection(TokioIo::new(io), handler)
        .await;
}
