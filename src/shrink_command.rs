//! `herdsim shrink`: a failing run made smaller, still failing the same way.

use std::path::PathBuf;
use std::time::Duration;

use herd_sim::shrink::{self, Budget, Property, ShrinkError};
use indicatif::{ProgressBar, ProgressStyle};

use crate::args::{CommandError, ShrinkArgs, ShrinkProperty};
use crate::lookup;

pub fn shrink(args: &ShrinkArgs) -> Result<(), CommandError> {
    if args.scenario.swarm_env.is_some() {
        return Err(CommandError::BadInput(
            "shrink works on a scenario's TOML and does not take --swarm-env: reproduce the \
             environment's failure with `herdsim run --swarm-env`, then shrink the scenario as written"
                .into(),
        ));
    }
    let source = lookup::resolve(&args.scenario.scenario)?;
    let overrides = lookup::overrides_of(&args.scenario, &source)?;
    let original = source.load(&overrides).map_err(lookup::bad_input)?;
    let seed = args.seed.unwrap_or(original.seed);
    let mut table: toml::Table = toml::from_str(&source.text()?)
        .map_err(|error| CommandError::BadInput(format!("{}: {error}", args.scenario.scenario)))?;
    for assignment in &overrides {
        herd_sim::scenario::load::apply_override(&mut table, assignment)
            .map_err(|message| CommandError::BadInput(format!("--set {assignment}: {message}")))?;
    }
    // The quick version's overrides are applied above; the written scenario must not apply them
    // again.
    table.remove("small");
    let property = match args.property {
        ShrinkProperty::Expectations => Property::Expectations,
        ShrinkProperty::Lost => Property::Lost,
        ShrinkProperty::Duplicates => Property::Duplicates,
        ShrinkProperty::EarlySends => Property::EarlySends,
        ShrinkProperty::Bound => Property::Bound(args.bound_ratio),
    };
    let budget = Budget {
        runs: args.max_runs.max(1),
        time: Duration::from_secs(args.max_seconds.max(1)),
        seeds: args.other_seeds,
    };
    let bar = ProgressBar::new(budget.runs);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {wide_bar} {pos}/{len} runs ({elapsed}) {msg}")
            .expect("a valid template"),
    );
    let result = shrink::shrink(table, seed, property, budget, &mut |runs, step, kept| {
        bar.set_position(runs);
        if kept {
            bar.set_message(format!("kept: {step}"));
        }
    });
    bar.finish_and_clear();
    let shrunk = match result {
        Ok(shrunk) => shrunk,
        Err(ShrinkError::DoesNotFail) => {
            return Err(CommandError::BadInput(format!(
                "{} --seed {seed} does not fail ({:?}): nothing to shrink",
                original.name, args.property
            )))
        }
        Err(ShrinkError::Invalid(message)) => return Err(CommandError::BadInput(message)),
    };
    let mut table = shrunk.table.clone();
    // The written scenario runs at the shrunk seed by itself.
    table.insert(
        "seed".into(),
        toml::Value::Integer(i64::try_from(shrunk.seed).unwrap_or(i64::MAX)),
    );
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("shrunk-{}-seed-{seed}.toml", original.name)));
    let timeline_path = out.with_extension("timeline.txt");
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let replay = format!("herdsim run {} --seed {}", out.display(), shrunk.seed);
    let mut text = String::new();
    text.push_str(&format!("# Shrunk by `{command}`\n"));
    text.push_str(&format!(
        "# from {} at seed {seed}, which fails: {}\n",
        original.name, shrunk.signature
    ));
    text.push_str(&format!(
        "# {} runs, {} steps kept{}:\n",
        shrunk.runs,
        shrunk.accepted,
        if shrunk.timed_out {
            " (stopped by --max-seconds: the result depends on the machine)"
        } else {
            ""
        }
    ));
    for step in &shrunk.steps {
        text.push_str(&format!("#   {step}\n"));
    }
    for failure in &shrunk.run.failures {
        text.push_str(&format!("# The shrunk run fails: {failure}\n"));
    }
    text.push_str(&format!("# Replay: {replay}\n\n"));
    text.push_str(&toml::to_string(&table).map_err(|error| CommandError::BadInput(error.to_string()))?);
    let write = |path: &PathBuf, contents: &str| {
        std::fs::write(path, contents)
            .map_err(|error| CommandError::BadInput(format!("cannot write {}: {error}", path.display())))
    };
    write(&out, &text)?;
    write(&timeline_path, &herd_reports::text::timeline(&shrunk.run.trace))?;
    let size = |scenario: &herd_sim::scenario::Scenario| {
        format!(
            "{} instance(s) × {} workers, {} faults, duration {} s",
            scenario.instances.count,
            scenario.instances.workers,
            scenario.gateway.faults.len(),
            scenario.duration_s
        )
    };
    outln!("{} at seed {seed} fails: {}", original.name, shrunk.signature);
    outln!("  from {}", size(&original));
    outln!(
        "  to   {} (seed {}), in {} runs",
        size(&shrunk.scenario),
        shrunk.seed,
        shrunk.runs
    );
    for step in &shrunk.steps {
        outln!("    {step}");
    }
    if shrunk.timed_out {
        outln!("  stopped by --max-seconds: a longer bound may shrink it further");
    }
    outln!("  scenario: {}", out.display());
    outln!(
        "  timeline: {} ({} events)",
        timeline_path.display(),
        shrunk.run.trace.len()
    );
    outln!("  replay:   {replay}");
    Ok(())
}
