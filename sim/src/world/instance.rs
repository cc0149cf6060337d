//! The service instance under test: one herd-client `Client` with its token, pacing and breaker
//! state, and many worker tasks that take their items to an outcome. Outcomes live outside the
//! hosts, so a restarted instance resumes only what it had not finished.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use herd_client::api::BulkItem;
use herd_client::events::{ClientEvent, Observer};
use herd_client::gate::Priority;
use herd_client::{Client, Credentials, Outcome, Worker};
use herd_gateway::SimTime;
use serde_json::{json, Value};
use tokio::sync::OnceCell;

use crate::scenario::{Scenario, SharedLimiterKind, Workload};
use crate::streams::{self, Stream};
use crate::trace::{Record, TraceSink};
use crate::world::clock::SimClock;
use crate::world::plan::{ItemKind, ItemRecord, Outcomes, WorkItem};

/// The observer of one instance: client events into the shared trace, stamped with sim time.
struct InstanceObserver {
    instance: u32,
    clock: SimClock,
    trace: Arc<Mutex<TraceSink>>,
}

impl Observer for InstanceObserver {
    fn on_event(&self, event: &ClientEvent) {
        self.on_event_owned(event.clone());
    }

    fn on_event_owned(&self, event: ClientEvent) {
        let at = self.clock.now();
        self.trace.lock().expect("trace lock").push(Record::Client {
            at,
            instance: self.instance,
            event,
        });
    }
}

/// What a host's software gets from the world. Cheap to clone: shared parts are behind `Arc`s.
#[derive(Clone)]
pub(crate) struct WorldContext {
    pub(crate) scenario: Arc<Scenario>,
    pub(crate) seed: u64,
    pub(crate) epoch: std::time::SystemTime,
    pub(crate) records: Arc<Mutex<TraceSink>>,
    pub(crate) outcomes: Outcomes,
    pub(crate) plan: Arc<Vec<Vec<Vec<WorkItem>>>>,
    /// Signalled when the last item gets its outcome.
    pub(crate) done: Arc<tokio::sync::Notify>,
    pub(crate) clock: SimClock,
    /// Connections the gateway accepted, per client host (turmoil only; the memory network has
    /// none).
    pub(crate) connections: crate::shell::turmoil_host::ConnectionCounts,
    /// Analytics jobs submitted, by item id: kept outside the hosts, as a service would keep
    /// them in its own store, so that a restarted instance resumes polling instead of
    /// submitting again.
    pub(crate) submitted_jobs: Arc<Mutex<BTreeMap<String, String>>>,
}

impl WorldContext {
    /// The scenario's shared limiter on this world's clock, if it has one.
    pub(crate) fn shared_limiter(&self) -> Option<Arc<dyn herd_client::shared_limiter::SharedLimiter>> {
        match self.scenario.shared_limiter.kind {
            SharedLimiterKind::None => None,
            SharedLimiterKind::Sim => Some(Arc::new(crate::world::shared_limiter::SimLimiter::new(
                &self.scenario.shared_limiter,
                self.clock,
            ))),
        }
    }
}

/// What every worker of an instance shares.
struct InstanceContext {
    instance: u32,
    world: WorldContext,
    /// The instance's listing of users: id → version (bulk and versioned updates start from it),
    /// kept current with the versions its own successful updates return.
    listing: OnceCell<Mutex<BTreeMap<String, u64>>>,
}

/// Everything one instance's software needs to start (again, after a crash).
#[derive(Clone)]
pub(crate) struct InstanceSetup {
    instance: u32,
    world: WorldContext,
    shared_limiter: Option<Arc<dyn herd_client::shared_limiter::SharedLimiter>>,
}

/// A host's failure (a bug, reported with its message).
pub(crate) type HostError = Box<dyn std::error::Error + Send + Sync>;

impl InstanceSetup {
    pub(crate) fn new(
        world: &WorldContext,
        instance: u32,
        shared_limiter: Option<Arc<dyn herd_client::shared_limiter::SharedLimiter>>,
    ) -> InstanceSetup {
        InstanceSetup {
            instance,
            world: world.clone(),
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
            world: self.world,
            listing: OnceCell::new(),
        });
        run_instance(context, transport, self.shared_limiter).await
    }
}

