//! The simulated world: one turmoil simulation built from a scenario and a seed.
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

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use herd_client::api::BulkItem;
use herd_client::clock::TokioClock;
use herd_client::events::{ClientEvent, Observer};
use herd_client::gate::Priority;
use herd_client::transport::HyperTransport;
use herd_client::{Client, Credentials, Outcome, Worker};
use serde_json::{json, Value};
use tokio::sync::OnceCell;

use crate::config::Platform;
use crate::directory::Directory;
use crate::events::GatewayEvent;
use crate::gateway::Gateway;
use crate::metrics::{self, Metrics};
use crate::scenario::{NetworkMode, Scenario, SharedLimiterKind, StartPattern, Workload};
use crate::server::{serve_turmoil, GatewayService, TurmoilClock};
use crate::time::SimTime;
use crate::trace::{NetworkAction, Record, Trace};

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunEnd {
    /// Every work item has an outcome.
    Completed,
    /// The scenario's `duration_s` passed first.
    DurationLimit,
    /// A host failed (a bug: reported with its message).
    HostError,
}

/// One finished run.
pub struct Run {
    pub scenario: String,
    pub seed: u64,
    pub end: RunEnd,
    pub error: Option<String>,
    pub elapsed: Duration,
    pub trace: Trace,
    pub metrics: Metrics,
    /// Failed expectations of the scenario (empty when the run passed its own assertions).
    pub failures: Vec<String>,
}

/// One unit of work, with a stable id (idempotency keys and resumption derive from it).
#[derive(Clone, Debug, PartialEq)]
pub struct WorkItem {
    pub id: String,
    pub kind: ItemKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ItemKind {
    Read {
        user: String,
    },
    Update {
        user: String,
        fields: Value,
        priority: Priority,
    },
    /// Part of a bulk update (batched by the worker).
    BulkUpdate {
        user: String,
        fields: Value,
    },
    Create {
        key: String,
    },
    /// Part of a bulk agent creation (batched by the worker).
    CreateAgent {
        user_name: String,
    },
    /// List every page.
    ListAll,
}

impl ItemKind {
    /// The ledger's view of the write this item makes, if any.
    pub fn write(&self, platform: Platform) -> Option<(crate::ledger::WriteOp, String)> {
        use crate::ledger::WriteOp;
        match self {
            ItemKind::Update { user, .. } | ItemKind::BulkUpdate { user, .. } => {
                Some((WriteOp::UpdateUser, user.clone()))
            }
            ItemKind::Create { key } => match platform {
                Platform::Genesys => Some((WriteOp::CreateEvaluation, key.clone())),
                Platform::Cxone => Some((WriteOp::CreateAgent, key.clone())),
            },
            ItemKind::CreateAgent { user_name } => Some((WriteOp::CreateAgent, user_name.clone())),
            ItemKind::Read { .. } | ItemKind::ListAll => None,
        }
    }
}

/// The outcome of one item, kept outside the hosts.
#[derive(Clone, Debug, PartialEq)]
pub struct ItemRecord {
    pub outcome: Outcome,
    pub instance: u32,
    pub worker: u64,
    pub started_at: SimTime,
    pub finished_at: SimTime,
    pub attempts: u32,
}

pub type Outcomes = Arc<Mutex<BTreeMap<String, ItemRecord>>>;

/// The work of every worker: `plan[instance][worker]`, items round-robin over all workers.
pub fn plan(scenario: &Scenario) -> Vec<Vec<Vec<WorkItem>>> {
    let instances = scenario.instances.count as usize;
    let workers = scenario.instances.workers as usize;
    let platform = scenario.gateway.platform;
    let users = scenario.gateway.data.users.max(1);
    let user = |n: u64| Directory::id_for(platform, n % users);
    let items: Vec<WorkItem> = match &scenario.workload {
        Workload::Read { operations } => (0..*operations)
            .map(|n| WorkItem {
                id: format!("read-{n}"),
                kind: ItemKind::Read { user: user(n) },
            })
            .collect(),
        Workload::Update { operations } => (0..*operations)
            .map(|n| WorkItem {
                id: format!("update-{n}"),
                kind: ItemKind::Update {
                    user: user(n),
                    fields: json!({"title": format!("title-{n}")}),
                    priority: Priority::Normal,
                },
            })
            .collect(),
        Workload::BulkUpdate { users: count } => (0..count.unwrap_or(users))
            .map(|n| WorkItem {
                id: format!("bulk-{n}"),
                kind: ItemKind::BulkUpdate {
                    user: user(n),
                    fields: json!({"department": format!("dept-{}", n % 7)}),
                },
            })
            .collect(),
        Workload::Create { operations } => (0..*operations)
            .map(|n| {
                let kind = match platform {
                    Platform::Genesys => ItemKind::Create {
                        key: format!("conv-{n:06}"),
                    },
                    Platform::Cxone => ItemKind::CreateAgent {
                        user_name: format!("agent-{n:06}@herd"),
                    },
                };
                WorkItem {
                    id: format!("create-{n}"),
                    kind,
                }
            })
            .collect(),
        Workload::CreateAgents { agents } => {
            let mut items: Vec<WorkItem> = (0..*agents)
                .map(|n| WorkItem {
                    id: format!("agent-{n}"),
                    kind: ItemKind::CreateAgent {
                        user_name: format!("agent-{n:06}@herd"),
                    },
                })
                .collect();
            items.push(WorkItem {
                id: "list-all".into(),
                kind: ItemKind::ListAll,
            });
            items
        }
        Workload::Contention { rounds } => (0..scenario.total_workers() * rounds)
            .map(|n| WorkItem {
                id: format!("contend-{n}"),
                kind: ItemKind::Update {
                    user: user(0),
                    fields: json!({"title": format!("writer-{n}")}),
                    priority: Priority::Normal,
                },
            })
            .collect(),
        Workload::Mixed { reads, updates } => {
            let mut items = Vec::new();
            for n in 0..(*reads).max(*updates) {
                if n < *updates {
                    items.push(WorkItem {
                        id: format!("update-{n}"),
                        kind: ItemKind::Update {
                            user: user(n),
                            fields: json!({"title": format!("title-{n}")}),
                            priority: Priority::High,
                        },
                    });
                }
                if n < *reads {
                    items.push(WorkItem {
                        id: format!("read-{n}"),
                        kind: ItemKind::Read { user: user(n + 1) },
                    });
                }
            }
            items
        }
    };
    let total = instances * workers;
    let mut plan = vec![vec![Vec::new(); workers]; instances];
    for (n, item) in items.into_iter().enumerate() {
        let global = n % total;
        plan[global / workers][global % workers].push(item);
    }
    plan
}

/// Simulated time as the world's network mode keeps it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum SimClock {
    /// turmoil's simulated time.
    Turmoil,
    /// A paused tokio runtime's time since `origin` (the fast network mode).
    Tokio(tokio::time::Instant),
}

