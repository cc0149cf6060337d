//! The gateway over real TCP in real time (`herdsim serve`): the same core and HTTP shell as in
//! simulation, with tokio's real clock, for clients in any language.
//!
//! Robustness: connections are bounded (beyond the bound a connection gets a 503 and is closed),
//! request heads are bounded (32 KiB, else hyper answers 431) and must arrive within
//! `header_read_timeout` (slow clients are cut off), bodies are bounded by the scenario's
//! `max_body_bytes` (413), and malformed HTTP gets 400 from hyper. Nothing a client sends ends
//! the server.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::shell::service::{GatewayClock, GatewayService, RuntimeClock, HEAD_BYTES_MAX};

/// Limits of the real-time server.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Connections served at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// How long a connection may sit idle between requests (hyper's timer, which runs from the
    /// moment it waits for a head). Longer than the longest Retry-After the scenario sends, so
    /// that a client waiting one out on a pooled connection does not race the cut.
    pub idle_timeout: Duration,
    /// A request head must arrive within this once its first byte has (slow heads are cut
    /// off); the idle wait before that first byte is `idle_timeout`'s.
    pub head_read_timeout: Duration,
    /// A request body must arrive within this; else 408, counted as a timeout.
    pub body_read_timeout: Duration,
    /// No connection lives longer: then it is closed gracefully (after its request in flight).
    pub connection_deadline: Duration,
    /// How long shutdown waits for connections still open before closing them.
    pub shutdown_grace: Duration,
}

/// The idle timeout for a scenario: 15 s longer than its longest Retry-After, and at least 75 s
/// (nginx's keep-alive default).
pub fn idle_timeout_for(longest_retry_after_s: u64) -> Duration {
    Duration::from_secs(longest_retry_after_s.saturating_add(15).max(75))
}

impl Default for ServeOptions {
    fn default() -> ServeOptions {
        ServeOptions {
            max_connections: 4_096,
            idle_timeout: idle_timeout_for(0),
            head_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
            connection_deadline: Duration::from_secs(600),
            shutdown_grace: Duration::from_secs(2),
        }
    }
}

/// One request as the server log shows it. Never carries a header or a body (no secrets).
#[derive(Clone, Debug, serde::Serialize)]
pub struct RequestLog {
    /// Seconds since the server started (the gateway's time).
    pub t_s: f64,
    pub remote: String,
    pub method: String,
    /// Path and query.
    pub target: String,
    /// The `Host` the request named, and which platform host that is: `login`, `api`, or
    /// `both` (an address, which serves both).
    pub host: String,
    pub served_as: &'static str,
    /// `None` when the response was dropped on purpose (a lost-response fault).
    pub status: Option<u16>,
    pub latency_ms: u64,
    /// On a 429 from a limit: the rule, key and count that refused it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused_by: Option<herd_gateway::http::Refusal>,
}

/// Receives every request's log line.
pub type RequestLogger = Arc<dyn Fn(&RequestLog) + Send + Sync>;

/// What the server did, at shutdown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServeStats {
    pub connections: u64,
    /// Connections refused (503) because `max_connections` were open.
    pub refused: u64,
    /// Connections closed at their deadline.
    pub deadline_closed: u64,
    /// Connections cut because a request head began but did not finish in time.
    pub head_timeouts: u64,
    /// Request bodies that did not arrive within the body read timeout (408).
    pub body_timeouts: u64,
    /// Request bodies the client broke off.
    pub body_errors: u64,
}

