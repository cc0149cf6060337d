//! The memory network (the fast network mode): the same client and gateway, joined by an in-memory transport on a
//! paused tokio runtime. There is no TCP, no HTTP encoding and no tick: a paused runtime jumps
//! straight to its next timer, so idle simulated time (a 60 s Retry-After, a 300 s token) costs
//! nothing. Latency is drawn per message from a ChaCha8 stream of the seed, per instance.
//!
//! It is a different network from turmoil's: no connection pool, no connection setup, no
//! segment ordering. A seed reproduces within its mode, not across modes. Partitions hold
//! requests until the client's attempt timeout fires; crashes drop the instance's future (and so
//! every worker and in-flight request); restarts start the instance from scratch.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use herd_client::transport::{HttpRequest, HttpResponse, InMemoryTransport, Transport, TransportError};
use herd_gateway::http::{Delivery, Request};
use herd_gateway::Gateway;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::shell::service::{GatewayService, RuntimeClock};
use crate::streams::{self, Stream};
use crate::trace::NetworkAction;
use crate::world::clock::SimClock;
use crate::world::instance::{InstanceSetup, WorldContext};
use crate::world::output::RunEnd;
use crate::world::recording::trace_hook;
use crate::world::schedule::Schedule;

/// The network between the instances and the gateway.
struct Network {
    service: GatewayService,
    latency_ms: (u64, u64),
    /// One latency stream per instance.
    rngs: Vec<Mutex<ChaCha8Rng>>,
    partitioned: Mutex<BTreeSet<u32>>,
}

impl Network {
    fn latency(&self, instance: u32) -> Duration {
        let (low, high) = self.latency_ms;
        let mut rng = self.rngs[instance as usize].lock().expect("rng lock");
        Duration::from_micros(rng.random_range(low * 1_000..=high * 1_000))
    }

    fn is_partitioned(&self, instance: u32) -> bool {
        self.partitioned
            .lock()
            .expect("partition lock")
            .contains(&instance)
    }

    /// One request from `instance`: up the link, through the core, down the link.
    async fn exchange(
        self: Arc<Self>,
        instance: u32,
        request: HttpRequest,
    ) -> Result<HttpResponse, TransportError> {
        tokio::time::sleep(self.latency(instance)).await;
        if self.is_partitioned(instance) {
            // Nothing arrives: the client's attempt timeout decides, as with dropped segments.
            std::future::pending::<()>().await;
        }
        let (response, date) = self.service.respond_core(to_core(request));
        let down = self.latency(instance);
        match response.delivery {
            Delivery::Lost => {
                tokio::time::sleep(down).await;
                return Err(TransportError::Lost);
            }
            Delivery::DelayedMs(delay_ms) => tokio::time::sleep(Duration::from_millis(delay_ms)).await,
            // Nothing comes back: the client's attempt timeout decides.
            Delivery::Hang => std::future::pending::<()>().await,
            Delivery::Now => {}
        }
        tokio::time::sleep(down).await;
        let mut headers = response.headers;
        headers.push(("date".to_string(), date));
        Ok(HttpResponse {
            status: response.status,
            headers,
            body: response.body,
        })
    }
}

/// `http://host/path?query` → the core's request for `/path?query`, with the `Host` that HTTP
/// would have carried (the core tells the login host from the API host by it).
fn to_core(request: HttpRequest) -> Request {
    let after_scheme = request
        .url
        .split_once("://")
        .map_or(request.url.as_str(), |(_, rest)| rest);
    let slash = after_scheme.find('/').unwrap_or(after_scheme.len());
    let (host, target) = after_scheme.split_at(slash);
    let target = if target.is_empty() { "/" } else { target };
    let mut core = Request::new(&request.method, target).body(request.body);
    core.headers = request.headers;
    if !host.is_empty()
        && !core
            .headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("host"))
    {
        core.headers.push(("host".to_string(), host.to_string()));
    }
    core
}

