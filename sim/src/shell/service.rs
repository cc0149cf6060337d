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

/// The gateway behind a lock, with its clock. Cheap to clone: one per connection.
#[derive(Clone)]
pub struct GatewayService {
    gateway: Arc<Mutex<Gateway>>,
    clock: Arc<dyn GatewayClock>,
    max_body_bytes: usize,
    hosts: herd_gateway::config::Hosts,
    on_events: Option<EventHook>,
}

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
        }
    }

    /// Hands the gateway's events to `hook` after every request (the harness merges them into
    /// its trace); without a hook they stay in the gateway until drained.
    pub fn with_event_hook(mut self, hook: EventHook) -> GatewayService {
        self.on_events = Some(hook);
        self
    }

    /// Answers one request through the core: the response and its `Date` header. (The fast
    /// network mode calls this directly; HTTP goes through [`GatewayService::respond`].)
    pub fn respond_core(&self, request: Request) -> (Response, String) {
        let mut gateway = self.gateway.lock().expect("gateway lock");
        let now = self.clock.now();
        let response = if request.method == "GET" && request.path() == LIMITS_PATH {
            limits_report(&mut gateway, now, &request)
        } else {
            gateway.handle(now, request)
        };
        if let Some(hook) = &self.on_events {
            hook(gateway.drain_events());
        }
        (response, http_date(gateway.config().epoch_unix_s, now))
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
        let body = match Limited::new(body, self.max_body_bytes).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => return Ok(self.too_large()),
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

fn http_date(epoch_unix_s: u64, now: SimTime) -> String {
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + Duration::from_secs(epoch_unix_s) + now.as_duration())
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
