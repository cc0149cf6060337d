//! The world on turmoil: the platform's login and API hosts and one host per instance, stepped tick by tick, with
//! the network schedule applied between steps.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use herd_client::transport::{HyperTransport, Transport};
use herd_gateway::Gateway;

use crate::shell::service::GatewayService;
use crate::shell::turmoil_host::{serve_turmoil_counting, TurmoilClock};
use crate::world::instance::{InstanceSetup, WorldContext};
use crate::world::output::RunEnd;
use crate::world::recording::trace_hook;
use crate::world::schedule::Schedule;

/// The world on turmoil: hosts stepped tick by tick, the network schedule applied between steps.
pub(crate) fn drive(
    world: &WorldContext,
    gateway: Arc<Mutex<Gateway>>,
    progress: &mut dyn FnMut(Duration),
) -> (RunEnd, Option<String>, Duration) {
    let scenario = &world.scenario;
    let mut sim = turmoil::Builder::new()
        .rng_seed(world.seed)
        .epoch(world.epoch)
        .simulation_duration(Duration::from_secs(scenario.duration_s) + Duration::from_secs(60))
        .tick_duration(Duration::from_millis(scenario.tick_ms))
        .min_message_latency(Duration::from_millis(scenario.network.latency_ms_min))
        .max_message_latency(Duration::from_millis(scenario.network.latency_ms_max))
        // Every worker may connect at once (a herd): the gateway's accept queue holds them all.
        .tcp_capacity((scenario.total_workers() as usize * 2).max(1_024))
        .build();

    // The platform's two hosts, by name, both in front of the one gateway core: the client
    // reaches the token endpoint on the login host and the API on the API host.
    let hosts = scenario.gateway.hosts();
    for name in [hosts.api.clone(), hosts.login.clone()] {
        let gateway = gateway.clone();
        let gateway_records = world.records.clone();
        let connections = world.connections.clone();
        sim.host(name, move || {
            let service = GatewayService::new(gateway.clone(), Arc::new(TurmoilClock))
                .with_event_hook(trace_hook(gateway_records.clone()));
            let connections = connections.clone();
            async move {
                let listener = turmoil::net::TcpListener::bind("0.0.0.0:80").await?;
                serve_turmoil_counting(listener, service, connections).await?;
                Ok(())
            }
        });
    }
    let shared_limiter = world.shared_limiter();
    for instance in 0..scenario.instances.count {
        let context = InstanceSetup::new(world, instance, shared_limiter.clone());
        sim.host(format!("client-{instance}"), move || {
            let context = context.clone();
            async move {
                let transport: Arc<dyn Transport> = Arc::new(HyperTransport::turmoil());
                context
                    .run(transport.clone())
                    .await
                    .map_err(|error| -> Box<dyn std::error::Error> { error })?;
                // The instance is done, but its connections stay open until the simulation
                // ends. Dropped now, hyper's pool would close them in its `HashMap`'s order,
                // which is random per process: each close is a message whose latency turmoil
                // draws from the run's one stream, so every later message of the run would
                // move with that order (a run whose instances finish at different times
                // would not replay).
                let _held = transport;
                std::future::pending::<()>().await;
                Ok(())
            }
        });
    }

    let schedule = Schedule::new(scenario);
    let platform_hosts = [hosts.api.clone(), hosts.login.clone()];
    let limit = Duration::from_secs(scenario.duration_s);
    let mut applied = 0usize;
    let mut last_report = Duration::ZERO;
    let (end, error) = loop {
        let elapsed = sim.elapsed();
        while let Some(action) = schedule
            .actions
            .get(applied)
            .filter(|action| action.at <= elapsed)
        {
            action.apply(&mut sim, &platform_hosts);
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
        if elapsed >= limit {
            break (RunEnd::DurationLimit, None);
        }
        if let Err(host_error) = sim.step() {
            break (RunEnd::HostError, Some(host_error.to_string()));
        }
        if elapsed >= last_report + Duration::from_secs(10) {
            last_report = elapsed;
            progress(elapsed);
        }
    };
    (end, error, sim.elapsed())
}