impl SimClock {
    pub(crate) fn now(self) -> SimTime {
        match self {
            SimClock::Turmoil => SimTime::from_duration(turmoil::sim_elapsed().unwrap_or_default()),
            SimClock::Tokio(origin) => SimTime::from_duration(origin.elapsed()),
        }
    }
}

/// The observer of one instance: client events into the shared trace, stamped with sim time.
struct InstanceObserver {
    instance: u32,
    clock: SimClock,
    trace: Arc<Mutex<Vec<Record>>>,
}

impl Observer for InstanceObserver {
    fn on_event(&self, event: &ClientEvent) {
        let at = self.clock.now();
        self.trace.lock().expect("trace lock").push(Record::Client {
            at,
            instance: self.instance,
            event: event.clone(),
        });
    }
}

/// What a host's software gets from the world. Cheap to clone: shared parts are behind `Arc`s.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) scenario: Arc<Scenario>,
    pub(crate) seed: u64,
    pub(crate) epoch: std::time::SystemTime,
    pub(crate) records: Arc<Mutex<Vec<Record>>>,
    pub(crate) outcomes: Outcomes,
    pub(crate) plan: Arc<Vec<Vec<Vec<WorkItem>>>>,
    pub(crate) total_items: usize,
    /// Signalled when the last item gets its outcome.
    pub(crate) done: Arc<tokio::sync::Notify>,
    pub(crate) clock: SimClock,
}