const OVERLOADED: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: 58\r\n\r\n{\"message\":\"too many connections\",\"status\":503,\"code\":\"\"}";

/// Serves `listener` until `shutdown` resolves; then stops accepting, gives open connections
/// `shutdown_grace` to finish, and returns.
pub async fn serve_tcp(
    listener: TcpListener,
    service: GatewayService,
    clock: Arc<dyn GatewayClock>,
    options: ServeOptions,
    logger: Option<RequestLogger>,
    shutdown: impl Future<Output = ()>,
) -> ServeStats {
    let service = service.with_body_read_timeout(options.body_read_timeout);
    let timers = tokio::spawn(service.clone().run_timers());
    let deadline_closed = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let head_timeouts = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let slots = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let mut connections = JoinSet::new();
    let mut stats = ServeStats::default();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => {
                let Ok((stream, remote)) = accepted else { continue };
                stats.connections += 1;
                match slots.clone().try_acquire_owned() {
                    Ok(slot) => {
                        let (service, clock, logger, options) = (service.clone(), clock.clone(), logger.clone(), options.clone());
                        let (deadline_closed, head_timeouts) = (deadline_closed.clone(), head_timeouts.clone());
                        connections.spawn(async move {
                            match serve_one(stream, remote, service, clock, logger, &options).await {
                                Ended::Deadline => deadline_closed.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                                Ended::SlowHead => head_timeouts.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                                Ended::Closed => 0,
                            };
                            drop(slot);
                        });
                    }
                    Err(_) => {
                        stats.refused += 1;
                        connections.spawn(refuse(stream));
                    }
                }
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    let _ = tokio::time::timeout(options.shutdown_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    connections.abort_all();
    timers.abort();
    let relaxed = std::sync::atomic::Ordering::Relaxed;
    stats.deadline_closed = deadline_closed.load(relaxed);
    stats.head_timeouts = head_timeouts.load(relaxed);
    stats.body_timeouts = service.cut().body_timeouts.load(relaxed);
    stats.body_errors = service.cut().body_errors.load(relaxed);
    stats
}

async fn refuse(mut stream: TcpStream) {
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(OVERLOADED).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

/// How a connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ended {
    /// The client closed it, or an error or timeout did.
    Closed,
    /// Its deadline did.
    Deadline,
    /// A request head that began did not finish within `head_read_timeout`.
    SlowHead,
}

/// Whether a connection is between requests, or reading a head that began at some instant. The
/// IO wrapper notes the first byte after a response; the handler notes the head's end.
#[derive(Default)]
struct HeadClock {
    /// While a request is being handled, bytes are its body, not a new head.
    in_request: std::sync::atomic::AtomicBool,
    /// When the first byte of the head being read arrived, as ms since the connection began (+1;
    /// 0 when no head is being read).
    head_began_ms: std::sync::atomic::AtomicU64,
}

/// The connection's stream, noting when a new request head begins.
struct Watched {
    stream: TcpStream,
    clock: Arc<HeadClock>,
    opened: tokio::time::Instant,
}

impl tokio::io::AsyncRead for Watched {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = std::pin::Pin::new(&mut self.stream).poll_read(cx, buf);
        let relaxed = std::sync::atomic::Ordering::Relaxed;
        if buf.filled().len() > before && !self.clock.in_request.load(relaxed) {
            let now_ms = self.opened.elapsed().as_millis() as u64 + 1;
            let _ = self
                .clock
                .head_began_ms
                .compare_exchange(0, now_ms, relaxed, relaxed);
        }
        polled
    }
}

impl tokio::io::AsyncWrite for Watched {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

async fn serve_one(
    stream: TcpStream,
    remote: SocketAddr,
    service: GatewayService,
    clock: Arc<dyn GatewayClock>,
    logger: Option<RequestLogger>,
    options: &ServeOptions,
) -> Ended {
    let remote = remote.to_string();
    let heads = Arc::new(HeadClock::default());
    let watched = Watched {
        stream,
        clock: heads.clone(),
        opened: tokio::time::Instant::now(),
    };
    let opened = watched.opened;
    let handler_heads = heads.clone();
    let handler = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
        let (service, clock, logger, remote) =
            (service.clone(), clock.clone(), logger.clone(), remote.clone());
        // The head is complete: what arrives next is this request's body.
        let relaxed = std::sync::atomic::Ordering::Relaxed;
        handler_heads.in_request.store(true, relaxed);
        handler_heads.head_began_ms.store(0, relaxed);
        let done = RequestDone(handler_heads.clone());
        async move {
            let _done = done;
            let started = tokio::time::Instant::now();
            let method = request.method().to_string();
            let target = crate::shell::redact::redacted_target(
                request.uri().path_and_query().map_or("/", |pq| pq.as_str()),
            );
            let host = request
                .headers()
                .get(hyper::header::HOST)
                .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
                .unwrap_or_default();
            let served_as = service.host_role(&host).map_or("both", |role| role.name());
            let response = service.respond(request).await;
            if let Some(logger) = &logger {
                let t_s = clock.now().as_micros() as f64 / 1e6;
                let status = response.as_ref().ok().map(|response| response.status().as_u16());
                let refused_by = response.as_ref().ok().and_then(|response| {
                    response
                        .extensions()
                        .get::<herd_gateway::http::Refusal>()
                        .cloned()
                });
                logger(&RequestLog {
                    t_s,
                    remote,
                    method,
                    target,
                    host,
                    served_as,
                    status,
                    latency_ms: started.elapsed().as_millis() as u64,
                    refused_by,
                });
            }
            response
        }
    });
    let connection = http1::Builder::new()
        .auto_date_header(false)
        .timer(TokioTimer::new())
        .header_read_timeout(options.idle_timeout)
        .max_header_size(HEAD_BYTES_MAX)
        .max_buf_size(64 * 1024)
        .serve_connection(TokioIo::new(watched), handler);
    tokio::pin!(connection);
    let slow_head = async {
        let relaxed = std::sync::atomic::Ordering::Relaxed;
        let head_ms = options.head_read_timeout.as_millis() as u64;
        loop {
            tokio::time::sleep(Duration::from_millis((head_ms / 4).clamp(10, 1_000))).await;
            let began = heads.head_began_ms.load(relaxed);
            let now_ms = opened.elapsed().as_millis() as u64 + 1;
            if began > 0 && now_ms.saturating_sub(began) >= head_ms {
                return;
            }
        }
    };
    tokio::select! {
        _ = connection.as_mut() => return Ended::Closed,
        () = slow_head => return Ended::SlowHead,
        () = tokio::time::sleep(options.connection_deadline) => {}
    }
    // The deadline: finish the request in flight (within the body and hang bounds), then close.
    connection.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(options.body_read_timeout + Duration::from_secs(5), connection).await;
    Ended::Deadline
}

/// Marks the end of a request's handling (also when its future is dropped): bytes after it
/// begin the next head.
struct RequestDone(Arc<HeadClock>);

impl Drop for RequestDone {
    fn drop(&mut self) {
        self.0
            .in_request
            .store(false, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The gateway's time for a server: `SimTime` since it started, from tokio's clock.
pub fn server_clock() -> Arc<dyn GatewayClock> {
    Arc::new(RuntimeClock::starting_now())
}
