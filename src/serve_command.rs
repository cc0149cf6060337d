//! `herdsim serve`: the scenario's gateway over real TCP in real time.

use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use herd_gateway::events::GatewayEvent;
use herd_gateway::{Gateway, Request, Response, SimTime};
use herd_sim::scorecard::series::{class_of, AnswerSeries, Timeline, CLASSES};
use herd_sim::scorecard::{self, Exchange, Scorecard};
use herd_sim::shell::service::GatewayService;
use herd_sim::shell::tcp::{self, RequestLog, ServeOptions};
use herd_sim::trace::Record;

use crate::args::{CommandError, GradeArgs, LogFormat, ServeArgs};
use crate::lookup;

/// What the referee keeps while serving: the scorecard, answers per second, and (for
/// `--report`) each request's time and answer. All bounded (see `herd_sim::scorecard`).
#[derive(Default)]
struct Referee {
    card: Scorecard,
    series: AnswerSeries,
    timeline: Option<Timeline>,
}

impl Referee {
    fn observe(&mut self, exchange: &Exchange) {
        self.card.observe(exchange);
        let class = class_of(exchange.status);
        self.series.add(exchange.t_us, class);
        if let Some(timeline) = &mut self.timeline {
            timeline.add(exchange.t_us, class);
        }
    }
}

/// The most buckets the live page lists.
const LIVE_BUCKETS_MAX: usize = 50;
/// Seconds of answers the live page draws.
const LIVE_SECONDS: u64 = 120;

/// The harness's pages: the dashboard, the scorecard as JSON, and the live counts.
fn pages(referee: Arc<Mutex<Referee>>, scenario: String) -> herd_sim::shell::service::PageHook {
    Arc::new(move |gateway: &mut Gateway, now: SimTime, request: &Request| {
        if request.method != "GET" {
            return None;
        }
        match request.path() {
            // The page's links are relative: without its slash, send the browser to it.
            "/__herdsim" => Some(Response::new(308).with_header("location", "/__herdsim/")),
            "/__herdsim/" | "/__herdsim/index.html" => {
                let mut response = Response::new(200);
                response.body = herd_reports::html::DASHBOARD.as_bytes().to_vec();
                response
                    .headers
                    .push(("content-type".into(), "text/html; charset=utf-8".into()));
                Some(response)
            }
            "/__herdsim/report" => {
                let report = referee.lock().expect("referee lock").card.report();
                Some(Response::json(
                    200,
                    &serde_json::to_value(report).expect("a report serializes"),
                ))
            }
            "/__herdsim/live" => {
                let now_s = now.as_micros() / 1_000_000;
                let per_second: Vec<serde_json::Value> = referee
                    .lock()
                    .expect("referee lock")
                    .series
                    .recent(now_s, LIVE_SECONDS)
                    .into_iter()
                    .map(|(second, counts)| serde_json::json!({"t_s": second, "counts": counts}))
                    .collect();
                let buckets = gateway.buckets(now, LIVE_BUCKETS_MAX);
                Some(Response::json(
                    200,
                    &serde_json::json!({"scenario": scenario, "t_s": now.as_micros() as f64 / 1e6,
                        "classes": CLASSES, "per_second": per_second, "buckets": buckets}),
                ))
            }
            _ => None,
        }
    })
}

