//! Every shipped scenario, at its small size and its own seed: the readable timeline and the
//! metrics are snapshots (review a change with `cargo insta review`), and the run passes its own
//! expectations.

use std::path::Path;

use herd_reports::text;
use herd_sim::run;
use herd_sim::scenario::Scenario;

fn small(path: &Path) -> Scenario {
    let plain = Scenario::load(path, &[]).unwrap_or_else(|e| panic!("{e}"));
    Scenario::load(path, &plain.small).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn timelines_and_metrics_of_the_shipped_scenarios() {
    insta::glob!("../scenarios", "*.toml", |path| {
        let scenario = small(path);
        let run = run::run(&scenario, scenario.seed, &mut |_| {});
        assert!(run.failures.is_empty(), "{}: {:?}", scenario.name, run.failures);
        let header = format!(
            "{} seed {} small, {} events, sha256 {}\n",
            scenario.name,
            scenario.seed,
            run.trace.len(),
            run.trace.hash()
        );
        insta::assert_snapshot!("timeline", format!("{header}{}", text::timeline(&run.trace)));
        insta::assert_yaml_snapshot!("metrics", run.metrics);
    });
}
