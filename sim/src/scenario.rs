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
//! [gateway]                 # herd_sim::config::GatewayConfig
//! [network]                 # latency, partitions, crashes
//! [instances]               # client hosts, workers per host, start pattern
//! [client]                  # herd_client::ClientConfig
//! [workload]                # kind = "read" | "update" | "bulk_update" | "create" | "create_agents" | "contention" | "mixed"
//! [expect]                  # what the run itself asserts (exit code 1 when it fails)
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use herd_client::{ClientConfig, Preset};
use serde::{Deserialize, Serialize};

use crate::config::GatewayConfig;

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
    pub algorithm: herd_client::shared::SharedAlgorithm,
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
            algorithm: herd_client::shared::SharedAlgorithm::Gcra,
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
}

impl Default for InstancesConfig {
    fn default() -> InstancesConfig {
        InstancesConfig {
            count: 1,
            workers: 10,
            start: StartPattern::Herd,
            spread_s: 0,
            oauth_clients: Vec::new(),
        }
    }
}

impl InstancesConfig {
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
}

impl Default for Expectations {
    fn default() -> Expectations {
        Expectations {
            no_lost: true,
            complete: true,
            max_duplicates: None,
            min_ok_pct: None,
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
    /// Loads a scenario file, applying `--set` overrides (`key.path=value`, value in TOML syntax
    /// or a bare string).
    pub fn load(path: &Path, overrides: &[String]) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|error| ScenarioError {
            file: path.display().to_string(),
            line: None,
            field: None,
            message: format!("cannot read: {error}"),
        })?;
        Scenario::parse(&path.display().to_string(), &text, overrides)
    }

    /// Parses scenario text (`file` names it in errors).
    pub fn parse(file: &str, text: &str, overrides: &[String]) -> Result<Scenario, ScenarioError> {
        let error = |line: Option<usize>, field: Option<String>, message: String| ScenarioError {
            file: file.to_string(),
            line,
            field,
            message,
        };
        let mut value: toml::Table = toml::from_str(text)
            .map_err(|e| error(line_of(text, e.span()), None, first_line(e.message())))?;
        // Deserialize the file as written first: its errors can name a line.
        let as_written =
            with_preset(value.clone()).map_err(|message| error(None, Some("preset".into()), message))?;
        if let Err((field, message)) = deserialize(&as_written) {
            let line = field.as_deref().and_then(|field| line_of_field(text, field));
            return Err(error(line, field, message));
        }
        for assignment in overrides {
            apply_override(&mut value, assignment)
                .map_err(|message| error(None, None, format!("--set {assignment}: {message}")))?;
        }
        let merged = with_preset(value).map_err(|message| error(None, Some("preset".into()), message))?;
        let scenario = deserialize(&merged)
            .map_err(|(field, message)| error(None, field, format!("{message} (after --set overrides)")))?;
        scenario.validate().map_err(|(field, message)| {
            let line = line_of_field(text, &field);
            error(line, Some(field), message)
        })?;
        Ok(scenario)
    }