/// `herdsim grade TRACE`: the scorecard of a recorded session.
pub fn grade(args: &GradeArgs) -> Result<(), CommandError> {
    use std::io::BufRead as _;
    let file = std::fs::File::open(&args.trace)
        .map_err(|error| CommandError::BadInput(format!("cannot read {}: {error}", args.trace.display())))?;
    let mut card = Scorecard::new();
    let mut exchanges = 0u64;
    for (number, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|error| {
            CommandError::BadInput(format!(
                "{}:{}: cannot read: {error}",
                args.trace.display(),
                number + 1
            ))
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let exchange = card.observe_line(&line).map_err(|error| {
            CommandError::BadInput(format!("{}:{}: {error}", args.trace.display(), number + 1))
        })?;
        exchanges += u64::from(exchange);
    }
    if exchanges == 0 {
        return Err(CommandError::BadInput(format!(
            "{}: no exchange lines: grade reads files written by `herdsim serve --record` (run traces hold no requests as sent)",
            args.trace.display()
        )));
    }
    let report = card.report();
    if args.json {
        outln!("{}", serde_json::to_string(&report).expect("a report serializes"));
    } else {
        out!("{}", herd_reports::text::scorecard(&report));
    }
    if report.pass {
        Ok(())
    } else {
        Err(CommandError::Assertions)
    }
}

pub fn serve(args: &ServeArgs) -> Result<(), CommandError> {
    let mut scenario = lookup::load(&args.scenario)?;
    let seed = args.seed.unwrap_or(scenario.seed);
    // Real time: `Date`, HTTP-dates and epoch resets are the real wall clock's, so that clients
    // comparing them with their own clocks see what the platform would send.
    scenario.gateway.epoch_unix_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let gateway = Gateway::new(scenario.gateway.clone(), herd_sim::streams::gateway_streams(seed))
        .map_err(|error| CommandError::BadInput(format!("gateway.{error}")))?;
    let mut gateway = gateway;
    gateway.bound_ledger();
    let gateway = Arc::new(Mutex::new(gateway));
    let record = match &args.record {
        Some(path) => Some(Arc::new(Mutex::new(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|error| {
                CommandError::BadInput(format!("cannot write {}: {error}", path.display()))
            })?,
        )))),
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|error| CommandError::BadInput(error.to_string()))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.addr).await.map_err(|error| CommandError::BadInput(format!("cannot listen on {}: {error}", args.addr)))?;
        let address = listener.local_addr().map_err(|error| CommandError::BadInput(error.to_string()))?;
        let clock = tcp::server_clock();
        // Events go to the record file, or are dropped: a long-running server keeps none in memory.
        let sink = record.clone();
        let hook = Arc::new(move |events: Vec<GatewayEvent>| {
            if let Some(file) = &sink {
                let mut file = file.lock().expect("record lock");
                for event in events {
                    let _ = writeln!(file, "{}", Record::Gateway(event).line());
                }
            }
        });
        let referee = Arc::new(Mutex::new(Referee {
            timeline: args.report.as_ref().map(|_| Timeline::default()),
            ..Referee::default()
        }));
        let exchanges = {
            let (referee, sink) = (referee.clone(), record.clone());
            Arc::new(move |exchange: Exchange| {
                if let Some(file) = &sink {
                    let _ = writeln!(file.lock().expect("record lock"), "{}", scorecard::exchange_line(&exchange));
                }
                referee.lock().expect("referee lock").observe(&exchange);
            })
        };
        let service = GatewayService::new(gateway.clone(), clock.clone())
            .with_event_hook(hook)
            .with_exchange_hook(exchanges)
            .with_pages(pages(referee.clone(), scenario.name.clone()));
        let clients: Vec<&str> = scenario.gateway.clients.iter().map(|client| client.id.as_str()).collect();
        outln!("herdsim serve: {} ({:?}, seed {seed}) on http://{address}", scenario.name, scenario.gateway.platform);
        for client in &scenario.gateway.clients {
            outln!("  OAuth client {} secret {}", client.id, client.secret);
            for key in client.access_keys.iter().filter(|_| scenario.gateway.platform == herd_gateway::config::PlatformProfile::Cxone) {
                outln!("    CXone access key {} secret {}", key.id, key.secret);
            }
        }
        match scenario.gateway.platform {
            herd_gateway::config::PlatformProfile::Genesys => outln!(
                "  token: curl -s -u {}:{} -d grant_type=client_credentials http://{address}/oauth/token",
                clients.first().copied().unwrap_or("herd-app"),
                scenario.gateway.clients.first().map_or("herd-secret", |client| client.secret.as_str())
            ),
            herd_gateway::config::PlatformProfile::Cxone => {
                let client = scenario.gateway.clients.first();
                let key = client.and_then(|client| client.access_keys.first());
                outln!(
                    "  token: curl -s -u {}:{} -d grant_type=password -d username={} -d password={} http://{address}/auth/token",
                    client.map_or("herd-app", |client| client.id.as_str()),
                    client.map_or("herd-secret", |client| client.secret.as_str()),
                    key.map_or("herd-key", |key| key.id.as_str()),
                    key.map_or("herd-key-secret", |key| key.secret.as_str())
                );
            }
        }
        outln!("  live buckets of a token: GET http://{address}/__herdsim/limits (Authorization: Bearer ...)");
        outln!("  the scorecard: http://{address}/__herdsim/ (live page), GET http://{address}/__herdsim/report (JSON)");
        outln!("  faults and schedules run from now; Ctrl-C stops");
        let _ = std::io::stdout().flush();
        let logger: Option<tcp::RequestLogger> = match args.log_format {
            LogFormat::None => None,
            format => Some(Arc::new(move |line: &RequestLog| print_request(format, line))),
        };
        let summaries = {
            let (gateway, every, record, referee) = (gateway.clone(), Duration::from_secs(args.summary_every_s.max(1)), record.clone(), referee.clone());
            tokio::spawn(async move {
                let mut ticker = tokio::time::interval(every);
                ticker.tick().await;
                loop {
                    ticker.tick().await;
                    outln!("{}", summary(&gateway, "summary"));
                    outln!("{}", verdict_line(&referee.lock().expect("referee lock").card.report()));
                    if let Some(file) = &record {
                        let _ = file.lock().expect("record lock").flush();
                    }
                }
            })
        };
        let options = ServeOptions {
            max_connections: args.max_connections,
            idle_timeout: args.idle_timeout_s.map_or_else(
                || tcp::idle_timeout_for(scenario.gateway.longest_retry_after_s()),
                Duration::from_secs,
            ),
            head_read_timeout: Duration::from_secs(args.head_timeout_s.max(1)),
            body_read_timeout: Duration::from_secs(args.body_timeout_s.max(1)),
            connection_deadline: Duration::from_secs(args.connection_deadline_s.max(1)),
            ..ServeOptions::default()
        };
        outln!(
            "  connections: at most {}; idle timeout {} s; head timeout {} s; body timeout {} s; deadline {} s",
            options.max_connections,
            options.idle_timeout.as_secs(),
            options.head_read_timeout.as_secs(),
            options.body_read_timeout.as_secs(),
            options.connection_deadline.as_secs()
        );
        let _ = std::io::stdout().flush();
        let stats = tcp::serve_tcp(listener, service, clock, options, logger, shutdown_signal()).await;
        summaries.abort();
        outln!("{}", summary(&gateway, "final"));
        outln!(
            "  connections: {} ({} refused as over --max-connections, {} closed at their deadline); timeouts: {} heads too slow, {} bodies too slow (408), {} bodies broken off",
            stats.connections, stats.refused, stats.deadline_closed, stats.head_timeouts, stats.body_timeouts, stats.body_errors
        );
        let (report, timeline) = {
            let referee = referee.lock().expect("referee lock");
            (referee.card.report(), referee.timeline.clone())
        };
        out!("{}", herd_reports::text::scorecard(&report));
        if let (Some(dir), Some(timeline)) = (&args.report, timeline) {
            let points: Vec<(u64, u8)> = timeline.points.iter().copied().collect();
            let command = std::env::args().collect::<Vec<_>>().join(" ");
            let written = herd_reports::write_serve(dir, &herd_reports::ServeReport {
                scenario: &scenario,
                command: &command,
                scorecard: &report,
                points: &points,
                dropped: timeline.dropped,
            })
            .map_err(CommandError::BadInput)?;
            outln!("  report: {}", written.display());
        }
        if let (Some(file), Some(path)) = (&record, &args.record) {
            file.lock().expect("record lock").flush().map_err(|error| CommandError::BadInput(format!("cannot write {}: {error}", path.display())))?;
            outln!("  trace: {}", path.display());
        }
        Ok(())
    })
}