/// Runs the world in the fast mode; returns how it ended, any host error, and the elapsed time.
pub(crate) fn drive(
    world: &mut WorldContext,
    gateway: Arc<Mutex<Gateway>>,
    progress: &mut dyn FnMut(Duration),
) -> (RunEnd, Option<String>, Duration) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let origin = tokio::time::Instant::now();
        world.clock = SimClock::Tokio(origin);
        let scenario = world.scenario.clone();
        let service = GatewayService::new(gateway, Arc::new(RuntimeClock::starting_now()))
            .with_event_hook(trace_hook(world.records.clone()));
        let timers = tokio::spawn(service.clone().run_timers());
        let rngs = (0..scenario.instances.count)
            .map(|instance| Mutex::new(streams::rng(world.seed, Stream::Latency { instance })))
            .collect();
        let network = Arc::new(Network {
            service,
            latency_ms: (scenario.network.latency_ms_min, scenario.network.latency_ms_max),
            rngs,
            partitioned: Mutex::new(BTreeSet::new()),
        });
        let shared_limiter = world.shared_limiter();
        let start = |instance: u32| {
            let network = network.clone();
            let transport: Arc<dyn Transport> = Arc::new(InMemoryTransport::new(move |request| {
                network.clone().exchange(instance, request)
            }));
            tokio::spawn(InstanceSetup::new(world, instance, shared_limiter.clone()).run(transport))
        };
        let mut instances: Vec<
            Option<tokio::task::JoinHandle<Result<(), crate::world::instance::HostError>>>,
        > = (0..scenario.instances.count).map(|i| Some(start(i))).collect();

        let schedule = Schedule::new(&scenario);
        let limit = Duration::from_secs(scenario.duration_s);
        let mut applied = 0usize;
        let mut last_report = Duration::ZERO;
        let outcome = loop {
            let elapsed = origin.elapsed();
            while let Some(action) = schedule
                .actions
                .get(applied)
                .filter(|action| action.at <= elapsed)
            {
                let slot = &mut instances[action.instance as usize];
                match action.kind {
                    NetworkAction::Partition => {
                        network
                            .partitioned
                            .lock()
                            .expect("partition lock")
                            .insert(action.instance);
                    }
                    NetworkAction::Repair => {
                        network
                            .partitioned
                            .lock()
                            .expect("partition lock")
                            .remove(&action.instance);
                    }
                    NetworkAction::Crash => {
                        if let Some(handle) = slot.take() {
                            handle.abort();
                        }
                    }
                    NetworkAction::Restart => {
                        if slot.is_none() {
                            *slot = Some(start(action.instance));
                        }
                    }
                }
                world
                    .records
                    .lock()
                    .expect("trace lock")
                    .push(action.record(elapsed));
                applied += 1;
            }
            if world.outcomes.lock().expect("outcomes lock").all_done() {
                break (RunEnd::Completed, None);
            }
            for handle in &mut instances {
                if handle.as_ref().is_some_and(tokio::task::JoinHandle::is_finished) {
                    let finished = handle.take().expect("checked").await;
                    let error = match finished {
                        Ok(Ok(())) => None,
                        Ok(Err(error)) => Some(error.to_string()),
                        Err(join_error) => Some(join_error.to_string()),
                    };
                    if let Some(error) = error {
                        timers.abort();
                        return (RunEnd::HostError, Some(error), origin.elapsed());
                    }
                }
            }
            if elapsed >= limit {
                break (RunEnd::DurationLimit, None);
            }
            if elapsed >= last_report + Duration::from_secs(10) {
                last_report = elapsed;
                progress(elapsed);
            }
            let next_action = schedule
                .actions
                .get(applied)
                .map_or(limit, |action| action.at.min(limit));
            // Wake for the next scheduled action, the limit, the last outcome, or a host ending.
            let wake = next_action.min(elapsed + Duration::from_secs(1));
            tokio::select! {
                biased;
                _ = world.done.notified() => {}
                _ = tokio::time::sleep_until(origin + wake) => {}
            }
        };
        let elapsed = origin.elapsed();
        timers.abort();
        for handle in instances.into_iter().flatten() {
            handle.abort();
        }
        (outcome.0, outcome.1, elapsed)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_become_core_targets() {
        let request = |url: &str| HttpRequest {
            method: "GET".into(),
            url: url.into(),
            headers: vec![("a".into(), "b".into())],
            body: Vec::new(),
        };
        assert_eq!(
            to_core(request("http://gateway/api/v2/users?pageSize=5")).target,
            "/api/v2/users?pageSize=5"
        );
        assert_eq!(to_core(request("http://gateway")).target, "/");
        assert_eq!(to_core(request("/oauth/token")).target, "/oauth/token");
        assert_eq!(
            to_core(request("http://api.mypurecloud.com/x")).headers,
            vec![
                ("a".to_string(), "b".to_string()),
                ("host".to_string(), "api.mypurecloud.com".to_string())
            ],
            "the Host that HTTP would carry"
        );
        assert_eq!(to_core(request("/oauth/token")).header_value("host"), None);
    }
}
