//! The subcommands.

use std::collections::BTreeMap;
use std::time::Duration;

use herd_reports::text;
use herd_sim::run::{self, Run};
use herd_sim::scenario::library;
use herd_sim::scenario::{Scenario, Workload};
use herd_sim::trace::{self, first_divergence};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};

use crate::args::{CheckArgs, CommandError, DiffArgs, RunArgs};
use crate::lookup;

pub fn run(args: &RunArgs) -> Result<(), CommandError> {
    let scenario = lookup::load(&args.scenario)?;
    let seed = args.seed.unwrap_or(scenario.seed);
    if !args.json {
        outln!("{}", headline(&scenario, seed));
    }
    let run = run_with_progress(&scenario, seed);
    if let Some(path) = &args.trace {
        run.trace.write_jsonl(path).map_err(|error| {
            CommandError::BadInput(format!("cannot write the trace to {}: {error}", path.display()))
        })?;
    }
    if args.timeline {
        out!("{}", text::timeline(&run.trace));
    }
    let report = match &args.report {
        Some(dir) => {
            let command = format!("{} --report {}", replay_command(args, seed), dir.display());
            let report = herd_reports::RunReport {
                scenario: &scenario,
                seed,
                command: &command,
                run: &run.run,
            };
            Some(herd_reports::write_run(dir, &report).map_err(CommandError::BadInput)?)
        }
        None => None,
    };
    if args.json {
        let report = json!({
            "scenario": scenario.name,
            "seed": seed,
            "trace_sha256": run.trace.hash(),
            "events": run.trace.len(),
            "metrics": run.metrics,
            "failures": run.failures,
            "error": run.error,
        });
        outln!(
            "{}",
            serde_json::to_string_pretty(&report).expect("reports serialize")
        );
    } else {
        out!("{}", text::metrics_table(&run.metrics));
        outln!(
            "  {:<12} {:.1} s simulated in {:.2} s wall ({:.0}x)",
            "time",
            run.elapsed.as_secs_f64(),
            run.wall.as_secs_f64(),
            run.elapsed.as_secs_f64() / run.wall.as_secs_f64().max(1e-6)
        );
        outln!(
            "  {:<12} sha256 {}  ({} events)",
            "trace",
            run.trace.hash(),
            run.trace.len()
        );
        match &args.trace {
            Some(path) => outln!("  {:<12} written to {}", "", path.display()),
            None => outln!("  {:<12} not written (--trace FILE writes it as JSON lines)", ""),
        }
        outln!("  {:<12} {}", "replay", replay_command(args, seed));
        if let Some(path) = &report {
            outln!("  {:<12} {}", "report", path.display());
        }
        if let Some(error) = &run.error {
            outln!("error: {error}");
        }
        for failure in &run.failures {
            outln!("FAILED: {failure}");
        }
    }
    if run.failures.is_empty() {
        Ok(())
    } else {
        Err(CommandError::Assertions)
    }
}

pub fn list() -> Result<(), CommandError> {
    for shipped in library::shipped() {
        let name = shipped.name();
        match shipped.load(&[]) {
            Ok(scenario) => {
                let first = scenario.description.lines().next().unwrap_or("").trim();
                outln!("{name:<20} {first}");
            }
            Err(error) => outln!("{name:<20} (does not load: {error})"),
        }
    }
    Ok(())
}

pub fn check(args: &CheckArgs) -> Result<(), CommandError> {
    let scenario = lookup::load(&args.scenario)?;
    let seeds = crate::grammar::parse_seeds(&args.seeds, args.seed.unwrap_or(scenario.seed))
        .map_err(CommandError::BadInput)?;
    outln!(
        "{}: seeds {}..{}, each run twice",
        scenario.name,
        seeds.start,
        seeds.end
    );
    let mut diverged = false;
    let mut failed = false;
    for seed in seeds {
        let one = run_with_progress(&scenario, seed);
        let two = run_with_progress(&scenario, seed);
        if one.trace.hash() == two.trace.hash() {
            let verdict = if one.failures.is_empty() {
                ""
            } else {
                "  (its expectations failed)"
            };
            failed |= !one.failures.is_empty();
            outln!(
                "  seed {seed:<6} identical  sha256 {}  {} events{verdict}",
                &one.trace.hash()[..16],
                one.trace.len()
            );
        } else {
            diverged = true;
            outln!(
                "  seed {seed:<6} DIVERGED   {} vs {}",
                &one.trace.hash()[..16],
                &two.trace.hash()[..16]
            );
            print_divergence(
                &one.trace.to_lines(),
                &two.trace.to_lines(),
                "first run",
                "second run",
            );
        }
    }
    if diverged {
        outln!("nondeterminism found: please report it with the scenario and the seed");
        return Err(CommandError::Assertions);
    }
    if failed {
        outln!(
            "deterministic, but some runs failed their own expectations (`herdsim run --seed N` shows them)"
        );
    }
    Ok(())
}

