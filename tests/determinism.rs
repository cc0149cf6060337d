//! Determinism: the same (scenario, seed) gives the same trace, byte for byte; another seed gives
//! another trace.

use std::collections::BTreeSet;
use std::path::Path;

use herd_sim::scenario::{self, Scenario};
use herd_sim::world;

fn small(path: &Path) -> Scenario {
    let plain = Scenario::load(path, &[]).unwrap_or_else(|e| panic!("{e}"));
    Scenario::load(path, &plain.small).unwrap_or_else(|e| panic!("{e}"))
}

fn hash(scenario: &Scenario, seed: u64) -> String {
    world::run(scenario, seed, &mut |_| {}).trace.hash().to_string()
}

#[test]
fn every_shipped_scenario_twice_per_seed_gives_identical_traces() {
    let paths = scenario::shipped();
    assert!(paths.len() >= 10);
    for path in paths {
        let scenario = small(&path);
        let mut distinct = BTreeSet::new();
        for seed in [scenario.seed, 7, 1_000_003] {
            let (first, second) = (hash(&scenario, seed), hash(&scenario, seed));
            assert_eq!(
                first, second,
                "{} seed {seed} diverged: `herdsim check {} --small --seed {seed} --seeds 1` shows where",
                scenario.name, scenario.name
            );
            distinct.insert(first);
        }
        assert_eq!(
            distinct.len(),
            3,
            "{}: different seeds should give different traces",
            scenario.name
        );
    }
}

#[test]
fn the_default_scenario_at_full_size_is_deterministic() {
    let path = scenario::shipped_dir().join("thundering-herd.toml");
    let scenario = Scenario::load(&path, &[]).unwrap();
    let (first, second) = (
        world::run(&scenario, 5, &mut |_| {}),
        world::run(&scenario, 5, &mut |_| {}),
    );
    assert_eq!(first.trace.hash(), second.trace.hash());
    assert_eq!(first.metrics, second.metrics);
    assert!(first.failures.is_empty(), "{:?}", first.failures);
    assert_eq!(first.metrics.ok, 1_200);
}

#[test]
fn the_fast_network_mode_is_deterministic_too() {
    for path in scenario::shipped() {
        let plain = Scenario::load(&path, &[]).unwrap();
        let mut overrides = plain.small.clone();
        overrides.push("network.mode=\"fast\"".to_string());
        let scenario = Scenario::load(&path, &overrides).unwrap();
        let mut distinct = BTreeSet::new();
        for seed in [scenario.seed, 11] {
            let (first, second) = (
                world::run(&scenario, seed, &mut |_| {}),
                world::run(&scenario, seed, &mut |_| {}),
            );
            assert_eq!(
                first.trace.hash(),
                second.trace.hash(),
                "{} seed {seed} (fast) diverged",
                scenario.name
            );
            assert!(
                first.failures.is_empty(),
                "{} seed {seed} (fast): {:?}",
                scenario.name,
                first.failures
            );
            distinct.insert(first.trace.hash().to_string());
        }
        assert_eq!(
            distinct.len(),
            2,
            "{}: different seeds should give different traces in the fast mode",
            scenario.name
        );
    }
}
