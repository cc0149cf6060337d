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
    /// A request head must arrive within this (slow clients are disconnected).
    pub header_read_timeout: Duration,
    /// How long shutdown waits for connections still open before closing them.
    pub shutdown_grace: Duration,
}

impl Default for ServeOptions {
    fn default() -> ServeOptions {
        ServeOptions {
            max_connections: 4_096,
            header_read_timeout: Duration::from_secs(10),
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

/// Query parameters whose values are secrets: never written to a log.
const SECRET_PARAMETERS: [&str; 6] = [
    "client_secret",
    "password",
    "access_token",
    "assertion",
    "refresh_token",
    "accesskeysecret",
];

/// `target` with the values of secret query parameters replaced by `<redacted>`.
pub fn redacted_target(target: &str) -> String {
    let Some((path, query)) = target.split_once('?') else {
        return target.to_string();
    };
    let parts: Vec<String> = query
        .split('&')
        .map(|pair| {
            let name = pair.split('=').next().unwrap_or("");
            let decoded: String = form_urlencoded::parse(name.as_bytes())
                .map(|(n, _)| n.into_owned())
                .collect();
            if SECRET_PARAMETERS
                .iter()
                .any(|secret| decoded.eq_ignore_ascii_case(secret))
            {
                format!("{name}=<redacted>")
            } else {
                pair.to_string()
            }
        })
        .collect();
    format!("{path}?{}", parts.join("&"))
}

/// Receives every request's log line.
pub type RequestLogger = Arc<dyn Fn(&RequestLog) + Send + Sync>;

/// What the server did, at shutdown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServeStats {
    pub connections: u64,
    /// Connections refused (503) because `max_connections` were open.
    pub refused: u64,
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
    let timers = tokio::spawn(service.clone().run_timers());
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
                        connections.spawn(async move {
                            serve_one(stream, remote, service, clock, logger, &options).await;
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
    stats
}

async fn refuse(mut stream: TcpStream) {
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(OVERLOADED).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

async fn serve_one(
    stream: TcpStream,
    remote: SocketAddr,
    service: GatewayService,
    clock: Arc<dyn GatewayClock>,
    logger: Option<RequestLogger>,
    options: &ServeOptions,
) {
    let remote = remote.to_string();
    let handler = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
        let (service, clock, logger, remote) =
            (service.clone(), clock.clone(), logger.clone(), remote.clone());
        async move {
            let started = tokio::time::Instant::now();
            let method = request.method().to_string();
            let target = redacted_target(request.uri().path_and_query().map_or("/", |pq| pq.as_str()));
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
    let _ended = http1::Builder::new()
        .auto_date_header(false)
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        .max_header_size(HEAD_BYTES_MAX)
        .max_buf_size(64 * 1024)
        .serve_connection(TokioIo::new(stream), handler)
        .await;
}

/// The gateway's time for a server: `SimTime` since it started, from tokio's clock.
pub fn server_clock() -> Arc<dyn GatewayClock> {
    Arc::new(RuntimeClock::starting_now())
}
