//! Shrinking a failing run to its essence: given a scenario (as its TOML table, overrides
//! applied), a seed and what "failing" means, find a smaller scenario that still fails the same
//! way. Greedy and deterministic: each pass proposes smaller scenarios in a fixed order and keeps
//! the first that still fails; passes repeat until none helps, then other seeds are tried. The
//! same input always shrinks to the same output (unless the time bound stops it, which the
//! result says).
//!
//! What it tries, in order: fewer instances, workers and operations; fewer and weaker faults
//! (drop one; hang → slow → 5xx → none); shorter durations and token lifetimes; other seeds.

use std::time::{Duration, Instant};

use toml::{Table, Value};

use crate::run::{self, Run};
use crate::scenario::load::apply_override;
use crate::scenario::Scenario;

/// What counts as the failure being kept.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Property {
    /// The scenario's own `[expect]`: the first expectation the original run failed.
    Expectations,
    /// Items ended with no outcome, or writes reported ok are missing from the ledger.
    Lost,
    /// A create applied twice.
    Duplicates,
    /// A request sent while a Retry-After the server gave was still running.
    EarlySends,
    /// The makespan more than this ratio of the exact bound.
    Bound(f64),
}

impl Property {
    /// The failure's signature in `run`, or `None` when the run does not fail this way.
    pub fn failure(&self, run: &Run) -> Option<String> {
        let metrics = &run.metrics;
        match self {
            Property::Expectations => run.failures.first().map(|failure| kind_of(failure)),
            Property::Lost => {
                (metrics.unfinished + metrics.lost_writes > 0).then(|| "items or writes lost".to_string())
            }
            Property::Duplicates => (metrics.duplicate_writes > 0).then(|| "duplicate writes".to_string()),
            Property::EarlySends => (metrics.sends_before_retry_after > 0)
                .then(|| "sends before a Retry-After ran out".to_string()),
            Property::Bound(ratio) => {
                (metrics.makespan_ratio > *ratio).then(|| format!("makespan over {ratio} × the exact bound"))
            }
        }
    }

    /// Whether `run` fails the way `signature` says.
    fn holds(&self, run: &Run, signature: &str) -> bool {
        match self {
            Property::Expectations => run.failures.iter().any(|failure| kind_of(failure) == signature),
            _ => self.failure(run).is_some(),
        }
    }
}

/// A failure sentence with its numbers taken out: "12 duplicate writes (at most 0 expected)"
/// and "3 duplicate writes (at most 0 expected)" are the same failure.
pub fn kind_of(failure: &str) -> String {
    let mut kind = String::with_capacity(failure.len());
    let mut in_number = false;
    for c in failure.chars() {
        if c.is_ascii_digit() || (in_number && c == '.') {
            if !in_number {
                kind.push('#');
            }
            in_number = true;
        } else {
            in_number = false;
            kind.push(c);
        }
    }
    kind
}

/// How far shrinking may go.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    pub runs: u64,
    pub time: Duration,
    /// Other seeds tried once the scenario shrinks no more at its own.
    pub seeds: u64,
}

impl Default for Budget {
    fn default() -> Budget {
        Budget {
            runs: 200,
            time: Duration::from_secs(300),
            seeds: 8,
        }
    }
}

/// The smallest failing scenario found.
pub struct Shrunk {
    pub table: Table,
    pub scenario: Scenario,
    pub seed: u64,
    pub run: Run,
    pub signature: String,
    /// Runs made, and how many of them were kept as smaller.
    pub runs: u64,
    pub accepted: u64,
    /// Stopped by the time bound rather than by finding nothing smaller (the result then depends
    /// on the machine's speed).
    pub timed_out: bool,
    pub steps: Vec<String>,
}

/// Why nothing could be shrunk.
#[derive(Debug, PartialEq, Eq)]
pub enum ShrinkError {
    /// The original run does not fail the given way.
    DoesNotFail,
    /// The table does not make a valid scenario.
    Invalid(String),
}

/// The workload's size fields, whichever its kind has (`operations`, `users`, `agents`, …).
const WORK_FIELDS: [&str; 7] = [
    "operations",
    "users",
    "agents",
    "rounds",
    "reads",
    "updates",
    "jobs",
];

fn work_of(table: &Table) -> Vec<(&'static str, u64)> {
    let workload = table.get("workload").and_then(Value::as_table);
    WORK_FIELDS
        .iter()
        .filter_map(|field| {
            let value = workload?.get(*field)?.as_integer()?;
            Some((*field, u64::try_from(value).ok()?))
        })
        .collect()
}

