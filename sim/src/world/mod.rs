//! The simulated world: the network (turmoil, or in memory), the gateway host and the instances,
//! built from a scenario and a seed.
//!
//! Hosts: `gateway` (the core behind the hyper shell) and `client-0..n` (one service instance
//! each: its own client, token and pacing state, and many worker tasks). The loop steps turmoil
//! until every work item has an outcome or the duration limit passes, applying the network
//! schedule (partitions, crashes, restarts) between steps. Work items' outcomes live outside the
//! hosts, so a restarted instance resumes only what it had not finished.
//!
//! Determinism: one seed drives turmoil (`rng_seed`), the gateway's ChaCha8 streams and every
//! worker's ChaCha8 stream; the epoch is the gateway's configured one; events from both sides are
//! appended to one trace in execution order (turmoil runs hosts one at a time on this thread).

mod clock;
mod instance;
mod memory_net;
mod output;
pub mod plan;
mod recording;
mod schedule;
mod shared_limiter;
mod turmoil_net;

use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use herd_gateway::Gateway;

use crate::scenario::{NetworkMode, Scenario};
use crate::streams;
use crate::trace::TraceSink;
use crate::world::clock::SimClock;
use crate::world::instance::WorldContext;
use crate::world::plan::ItemOutcomes;

pub use output::{RunEnd, WorldOutput};

/// Runs the world of `scenario` with `seed` to its end. Progress (simulated time so far) goes
/// to `progress`.
pub fn simulate(scenario: &Scenario, seed: u64, progress: &mut dyn FnMut(Duration)) -> WorldOutput {
    let scenario = Arc::new(scenario.clone());
    let plan = Arc::new(plan::plan(&scenario));
    let total_items = plan.iter().flatten().map(Vec::len).sum();
    let streams = streams::gateway_streams(seed);
    let gateway = Arc::new(Mutex::new(
        Gateway::new(scenario.gateway.clone(), streams).expect("validated with the scenario"),
    ));
    let mut context = WorldContext {
        scenario: scenario.clone(),
        seed,
        epoch: UNIX_EPOCH + Duration::from_secs(scenario.gateway.epoch_unix_s),
        records: Arc::new(Mutex::new(TraceSink::default())),
        outcomes: Arc::new(Mutex::new(ItemOutcomes::new(total_items))),
        plan: plan.clone(),
        done: Arc::new(tokio::sync::Notify::new()),
        clock: SimClock::Turmoil,
        connections: Default::default(),
        submitted_jobs: Default::default(),
    };
    let (end, error, elapsed) = match scenario.network.mode {
        NetworkMode::Turmoil => turmoil_net::drive(&context, gateway.clone(), progress),
        NetworkMode::Fast => memory_net::drive(&mut context, gateway.clone(), progress),
    };
    let trace = std::mem::take(&mut *context.records.lock().expect("trace lock")).finish();
    let outcomes = std::mem::take(&mut *context.outcomes.lock().expect("outcomes lock"));
    let gateway = gateway.lock().expect("gateway lock");
    let context_connections = context.connections.clone();
    drop(context);
    WorldOutput {
        end,
        error,
        elapsed,
        trace,
        plan: Arc::try_unwrap(plan).unwrap_or_else(|shared| (*shared).clone()),
        outcomes,
        connections_opened: {
            let accepted = context_connections.lock().expect("connection counts lock");
            (0..scenario.instances.count)
                .map(|i| accepted.get(&format!("client-{i}")).copied().unwrap_or(0))
                .collect()
        },
        ledger: gateway.ledger().clone(),
        gateway_stats: gateway.stats().clone(),
    }
}