    /// Checks what serde cannot.
    fn validate(&self) -> Result<(), (String, String)> {
        self.gateway
            .validate()
            .map_err(|e| (format!("gateway.{}", e.field), e.message))?;
        self.client
            .validate()
            .map_err(|e| (format!("client.{}", e.field), e.message))?;
        let bad = |field: &str, message: &str| Err((field.to_string(), message.to_string()));
        if self.instances.count == 0 || self.instances.count > 10 {
            return bad(
                "instances.count",
                "must be within 1..=10 (turmoil's step cost grows with the cube of the host count)",
            );
        }
        if self.instances.workers == 0 || self.instances.workers > 10_000 {
            return bad("instances.workers", "must be within 1..=10000");
        }
        if self.tick_ms == 0 || self.tick_ms > 1_000 {
            return bad("tick_ms", "must be within 1..=1000");
        }
        if self.duration_s == 0 {
            return bad("duration_s", "must be positive");
        }
        if self.shared_limiter.kind == SharedLimiterKind::Sim
            && (self.shared_limiter.limit == 0
                || self.shared_limiter.burst == 0
                || self.shared_limiter.window_ms == 0)
        {
            return bad(
                "shared_limiter.limit",
                "a shared limiter needs a limit, a window_ms and a burst of at least 1",
            );
        }
        if self.network.latency_ms_min > self.network.latency_ms_max {
            return bad("network.latency_ms_min", "must not exceed network.latency_ms_max");
        }
        for (index, id) in self.instances.oauth_clients.iter().enumerate() {
            if !self.gateway.clients.iter().any(|client| &client.id == id) {
                return Err((
                    format!("instances.oauth_clients[{index}]"),
                    format!("{id:?} is not one of gateway.clients"),
                ));
            }
        }
        if self.gateway.clients.is_empty() {
            return bad("gateway.clients", "the instances need at least one OAuth client");
        }
        if self.gateway.platform == crate::config::Platform::Cxone {
            for instance in 0..self.instances.count {
                let id = self
                    .instances
                    .oauth_client_of(instance, &self.gateway)
                    .unwrap_or_default();
                if self
                    .gateway
                    .clients
                    .iter()
                    .any(|client| client.id == id && client.access_keys.is_empty())
                {
                    return Err((
                        "gateway.clients".into(),
                        format!("CXone's password grant needs an access key: {id:?} has none"),
                    ));
                }
            }
        }
        for (index, partition) in self.network.partitions.iter().enumerate() {
            if partition
                .instance
                .is_some_and(|instance| instance >= self.instances.count)
                || partition.from_s >= partition.until_s
            {
                return Err((
                    format!("network.partitions[{index}]"),
                    "names no instance, or ends before it starts".into(),
                ));
            }
        }
        for (index, crash) in self.network.crashes.iter().enumerate() {
            if crash.instance >= self.instances.count {
                return Err((
                    format!("network.crashes[{index}].instance"),
                    "names no instance".into(),
                ));
            }
        }
        let users = self.gateway.data.users;
        let genesys = self.gateway.platform == crate::config::Platform::Genesys;
        match &self.workload {
            Workload::BulkUpdate { .. } if !genesys => bad(
                "workload.kind",
                "bulk_update is a Genesys endpoint; use create_agents on CXone",
            ),
            Workload::CreateAgents { .. } if genesys => {
                bad("workload.kind", "create_agents is a CXone endpoint")
            }
            Workload::BulkUpdate { users: Some(n) } if *n > users => {
                bad("workload.users", "more than gateway.data.users")
            }
            Workload::Read { .. }
            | Workload::Update { .. }
            | Workload::Contention { .. }
            | Workload::Mixed { .. }
                if users == 0 =>
            {
                bad("gateway.data.users", "the workload needs users")
            }
            _ => Ok(()),
        }
    }

    /// The limit rule quotas are measured against: the first that is not the OAuth endpoint's.
    pub fn quota_rule(&self) -> Option<crate::config::LimitRule> {
        self.gateway
            .effective_limits()
            .into_iter()
            .find(|rule| !rule.families.iter().any(|family| family == "oauth"))
    }

    /// How many of `rule`'s keys the instances use at once, endpoint families aside: one per
    /// instance for token-keyed rules (each holds its own token), one per OAuth client in use
    /// for client-keyed ones, one otherwise.
    pub fn keys_in_use(&self, rule: &crate::config::LimitRule) -> f64 {
        use crate::config::KeyPart;
        if rule.key.contains(&KeyPart::Token) {
            f64::from(self.instances.count)
        } else if rule.key.contains(&KeyPart::Client) {
            let clients: std::collections::BTreeSet<&str> = (0..self.instances.count)
                .filter_map(|instance| self.instances.oauth_client_of(instance, &self.gateway))
                .collect();
            clients.len().max(1) as f64
        } else {
            1.0
        }
    }

    /// The workers of all instances.
    pub fn total_workers(&self) -> u64 {
        u64::from(self.instances.count) * u64::from(self.instances.workers)
    }
}

/// Applies the `preset` field: the preset's client configuration, then `[client]` over it.
fn with_preset(mut value: toml::Table) -> Result<toml::Table, String> {
    let preset = match value.get("preset") {
        None => Preset::Herdsim,
        Some(toml::Value::String(name)) => Preset::from_name(name).ok_or_else(|| {
            let names: Vec<&str> = Preset::ALL.iter().map(|p| p.name()).collect();
            format!("unknown preset {name:?}; one of {}", names.join(", "))
        })?,
        Some(_) => return Err("must be a string".into()),
    };
    let mut base = ClientConfig::default();
    if let Some(toml::Value::Table(client)) = value.get("client") {
        if let Some(toml::Value::String(platform)) = client.get("platform") {
            base.platform = if platform == "cxone" {
                herd_client::Platform::Cxone
            } else {
                herd_client::Platform::Genesys
            };
        }
    }
    let preset_config = toml::Value::try_from(preset.apply(&base)).map_err(|e| e.to_string())?;
    let mut merged = preset_config;
    if let Some(client) = value.remove("client") {
        merge(&mut merged, client);
    }
    value.insert("client".into(), merged);
    Ok(value)
}