/// A scenario's size, compared lexicographically: what shrinking makes smaller.
fn size(scenario: &Scenario, table: &Table) -> (u64, u64, u64, u64, u64) {
    let faults = scenario.gateway.faults.len() as u64;
    let severity: u64 = scenario.gateway.faults.iter().map(severity).sum();
    (
        scenario.total_workers(),
        work_of(table).iter().map(|(_, n)| n).sum(),
        faults * 10 + severity,
        scenario.duration_s,
        scenario
            .gateway
            .clients
            .iter()
            .filter_map(|client| client.token_ttl_s)
            .sum(),
    )
}

fn severity(fault: &herd_gateway::config::Fault) -> u64 {
    use herd_gateway::config::Fault;
    // Mildest last, as shrinking weakens them: hang → slow → 5xx → none.
    match fault {
        Fault::Hang { .. } => 5,
        Fault::Maintenance { .. } | Fault::LostResponse { .. } | Fault::RevokeTokens { .. } => 4,
        Fault::Slow { .. } => 3,
        Fault::ServerErrors { .. } | Fault::Throttle { .. } => 2,
    }
}

/// A proposal: a description and the table it makes.
type Proposal = (String, Table);

fn with(table: &Table, assignment: &str) -> Option<Table> {
    let mut next = table.clone();
    apply_override(&mut next, assignment).ok()?;
    Some(next)
}

/// Halvings of a count down to `floor`: `floor` first (the biggest step), then halves.
fn smaller_counts(current: u64, floor: u64) -> Vec<u64> {
    let mut counts = Vec::new();
    if current > floor {
        counts.push(floor);
        let mut next = current / 2;
        while next > floor {
            counts.push(next);
            next /= 2;
        }
        counts.sort_unstable();
        counts.dedup();
    }
    counts
}

