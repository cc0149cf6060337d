//! The workload plan: the scenario's operations as work items with stable ids, dealt round-robin
//! to every worker of every instance, and the record of each item's outcome.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use herd_client::gate::Priority;
use herd_client::Outcome;
use herd_gateway::config::PlatformProfile;
use herd_gateway::directory::Directory;
use herd_gateway::ledger::WriteOp;
use herd_gateway::SimTime;
use serde_json::{json, Value};

use crate::scenario::{Scenario, Workload};

/// One unit of work, with a stable id (idempotency keys and resumption derive from it).
#[derive(Clone, Debug, PartialEq)]
pub struct WorkItem {
    /// Shared with the operation and every event of it.
    pub id: Arc<str>,
    /// The item's number in the plan, `0..` the count of items: where its outcome is kept
    /// ([`ItemOutcomes`]). Set when the plan deals the items.
    pub index: usize,
    pub kind: ItemKind,
    /// One of the scenario's `[bad_items]`: it fails for good whatever the client does.
    pub bad: bool,
    /// When it arrives (`[arrivals]`; zero without): its worker does not start it before.
    pub arrives_at: Duration,
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
    /// Create a user with this email.
    CreateUser {
        email: String,
    },
    /// Run an analytics job over this interval to its last page.
    AnalyticsJob {
        interval: String,
    },
}

