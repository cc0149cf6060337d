//! Finding scenarios by name or path: a file that exists, else `scenarios/<name>.toml` in the
//! working directory, else the shipped library embedded in this binary.

use std::path::{Path, PathBuf};

use herd_sim::scenario::library::{self, Shipped};
use herd_sim::scenario::{Scenario, ScenarioError};

use crate::args::{CommandError, ScenarioArgs};

/// Where a scenario's text comes from.
#[derive(Clone, Debug)]
pub enum Source {
    File(PathBuf),
    Shipped(Shipped),
}

impl Source {
    pub fn load(&self, overrides: &[String]) -> Result<Scenario, ScenarioError> {
        match self {
            Source::File(path) => Scenario::load(path, overrides),
            Source::Shipped(shipped) => shipped.load(overrides),
        }
    }
}

impl Source {
    /// The scenario's TOML text, as written.
    pub fn text(&self) -> Result<String, CommandError> {
        match self {
            Source::File(path) => std::fs::read_to_string(path)
                .map_err(|error| CommandError::BadInput(format!("cannot read {}: {error}", path.display()))),
            Source::Shipped(shipped) => Ok(shipped.text.to_string()),
        }
    }
}

/// The source of `name_or_path`.
pub fn resolve(name_or_path: &str) -> Result<Source, CommandError> {
    let as_path = Path::new(name_or_path);
    if as_path.is_file() {
        return Ok(Source::File(as_path.to_path_buf()));
    }
    let looks_like_path = name_or_path.contains(std::path::MAIN_SEPARATOR) || name_or_path.ends_with(".toml");
    if !looks_like_path {
        let local = Path::new("scenarios").join(format!("{name_or_path}.toml"));
        if local.is_file() {
            return Ok(Source::File(local));
        }
        if let Some(shipped) = library::find(name_or_path) {
            return Ok(Source::Shipped(shipped));
        }
    }
    Err(CommandError::BadInput(format!(
        "no scenario file or shipped scenario named {name_or_path:?}; shipped: {} (`herdsim list`)",
        library::names().join(", ")
    )))
}

/// The overrides the arguments make, in order: `small`'s (when asked), the fast mode, `--set`.
pub fn overrides_of(args: &ScenarioArgs, source: &Source) -> Result<Vec<String>, CommandError> {
    let mut overrides = Vec::new();
    if args.small {
        let plain = source.load(&[]).map_err(bad_input)?;
        overrides.extend(plain.small);
    }
    if args.fast {
        overrides.push("network.mode=\"fast\"".to_string());
    }
    overrides.extend(args.overrides.iter().cloned());
    Ok(overrides)
}

/// Loads the scenario the arguments name, with `small` and then `--set` overrides, in the swarm
/// environment `--swarm-env` names.
pub fn load(args: &ScenarioArgs) -> Result<Scenario, CommandError> {
    let source = resolve(&args.scenario)?;
    let overrides = overrides_of(args, &source)?;
    let scenario = source.load(&overrides).map_err(bad_input)?;
    match swarm_env(args)? {
        Some(environment) => environment.apply(&scenario).map_err(CommandError::BadInput),
        None => Ok(scenario),
    }
}

/// The environment `--swarm-env` names, if any.
pub fn swarm_env(args: &ScenarioArgs) -> Result<Option<herd_sim::sweep::Environment>, CommandError> {
    args.swarm_env
        .as_deref()
        .map(crate::grammar::parse_swarm_env)
        .transpose()
        .map_err(CommandError::BadInput)
}

pub fn bad_input(error: ScenarioError) -> CommandError {
    CommandError::BadInput(error.to_string())
}

/// The command that runs this scenario again, as the arguments chose it: `herdsim run SCENARIO
/// [--seed N] [--small] [--fast] [--set '…'] [--swarm-env S:I]`.
pub fn replay_command(args: &ScenarioArgs, seed: Option<u64>) -> String {
    let mut command = format!("herdsim run {}", args.scenario);
    if let Some(seed) = seed {
        command.push_str(&format!(" --seed {seed}"));
    }
    if args.small {
        command.push_str(" --small");
    }
    if args.fast {
        command.push_str(" --fast");
    }
    for assignment in &args.overrides {
        command.push_str(&format!(" --set '{assignment}'"));
    }
    if let Some(environment) = &args.swarm_env {
        command.push_str(&format!(" --swarm-env {environment}"));
    }
    command
}
