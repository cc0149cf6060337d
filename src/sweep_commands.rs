//! `herdsim sweep`, `merge` and `compare`: many runs in parallel, summarized.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use herd_sim::scenario::Scenario;
use herd_sim::sweep::{self, Environment, Param, Point, ResultWriter, RunRecord, Summary};
use indicatif::{ProgressBar, ProgressStyle};

use crate::args::{CommandError, CompareArgs, MergeArgs, ScenarioArgs, SweepArgs};
use crate::{grammar, lookup};

pub fn sweep(args: &SweepArgs) -> Result<(), CommandError> {
    let params: Vec<Param> = args
        .params
        .iter()
        .map(|text| grammar::param(text))
        .collect::<Result<_, _>>()
        .map_err(CommandError::BadInput)?;
    let shard = match args.shard.as_deref() {
        Some(text) => Some(grammar::parse_shard(text).map_err(CommandError::BadInput)?),
        None => match grammar::shard_from_env(|name| std::env::var(name).ok(), args.shard_count)
            .map_err(CommandError::BadInput)?
        {
            Some((source, shard)) => {
                outln!("shard {}/{} from {}", shard.0, shard.1, source.name());
                Some(shard)
            }
            None => None,
        },
    };
    let points = sweep::grid(&params);
    let environments = match (args.swarm, lookup::swarm_env(&args.scenario)?) {
        (Some(_), Some(_)) => {
            return Err(CommandError::BadInput(
                "--swarm draws its own environments: give it or --swarm-env, not both".into(),
            ))
        }
        (Some(count), None) => {
            let seed = match args.swarm_seed {
                Some(seed) => seed,
                None => lookup::load(&args.scenario)?.seed,
            };
            Environment::swarm(seed, count)
        }
        (None, Some(environment)) => vec![environment],
        (None, None) => Vec::new(),
    };
    let prepared = prepare(&args.scenario, &points, &environments)?;
    let first = prepared.scenarios.first().map_or(0, |scenario| scenario.seed);
    let seeds = grammar::parse_seeds(&args.seeds, first).map_err(CommandError::BadInput)?;
    let out = args.out.clone().unwrap_or_else(|| {
        let name = &prepared.scenarios[0].name;
        PathBuf::from(match shard {
            Some((i, n)) => format!("sweep-{name}.shard-{i}-of-{n}.jsonl"),
            None => format!("sweep-{name}.jsonl"),
        })
    });
    let previous = previous_records(&out, args.resume, &prepared)?;
    let done: BTreeSet<_> = previous.iter().map(RunRecord::key).collect();
    let key_of =
        |job: &sweep::Job| sweep::run_key(&points[job.point], environments.get(job.environment), job.seed);
    let all_jobs = sweep::jobs(environments.len(), points.len(), seeds.clone(), shard);
    let jobs: Vec<sweep::Job> = all_jobs
        .iter()
        .filter(|job| !done.contains(&key_of(job)))
        .cloned()
        .collect();
    let threads = args.jobs.unwrap_or_else(default_threads);
    outln!(
        "{}: {} settings{} × {} seeds = {} runs{}; {} to do on {threads} threads; results to {}",
        prepared.scenarios[0].name,
        points.len(),
        if environments.is_empty() {
            String::new()
        } else {
            format!(" × {} environments", environments.len())
        },
        seeds.end - seeds.start,
        all_jobs.len(),
        shard
            .map(|(i, n)| format!(" in shard {i}/{n}"))
            .unwrap_or_default(),
        jobs.len(),
        out.display()
    );
    let records = run_jobs(&prepared, &points, &environments, &jobs, threads, Some(&out))?;
    // The file may hold other settings or seeds (an earlier, wider sweep): they stay in the file
    // and out of this summary.
    let wanted: BTreeSet<_> = all_jobs.iter().map(key_of).collect();
    let previous_count = previous.len();
    let mut all: Vec<RunRecord> = previous
        .into_iter()
        .filter(|record| wanted.contains(&record.key()))
        .collect();
    if all.len() < previous_count {
        outln!(
            "{} results in {} are of other settings or seeds: kept in the file, left out of this summary",
            previous_count - all.len(),
            out.display()
        );
    }
    all.extend(records);
    if !environments.is_empty() {
        return swarm_summary(&all, &points, args.report.as_deref(), &args.seeds, &args.scenario);
    }
    let summary = sweep::summarize(&all, &points);
    out!("{}", herd_reports::text::sweep_table(&summary));
    if let Some(dir) = &args.report {
        let command = command_line();
        let path = herd_reports::write_sweep(dir, &summary, &command, &args.seeds)
            .map_err(CommandError::BadInput)?;
        outln!("report: {}", path.display());
    }
    finish(&summary)
}

