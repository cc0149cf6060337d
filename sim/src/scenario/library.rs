//! The shipped scenario library, embedded in the binary at compile time (see `build.rs`): an
//! installed `herdsim` lists and runs them from any directory, and errors name the file
//! (`thundering-herd.toml`), never a build path.

use crate::scenario::{Scenario, ScenarioError};

include!(concat!(env!("OUT_DIR"), "/shipped_scenarios.rs"));

/// One shipped scenario: its name (the file name without `.toml`) and its text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shipped {
    pub file_name: &'static str,
    pub text: &'static str,
}

impl Shipped {
    pub fn name(&self) -> &'static str {
        self.file_name.strip_suffix(".toml").unwrap_or(self.file_name)
    }

    /// Parses it with `overrides`; errors name the file as `<name>.toml`.
    pub fn load(&self, overrides: &[String]) -> Result<Scenario, ScenarioError> {
        Scenario::parse(self.file_name, self.text, overrides)
    }
}

/// Every shipped scenario, sorted by name.
pub fn shipped() -> impl Iterator<Item = Shipped> {
    SHIPPED_FILES
        .iter()
        .map(|&(file_name, text)| Shipped { file_name, text })
}

/// The shipped scenario called `name` (with or without `.toml`).
pub fn find(name: &str) -> Option<Shipped> {
    let name = name.strip_suffix(".toml").unwrap_or(name);
    shipped().find(|scenario| scenario.name() == name)
}

/// The names of every shipped scenario, for messages.
pub fn names() -> Vec<&'static str> {
    shipped().map(|scenario| scenario.name()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_scenario_loads_and_so_does_its_small_version() {
        let all: Vec<Shipped> = shipped().collect();
        assert!(all.len() >= 10, "the shipped library: {:?}", names());
        for shipped in all {
            let scenario = shipped.load(&[]).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(scenario.name, shipped.name(), "a scenario's name is its file's");
            assert!(!scenario.description.is_empty());
            shipped.load(&scenario.small).unwrap_or_else(|e| panic!("{e}"));
        }
    }

    #[test]
    fn found_by_name_with_or_without_the_extension() {
        assert_eq!(
            find("thundering-herd").map(|s| s.file_name),
            Some("thundering-herd.toml")
        );
        assert_eq!(
            find("thundering-herd.toml").map(|s| s.name()),
            Some("thundering-herd")
        );
        assert_eq!(find("no-such-scenario"), None);
    }
}
