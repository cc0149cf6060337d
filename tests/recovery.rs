//! The metastability lab: a scenario's `[trigger]`, an open workload (`[arrivals]`), and the
//! recovery herdsim measures: herdsim's default recovers on the shipped lab and a naive preset
//! does not; the recovery's numbers stay in their ranges; a sweep over load and policy charts
//! where recovery fails.

mod support;

use herd_sim::scenario::library;
use support::herdsim;

fn lab(overrides: &[&str]) -> herd_sim::run::Run {
    let shipped = library::find("retry-storm").expect("the lab is shipped");
    let mut all = shipped.load(&[]).expect("loads").small;
    all.extend(overrides.iter().map(ToString::to_string));
    let scenario = shipped.load(&all).expect("loads with its overrides");
    herd_sim::run::run(&scenario, scenario.seed, &mut |_| {})
}

#[test]
fn the_default_recovers_from_the_lab_and_a_naive_preset_does_not() {
    for mode in ["turmoil", "fast"] {
        let mode = format!("network.mode=\"{mode}\"");
        let default = lab(&[&mode]);
        let recovery = default
            .metrics
            .recovery
            .clone()
            .expect("a trigger gives a recovery");
        assert!(
            recovery.recovery_s.is_some() && default.failures.is_empty(),
            "{mode}: herdsim did not recover: {recovery:?} {:?}",
            default.failures
        );
        assert_eq!(recovery.dropped, 0, "{mode}: it recovered without dropping work");
        assert!(
            recovery.backlog_peak > recovery.backlog_target,
            "{mode}: the trigger built a backlog"
        );

        let naive = lab(&[&mode, "preset=\"exponential-no-jitter\""]);
        let recovery = naive.metrics.recovery.clone().expect("a recovery");
        assert_eq!(
            recovery.recovery_s, None,
            "{mode}: the naive preset recovered: {recovery:?}"
        );
        assert!(
            naive
                .failures
                .iter()
                .any(|failure| failure.contains("did not recover")),
            "{mode}: expect.recovers fails the run: {:?}",
            naive.failures
        );
        assert!(
            recovery.amplification_after().is_none_or(|after| after > 2.0),
            "{mode}: its retries amplify the work after the trigger: {recovery:?}"
        );
    }
}

#[test]
fn recovery_numbers_stay_in_their_ranges() {
    let mut checked = 0;
    for (preset, arrivals) in [
        ("herdsim", "0.5"),
        ("herdsim", "1.8"),
        ("tutorial", "1.0"),
        ("aws-standard", "1.5"),
    ] {
        let preset = format!("preset=\"{preset}\"");
        let rate = format!("arrivals.rate_per_s={arrivals}");
        let run = lab(&["network.mode=\"fast\"", &preset, &rate]);
        let recovery = run.metrics.recovery.expect("a recovery");
        assert_eq!(
            (recovery.from_s, recovery.until_s),
            (40, 100),
            "the small lab's trigger"
        );
        if let Some(seconds) = recovery.recovery_s {
            assert!(
                seconds >= 0.0 && seconds <= run.metrics.makespan_s - 100.0 + 1.0,
                "{preset} {rate}: recovered {seconds} s after the trigger, in a run of {} s",
                run.metrics.makespan_s
            );
            checked += 1;
        }
        assert!(recovery.backlog_target > recovery.backlog_steady || recovery.backlog_steady == 0);
        assert!(recovery.ok_during + recovery.ok_after <= run.metrics.ok);
        assert!(recovery.dropped <= run.metrics.items - run.metrics.ok);
        assert!(
            recovery.allowed_per_s > 0.0 && recovery.allowed_per_s <= 2.0 + 1e-9,
            "{recovery:?}"
        );
        for amplification in [recovery.amplification_during(), recovery.amplification_after()]
            .into_iter()
            .flatten()
        {
            assert!(
                amplification >= 1.0,
                "{preset} {rate}: an item done ok costs one attempt at least"
            );
        }
    }
    assert!(checked >= 2, "some of these runs recover");
}

#[test]
fn a_scenario_without_a_trigger_has_no_recovery_and_arrivals_pace_the_work() {
    let shipped = library::find("thundering-herd").unwrap();
    let mut overrides = shipped.load(&[]).unwrap().small;
    overrides.push("network.mode=\"fast\"".into());
    let plain = shipped.load(&overrides).unwrap();
    let run = herd_sim::run::run(&plain, 1, &mut |_| {});
    assert!(run.metrics.recovery.is_none());
    // 120 reads arriving at 2 per second end after 60 s at the earliest, and the bound knows it.
    overrides.push("arrivals.rate_per_s=2.0".into());
    let open = shipped.load(&overrides).unwrap();
    let run = herd_sim::run::run(&open, 1, &mut |_| {});
    assert!(run.metrics.makespan_s >= 59.5, "{}", run.metrics.makespan_s);
    assert!(
        run.metrics.best_makespan_s >= 59.5,
        "the bound waits for the last arrival"
    );
    assert!(run.metrics.makespan_ratio >= 1.0);
}

#[test]
fn a_bad_trigger_or_arrival_rate_is_refused_by_name() {
    for (set, field) in [
        ("trigger.until_s=10", "trigger.until_s"),
        ("trigger.factor=1.5", "trigger.factor"),
        ("arrivals.rate_per_s=0", "arrivals.rate_per_s"),
        ("arrivals.rate_per_s=0.1", "arrivals.rate_per_s"),
        ("trigger.until_s=5000", "trigger.until_s"),
        ("duration_s=700000", "duration_s"),
    ] {
        let output = herdsim(&["run", "retry-storm", "--small", "--set", set]);
        assert_eq!(output.status.code(), Some(2), "{set}");
        let error = String::from_utf8_lossy(&output.stderr);
        assert!(
            error.contains(field) && error.contains("retry-storm.toml"),
            "{set}: {error}"
        );
    }
    let output = herdsim(&[
        "run",
        "thundering-herd",
        "--small",
        "--set",
        "expect.recovers=true",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("needs a [trigger]"));
}

#[test]
fn a_sweep_over_load_and_policy_charts_where_recovery_fails() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report");
    let output = herdsim(&[
        "sweep",
        "retry-storm",
        "--small",
        "--fast",
        "--param",
        "preset=\"herdsim\",\"exponential-no-jitter\"",
        "--param",
        "arrivals.rate_per_s=1.0,1.5",
        "--seeds",
        "0..2",
        "--out",
        dir.path().join("r.jsonl").to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("recovery from the trigger"), "{text}");
    let naive = text
        .lines()
        .find(|line| {
            line.contains("exponential-no-jitter")
                && line.contains("rate_per_s=1.5")
                && line.contains("did not recover")
        })
        .unwrap_or_else(|| panic!("the naive preset at 1.5/s does not recover: {text}"));
    assert!(naive.contains("2 of 2"), "{naive}");
    let markdown = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(markdown.contains("recovery.svg"), "{markdown}");
    let svg = std::fs::read_to_string(report.join("recovery.svg")).unwrap();
    assert!(
        svg.contains("preset=") && svg.contains('✗'),
        "the chart names the settings and marks failures"
    );
}