/// The swarm's table and report.
fn swarm_summary(
    records: &[RunRecord],
    points: &[Point],
    report: Option<&Path>,
    seeds: &str,
    scenario: &ScenarioArgs,
) -> Result<(), CommandError> {
    let summary = sweep::summarize_swarm(records, points);
    let replay = lookup::replay_command(scenario, None);
    out!("{}", herd_reports::text::swarm_table(&summary, &replay));
    if let Some(dir) = report {
        let path = herd_reports::write_swarm(dir, &summary, &command_line(), seeds, &replay)
            .map_err(CommandError::BadInput)?;
        outln!("report: {}", path.display());
    }
    if summary.conflicts.is_empty() {
        Ok(())
    } else {
        outln!(
            "some runs gave different traces for the same setting, environment and seed: please report it"
        );
        Err(CommandError::Assertions)
    }
}

pub fn merge(args: &MergeArgs) -> Result<(), CommandError> {
    let mut records = Vec::new();
    for path in &args.files {
        records.extend(sweep::read_records(path).map_err(CommandError::BadInput)?);
    }
    let Some(first) = records.first().cloned() else {
        return Err(CommandError::BadInput("the files hold no results".into()));
    };
    if let Some(other) = records
        .iter()
        .find(|record| record.scenario != first.scenario || record.base != first.base)
    {
        return Err(CommandError::BadInput(format!(
            "these files are from different sweeps: {} with {:?} and {} with {:?}",
            first.scenario, first.base, other.scenario, other.base
        )));
    }
    // The same run given twice (a file named twice, overlapping shards) is written once.
    let read = records.len();
    let mut seen = BTreeSet::new();
    records.retain(|record| seen.insert((record.key(), record.trace_sha256.clone())));
    let seeds: BTreeSet<u64> = records.iter().map(|record| record.seed).collect();
    if records.iter().any(|record| record.environment.is_some()) {
        if records.len() < read {
            outln!(
                "{} results appeared more than once and are counted once",
                read - records.len()
            );
        }
        write_merged(args.out.as_deref(), &records)?;
        let seeds = format!("{} seeds", seeds.len());
        let summary = sweep::summarize_swarm(&records, &[]);
        // The sweep's shared overrides (its `--small`'s and `--fast` among them) as `--set`.
        let replay: String = std::iter::once(format!("herdsim run {}", first.scenario))
            .chain(first.base.iter().map(|set| format!("--set '{set}'")))
            .collect::<Vec<_>>()
            .join(" ");
        out!("{}", herd_reports::text::swarm_table(&summary, &replay));
        if let Some(dir) = &args.report {
            let path = herd_reports::write_swarm(dir, &summary, &command_line(), &seeds, &replay)
                .map_err(CommandError::BadInput)?;
            outln!("report: {}", path.display());
        }
        return if summary.conflicts.is_empty() {
            Ok(())
        } else {
            Err(CommandError::Assertions)
        };
    }
    let summary = sweep::summarize(&records, &[]);
    if records.len() < read {
        outln!(
            "{} results appeared more than once and are counted once",
            read - records.len()
        );
    }
    outln!(
        "{}: {} results from {} files, {} settings, {} seeds",
        first.scenario,
        records.len(),
        args.files.len(),
        summary.points.len(),
        seeds.len()
    );
    write_merged(args.out.as_deref(), &records)?;
    out!("{}", herd_reports::text::sweep_table(&summary));
    if let Some(dir) = &args.report {
        let seeds = format!("{} seeds", seeds.len());
        let path = herd_reports::write_sweep(dir, &summary, &command_line(), &seeds)
            .map_err(CommandError::BadInput)?;
        outln!("report: {}", path.display());
    }
    finish(&summary)
}

/// `merge --out FILE`: the merged results, one line each.
fn write_merged(out: Option<&Path>, records: &[RunRecord]) -> Result<(), CommandError> {
    let Some(out) = out else { return Ok(()) };
    let writer = ResultWriter::append(out).map_err(CommandError::BadInput)?;
    for record in records {
        writer
            .write(record)
            .map_err(|error| CommandError::BadInput(format!("cannot write {}: {error}", out.display())))?;
    }
    Ok(())
}

pub fn compare(args: &CompareArgs) -> Result<(), CommandError> {
    let points = sweep::grid(&[sweep::every_preset()]);
    let environments: Vec<Environment> = lookup::swarm_env(&args.scenario)?.into_iter().collect();
    let prepared = prepare(&args.scenario, &points, &environments)?;
    let first = prepared.scenarios.first().map_or(0, |scenario| scenario.seed);
    let seeds = grammar::parse_seeds(&args.seeds, first).map_err(CommandError::BadInput)?;
    let jobs = sweep::jobs(environments.len(), points.len(), seeds.clone(), None);
    let threads = args.jobs.unwrap_or_else(default_threads);
    outln!(
        "{}: {} presets × {} seeds on {threads} threads",
        prepared.scenarios[0].name,
        points.len(),
        seeds.end - seeds.start
    );
    let records = run_jobs(&prepared, &points, &environments, &jobs, threads, None)?;
    let summary = sweep::summarize(&records, &points);
    out!("{}", herd_reports::text::compare_table(&summary));
    if let Some(dir) = &args.report {
        let path = herd_reports::write_compare(dir, &summary, &command_line(), &args.seeds)
            .map_err(CommandError::BadInput)?;
        outln!("report: {}", path.display());
    }
    if summary.conflicts.is_empty() {
        Ok(())
    } else {
        Err(CommandError::Assertions)
    }
}