/// Deep-merges `over` into `base`: tables merge key by key, anything else replaces.
fn merge(base: &mut toml::Value, over: toml::Value) {
    match (base, over) {
        (toml::Value::Table(base), toml::Value::Table(over)) => {
            for (key, value) in over {
                match base.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, over) => *base = over,
    }
}

fn deserialize(table: &toml::Table) -> Result<Scenario, (Option<String>, String)> {
    let value = toml::Value::Table(table.clone());
    serde_path_to_error::deserialize::<_, Scenario>(value).map_err(|error| {
        let path = error.path().to_string();
        let message = first_line(&error.inner().to_string());
        let field = (path != ".").then(|| refine_path(table, &path, &message));
        (field, message)
    })
}

/// serde buffers internally tagged enums (`kind = ...`: the workload, faults), so errors inside
/// them stop at the enum's table. Finds the key the message is about: the unknown field it names,
/// or the one key whose value is the one the message quotes.
fn refine_path(root: &toml::Table, path: &str, message: &str) -> String {
    let mut value: Option<&toml::Value> = None;
    for part in path.split('.') {
        let (name, index) = match split_index(part) {
            Ok(split) => split,
            Err(_) => return path.to_string(),
        };
        let next = match value {
            None => root.get(name),
            Some(current) => current.get(name),
        };
        value = match (next, index) {
            (Some(v), Some(i)) => v.get(i),
            (v, None) => v,
            (None, Some(_)) => None,
        };
    }
    let Some(toml::Value::Table(table)) = value else {
        return path.to_string();
    };
    if let Some(unknown) = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next())
    {
        if table.contains_key(unknown) {
            return format!("{path}.{unknown}");
        }
    }
    let quoted = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "));
    let Some(quoted) = quoted.and_then(|rest| rest.rsplit_once(", expected").map(|(q, _)| q)) else {
        return path.to_string();
    };
    let rendered = |value: &toml::Value| match value {
        toml::Value::String(s) => format!("string {s:?}"),
        toml::Value::Integer(i) => format!("integer `{i}`"),
        toml::Value::Float(f) => format!("floating point `{f}`"),
        toml::Value::Boolean(b) => format!("boolean `{b}`"),
        toml::Value::Array(_) => "sequence".to_string(),
        toml::Value::Table(_) => "map".to_string(),
        toml::Value::Datetime(_) => String::new(),
    };
    let matches: Vec<&String> = table
        .iter()
        .filter(|(key, v)| *key != "kind" && rendered(v) == quoted)
        .map(|(key, _)| key)
        .collect();
    match matches.as_slice() {
        [key] => format!("{path}.{key}"),
        _ => path.to_string(),
    }
}

/// `a.b[2].c=value`: sets the field, creating tables on the way. The value is read as TOML
/// (`4`, `true`, `"x"`, `[1, 2]`); anything that does not parse is taken as a string.
pub fn apply_override(table: &mut toml::Table, assignment: &str) -> Result<(), String> {
    let (path, raw) = assignment.split_once('=').ok_or("expected key=value")?;
    let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut parsed| parsed.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()));
    let parts: Vec<&str> = path.trim().split('.').collect();
    if parts.iter().any(|part| part.is_empty()) {
        return Err("empty key".into());
    }
    let mut current = table;
    for part in &parts[..parts.len() - 1] {
        let (name, index) = split_index(part)?;
        let entry = current
            .entry(name.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let entry = match index {
            Some(index) => entry
                .as_array_mut()
                .and_then(|array| array.get_mut(index))
                .ok_or(format!("{part}: no such element"))?,
            None => entry,
        };
        current = entry.as_table_mut().ok_or(format!("{part} is not a table"))?;
    }
    let last = parts[parts.len() - 1];
    let (name, index) = split_index(last)?;
    match index {
        Some(index) => {
            let array = current
                .get_mut(name)
                .and_then(toml::Value::as_array_mut)
                .ok_or(format!("{name} is not an array"))?;
            *array.get_mut(index).ok_or(format!("{last}: no such element"))? = value;
        }
        None => {
            current.insert(name.to_string(), value);
        }
    }
    Ok(())
}

fn split_index(part: &str) -> Result<(&str, Option<usize>), String> {
    match part.split_once('[') {
        Some((name, rest)) => {
            let index = rest
                .strip_suffix(']')
                .and_then(|n| n.parse().ok())
                .ok_or(format!("{part}: bad index"))?;
            Ok((name, Some(index)))
        }
        None => Ok((part, None)),
    }
}

fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or("").trim().to_string()
}

fn line_of(text: &str, span: Option<std::ops::Range<usize>>) -> Option<usize> {
    let start = span?.start.min(text.len());
    Some(text[..start].matches('\n').count() + 1)
}

