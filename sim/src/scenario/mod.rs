//! Scenarios: a TOML file describing one experiment. Unknown fields are errors; every error names
//! the file, the line (when the file has one for it) and the field.
//!
//! ```toml
//! name = "thundering-herd"
//! description = "..."
//! seed = 1
//! duration_s = 900          # simulated time limit
//! tick_ms = 5               # turmoil step
//! preset = "herdsim"        # a peer preset; [client] overrides it field by field
//! small = ["instances.workers=4", "workload.operations=40"]   # a quick version (tests, --small)
//! [gateway]                 # herd_gateway::config::GatewayConfig
//! [network]                 # latency, partitions, crashes
//! [instances]               # client hosts, workers per host, start pattern
//! [client]                  # herd_client::ClientConfig
//! [workload]                # kind = "read" | "update" | "bulk_update" | "create" | "create_agents" | "contention" | "mixed"
//!                           #        | "create_users" | "analytics_jobs"
//! [bad_items]               # missing_pct, invalid_pct: items that fail for good (404, 400)
//! [arrivals]                # rate_per_s: items arrive at a steady rate (an open workload)
//! [trigger]                 # the metastability lab: a window in which the platform gets worse
//! [expect]                  # what the run itself asserts (exit code 1 when it fails)
//! ```

pub mod library;
pub mod load;
mod trigger;
mod validate;

pub use trigger::{Arrivals, Trigger};

use std::fmt;

use herd_client::{ClientConfig, Preset};
use herd_gateway::config::{GatewayConfig, PlatformProfile};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    #[serde(default)]
    pub seed: u64,
    #[serde(default = "default_duration_s")]
    pub duration_s: u64,
    #[serde(default = "default_tick_ms")]
    pub tick_ms: u64,
    #[serde(default)]
    pub preset: Preset,
    /// `key=value` overrides that make a quick version of the scenario (snapshots, `--small`).
    #[serde(default)]
    pub small: Vec<String>,
    #[serde(default)]
    pub gateway: GatewayConfig,
    #[serde(default)]
    pub network: NetworkConfig,
    #[serde(default)]
    pub instances: InstancesConfig,
    #[serde(default)]
    pub client: ClientConfig,
    /// A rate shared by every instance (in simulation: one store over a simulated round trip).
    #[serde(default)]
    pub shared_limiter: SharedLimiterConfig,
    pub workload: Workload,
    #[serde(default)]
    pub bad_items: BadItems,
    /// Items arrive at a steady rate instead of all at the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrivals: Option<Arrivals>,
    /// A window in which the platform gets worse; the run reports how it recovers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<Trigger>,
    #[serde(default)]
    pub expect: Expectations,
}

fn default_duration_s() -> u64 {
    3_600
}

fn default_tick_ms() -> u64 {
    5
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkConfig {
    /// `turmoil` (TCP and HTTP through a simulated network, tick by tick) or `fast` (the same
    /// client and gateway over an in-memory transport on a paused tokio runtime, idle time
    /// skipped). A seed reproduces within its mode; the two modes are different networks.
    pub mode: NetworkMode,
    pub latency_ms_min: u64,
    pub latency_ms_max: u64,
    pub partitions: Vec<Partition>,
    pub crashes: Vec<Crash>,
}

impl Default for NetworkConfig {
    fn default() -> NetworkConfig {
        NetworkConfig {
            mode: NetworkMode::Turmoil,
            latency_ms_min: 5,
            latency_ms_max: 25,
            partitions: Vec::new(),
            crashes: Vec::new(),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// turmoil: simulated TCP, hyper on both sides, a step per `tick_ms`.
    #[default]
    Turmoil,
    /// In memory on a paused tokio runtime: no TCP or HTTP encoding, idle time skipped; for sweeps.
    Fast,
}

/// The link between instance(s) and the gateway is cut from `from_s` to `until_s`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Partition {
    /// Which instance; all of them when absent.
    #[serde(default)]
    pub instance: Option<u32>,
    pub from_s: u64,
    pub until_s: u64,
}

/// An instance crashes at `at_s` (its in-flight work is lost) and restarts after `restart_after_s`,
/// resuming the items it had not finished.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Crash {
    pub instance: u32,
    pub at_s: u64,
    #[serde(default)]
    pub restart_after_s: Option<u64>,
}

/// `[shared_limiter]`: GCRA shared by all instances, as a Redis limiter would be.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SharedLimiterConfig {
    pub kind: SharedLimiterKind,
    /// `gcra` (a steady rate with a burst) or `sliding_log` (at most `limit` in any window).
    pub algorithm: herd_client::shared_limiter::SharedAlgorithm,
    pub limit: u64,
    pub window_ms: u64,
    /// GCRA only.
    pub burst: u64,
    /// The simulated round trip to the store.
    pub round_trip_ms: u64,
    /// Windows in which the store does not answer.
    pub outages: Vec<Outage>,
}