pub fn diff(args: &DiffArgs) -> Result<(), CommandError> {
    let read = |path: &std::path::Path| trace::read_trace(path).map_err(CommandError::BadInput);
    let (left, right) = (read(&args.left)?, read(&args.right)?);
    let (left_name, right_name) = (args.left.display().to_string(), args.right.display().to_string());
    if left == right {
        outln!(
            "identical: {} events, sha256 {}",
            left.len(),
            trace::hash_lines(&left)
        );
        return Ok(());
    }
    print_divergence(&left, &right, &left_name, &right_name);
    let (left_counts, right_counts) = (event_counts(&left)?, event_counts(&right)?);
    outln!();
    outln!("{:<32} {:>10} {:>10} {:>10}", "events", "left", "right", "change");
    outln!(
        "{:<32} {:>10} {:>10} {:>+10}",
        "(all)",
        left.len(),
        right.len(),
        right.len() as i64 - left.len() as i64
    );
    let keys: std::collections::BTreeSet<&String> = left_counts.keys().chain(right_counts.keys()).collect();
    for key in keys {
        let (l, r) = (
            left_counts.get(key).copied().unwrap_or(0),
            right_counts.get(key).copied().unwrap_or(0),
        );
        if l != r {
            outln!("{key:<32} {l:>10} {r:>10} {:>+10}", r as i64 - l as i64);
        }
    }
    let end = |lines: &[String]| {
        lines
            .last()
            .and_then(|line| serde_json::from_str::<Value>(line).ok())
            .and_then(|v| v["t_us"].as_u64())
            .unwrap_or(0)
    };
    outln!(
        "{:<32} {:>10.3} {:>10.3}",
        "last event at (s)",
        end(&left) as f64 / 1e6,
        end(&right) as f64 / 1e6
    );
    Err(CommandError::Assertions)
}

/// A run with a progress bar on stderr (hidden when stderr is not a terminal).
fn run_with_progress(scenario: &Scenario, seed: u64) -> TimedRun {
    let bar = ProgressBar::new(scenario.duration_s);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {wide_bar} {pos}/{len} simulated s ({elapsed})")
            .expect("a valid template"),
    );
    bar.set_message(format!("{} seed {seed}", scenario.name));
    let started = std::time::Instant::now();
    let run = run::run(scenario, seed, &mut |elapsed: Duration| {
        bar.set_position(elapsed.as_secs());
    });
    bar.finish_and_clear();
    TimedRun {
        wall: started.elapsed(),
        run,
    }
}

struct TimedRun {
    run: Run,
    wall: Duration,
}

impl std::ops::Deref for TimedRun {
    type Target = Run;

    fn deref(&self) -> &Run {
        &self.run
    }
}

fn headline(scenario: &Scenario, seed: u64) -> String {
    format!(
        "{} · seed {seed} · {} · preset {} · {} × {} workers · {}",
        scenario.name,
        scenario.gateway.platform.name(),
        scenario.preset.name(),
        scenario.instances.count,
        scenario.instances.workers,
        describe(&scenario.workload, scenario.gateway.data.users)
    )
}

fn describe(workload: &Workload, users: u64) -> String {
    match workload {
        Workload::Read { operations } => format!("{operations} reads"),
        Workload::Update { operations } => format!("{operations} versioned updates"),
        Workload::BulkUpdate { users: n } => format!("bulk update of {} users", n.unwrap_or(users)),
        Workload::Create { operations } => format!("{operations} creates"),
        Workload::CreateAgents { agents } => format!("{agents} agents created in bulk, then listed"),
        Workload::Contention { rounds } => format!("every worker updates one record {rounds} time(s)"),
        Workload::Mixed { reads, updates } => {
            format!("{updates} updates (high priority) and {reads} reads (low)")
        }
        Workload::CreateUsers { operations } => format!("{operations} users created"),
        Workload::AnalyticsJobs { jobs, .. } => format!("{jobs} analytics jobs, polled and paged"),
    }
}

/// The command that reproduces this run.
fn replay_command(args: &RunArgs, seed: u64) -> String {
    lookup::replay_command(&args.scenario, Some(seed))
}

fn print_divergence(left: &[String], right: &[String], left_name: &str, right_name: &str) {
    match first_divergence(left, right) {
        None => outln!("    no divergence"),
        Some((index, l, r)) => {
            outln!("    first divergence at event {} (line {}):", index, index + 1);
            if index > 0 {
                outln!("      both:  {}", left[index - 1]);
            }
            outln!("      {left_name}: {}", l.unwrap_or("(ended)"));
            outln!("      {right_name}: {}", r.unwrap_or("(ended)"));
        }
    }
}

/// Events per `source event` (client instances counted together).
fn event_counts(lines: &[String]) -> Result<BTreeMap<String, u64>, CommandError> {
    let mut counts = BTreeMap::new();
    for (number, line) in lines.iter().enumerate() {
        let value: Value = serde_json::from_str(line).map_err(|error| {
            CommandError::BadInput(format!("line {}: not a trace event: {error}", number + 1))
        })?;
        let source = value["src"].as_str().unwrap_or("?");
        let source = if source.starts_with("client") {
            "client"
        } else {
            source
        };
        let event = value["event"].as_str().unwrap_or("?");
        *counts.entry(format!("{source} {event}")).or_insert(0) += 1;
    }
    Ok(counts)
}