/// The line where a field's last key is written under its table, found by reading the file.
fn line_of_field(text: &str, field: &str) -> Option<usize> {
    let keys: Vec<&str> = field
        .split('.')
        .map(|part| part.split('[').next().unwrap_or(part))
        .filter(|k| !k.is_empty())
        .collect();
    let (last, tables) = keys.split_last()?;
    let mut in_table = tables.is_empty();
    let wanted_table = tables.join(".");
    for (number, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(header) = trimmed.strip_prefix('[') {
            let name = header
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
                .trim();
            in_table = name == wanted_table;
            continue;
        }
        let key = trimmed.split('=').next().unwrap_or("").trim();
        if in_table && key == *last {
            return Some(number + 1);
        }
    }
    None
}

/// The shipped scenarios: `scenarios/*.toml` beside the workspace root, sorted by name.
pub fn shipped_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("scenarios")
}

pub fn shipped() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(shipped_dir())
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.extension().is_some_and(|e| e == "toml"))
                .collect()
        })
        .unwrap_or_default();
    paths.sort();
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
name = "t"
description = "d"

[gateway]
platform = "genesys"

[workload]
kind = "read"
operations = 10
"#;

    #[test]
    fn parses_with_defaults_and_overrides() {
        let scenario = Scenario::parse(
            "t.toml",
            MINIMAL,
            &[
                "instances.workers=3".into(),
                "client.backoff.jitter=equal".into(),
                "seed=9".into(),
            ],
        )
        .unwrap();
        assert_eq!(scenario.instances.workers, 3);
        assert_eq!(scenario.seed, 9);
        assert_eq!(
            scenario.client.backoff.jitter,
            herd_client::policy::backoff::Jitter::Equal
        );
        assert_eq!(scenario.workload, Workload::Read { operations: 10 });
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let typo = MINIMAL.replace("operations = 10", "operatoins = 10");
        let error = Scenario::parse("s.toml", &typo, &[]).unwrap_err();
        assert_eq!(error.file, "s.toml");
        assert!(error.message.contains("operatoins"), "{error}");
        let wrong_type = MINIMAL.replace("operations = 10", "operations = \"many\"");
        let error = Scenario::parse("s.toml", &wrong_type, &[]).unwrap_err();
        assert_eq!(
            (error.line, error.field.as_deref()),
            (Some(10), Some("workload.operations")),
            "{error}"
        );
        let invalid = format!("{MINIMAL}\n[instances]\ncount = 0\n");
        let error = Scenario::parse("s.toml", &invalid, &[]).unwrap_err();
        assert_eq!(error.to_string(), "s.toml:13: field `instances.count`: must be within 1..=10 (turmoil's step cost grows with the cube of the host count)");
        let syntax = Scenario::parse("s.toml", "name = \n", &[]).unwrap_err();
        assert_eq!(syntax.line, Some(1));
        let bad_set = Scenario::parse("s.toml", MINIMAL, &["instances.workers=lots".into()]).unwrap_err();
        assert!(bad_set.to_string().contains("after --set"), "{bad_set}");
        let unknown_client = Scenario::parse(
            "s.toml",
            MINIMAL,
            &["instances.oauth_clients=[\"other-app\"]".into()],
        )
        .unwrap_err();
        assert_eq!(
            unknown_client.field.as_deref(),
            Some("instances.oauth_clients[0]"),
            "{unknown_client}"
        );
        let bad_preset =
            Scenario::parse("s.toml", &format!("preset = \"polly\"\n{MINIMAL}"), &[]).unwrap_err();
        assert!(
            bad_preset.to_string().contains("unknown preset \"polly\""),
            "{bad_preset}"
        );
    }

    #[test]
    fn preset_then_client_overrides() {
        let text = format!("preset = \"genesys-java\"\n{MINIMAL}\n[client.retry]\nmax_attempts = 2\n");
        let scenario = Scenario::parse("t.toml", &text, &[]).unwrap();
        assert_eq!(scenario.client.retry.max_attempts, 2);
        assert_eq!(
            scenario.client.retry.statuses,
            vec![429, 502, 503, 504],
            "the rest comes from the preset"
        );
    }

    #[test]
    fn every_shipped_scenario_loads_and_so_does_its_small_version() {
        let paths = shipped();
        assert!(paths.len() >= 10, "the shipped library: {paths:?}");
        for path in paths {
            let scenario = Scenario::load(&path, &[]).unwrap_or_else(|e| panic!("{e}"));
            assert!(!scenario.description.is_empty());
            Scenario::load(&path, &scenario.small).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}