impl Shared {
    /// The scenario's shared limiter on this world's clock, if it has one.
    pub(crate) fn shared_limiter(&self) -> Option<Arc<dyn herd_client::shared::SharedLimiter>> {
        match self.scenario.shared_limiter.kind {
            SharedLimiterKind::None => None,
            SharedLimiterKind::Sim => Some(Arc::new(crate::shared_limit::SimLimiter::new(
                &self.scenario.shared_limiter,
                self.clock,
            ))),
        }
    }
}

/// What every worker of an instance shares.
struct InstanceContext {
    instance: u32,
    shared: Shared,
    /// The instance's listing of users: id → version (bulk and versioned updates start from it),
    /// kept current with the versions its own successful updates return.
    listing: OnceCell<Mutex<BTreeMap<String, u64>>>,
}

/// Runs a scenario with a seed. Progress (simulated seconds so far) goes to `progress`.
pub fn run(scenario: &Scenario, seed: u64, progress: &mut dyn FnMut(Duration)) -> Run {
    let scenario = Arc::new(scenario.clone());
    let plan = Arc::new(plan(&scenario));
    let gateway = Arc::new(Mutex::new(
        Gateway::new(scenario.gateway.clone(), seed).expect("validated with the scenario"),
    ));
    let mut shared = Shared {
        scenario: scenario.clone(),
        seed,
        epoch: UNIX_EPOCH + Duration::from_secs(scenario.gateway.epoch_unix_s),
        records: Arc::new(Mutex::new(Vec::new())),
        outcomes: Arc::new(Mutex::new(BTreeMap::new())),
        total_items: plan.iter().flatten().map(Vec::len).sum(),
        plan: plan.clone(),
        done: Arc::new(tokio::sync::Notify::new()),
        clock: SimClock::Turmoil,
    };
    let (end, error, elapsed) = match scenario.network.mode {
        NetworkMode::Turmoil => drive_turmoil(&shared, gateway.clone(), progress),
        NetworkMode::Fast => crate::fast::drive(&mut shared, gateway.clone(), progress),
    };
    let records = std::mem::take(&mut *shared.records.lock().expect("trace lock"));
    let outcomes = shared.outcomes.lock().expect("outcomes lock").clone();
    let gateway = gateway.lock().expect("gateway lock");
    let trace = Trace::new(records);
    let metrics = metrics::compute(&scenario, &plan, &outcomes, &trace, &gateway, end, elapsed);
    let failures = metrics::check(&scenario, &metrics, end);
    Run {
        scenario: scenario.name.clone(),
        seed,
        end,
        error,
        elapsed,
        trace,
        metrics,
        failures,
    }
}