fn print_request(format: LogFormat, line: &RequestLog) {
    let status = line
        .status
        .map_or("lost".to_string(), |status| status.to_string());
    let why = line.refused_by.as_ref().map_or(String::new(), |refusal| {
        format!(
            "  rule={} key={} count={}/{}",
            refusal.rule, refusal.key, refusal.count, refusal.limit
        )
    });
    match format {
        LogFormat::Json => outln!("{}", serde_json::to_string(line).expect("log lines serialize")),
        _ => outln!(
            "{:>10.3}s {:<21} {:<6} {} {status} {}ms host={} ({}){why}",
            line.t_s,
            line.remote,
            line.method,
            line.target,
            line.latency_ms,
            line.host,
            line.served_as
        ),
    }
}

/// One line: the verdict and the rules that fail.
fn verdict_line(report: &scorecard::ScorecardReport) -> String {
    let failed = report.total.failed();
    format!(
        "scorecard: {} ({} requests; {})",
        if report.pass { "PASS" } else { "FAIL" },
        report.total.requests,
        if failed.is_empty() {
            "every rule passes".to_string()
        } else {
            format!("fails {}", failed.join(", "))
        }
    )
}

fn summary(gateway: &Mutex<Gateway>, label: &str) -> String {
    let gateway = gateway.lock().expect("gateway lock");
    let stats = gateway.stats();
    format!(
        "{label}: {} requests, {} admitted ({} answered 4xx by the resource), {} rate-limited, {} unauthorized, \
         {} faults, {} conflicts, {} bad requests; tokens: {} issued, {} refused, {} rate-limited at the token \
         endpoint, {} evicted by the cap; token requests by host: {} login, {} an address (serves both); {} requests to the wrong host \
         (404); {} forbidden (403); {} writes applied, {} duplicate creates; background {} admitted / {} rejected",
        stats.requests,
        stats.admitted,
        stats.resource_4xx,
        stats.rate_limited,
        stats.unauthorized,
        stats.faults,
        stats.conflicts,
        stats.bad_requests,
        stats.tokens_issued,
        stats.token_requests_refused,
        stats.token_requests_rate_limited,
        stats.tokens_evicted,
        stats.token_requests_on_login_host,
        stats.token_requests_on_address,
        stats.wrong_host,
        stats.forbidden,
        gateway.ledger().writes().len(),
        gateway.ledger().duplicate_creates(),
        stats.background_admitted,
        stats.background_rejected,
    )
}

/// Ctrl-C, or SIGTERM (how service managers and tests stop a server).
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("a SIGTERM handler");
        tokio::select! {
            biased;
            _ = ctrl_c => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    outln!("shutting down");
}