/// One instance's software: a client, and its workers over their items. Dropping the future
/// (a crash) drops every worker with it.
async fn run_instance(
    context: Arc<InstanceContext>,
    transport: Arc<dyn herd_client::transport::Transport>,
    shared_limiter: Option<Arc<dyn herd_client::shared_limiter::SharedLimiter>>,
) -> Result<(), HostError> {
    let WorldContext {
        scenario,
        seed,
        epoch,
        records,
        plan,
        clock,
        ..
    } = context.world.clone();
    let plan = plan[context.instance as usize].clone();
    let platform = crate::scenario::client_platform(scenario.gateway.platform);
    // Validated with the scenario: the platform is the gateway's; the URLs are the simulation's.
    let config = simulated_client(&scenario);
    debug_assert_eq!(config.platform, platform);
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
        Arc::new(crate::world::clock::InstanceClock::new(
            epoch,
            scenario.instances.clock_offset_ms_of(context.instance),
            scenario.instances.clock_drift_ppm,
        )),
        observer,
    )?;
    if let Some(limiter) = shared_limiter {
        client = client.with_shared_limiter(limiter);
    }
    let workers_per_instance = u64::from(scenario.instances.workers);
    let mut tasks = tokio::task::JoinSet::new();
    for (index, items) in plan.into_iter().enumerate() {
        let global = u64::from(context.instance) * workers_per_instance + index as u64;
        let worker = client.worker(global, streams::rng(seed, Stream::Worker { global }));
        let start_after = scenario.worker_start(global);
        tasks.spawn(run_worker(context.clone(), worker, items, start_after));
    }
    while let Some(finished) = tasks.join_next().await {
        finished?;
    }
    Ok(())
}

/// The scenario's client configuration pointed at the platform's hosts by name: the API on the
/// API host, the token endpoint on the login host (Genesys derives it from the API host as the
/// SDKs do; it is set only when the names do not follow `api.`/`login.`).
pub(crate) fn simulated_client(scenario: &Scenario) -> herd_client::ClientConfig {
    let hosts = scenario.gateway.hosts();
    let mut config = scenario.client.clone();
    config.base_url = format!("http://{}", hosts.api);
    let token_url = match scenario.gateway.platform {
        herd_gateway::config::PlatformProfile::Genesys => format!("http://{}/oauth/token", hosts.login),
        herd_gateway::config::PlatformProfile::Cxone => format!("http://{}/auth/token", hosts.login),
    };
    if config.token_url() != token_url {
        config.token_url = Some(token_url);
    }
    config
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
    item: &WorkItem,
    outcome: Outcome,
    attempts: u32,
    started_at: SimTime,
) {
    let entry = ItemRecord {
        outcome,
        instance: context.instance,
        worker,
        started_at,
        finished_at: context.world.clock.now(),
        attempts,
    };
    let mut outcomes = context.world.outcomes.lock().expect("outcomes lock");
    assert!(
        outcomes.insert(item.index, entry),
        "item {} got a second outcome",
        item.id
    );
    if outcomes.all_done() {
        context.world.done.notify_one();
    }
}

fn is_done(context: &InstanceContext, item: &WorkItem) -> bool {
    context
        .world
        .outcomes
        .lock()
        .expect("outcomes lock")
        .contains(item.index)
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
        .filter(|item| !is_done(&context, item))
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
        // An open workload: the item is not there before it arrives.
        let now = context.world.clock.now().as_duration();
        if item.arrives_at > now {
            tokio::time::sleep(item.arrives_at - now).await;
        }
        let started_at = context.world.clock.now();
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
                    result.json().and_then(|body| body["version"].as_u64()),
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
            ItemKind::CreateUser { email } => {
                let name = format!("New User {}", item.id);
                worker
                    .create_user(&item.id, json!({"name": name, "email": email}), Priority::Normal)
                    .await
            }
            ItemKind::AnalyticsJob { interval } => {
                let Workload::AnalyticsJobs { poll_every_ms, .. } = context.world.scenario.workload else {
                    unreachable!("analytics items come from an analytics workload")
                };
                let known = context
                    .world
                    .submitted_jobs
                    .lock()
                    .expect("jobs lock")
                    .get(&*item.id)
                    .cloned();
                let jobs = context.world.submitted_jobs.clone();
                let item_id = item.id.clone();
                worker
                    .analytics_job(
                        &item.id,
                        json!({"interval": interval, "order": "asc"}),
                        known,
                        Duration::from_millis(poll_every_ms),
                        move |job| {
                            jobs.lock()
                                .expect("jobs lock")
                                .insert(item_id.to_string(), job.to_string());
                        },
                        Priority::Normal,
                    )
                    .await
            }
            ItemKind::BulkUpdate { .. } | ItemKind::CreateAgent { .. } => unreachable!("batched above"),
        };
        record(
            &context,
            worker.id(),
            &item,
            result.outcome,
            result.attempts,
            started_at,
        );
    }
}

/// The version of `user` from the instance's listing (listed once, on first need). A contended
/// record is read fresh instead: the listing would be stale for every writer but the first.
async fn known_version(context: &InstanceContext, worker: &mut Worker, user: &str) -> Option<u64> {
    if matches!(context.world.scenario.workload, Workload::Contention { .. }) {
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
    let started_at = context.world.clock.now();
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
                    &items[result.index],
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
                    &items[result.index],
                    result.outcome,
                    result.tries,
                    started_at,
                );
            }
        }
        _ => unreachable!("only bulk kinds are batched"),
    }
}
