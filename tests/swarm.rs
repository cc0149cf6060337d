//! `herdsim sweep --swarm K`, end to end: every setting in every drawn environment, the
//! Pareto-robust recommendation, the report, shards that merge to the same table, and
//! `--swarm-env` replaying one run of it exactly.

mod support;

use std::process::Output;

use support::{herdsim, stderr, stdout};

/// The swarm's matrix and its environments: everything before the replay commands.
fn matrix(output: &Output) -> String {
    let text = stdout(output);
    let start = text
        .find("   setting")
        .unwrap_or_else(|| panic!("no swarm table in {text}"));
    text[start..]
        .lines()
        .take_while(|line| !line.starts_with("recommended:") && !line.starts_with("report:"))
        .filter(|line| !line.contains(" breaks in ") && !line.starts_with("note:"))
        .collect::<Vec<_>>()
        .join("\n")
}

const GRID: [&str; 11] = [
    "sweep",
    "thundering-herd",
    "--small",
    "--fast",
    "--param",
    "preset=\"herdsim\",\"exponential-no-jitter\"",
    "--seeds",
    "0..2",
    "--swarm",
    "5",
    "--jobs=2",
];

#[test]
fn a_swarm_runs_every_setting_in_every_environment_and_names_where_each_breaks() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let full = herdsim(
        &[
            &GRID[..],
            &["--out", &path("full.jsonl"), "--report", &path("report")],
        ]
        .concat(),
    );
    assert!(full.status.success(), "{}{}", stdout(&full), stderr(&full));
    let text = stdout(&full);
    assert!(
        text.contains("2 settings × 5 environments × 2 seeds = 20 runs"),
        "{text}"
    );
    let results = std::fs::read_to_string(path("full.jsonl")).unwrap();
    assert_eq!(results.lines().count(), 20, "one line per run");
    assert!(text.contains("e0   the scenario as written"), "{text}");
    for env in ["e1", "e2", "e3", "e4"] {
        let line = text
            .lines()
            .find(|line| line.starts_with(&format!("  {env} ")))
            .unwrap_or_else(|| panic!("{env} is not described: {text}"));
        assert!(line.contains("windows ×") && line.contains("tokens"), "{line}");
    }
    // The peer that ignores its budget of attempts gives up under the herd: it breaks, and a
    // setting that breaks is never robust nor recommended.
    let peer = text
        .lines()
        .find(|line| line.contains("preset=\"exponential-no-jitter\" ") && !line.contains("breaks in"))
        .expect("the peer's row");
    assert!(peer.contains('✗'), "{peer}");
    assert!(
        text.contains("preset=\"exponential-no-jitter\" breaks in e0"),
        "{text}"
    );
    match text.lines().find(|line| line.starts_with("recommended:")) {
        Some(line) => {
            assert!(line.contains("herdsim"), "{line}");
            assert!(text.contains("Pareto-robust with the best worst case"), "{text}");
            assert!(
                text.contains("its worst environment: herdsim run thundering-herd --small --fast"),
                "{text}"
            );
        }
        None => assert!(text.contains("note: nothing is recommended"), "{text}"),
    }
    let report = std::fs::read_to_string(dir.path().join("report/report.md")).unwrap();
    assert!(
        report.contains("swarm.svg") && report.contains("## Environments"),
        "{report}"
    );
    assert!(
        report.contains("--swarm-env 1:3"),
        "the report replays each environment: {report}"
    );
    let svg = std::fs::read_to_string(dir.path().join("report/swarm.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("e4"),
        "the matrix names every environment"
    );

    // The same swarm again: the same runs, byte for byte.
    let again = herdsim(&[&GRID[..], &["--out", &path("again.jsonl")]].concat());
    assert!(again.status.success(), "{}", stderr(&again));
    let hashes = |text: &str| -> Vec<String> {
        let mut hashes: Vec<String> = text
            .lines()
            .map(|line| {
                let value: serde_json::Value = serde_json::from_str(line).unwrap();
                format!(
                    "{} {} {}",
                    value["environment"]["index"], value["seed"], value["trace_sha256"]
                )
            })
            .collect();
        hashes.sort();
        hashes
    };
    assert_eq!(
        hashes(&results),
        hashes(&std::fs::read_to_string(path("again.jsonl")).unwrap())
    );
    assert_eq!(matrix(&again), matrix(&full));

    // Two shards merge to the same matrix.
    let mut shards = Vec::new();
    for shard in ["0/2", "1/2"] {
        let out = path(&format!("shard-{}.jsonl", &shard[..1]));
        let output = herdsim(&[&GRID[..], &["--shard", shard, "--out", &out]].concat());
        assert!(output.status.success(), "{}", stderr(&output));
        shards.push(out);
    }
    let merged = herdsim(&["merge", &shards[0], &shards[1]]);
    assert!(merged.status.success(), "{}", stderr(&merged));
    assert_eq!(matrix(&merged), matrix(&full), "shards merge into the same swarm");

    // One run of the swarm, replayed by `run --swarm-env`, has the trace the sweep recorded.
    let line = results
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .find(|value| value["environment"]["index"] == 3 && value["point"]["preset"] == "\"herdsim\"")
        .expect("a run of e3");
    let seed = line["seed"].to_string();
    let swarm_env = format!("{}:3", line["environment"]["seed"]);
    let replay = herdsim(&[
        "run",
        "thundering-herd",
        "--small",
        "--fast",
        "--set",
        "preset=\"herdsim\"",
        "--seed",
        &seed,
        "--swarm-env",
        &swarm_env,
    ]);
    let replayed = stdout(&replay);
    let hash = line["trace_sha256"].as_str().unwrap();
    assert!(
        replayed.contains(hash),
        "the replay of {swarm_env} seed {seed} has another trace: {replayed}"
    );
    assert!(
        replayed.contains(&format!("--swarm-env {swarm_env}")),
        "{replayed}"
    );
}

#[test]
fn swarm_arguments_that_cannot_work_are_refused_by_name() {
    let zero = herdsim(&["sweep", "thundering-herd", "--small", "--swarm", "0"]);
    assert_eq!(zero.status.code(), Some(2));
    assert!(stderr(&zero).contains("--swarm"), "{}", stderr(&zero));
    let garbage = herdsim(&["run", "thundering-herd", "--small", "--swarm-env", "three"]);
    assert_eq!(garbage.status.code(), Some(2));
    assert!(
        stderr(&garbage).contains("expected SEED:INDEX"),
        "{}",
        stderr(&garbage)
    );
    let both = herdsim(&[
        "sweep",
        "thundering-herd",
        "--small",
        "--swarm",
        "3",
        "--swarm-env",
        "1:2",
        "--out",
        "/nonexistent/never-written.jsonl",
    ]);
    assert_eq!(both.status.code(), Some(2));
    assert!(stderr(&both).contains("not both"), "{}", stderr(&both));
    let seed_alone = herdsim(&["sweep", "thundering-herd", "--small", "--swarm-seed", "4"]);
    assert_eq!(seed_alone.status.code(), Some(2), "--swarm-seed needs --swarm");
    let shrink = herdsim(&["shrink", "lost-responses", "--small", "--swarm-env", "1:2"]);
    assert_eq!(shrink.status.code(), Some(2));
    assert!(stderr(&shrink).contains("--swarm-env"), "{}", stderr(&shrink));
}