impl Default for SharedLimiterConfig {
    fn default() -> SharedLimiterConfig {
        SharedLimiterConfig {
            kind: SharedLimiterKind::None,
            algorithm: herd_client::shared_limiter::SharedAlgorithm::Gcra,
            limit: 0,
            window_ms: 60_000,
            burst: 1,
            round_trip_ms: 2,
            outages: Vec::new(),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SharedLimiterKind {
    /// Each instance paces on its own.
    #[default]
    None,
    /// One simulated store for every instance.
    Sim,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outage {
    pub from_s: u64,
    pub until_s: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartPattern {
    /// Every worker starts at t = 0: a thundering herd.
    #[default]
    Herd,
    /// Workers start evenly over `spread_s`.
    Spread,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InstancesConfig {
    /// Client hosts (service instances), each with its own client, token and pacing state.
    pub count: u32,
    /// Worker tasks per instance.
    pub workers: u32,
    pub start: StartPattern,
    pub spread_s: u64,
    /// Which of `gateway.clients` each instance authenticates as: instance `i` uses entry
    /// `i % len` (empty: all share the first). Instances of one OAuth client share its
    /// client-keyed buckets; each still holds its own token.
    pub oauth_clients: Vec<String>,
    /// How far each instance's wall clock is from the platform's, in ms (positive: ahead):
    /// instance `i` is off by `clock_offset_ms + i * clock_offset_step_ms`. The platform's `Date`
    /// headers keep the true time.
    pub clock_offset_ms: i64,
    pub clock_offset_step_ms: i64,
    /// How fast each instance's wall clock drifts, in parts per million (positive: gains).
    pub clock_drift_ppm: i64,
}

impl Default for InstancesConfig {
    fn default() -> InstancesConfig {
        InstancesConfig {
            count: 1,
            workers: 10,
            start: StartPattern::Herd,
            spread_s: 0,
            oauth_clients: Vec::new(),
            clock_offset_ms: 0,
            clock_offset_step_ms: 0,
            clock_drift_ppm: 0,
        }
    }
}

impl InstancesConfig {
    /// Instance `instance`'s clock offset from the platform's, in ms.
    pub fn clock_offset_ms_of(&self, instance: u32) -> i64 {
        self.clock_offset_ms
            .saturating_add(self.clock_offset_step_ms.saturating_mul(i64::from(instance)))
    }

    /// The OAuth client id instance `instance` uses, given the gateway's clients.
    pub fn oauth_client_of<'a>(&'a self, instance: u32, gateway: &'a GatewayConfig) -> Option<&'a str> {
        if self.oauth_clients.is_empty() {
            return gateway.clients.first().map(|client| client.id.as_str());
        }
        Some(self.oauth_clients[instance as usize % self.oauth_clients.len()].as_str())
    }
}

/// What the workers do. Items are spread over all workers of all instances, round-robin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Workload {
    /// Reads of single users.
    Read { operations: u64 },
    /// Versioned updates of users (re-read on 409).
    Update { operations: u64 },
    /// Each instance lists every user, then its workers bulk-update their share (Genesys).
    BulkUpdate {
        #[serde(default)]
        users: Option<u64>,
    },
    /// Creates: Genesys quality evaluations (Idempotency-Key), CXone agents.
    Create { operations: u64 },
    /// CXone: bulk-create agents in chunks, then list every page.
    CreateAgents { agents: u64 },
    /// Every worker updates the same versioned record `rounds` times (optimistic concurrency, 409s).
    Contention {
        #[serde(default = "one")]
        rounds: u64,
    },
    /// Updates at high priority and reads at low priority, interleaved.
    Mixed { reads: u64, updates: u64 },
    /// Genesys: create users (`POST /api/v2/users`), one new email each.
    CreateUsers { operations: u64 },
    /// Genesys: analytics conversation-detail jobs, each submitted once, polled every
    /// `poll_every_ms` (growing by half, to 8×) until fulfilled, and paged to its last result.
    AnalyticsJobs {
        jobs: u64,
        #[serde(default = "default_poll_every_ms")]
        poll_every_ms: u64,
    },
}

fn default_poll_every_ms() -> u64 {
    2_000
}

/// `[bad_items]`: a share of the items that fail for good, as real data does. Missing users
/// answer 404 (reads, updates, bulk updates); invalid fields answer 400 (updates and bulk
/// updates). Which items are bad is a fixed function of the item's number, not a draw.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BadItems {
    /// Percent of items that name a user who does not exist.
    pub missing_pct: u64,
    /// Percent of write items that carry an invalid field (`state = "sideways"`).
    pub invalid_pct: u64,
}

fn one() -> u64 {
    1
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Expectations {
    /// Every item ends with an outcome, and every write reported ok is in the ledger.
    pub no_lost: bool,
    /// The workload finishes within `duration_s`.
    pub complete: bool,
    /// At most this many duplicate creates.
    pub max_duplicates: Option<u64>,
    /// At least this share of items ends ok (percent).
    pub min_ok_pct: Option<u64>,
    /// The run recovers from its `[trigger]` before it ends.
    pub recovers: bool,
}

impl Default for Expectations {
    fn default() -> Expectations {
        Expectations {
            no_lost: true,
            complete: true,
            max_duplicates: None,
            min_ok_pct: None,
            recovers: false,
        }
    }
}

/// A scenario that could not be loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    pub file: String,
    pub line: Option<usize>,
    /// Dotted path of the field, e.g. `gateway.limits[0].limit`.
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ScenarioError {}

impl Scenario {
    /// The workers of all instances.
    pub fn total_workers(&self) -> u64 {
        u64::from(self.instances.count) * u64::from(self.instances.workers)
    }

    /// When worker `global` (its instance × workers per instance + its index) starts: at once in
    /// a herd, evenly over `instances.spread_s` when spread.
    pub fn worker_start(&self, global: u64) -> std::time::Duration {
        match self.instances.start {
            StartPattern::Herd => std::time::Duration::ZERO,
            StartPattern::Spread => {
                std::time::Duration::from_secs(self.instances.spread_s) * global as u32
                    / self.total_workers().max(1) as u32
            }
        }
    }
}

/// The client's view of the gateway's platform. `gateway.platform` is the one decision; this is
/// the one conversion (a `From` would break the orphan rule: neither type lives in this crate).
pub fn client_platform(platform: PlatformProfile) -> herd_client::Platform {
    match platform {
        PlatformProfile::Genesys => herd_client::Platform::Genesys,
        PlatformProfile::Cxone => herd_client::Platform::Cxone,
    }
}