fn faults_of(table: &Table) -> Vec<Value> {
    table
        .get("gateway")
        .and_then(Value::as_table)
        .and_then(|gateway| gateway.get("faults"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn with_faults(table: &Table, faults: Vec<Value>) -> Table {
    let mut next = table.clone();
    let gateway = next
        .entry("gateway")
        .or_insert_with(|| Value::Table(Table::new()));
    if let Some(gateway) = gateway.as_table_mut() {
        gateway.insert("faults".into(), Value::Array(faults));
    }
    next
}

/// A fault one step milder, keeping its window and targets: hang → slow → server errors.
fn weaker(fault: &Value) -> Option<Value> {
    let table = fault.as_table()?;
    let kind = table.get("kind")?.as_str()?;
    let keep = |names: &[&str]| -> Table {
        table
            .iter()
            .filter(|(name, _)| names.contains(&name.as_str()))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect()
    };
    let common = ["from_s", "until_s", "rate", "families", "host"];
    let mut next = keep(&common);
    match kind {
        "hang" => {
            next.insert("kind".into(), Value::String("slow".into()));
            next.insert("delay_ms".into(), Value::Integer(1_000));
        }
        "slow" => {
            next.insert("kind".into(), Value::String("server_errors".into()));
        }
        _ => return None,
    }
    Some(Value::Table(next))
}

/// Every proposal of one pass over `table`, in the fixed order of the module's doc.
fn proposals(table: &Table, scenario: &Scenario) -> Vec<Proposal> {
    let mut out = Vec::new();
    let mut counts = |field: &str, current: u64, floor: u64| {
        for count in smaller_counts(current, floor) {
            if let Some(next) = with(table, &format!("{field}={count}")) {
                out.push((format!("{field} {current} → {count}"), next));
            }
        }
    };
    counts("instances.count", u64::from(scenario.instances.count), 1);
    counts("instances.workers", u64::from(scenario.instances.workers), 1);
    for (field, current) in work_of(table) {
        counts(&format!("workload.{field}"), current, 1);
    }
    let faults = faults_of(table);
    for index in 0..faults.len() {
        let kind = faults[index]
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string();
        let mut dropped = faults.clone();
        dropped.remove(index);
        out.push((
            format!("fault {index} ({kind}) dropped"),
            with_faults(table, dropped),
        ));
        if let Some(milder) = weaker(&faults[index]) {
            let mut weakened = faults.clone();
            let to = milder
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_string();
            weakened[index] = milder;
            out.push((
                format!("fault {index} {kind} → {to}"),
                with_faults(table, weakened),
            ));
        }
    }
    for duration in smaller_counts(scenario.duration_s, 1) {
        if let Some(next) = with(table, &format!("duration_s={duration}")) {
            out.push((format!("duration_s {} → {duration}", scenario.duration_s), next));
        }
    }
    let clients = table
        .get("gateway")
        .and_then(Value::as_table)
        .and_then(|gateway| gateway.get("clients"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (index, client) in clients.iter().enumerate() {
        let Some(ttl) = client.get("token_ttl_s").and_then(Value::as_integer) else {
            continue;
        };
        let mut shorter = clients.clone();
        if let Some(entry) = shorter[index].as_table_mut() {
            entry.insert("token_ttl_s".into(), Value::Integer(ttl / 2));
        }
        let mut next = table.clone();
        if let Some(gateway) = next.get_mut("gateway").and_then(Value::as_table_mut) {
            gateway.insert("clients".into(), Value::Array(shorter));
        }
        out.push((format!("client {index} token_ttl_s {ttl} → {}", ttl / 2), next));
    }
    out
}

fn parse(table: &Table) -> Result<Scenario, String> {
    let text = toml::to_string(table).map_err(|error| error.to_string())?;
    Scenario::parse("shrunk.toml", &text, &[]).map_err(|error| error.to_string())
}

/// Shrinks the failing run of `table` at `seed`. `progress` hears each run (its number, and
/// whether it was kept).
pub fn shrink(
    table: Table,
    seed: u64,
    property: Property,
    budget: Budget,
    progress: &mut dyn FnMut(u64, &str, bool),
) -> Result<Shrunk, ShrinkError> {
    let started = Instant::now();
    let scenario = parse(&table).map_err(ShrinkError::Invalid)?;
    let original = run::run(&scenario, seed, &mut |_| {});
    let signature = property.failure(&original).ok_or(ShrinkError::DoesNotFail)?;
    let mut best = Shrunk {
        table,
        scenario,
        seed,
        run: original,
        signature,
        runs: 1,
        accepted: 0,
        timed_out: false,
        steps: Vec::new(),
    };
    let out_of_budget = |best: &Shrunk| best.runs >= budget.runs || started.elapsed() >= budget.time;
    // Tries every proposal at `seed` once; returns whether one was kept.
    let pass = |best: &mut Shrunk, seed: u64, progress: &mut dyn FnMut(u64, &str, bool)| -> bool {
        for (step, table) in proposals(&best.table, &best.scenario) {
            if out_of_budget(best) {
                best.timed_out = started.elapsed() >= budget.time;
                return false;
            }
            let Ok(scenario) = parse(&table) else { continue };
            // Only ever smaller: shrinking ends, and a seed alone is never a step.
            if size(&scenario, &table) >= size(&best.scenario, &best.table) {
                continue;
            }
            let run = run::run(&scenario, seed, &mut |_| {});
            best.runs += 1;
            let kept = property.holds(&run, &best.signature);
            progress(best.runs, &step, kept);
            if kept {
                best.accepted += 1;
                best.steps.push(if seed == best.seed {
                    step
                } else {
                    format!("seed {seed}: {step}")
                });
                best.table = table;
                best.scenario = scenario;
                best.seed = seed;
                best.run = run;
                return true;
            }
        }
        false
    };
    while pass(&mut best, seed, progress) {}
    let first_seed = best.seed;
    for other in (0..budget.seeds).filter(|other| *other != first_seed) {
        if out_of_budget(&best) {
            break;
        }
        // A smaller failure at another seed moves the search there.
        while pass(&mut best, other, progress) {}
    }
    best.timed_out |= started.elapsed() >= budget.time;
    Ok(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_kinds_ignore_numbers() {
        assert_eq!(
            kind_of("12 duplicate writes (at most 0 expected)"),
            kind_of("3 duplicate writes (at most 0 expected)")
        );
        assert_ne!(
            kind_of("3 items ended with no outcome"),
            kind_of("3 duplicate writes (at most 0 expected)")
        );
        assert_eq!(kind_of("makespan 1.25 s"), "makespan # s");
    }

    #[test]
    fn counts_shrink_to_the_floor_first_then_by_halves() {
        assert_eq!(smaller_counts(20, 1), vec![1, 2, 5, 10]);
        assert_eq!(smaller_counts(1, 1), Vec::<u64>::new());
    }

    #[test]
    fn a_hang_weakens_to_slow_then_to_server_errors() {
        let hang: Value =
            toml::from_str::<Table>("kind = \"hang\"\nrate = 0.5\nfamilies = [\"users.read\"]\nfrom_s = 3")
                .unwrap()
                .into();
        let slow = weaker(&hang).unwrap();
        assert_eq!(slow.get("kind").and_then(Value::as_str), Some("slow"));
        assert_eq!(slow.get("from_s").and_then(Value::as_integer), Some(3));
        let errors = weaker(&slow).unwrap();
        assert_eq!(errors.get("kind").and_then(Value::as_str), Some("server_errors"));
        assert!(weaker(&errors).is_none());
    }
}
