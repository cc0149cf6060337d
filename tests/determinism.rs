//! Determinism: the same (scenario, seed) gives the same trace, byte for byte; another seed gives
//! another trace.

use std::collections::BTreeSet;

use herd_sim::run;
use herd_sim::scenario::library::{self, Shipped};
use herd_sim::scenario::Scenario;

fn small(shipped: &Shipped) -> Scenario {
    let plain = shipped.load(&[]).unwrap_or_else(|e| panic!("{e}"));
    shipped.load(&plain.small).unwrap_or_else(|e| panic!("{e}"))
}

fn hash(scenario: &Scenario, seed: u64) -> String {
    run::run(scenario, seed, &mut |_| {}).trace.hash().to_string()
}

#[test]
fn every_shipped_scenario_twice_per_seed_gives_identical_traces() {
    let all: Vec<Shipped> = library::shipped().collect();
    assert!(all.len() >= 10);
    for shipped in all {
        let scenario = small(&shipped);
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
    let scenario = library::find("thundering-herd").unwrap().load(&[]).unwrap();
    let (first, second) = (
        run::run(&scenario, 5, &mut |_| {}),
        run::run(&scenario, 5, &mut |_| {}),
    );
    assert_eq!(first.trace.hash(), second.trace.hash());
    assert_eq!(first.metrics, second.metrics);
    assert!(first.failures.is_empty(), "{:?}", first.failures);
    assert_eq!(first.metrics.ok, 1_200);
}

#[test]
fn the_fast_network_mode_is_deterministic_too() {
    for shipped in library::shipped() {
        let plain = shipped.load(&[]).unwrap();
        let mut overrides = plain.small.clone();
        overrides.push("network.mode=\"fast\"".to_string());
        let scenario = shipped.load(&overrides).unwrap();
        let mut distinct = BTreeSet::new();
        for seed in [scenario.seed, 11] {
            let (first, second) = (
                run::run(&scenario, seed, &mut |_| {}),
                run::run(&scenario, seed, &mut |_| {}),
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

/// Instances that finish at different times, on turmoil: an instance that is done keeps its
/// connections open until the run ends. Dropped when it finished, hyper's pool closed them in
/// the order of its `HashMap`, random per pool, and each close is a message whose latency
/// comes from the run's one stream: the rest of the run moved with that order. Several runs
/// in one process, each with its own pools, catch it where two might agree by chance.
#[test]
fn instances_that_finish_apart_replay() {
    let scenario = library::find("shared-limiter").unwrap().load(&[]).unwrap();
    assert!(scenario.instances.count > 1);
    let hashes: BTreeSet<String> = (0..6).map(|_| hash(&scenario, 1)).collect();
    assert_eq!(
        hashes.len(),
        1,
        "shared-limiter seed 1 gave {} traces",
        hashes.len()
    );
}