impl ItemKind {
    /// The ledger's view of the write this item makes, if any.
    pub fn write(&self, platform: PlatformProfile) -> Option<(WriteOp, String)> {
        match self {
            ItemKind::Update { user, .. } | ItemKind::BulkUpdate { user, .. } => {
                Some((WriteOp::UpdateUser, user.clone()))
            }
            ItemKind::Create { key } => match platform {
                PlatformProfile::Genesys => Some((WriteOp::CreateEvaluation, key.clone())),
                PlatformProfile::Cxone => Some((WriteOp::CreateAgent, key.clone())),
            },
            ItemKind::CreateAgent { user_name } => Some((WriteOp::CreateAgent, user_name.clone())),
            ItemKind::CreateUser { email } => Some((WriteOp::CreateUser, email.clone())),
            ItemKind::AnalyticsJob { interval } => Some((WriteOp::SubmitJob, interval.clone())),
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

/// Every item's outcome, kept by the item's number ([`WorkItem::index`]): one slot per item,
/// no lookup by id.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ItemOutcomes {
    records: Vec<Option<ItemRecord>>,
    done: usize,
}

impl ItemOutcomes {
    /// Room for `items` outcomes, none recorded.
    pub fn new(items: usize) -> ItemOutcomes {
        ItemOutcomes {
            records: vec![None; items],
            done: 0,
        }
    }

    /// Records the outcome of item `index`; false if it had one already (it keeps the first).
    pub fn insert(&mut self, index: usize, record: ItemRecord) -> bool {
        let slot = &mut self.records[index];
        if slot.is_some() {
            return false;
        }
        *slot = Some(record);
        self.done += 1;
        true
    }

    pub fn get(&self, index: usize) -> Option<&ItemRecord> {
        self.records.get(index).and_then(Option::as_ref)
    }

    /// The outcome of `item`, if it has one.
    pub fn of(&self, item: &WorkItem) -> Option<&ItemRecord> {
        self.get(item.index)
    }

    pub fn contains(&self, index: usize) -> bool {
        self.get(index).is_some()
    }

    /// How many items have an outcome.
    pub fn len(&self) -> usize {
        self.done
    }

    pub fn is_empty(&self) -> bool {
        self.done == 0
    }

    /// Whether every item of the plan has its outcome.
    pub fn all_done(&self) -> bool {
        self.done == self.records.len()
    }

    /// The recorded outcomes, in the items' order.
    pub fn records(&self) -> impl Iterator<Item = &ItemRecord> {
        self.records.iter().flatten()
    }
}

pub type Outcomes = Arc<Mutex<ItemOutcomes>>;

/// The work of every worker: `plan[instance][worker]`, items round-robin over all workers.
pub fn plan(scenario: &Scenario) -> Vec<Vec<Vec<WorkItem>>> {
    let instances = scenario.instances.count as usize;
    let workers = scenario.instances.workers as usize;
    let platform = scenario.gateway.platform;
    let users = scenario.gateway.data.users.max(1);
    let bad = &scenario.bad_items;
    // Which items are bad is a fixed function of the item's number, spread over the run.
    let badness = |n: u64| (n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) % 100;
    let missing = |n: u64| badness(n) < bad.missing_pct;
    let invalid = |n: u64| !missing(n) && badness(n) < bad.missing_pct + bad.invalid_pct;
    // A missing user's id is one the directory never hands out (beyond every user it holds).
    let user = |n: u64| {
        if missing(n) {
            Directory::id_for(platform, users + 1_000_000 + n)
        } else {
            Directory::id_for(platform, n % users)
        }
    };
    let fields = |n: u64, fields: Value| {
        if invalid(n) {
            json!({"state": "sideways"})
        } else {
            fields
        }
    };
    let items: Vec<WorkItem> = match &scenario.workload {
        Workload::Read { operations } => (0..*operations)
            .map(|n| WorkItem {
                id: format!("read-{n}").into(),
                index: 0,
                kind: ItemKind::Read { user: user(n) },
                bad: missing(n),
                arrives_at: Duration::ZERO,
            })
            .collect(),
        Workload::Update { operations } => (0..*operations)
            .map(|n| WorkItem {
                id: format!("update-{n}").into(),
                index: 0,
                kind: ItemKind::Update {
                    user: user(n),
                    fields: fields(n, json!({"title": format!("title-{n}")})),
                    priority: Priority::Normal,
                },
                bad: missing(n) || invalid(n),
                arrives_at: Duration::ZERO,
            })
            .collect(),
        Workload::BulkUpdate { users: count } => (0..count.unwrap_or(users))
            .map(|n| WorkItem {
                id: format!("bulk-{n}").into(),
                index: 0,
                kind: ItemKind::BulkUpdate {
                    user: user(n),
                    fields: fields(n, json!({"department": format!("dept-{}", n % 7)})),
                },
                bad: missing(n) || invalid(n),
                arrives_at: Duration::ZERO,
            })
            .collect(),
        Workload::CreateUsers { operations } => (0..*operations)
            .map(|n| WorkItem {
                id: format!("create-user-{n}").into(),
                index: 0,
                kind: ItemKind::CreateUser {
                    email: format!("new.user.{n:06}@herd.example"),
                },
                bad: false,
                arrives_at: Duration::ZERO,
            })
            .collect(),
        Workload::AnalyticsJobs { jobs, .. } => (0..*jobs)
            .map(|n| {
                // One day each, counting back from the epoch's day.
                let day = |d: u64| {
                    let at = std::time::UNIX_EPOCH
                        + std::time::Duration::from_secs(
                            scenario.gateway.epoch_unix_s.saturating_sub(d * 86_400),
                        );
                    iso_seconds(at)
                };
                WorkItem {
                    id: format!("job-{n}").into(),
                    index: 0,
                    kind: ItemKind::AnalyticsJob {
                        interval: format!("{}/{}", day(n + 1), day(n)),
                    },
                    bad: false,
                    arrives_at: Duration::ZERO,
                }
            })
            .collect(),
        Workload::Create { operations } => (0..*operations)
            .map(|n| {
                let kind = match platform {
                    PlatformProfile::Genesys => ItemKind::Create {
                        key: format!("conv-{n:06}"),
                    },
                    PlatformProfile::Cxone => ItemKind::CreateAgent {
                        user_name: format!("agent-{n:06}@herd"),
                    },
                };
                WorkItem {
                    id: format!("create-{n}").into(),
                    index: 0,
                    kind,
                    bad: false,
                    arrives_at: Duration::ZERO,
                }
            })
            .collect(),
        Workload::CreateAgents { agents } => {
            let mut items: Vec<WorkItem> = (0..*agents)
                .map(|n| WorkItem {
                    id: format!("agent-{n}").into(),
                    index: 0,
                    kind: ItemKind::CreateAgent {
                        user_name: format!("agent-{n:06}@herd"),
                    },
                    bad: false,
                    arrives_at: Duration::ZERO,
                })
                .collect();
            items.push(WorkItem {
                id: "list-all".into(),
                index: 0,
                kind: ItemKind::ListAll,
                bad: false,
                arrives_at: Duration::ZERO,
            });
            items
        }
        Workload::Contention { rounds } => (0..scenario.total_workers() * rounds)
            .map(|n| WorkItem {
                id: format!("contend-{n}").into(),
                index: 0,
                kind: ItemKind::Update {
                    user: Directory::id_for(platform, 0),
                    fields: json!({"title": format!("writer-{n}")}),
                    priority: Priority::Normal,
                },
                bad: false,
                arrives_at: Duration::ZERO,
            })
            .collect(),
        Workload::Mixed { reads, updates } => {
            let mut items = Vec::new();
            for n in 0..(*reads).max(*updates) {
                if n < *updates {
                    items.push(WorkItem {
                        id: format!("update-{n}").into(),
                        index: 0,
                        kind: ItemKind::Update {
                            user: user(n),
                            fields: fields(n, json!({"title": format!("title-{n}")})),
                            priority: Priority::High,
                        },
                        bad: missing(n) || invalid(n),
                        arrives_at: Duration::ZERO,
                    });
                }
                if n < *reads {
                    items.push(WorkItem {
                        id: format!("read-{n}").into(),
                        index: 0,
                        kind: ItemKind::Read { user: user(n + 1) },
                        bad: missing(n + 1),
                        arrives_at: Duration::ZERO,
                    });
                }
            }
            items
        }
    };
    let total = instances * workers;
    let mut plan = vec![vec![Vec::new(); workers]; instances];
    for (n, mut item) in items.into_iter().enumerate() {
        item.index = n;
        if let Some(arrivals) = &scenario.arrivals {
            item.arrives_at = arrivals.at(n as u64);
        }
        let global = n % total;
        plan[global / workers][global % workers].push(item);
    }
    plan
}

/// An ISO-8601 UTC instant without fractions (`2026-01-01T00:00:00Z`), as analytics intervals take.
fn iso_seconds(at: std::time::SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string()
}