/// The world on turmoil: hosts stepped tick by tick, the network schedule applied between steps.
fn drive_turmoil(
    shared: &Shared,
    gateway: Arc<Mutex<Gateway>>,
    progress: &mut dyn FnMut(Duration),
) -> (RunEnd, Option<String>, Duration) {
    let scenario = &shared.scenario;
    let mut sim = turmoil::Builder::new()
        .rng_seed(shared.seed)
        .epoch(shared.epoch)
        .simulation_duration(Duration::from_secs(scenario.duration_s) + Duration::from_secs(60))
        .tick_duration(Duration::from_millis(scenario.tick_ms))
        .min_message_latency(Duration::from_millis(scenario.network.latency_ms_min))
        .max_message_latency(Duration::from_millis(scenario.network.latency_ms_max))
        // Every worker may connect at once (a herd): the gateway's accept queue holds them all.
        .tcp_capacity((scenario.total_workers() as usize * 2).max(1_024))
        .build();

    let gateway_records = shared.records.clone();
    sim.host("gateway", move || {
        let service = GatewayService::new(gateway.clone(), Arc::new(TurmoilClock))
            .with_event_hook(trace_hook(gateway_records.clone()));
        async move {
            let listener = turmoil::net::TcpListener::bind("0.0.0.0:80").await?;
            serve_turmoil(listener, service).await?;
            Ok(())
        }
    });
    let shared_limiter = shared.shared_limiter();
    for instance in 0..scenario.instances.count {
        let context = InstanceSetup::new(shared, instance, shared_limiter.clone());
        sim.host(format!("client-{instance}"), move || {
            let context = context.clone();
            async move {
                context
                    .run(Arc::new(HyperTransport::turmoil()))
                    .await
                    .map_err(|error| -> Box<dyn std::error::Error> { error })
            }
        });
    }

    let schedule = Schedule::new(scenario);
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
            action.apply(&mut sim);
            shared
                .records
                .lock()
                .expect("trace lock")
                .push(action.record(elapsed));
            applied += 1;
        }
        if shared.outcomes.lock().expect("outcomes lock").len() >= shared.total_items {
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

/// Gateway events into the trace, as the gateway makes them.
pub(crate) fn trace_hook(records: Arc<Mutex<Vec<Record>>>) -> crate::server::EventHook {
    Arc::new(move |events: Vec<GatewayEvent>| {
        let mut trace = records.lock().expect("trace lock");
        trace.extend(events.into_iter().map(Record::Gateway));
    })
}

/// Everything one instance's software needs to start (again, after a crash).
#[derive(Clone)]
pub(crate) struct InstanceSetup {
    instance: u32,
    shared: Shared,
    shared_limiter: Option<Arc<dyn herd_client::shared::SharedLimiter>>,
}

/// A host's failure (a bug, reported with its message).
pub(crate) type HostError = Box<dyn std::error::Error + Send + Sync>;

impl InstanceSetup {
    pub(crate) fn new(
        shared: &Shared,
        instance: u32,
        shared_limiter: Option<Arc<dyn herd_client::shared::SharedLimiter>>,
    ) -> InstanceSetup {
        InstanceSetup {
            instance,
            shared: shared.clone(),
            shared_limiter,
        }
    }

    /// Starts the instance from scratch over `transport`: a new client, the unfinished items.
    pub(crate) async fn run(
        self,
        transport: Arc<dyn herd_client::transport::Transport>,
    ) -> Result<(), HostError> {
        let context = Arc::new(InstanceContext {
            instance: self.instance,
            shared: self.shared,
            listing: OnceCell::new(),
        });
        run_instance(context, transport, self.shared_limiter).await
    }
}

/// Network actions at their times.
pub(crate) struct Schedule {
    pub(crate) actions: Vec<Action>,
}

pub(crate) struct Action {
    pub(crate) at: Duration,
    pub(crate) kind: NetworkAction,
    pub(crate) instance: u32,
}

impl Schedule {
    pub(crate) fn new(scenario: &Scenario) -> Schedule {
        let mut actions = Vec::new();
        for partition in &scenario.network.partitions {
            let instances: Vec<u32> = match partition.instance {
                Some(instance) => vec![instance],
                None => (0..scenario.instances.count).collect(),
            };
            for instance in instances {
                actions.push(Action {
                    at: Duration::from_secs(partition.from_s),
                    kind: NetworkAction::Partition,
                    instance,
                });
                actions.push(Action {
                    at: Duration::from_secs(partition.until_s),
                    kind: NetworkAction::Repair,
                    instance,
                });
            }
        }
        for crash in &scenario.network.crashes {
            actions.push(Action {
                at: Duration::from_secs(crash.at_s),
                kind: NetworkAction::Crash,
                instance: crash.instance,
            });
            if let Some(after_s) = crash.restart_after_s {
                actions.push(Action {
                    at: Duration::from_secs(crash.at_s + after_s),
                    kind: NetworkAction::Restart,
                    instance: crash.instance,
                });
            }
        }
        // Stable: same-time actions keep their configuration order.
        actions.sort_by_key(|action| action.at);
        Schedule { actions }
    }
}

impl Action {
    /// The host it acts on.
    fn host(&self) -> String {
        format!("client-{}", self.instance)
    }

    /// The trace record of the action, taken at `elapsed`.
    pub(crate) fn record(&self, elapsed: Duration) -> Record {
        Record::Network {
            at: SimTime::from_duration(elapsed),
            host: self.host(),
            action: self.kind,
        }
    }

    fn apply(&self, sim: &mut turmoil::Sim<'_>) {
        let host = self.host();
        match self.kind {
            NetworkAction::Partition => sim.partition("gateway", host.as_str()),
            NetworkAction::Repair => sim.repair("gateway", host.as_str()),
            NetworkAction::Crash => sim.crash(host.as_str()),
            NetworkAction::Restart => sim.bounce(host.as_str()),
        }
    }
}

/// One instance's software: a client, and its workers over their items. Dropping the future
/// (a crash) drops every worker with it.
async fn run_instance(
    context: Arc<InstanceContext>,
    transport: Arc<dyn herd_client::transport::Transport>,
    shared_limiter: Option<Arc<dyn herd_client::shared::SharedLimiter>>,
) -> Result<(), HostError> {
    let Shared {
        scenario,
        seed,
        epoch,
        records,
        plan,
        clock,
        ..
    } = context.shared.clone();
    let plan = plan[context.instance as usize].clone();
    let platform = match scenario.gateway.platform {
        Platform::Genesys => herd_client::Platform::Genesys,
        Platform::Cxone => herd_client::Platform::Cxone,
    };
    let config = herd_client::ClientConfig {
        platform,
        base_url: "http://gateway".into(),
        token_url: None,
        ..scenario.client.clone()
    };
    let observer = Arc::new(InstanceObserver {
        instance: context.instance,
        clock,
        trace: records,
    });
    let credentials = credentials_of(&scenario, context.instance, platform);
    let mut client = Client::new(
        config,
        credentials,
        transport,
        Arc::new(TokioClock::with_epoch(epoch)),
        observer,
    )?;
    if let Some(limiter) = shared_limiter {
        client = client.with_shared_limiter(limiter);
    }
    let workers_per_instance = u64::from(scenario.instances.workers);
    let mut tasks = tokio::task::JoinSet::new();
    for (index, items) in plan.into_iter().enumerate() {
        let global = u64::from(context.instance) * workers_per_instance + index as u64;
        let worker = client.worker(global, seed);
        let start_after = match scenario.instances.start {
            StartPattern::Herd => Duration::ZERO,
            StartPattern::Spread => {
                Duration::from_secs(scenario.instances.spread_s) * global as u32
                    / scenario.total_workers().max(1) as u32
            }
        };
        tasks.spawn(run_worker(context.clone(), worker, items, start_after));
    }
    while let Some(finished) = tasks.join_next().await {
        finished?;
    }
    Ok(())
}

/// The credentials of the OAuth client the instance uses (validated with the scenario).
fn credentials_of(scenario: &Scenario, instance: u32, platform: herd_client::Platform) -> Credentials {
    let id = scenario
        .instances
        .oauth_client_of(instance, &scenario.gateway)
        .expect("validated: the gateway has clients");
    let client = scenario
        .gateway
        .clients
        .iter()
        .find(|client| client.id == id)
        .expect("validated: a gateway client");
    let secret = herd_client::secret::Secret::new(client.secret.clone());
    match (platform, client.access_keys.first()) {
        (herd_client::Platform::Cxone, Some(key)) => Credentials::Password {
            client_id: client.id.clone(),
            client_secret: secret,
            access_key_id: key.id.clone(),
            access_key_secret: herd_client::secret::Secret::new(key.secret.clone()),
        },
        _ => Credentials::ClientCredentials {
            client_id: client.id.clone(),
            client_secret: secret,
        },
    }
}

fn record(
    context: &InstanceContext,
    worker: u64,
    id: &str,
    outcome: Outcome,
    attempts: u32,
    started_at: SimTime,
) {
    let entry = ItemRecord {
        outcome,
        instance: context.instance,
        worker,
        started_at,
        finished_at: context.shared.clock.now(),
        attempts,
    };
    let mut outcomes = context.shared.outcomes.lock().expect("outcomes lock");
    let previous = outcomes.insert(id.to_string(), entry);
    assert!(previous.is_none(), "item {id} got a second outcome");
    if outcomes.len() >= context.shared.total_items {
        context.shared.done.notify_one();
    }
}

fn is_done(context: &InstanceContext, id: &str) -> bool {
    context
        .shared
        .outcomes
        .lock()
        .expect("outcomes lock")
        .contains_key(id)
}

async fn run_worker(
    context: Arc<InstanceContext>,
    mut worker: Worker,
    items: Vec<WorkItem>,
    start_after: Duration,
) {
    tokio::time::sleep(start_after).await;
    let pending: Vec<WorkItem> = items
        .into_iter()
        .filter(|item| !is_done(&context, &item.id))
        .collect();
    let (batched, single): (Vec<WorkItem>, Vec<WorkItem>) = pending.into_iter().partition(|item| {
        matches!(
            item.kind,
            ItemKind::BulkUpdate { .. } | ItemKind::CreateAgent { .. }
        )
    });
    if !batched.is_empty() {
        run_batched(&context, &mut worker, batched).await;
    }
    for item in single {
        let started_at = context.shared.clock.now();
        let result = match &item.kind {
            ItemKind::Read { user } => {
                let platform = worker.client().config().platform;
                worker
                    .execute(herd_client::Operation::get(
                        item.id.clone(),
                        platform.user_path(user),
                        "users.read",
                    ))
                    .await
            }
            ItemKind::Update {
                user,
                fields,
                priority,
            } => {
                let version = known_version(&context, &mut worker, user).await;
                let result = worker
                    .update_user(&item.id, user, fields.clone(), version, *priority)
                    .await;
                if let (Some(listing), Some(version)) = (
                    context.listing.get(),
                    result.body.as_ref().and_then(|body| body["version"].as_u64()),
                ) {
                    listing
                        .lock()
                        .expect("listing lock")
                        .insert(user.clone(), version);
                }
                result
            }
            ItemKind::Create { key } => {
                worker
                    .create_evaluation(
                        &item.id,
                        key,
                        json!({"evaluationForm": {"id": "herd-form"}}),
                        Priority::Normal,
                    )
                    .await
            }
            ItemKind::ListAll => match worker.list_all(&item.id, Priority::Low).await {
                Ok(_) => herd_client::OpResult {
                    outcome: Outcome::Ok,
                    attempts: 1,
                    status: Some(200),
                    body: None,
                },
                Err(result) => result,
            },
            ItemKind::BulkUpdate { .. } | ItemKind::CreateAgent { .. } => unreachable!("batched above"),
        };
        record(
            &context,
            worker.id(),
            &item.id,
            result.outcome,
            result.attempts,
            started_at,
        );
    }
}

/// The version of `user` from the instance's listing (listed once, on first need). A contended
/// record is read fresh instead: the listing would be stale for every writer but the first.
async fn known_version(context: &InstanceContext, worker: &mut Worker, user: &str) -> Option<u64> {
    if matches!(context.shared.scenario.workload, Workload::Contention { .. }) {
        return None;
    }
    let listing = context.listing.get_or_init(|| list_versions(worker)).await;
    listing.lock().expect("listing lock").get(user).copied()
}

async fn list_versions(worker: &mut Worker) -> Mutex<BTreeMap<String, u64>> {
    let platform = worker.client().config().platform;
    let users = worker
        .list_all("listing", Priority::High)
        .await
        .unwrap_or_default();
    Mutex::new(
        users
            .iter()
            .filter_map(|user| Some((platform.user_id(user)?, user["version"].as_u64()?)))
            .collect(),
    )
}

async fn run_batched(context: &InstanceContext, worker: &mut Worker, items: Vec<WorkItem>) {
    let started_at = context.shared.clock.now();
    let prefix = format!("w{}", worker.id());
    match &items[0].kind {
        ItemKind::BulkUpdate { .. } => {
            let mut bulk = Vec::with_capacity(items.len());
            for item in &items {
                let ItemKind::BulkUpdate { user, fields } = &item.kind else {
                    unreachable!("one kind per workload")
                };
                let version = known_version(context, worker, user).await;
                bulk.push(BulkItem {
                    id: user.clone(),
                    version,
                    fields: fields.clone(),
                });
            }
            let results = worker.bulk_update_users(&prefix, bulk, Priority::Normal).await;
            for result in results {
                record(
                    context,
                    worker.id(),
                    &items[result.index].id,
                    result.outcome,
                    result.tries,
                    started_at,
                );
            }
        }
        ItemKind::CreateAgent { .. } => {
            let agents: Vec<Value> = items
                .iter()
                .map(|item| match &item.kind {
                    ItemKind::CreateAgent { user_name } => {
                        json!({"userName": user_name, "firstName": "Herd", "lastName": item.id})
                    }
                    _ => unreachable!("one kind per workload"),
                })
                .collect();
            let results = worker.create_agents(&prefix, agents, Priority::Normal).await;
            for result in results {
                record(
                    context,
                    worker.id(),
                    &items[result.index].id,
                    result.outcome,
                    result.tries,
                    started_at,
                );
            }
        }
        _ => unreachable!("only bulk kinds are batched"),
    }
}