/// The scenario of every (environment, point), loaded and validated before anything runs.
struct Prepared {
    /// `scenarios[environment * points + point]`.
    scenarios: Vec<Scenario>,
    /// The overrides every point shares (`--small`'s, then `--set`).
    base: Vec<String>,
}

fn prepare(
    args: &ScenarioArgs,
    points: &[Point],
    environments: &[Environment],
) -> Result<Prepared, CommandError> {
    let base_scenario = lookup::load(args)?;
    let mut base = Vec::new();
    if args.small {
        base.extend(base_scenario.small.iter().cloned());
    }
    if args.fast {
        base.push("network.mode=\"fast\"".to_string());
    }
    base.extend(args.overrides.iter().cloned());
    let source = lookup::resolve(&args.scenario)?;
    let scenarios = points
        .iter()
        .map(|point| {
            let mut overrides = base.clone();
            overrides.extend(sweep::overrides(point));
            source
                .load(&overrides)
                .map_err(|error| CommandError::BadInput(format!("setting {}: {error}", sweep::label(point))))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if environments.is_empty() {
        return Ok(Prepared { scenarios, base });
    }
    let mut placed = Vec::with_capacity(scenarios.len() * environments.len());
    for environment in environments {
        for scenario in &scenarios {
            placed.push(environment.apply(scenario).map_err(CommandError::BadInput)?);
        }
    }
    Ok(Prepared {
        scenarios: placed,
        base,
    })
}

fn previous_records(out: &Path, resume: bool, prepared: &Prepared) -> Result<Vec<RunRecord>, CommandError> {
    if !out.exists() {
        return Ok(Vec::new());
    }
    if !resume {
        return Err(CommandError::BadInput(format!(
            "{} exists: --resume continues it, --out FILE writes elsewhere",
            out.display()
        )));
    }
    let records = sweep::read_records(out).map_err(CommandError::BadInput)?;
    let name = &prepared.scenarios[0].name;
    if let Some(other) = records
        .iter()
        .find(|record| &record.scenario != name || record.base != prepared.base)
    {
        return Err(CommandError::BadInput(format!(
            "{} holds results of another sweep ({} with {:?}); this one is {name} with {:?}",
            out.display(),
            other.scenario,
            other.base,
            prepared.base
        )));
    }
    Ok(records)
}

/// Runs the jobs with a progress bar, streaming each result to `out` as it finishes.
fn run_jobs(
    prepared: &Prepared,
    points: &[Point],
    environments: &[Environment],
    jobs: &[sweep::Job],
    threads: usize,
    out: Option<&Path>,
) -> Result<Vec<RunRecord>, CommandError> {
    let writer = out
        .map(ResultWriter::append)
        .transpose()
        .map_err(CommandError::BadInput)?;
    let bar = ProgressBar::new(jobs.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {wide_bar} {pos}/{len} runs ({elapsed}, about {eta} left)")
            .expect("a valid template"),
    );
    let records = Mutex::new(Vec::with_capacity(jobs.len()));
    let write_error = Mutex::new(None);
    let plan = sweep::Plan {
        scenarios: &prepared.scenarios,
        base: &prepared.base,
        points,
        environments,
    };
    sweep::execute(&plan, jobs, threads, &|record| {
        if let Some(writer) = &writer {
            if let Err(error) = writer.write(&record) {
                write_error
                    .lock()
                    .expect("error lock")
                    .get_or_insert(error.to_string());
            }
        }
        records.lock().expect("records lock").push(record);
        bar.inc(1);
    });
    bar.finish_and_clear();
    if let Some(error) = write_error.into_inner().expect("error lock") {
        return Err(CommandError::BadInput(format!(
            "results could not be written: {error}"
        )));
    }
    Ok(records.into_inner().expect("records lock"))
}

fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// The command as typed, for reports to say how to regenerate them.
fn command_line() -> String {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .map(|arg| {
            if arg.contains([' ', '"', '[', '{']) {
                format!("'{arg}'")
            } else {
                arg
            }
        })
        .collect();
    format!("herdsim {}", args.join(" "))
}

fn finish(summary: &Summary) -> Result<(), CommandError> {
    if summary.conflicts.is_empty() {
        Ok(())
    } else {
        outln!("some runs gave different traces for the same setting and seed: please report it");
        Err(CommandError::Assertions)
    }
}
