//! Finding and loading scenarios by name or path.

use std::path::{Path, PathBuf};

use herd_sim::scenario::{self, Scenario};

use crate::{Failure, ScenarioArgs};

/// The scenario `herdsim run` runs with no argument.
pub const DEFAULT: &str = "thundering-herd";

/// The scenario file for `name_or_path`: an existing file, else `scenarios/<name>.toml` in the
/// working directory, else the shipped library beside the workspace this binary was built from.
pub fn resolve(name_or_path: &str) -> Result<PathBuf, Failure> {
    let as_path = Path::new(name_or_path);
    if as_path.is_file() {
        return Ok(as_path.to_path_buf());
    }
    let looks_like_path = name_or_path.contains(std::path::MAIN_SEPARATOR) || name_or_path.ends_with(".toml");
    if !looks_like_path {
        let file = format!("{name_or_path}.toml");
        for dir in [PathBuf::from("scenarios"), scenario::shipped_dir()] {
            let candidate = dir.join(&file);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    let names: Vec<String> = scenario::shipped()
        .iter()
        .filter_map(|path| Some(path.file_stem()?.to_string_lossy().into_owned()))
        .collect();
    Err(Failure::BadInput(format!(
        "no scenario file or shipped scenario named {name_or_path:?}; shipped: {} (`herdsim list`)",
        names.join(", ")
    )))
}

/// Loads the scenario the arguments name, with `small` and then `--set` overrides.
pub fn load(args: &ScenarioArgs) -> Result<Scenario, Failure> {
    let path = resolve(&args.scenario)?;
    let mut overrides = Vec::new();
    if args.small {
        let plain = Scenario::load(&path, &[]).map_err(|error| Failure::BadInput(error.to_string()))?;
        overrides.extend(plain.small);
    }
    if args.fast {
        overrides.push("network.mode=\"fast\"".to_string());
    }
    overrides.extend(args.overrides.iter().cloned());
    Scenario::load(&path, &overrides).map_err(|error| Failure::BadInput(error.to_string()))
}
