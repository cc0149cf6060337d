//! The `herdsim` command line, end to end: the binary as a user runs it.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::{herdsim, herdsim_with, stderr, stdout, SHARD_VARIABLES};

/// The value after `sha256 ` in `run`'s output.
fn printed_hash(output: &Output) -> String {
    let text = stdout(output);
    let at = text
        .find("sha256 ")
        .unwrap_or_else(|| panic!("no hash in {text}"));
    text[at + 7..].split_whitespace().next().unwrap().to_string()
}

#[test]
fn help_names_every_command() {
    let output = herdsim(&["--help"]);
    assert!(output.status.success());
    for command in [
        "run", "list", "check", "diff", "sweep", "merge", "compare", "serve",
    ] {
        assert!(stdout(&output).contains(command), "{command} missing from --help");
    }
    let run_help = stdout(&herdsim(&["run", "--help"]));
    for flag in ["--seed", "--set", "--trace", "--timeline", "--small"] {
        assert!(run_help.contains(flag), "{flag} missing from run --help");
    }
}

#[test]
fn list_shows_every_shipped_scenario_with_its_description() {
    let output = herdsim(&["list"]);
    assert!(output.status.success());
    let text = stdout(&output);
    for entry in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")).unwrap() {
        let name = entry
            .unwrap()
            .path()
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let line = text
            .lines()
            .find(|line| line.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} not listed:\n{text}"));
        assert!(line.len() > name.len() + 20, "{name} has no description: {line}");
    }
    assert!(!text.contains("does not load"), "{text}");
}

#[test]
fn run_prints_metrics_and_a_hash_that_the_trace_file_and_a_rerun_reproduce() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("herd.jsonl");
    let output = herdsim(&[
        "run",
        "thundering-herd",
        "--small",
        "--seed",
        "3",
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}{}", stdout(&output), stderr(&output));
    let text = stdout(&output);
    for label in [
        "makespan",
        "attempts",
        "responses",
        "quota",
        "fairness",
        "replay",
        "herdsim run thundering-herd --seed 3 --small",
    ] {
        assert!(text.contains(label), "{label} missing:\n{text}");
    }
    let hash = printed_hash(&output);
    let lines = herd_sim::trace::read_jsonl(&trace).unwrap();
    assert_eq!(
        herd_sim::trace::hash_lines(&lines),
        hash,
        "the printed hash is the trace file's"
    );
    assert!(
        !lines
            .iter()
            .any(|line| line.contains("herd-secret") || line.contains("Bearer")),
        "no secret in the trace"
    );
    let again = herdsim(&["run", "thundering-herd", "--small", "--seed", "3"]);
    assert_eq!(printed_hash(&again), hash, "the same seed reproduces the run");
    let other = herdsim(&["run", "thundering-herd", "--small", "--seed", "4"]);
    assert_ne!(printed_hash(&other), hash);
}

#[test]
fn run_with_no_argument_runs_the_default_and_timeline_and_json_work() {
    let output = herdsim(&["run", "--small", "--timeline"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.starts_with("thundering-herd"), "{text}");
    assert!(
        text.contains("rate_limited") && text.contains("token_issued"),
        "the timeline is printed"
    );
    let json = herdsim(&["run", "--small", "--json", "--set", "instances.workers=4"]);
    assert!(json.status.success());
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).expect("--json prints JSON");
    assert_eq!(value["metrics"]["items"], 120);
    assert_eq!(value["metrics"]["unfinished"], 0);
    assert_eq!(value["trace_sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn check_runs_each_seed_twice_and_finds_no_divergence() {
    let output = herdsim(&["check", "lost-responses", "--small", "--seeds", "2"]);
    assert!(output.status.success(), "{}{}", stdout(&output), stderr(&output));
    assert_eq!(
        stdout(&output).matches("identical").count(),
        2,
        "{}",
        stdout(&output)
    );
}

#[test]
fn diff_reports_the_first_divergence_and_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.jsonl"), dir.path().join("b.jsonl"));
    for (seed, path) in [("1", &a), ("2", &b)] {
        assert!(herdsim(&[
            "run",
            "gateway-spikes",
            "--small",
            "--seed",
            seed,
            "--trace",
            path.to_str().unwrap()
        ])
        .status
        .success());
    }
    let same = herdsim(&["diff", a.to_str().unwrap(), a.to_str().unwrap()]);
    assert!(same.status.success());
    assert!(stdout(&same).starts_with("identical"));
    let different = herdsim(&["diff", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(different.status.code(), Some(1));
    let text = stdout(&different);
    assert!(text.contains("first divergence at event"), "{text}");
    assert!(text.contains("(all)") && text.contains("last event at"), "{text}");
    let missing = herdsim(&[
        "diff",
        a.to_str().unwrap(),
        dir.path().join("nope.jsonl").to_str().unwrap(),
    ]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("nope.jsonl"));
}

#[test]
fn bad_input_exits_2_naming_the_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.toml");
    std::fs::write(&path, "name = \"broken\"\ndescription = \"x\"\n\n[instances]\nworkers = \"many\"\n\n[workload]\nkind = \"read\"\noperations = 5\n").unwrap();
    let output = herdsim(&["run", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains("broken.toml:5: field `instances.workers`"),
        "{message}"
    );

    std::fs::write(
        &path,
        "name = \"broken\"\ndescription = \"x\"\n\n[workload]\nkind = \"read\"\noperatons = 5\n",
    )
    .unwrap();
    let message = stderr(&herdsim(&["run", path.to_str().unwrap()]));
    assert!(
        message.contains("broken.toml:6: field `workload.operatons`") && message.contains("unknown field"),
        "{message}"
    );

    let unknown = herdsim(&["run", "no-such-scenario"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).contains("thundering-herd"),
        "the error lists the shipped scenarios"
    );

    let bad_set = herdsim(&["run", "thundering-herd", "--set", "instances.count=0"]);
    assert_eq!(bad_set.status.code(), Some(2));
    assert!(
        stderr(&bad_set).contains("instances.count"),
        "{}",
        stderr(&bad_set)
    );
}

#[test]
fn failed_expectations_exit_1() {
    let output = herdsim(&["run", "thundering-herd", "--small", "--set", "duration_s=10"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains("FAILED: the workload did not finish"),
        "{}",
        stdout(&output)
    );
}

/// The summary table `sweep` and `merge` print (everything from the header line on).
fn summary_table(output: &Output) -> String {
    let text = stdout(output);
    let start = text
        .find("   setting")
        .unwrap_or_else(|| panic!("no summary in {text}"));
    text[start..]
        .lines()
        .filter(|line| !line.starts_with("report:"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn sweep_streams_results_resumes_after_a_crash_and_shards_merge_to_the_same_summary() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let grid = [
        "sweep",
        "lost-responses",
        "--small",
        "--param",
        "client.backoff.jitter=full,decorrelated",
        "--param",
        "instances.workers=2,4",
        "--seeds",
        "0..3",
        "--jobs",
        "2",
    ];
    let full = herdsim(
        &[
            &grid[..],
            &["--out", &path("full.jsonl"), "--report", &path("report")],
        ]
        .concat(),
    );
    assert!(full.status.success(), "{}{}", stdout(&full), stderr(&full));
    assert!(stdout(&full).contains("recommended:"), "{}", stdout(&full));
    let lines = std::fs::read_to_string(path("full.jsonl")).unwrap();
    assert_eq!(
        lines.lines().count(),
        12,
        "2 × 2 settings × 3 seeds, one line each"
    );
    let report = std::fs::read_to_string(dir.path().join("report/report.md")).unwrap();
    assert!(
        report.contains("Recommended")
            && report.contains("frontier.svg")
            && report.contains("herdsim sweep lost-responses"),
        "{report}"
    );
    assert!(std::fs::read_to_string(dir.path().join("report/frontier.svg"))
        .unwrap()
        .starts_with("<svg"));

    // A sweep killed after 5 runs, in the middle of writing the 6th line.
    let kept: String = lines
        .lines()
        .take(5)
        .map(|line| format!("{line}\n"))
        .collect::<String>()
        + &lines.lines().nth(5).unwrap()[..40];
    std::fs::write(path("crashed.jsonl"), kept).unwrap();
    let refused = herdsim(&[&grid[..], &["--out", &path("crashed.jsonl")]].concat());
    assert_eq!(
        refused.status.code(),
        Some(2),
        "an existing results file is never overwritten"
    );
    let resumed = herdsim(&[&grid[..], &["--out", &path("crashed.jsonl"), "--resume"]].concat());
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert!(stdout(&resumed).contains("7 to do"), "{}", stdout(&resumed));
    assert_eq!(
        summary_table(&resumed),
        summary_table(&full),
        "resuming gives the same summary"
    );

    let mut shard_files = Vec::new();
    for shard in ["0/2", "1/2"] {
        let out = path(&format!("shard-{}.jsonl", &shard[..1]));
        assert!(herdsim(&[&grid[..], &["--shard", shard, "--out", &out]].concat())
            .status
            .success());
        shard_files.push(out);
    }
    let merged = herdsim(&["merge", &shard_files[0], &shard_files[1]]);
    assert!(merged.status.success(), "{}", stderr(&merged));
    assert_eq!(
        summary_table(&merged),
        summary_table(&full),
        "shards merge into the same summary"
    );

    // The same shards, chosen by a Slurm job array and by a Kubernetes Indexed Job.
    for (engine, envs) in [
        (
            "slurm",
            [
                [("SLURM_ARRAY_TASK_ID", "0"), ("SLURM_ARRAY_TASK_COUNT", "2")],
                [("SLURM_ARRAY_TASK_ID", "1"), ("SLURM_ARRAY_TASK_COUNT", "2")],
            ],
        ),
        (
            "k8s",
            [
                [("JOB_COMPLETION_INDEX", "0"), ("HERDSIM_SHARD_COUNT", "2")],
                [("JOB_COMPLETION_INDEX", "1"), ("HERDSIM_SHARD_COUNT", "2")],
            ],
        ),
    ] {
        let mut files = Vec::new();
        for (index, env) in envs.iter().enumerate() {
            let out = path(&format!("{engine}-{index}.jsonl"));
            let ran = herdsim_with(&[&grid[..], &["--out", &out]].concat(), env);
            assert!(ran.status.success(), "{}", stderr(&ran));
            assert!(
                stdout(&ran).contains(&format!("shard {index}/2 from")),
                "{}",
                stdout(&ran)
            );
            let sorted = |file: &str| {
                let mut lines: Vec<String> = std::fs::read_to_string(file)
                    .unwrap()
                    .lines()
                    .map(str::to_string)
                    .collect();
                lines.sort();
                lines
            };
            assert_eq!(
                sorted(&out),
                sorted(&shard_files[index]),
                "{engine} picks the shard --shard {index}/2 would"
            );
            files.push(out);
        }
        let merged = herdsim(&["merge", &files[0], &files[1]]);
        assert_eq!(
            summary_table(&merged),
            summary_table(&full),
            "{engine} shards merge into the same summary"
        );
    }
    let without_count = herdsim_with(&grid, &[("JOB_COMPLETION_INDEX", "0")]);
    assert_eq!(
        without_count.status.code(),
        Some(2),
        "an index without a count is an error, not a full sweep"
    );
    assert!(
        stderr(&without_count).contains("--shard-count"),
        "{}",
        stderr(&without_count)
    );

    let other = herdsim(&[
        "sweep",
        "thundering-herd",
        "--small",
        "--seeds",
        "1",
        "--out",
        &path("other.jsonl"),
    ]);
    assert!(other.status.success());
    let mixed = herdsim(&["merge", &shard_files[0], &path("other.jsonl")]);
    assert_eq!(
        mixed.status.code(),
        Some(2),
        "results of different sweeps are not mixed"
    );
    let bad = herdsim(&[
        "sweep",
        "lost-responses",
        "--param",
        "client.backoff.jitter=sideways",
        "--out",
        &path("bad.jsonl"),
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("jitter=sideways"), "{}", stderr(&bad));
}

#[test]
fn compare_runs_every_preset_and_run_writes_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let report_dir = dir.path().join("cmp");
    let output = herdsim(&[
        "compare",
        "short-retry-after",
        "--small",
        "--seeds",
        "2",
        "--report",
        report_dir.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}{}", stdout(&output), stderr(&output));
    let text = stdout(&output);
    for preset in herd_client::Preset::ALL {
        assert!(
            text.lines().any(|line| line.starts_with(preset.name())),
            "{} missing:\n{text}",
            preset.name()
        );
    }
    assert!(report_dir.join("compare.svg").exists() && report_dir.join("report.md").exists());

    let run_dir = dir.path().join("run");
    let run = herdsim(&[
        "run",
        "maintenance-window",
        "--small",
        "--report",
        run_dir.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let report = std::fs::read_to_string(run_dir.join("report.md")).unwrap();
    assert!(
        report.contains("herdsim run maintenance-window --seed 1 --small --report"),
        "{report}"
    );
    // The example under reports/examples/ is this report: it must not drift from the tool.
    let example =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/examples/maintenance-window-small/report.md");
    assert!(
        report.replace(
            run_dir.to_str().unwrap(),
            "reports/examples/maintenance-window-small"
        ) == std::fs::read_to_string(example).unwrap(),
        "reports/examples/maintenance-window-small/report.md is stale: regenerate the example reports \
         (reports/examples/README.md lists the commands)"
    );
    for chart in ["requests.svg", "swimlanes.svg", "backoff.svg"] {
        assert!(report.contains(chart), "{chart} not in the report");
        assert!(
            std::fs::read_to_string(run_dir.join(chart))
                .unwrap()
                .contains("<svg"),
            "{chart}"
        );
    }
}

/// An installed binary: copied into an empty folder far from any checkout, and run from there.
#[test]
fn the_installed_binary_needs_no_checkout() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let binary = dir.path().join("herdsim");
    std::fs::copy(env!("CARGO_BIN_EXE_herdsim"), &binary).expect("copying the binary");
    let installed = |args: &[&str]| {
        Command::new(&binary)
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("the copied binary runs")
    };
    let listed = installed(&["list"]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    for name in ["thundering-herd", "token-expiry", "cxone-bulk-paging"] {
        assert!(
            stdout(&listed).contains(name),
            "{name} missing from `list`:\n{}",
            stdout(&listed)
        );
    }
    let ran = installed(&["run", "--small", "--fast"]);
    assert!(ran.status.success(), "{}", stderr(&ran));
    assert!(stdout(&ran).contains("thundering-herd"), "{}", stdout(&ran));
    let refused = installed(&["run", "--set", "instances.count=0"]);
    assert_eq!(refused.status.code(), Some(2));
    let message = stderr(&refused);
    assert!(message.contains("thundering-herd.toml:"), "{message}");
    assert!(message.contains("instances.count"), "{message}");
    assert!(
        !message.contains(env!("CARGO_MANIFEST_DIR")),
        "a build path leaks: {message}"
    );
}

#[test]
fn a_client_platform_or_url_in_a_scenario_is_refused_not_overwritten() {
    for (set, field) in [
        ("client.platform=\"cxone\"", "client.platform"),
        (
            "client.base_url=\"https://api.mypurecloud.com\"",
            "client.base_url",
        ),
        (
            "client.token_url=\"https://login.mypurecloud.com/oauth/token\"",
            "client.token_url",
        ),
    ] {
        let output = herdsim(&["run", "--small", "--fast", "--set", set]);
        assert_eq!(output.status.code(), Some(2), "{set} was accepted");
        assert!(stderr(&output).contains(field), "{set}: {}", stderr(&output));
    }
    let honoured = herdsim(&[
        "run",
        "cxone-bulk-paging",
        "--small",
        "--fast",
        "--set",
        "client.platform=\"cxone\"",
    ]);
    assert!(
        honoured.status.success(),
        "a matching platform is honoured: {}",
        stderr(&honoured)
    );
}

/// `herdsim run --timeline | head -1`: the reader goes away after one line.
#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    for args in [
        &["run", "--timeline", "--fast"][..],
        &["check", "--small", "--fast", "--seeds", "2"][..],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_herdsim"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut first)
            .expect("one line");
        assert!(!first.is_empty(), "{args:?} printed nothing");
        // The reader (and with it the pipe) is gone; the command's next write meets a closed pipe.
        let output = child.wait_with_output().expect("the command ends");
        let message = stderr(&output);
        assert!(!message.contains("panicked"), "{args:?}: {message}");
        assert_eq!(output.status.code(), Some(141), "{args:?}: {message}");
    }
}

#[test]
fn out_of_range_values_get_a_clear_error_not_a_panic() {
    for (args, expected) in [
        (
            &[
                "run",
                "--small",
                "--fast",
                "--set",
                "gateway.epoch_unix_s=253402300800",
            ][..],
            "gateway.epoch_unix_s",
        ),
        (&["check", "--small", "--fast", "--seeds", "0"][..], "--seeds"),
    ] {
        let output = herdsim(args);
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {message}");
        assert!(message.contains(expected), "{args:?}: {message}");
        assert!(!message.contains("panicked"), "{args:?}: {message}");
    }
    // The latest epoch allowed still runs: its dates print.
    let latest = herdsim(&[
        "run",
        "--small",
        "--fast",
        "--set",
        "gateway.epoch_unix_s=253086768000",
    ]);
    assert!(latest.status.success(), "{}", stderr(&latest));
}

#[test]
fn a_sweep_over_an_axis_that_changes_nothing_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sweep.jsonl");
    let output = herdsim(&[
        "sweep",
        "thundering-herd",
        "--small",
        "--fast",
        "--param",
        "client.page_size=100,200",
        "--seeds",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains("note: client.page_size has no effect here: identical traces in 2 of 2 cells"),
        "{text}"
    );
    assert!(text.contains("the choice among them is arbitrary"), "{text}");
}

/// Extreme values of the right type: each is a clear error naming its field (exit 2), never a
/// panic, a wrap or a run that "completes" having checked nothing.
#[test]
fn extreme_values_are_refused_by_name() {
    let cases: [(&str, &str); 8] = [
        ("instances.spread_s=9223372036854775807", "instances.spread_s"),
        (
            "gateway.limits=[{ name = \"w\", limit = 5, window_ms = 18446744073709552 }]",
            "gateway.limits[0].window_ms",
        ),
        (
            "client.backoff.base_ms=9223372036854775807",
            "client.backoff.base_ms",
        ),
        (
            "gateway.limits=[{ name = \"none\", limit = 0 }]",
            "gateway.limits[0].limit",
        ),
        (
            "gateway.limits=[{ name = \"s\", limit = 5, schedule = [{ at_s = 10, limit = 0 }] }]",
            "gateway.limits[0].schedule[0].limit",
        ),
        ("workload.operations=0", "workload.operations"),
        ("duration_s=0", "duration_s"),
        (
            "gateway.faults=[{ kind = \"slow\", rate = 0.5, delay_ms = 99999999999 }]",
            "gateway.faults[0]",
        ),
    ];
    for (set, field) in cases {
        let output = herdsim(&["run", "--small", "--fast", "--set", set]);
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "--set {set}: {message}");
        assert!(
            message.contains(&format!("field `{field}`")),
            "--set {set}: {message}"
        );
        assert!(!message.contains("panicked"), "--set {set}: {message}");
    }
}

/// Result files a user has in hand: torn by a crash and resumed twice, merged with themselves,
/// resumed with a narrower grid; and diff given files that are not traces.
#[test]
fn result_files_survive_torn_lines_self_merges_and_wider_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.jsonl");
    let sweep = |params: &str, resume: bool| {
        let mut args = vec![
            "sweep",
            "thundering-herd",
            "--small",
            "--fast",
            "--param",
            params,
            "--seeds",
            "0..2",
        ];
        args.extend(["--out", out.to_str().unwrap()]);
        if resume {
            args.push("--resume");
        }
        herdsim(&args)
    };
    let first = sweep("client.concurrency=4,8", false);
    assert!(first.status.success(), "{}", stderr(&first));
    // A crash mid-write leaves half a line; resuming twice must keep the file readable.
    let mut text = std::fs::read_to_string(&out).unwrap();
    let last_start = text.trim_end().rfind('\n').unwrap() + 1;
    text.truncate(last_start + 20);
    std::fs::write(&out, &text).unwrap();
    for _ in 0..2 {
        let resumed = sweep("client.concurrency=4,8", true);
        assert!(resumed.status.success(), "{}", stderr(&resumed));
    }
    let lines = std::fs::read_to_string(&out).unwrap();
    assert_eq!(lines.lines().count(), 4, "the torn run was redone once:\n{lines}");
    // Merging a file with itself counts each run once.
    let merged = dir.path().join("m.jsonl");
    let output = herdsim(&[
        "merge",
        out.to_str().unwrap(),
        out.to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("4 results appeared more than once"),
        "{}",
        stdout(&output)
    );
    assert_eq!(std::fs::read_to_string(&merged).unwrap().lines().count(), 4);
    // Resuming with a narrower grid leaves the other settings out of the summary.
    let narrow = sweep("client.concurrency=4", true);
    assert!(narrow.status.success(), "{}", stderr(&narrow));
    let text = stdout(&narrow);
    assert!(text.contains("2 results in"), "{text}");
    assert!(!text.contains("concurrency=8"), "{text}");
    // diff refuses files that are not traces, naming the file and line.
    let junk = dir.path().join("junk.jsonl");
    std::fs::write(&junk, "{\"a\": 1}\n").unwrap();
    let output = herdsim(&["diff", junk.to_str().unwrap(), junk.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("junk.jsonl:1: not a trace event"),
        "{}",
        stderr(&output)
    );
}

/// `deploy/slurm-sweep.sbatch` as a Slurm array would run it: two tasks, then the merge step,
/// which gives the summary a single sweep gives.
#[test]
fn the_slurm_script_runs_its_shards_and_merges_them() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/slurm-sweep.sbatch");
    let common = [
        ("HERDSIM", env!("CARGO_BIN_EXE_herdsim")),
        ("SCENARIO", "thundering-herd"),
        ("SEEDS", "0..2"),
        ("PARAMS", "--param client.concurrency=4,8"),
        ("SLURM_ARRAY_TASK_COUNT", "2"),
        ("SLURM_CPUS_PER_TASK", "1"),
    ];
    let run = |extra: &[(&str, &str)]| {
        let mut command = Command::new("bash");
        for name in SHARD_VARIABLES {
            command.env_remove(name);
        }
        let output = command
            .arg(script)
            .env("RESULTS", &results)
            .envs(common.iter().copied())
            .envs(extra.iter().copied())
            .output()
            .unwrap();
        assert!(output.status.success(), "{}{}", stdout(&output), stderr(&output));
        output
    };
    for task in ["0", "1"] {
        let output = run(&[("SLURM_ARRAY_TASK_ID", task)]);
        assert!(
            stdout(&output).contains(&format!("shard {task}/2 from a Slurm job array")),
            "{}",
            stdout(&output)
        );
    }
    let merged = run(&[("MERGE", "1")]);
    assert!(
        results.join("report/report.md").exists(),
        "the merge step writes a report"
    );
    let single = herdsim(&[
        "sweep",
        "thundering-herd",
        "--fast",
        "--param",
        "client.concurrency=4,8",
        "--seeds",
        "0..2",
        "--out",
        dir.path().join("single.jsonl").to_str().unwrap(),
    ]);
    assert_eq!(
        summary_table(&merged),
        summary_table(&single),
        "the array merges to a single sweep's summary"
    );
}

/// The README's sample run is what the tool prints today (its trace hash): a change to the
/// client or the gateway that moves it fails here until the sample is pasted again, so that the
/// documentation does not drift. (`compare_runs_every_preset_and_run_writes_a_report` does the
/// same for the example run report.)
#[test]
fn the_readmes_sample_run_is_what_the_tool_prints_today() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let sample = readme
        .lines()
        .find_map(|line| line.trim().strip_prefix("trace        sha256 "))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the README shows a sample run with its trace hash");
    let run = herdsim(&["run", "thundering-herd"]);
    assert_eq!(
        printed_hash(&run),
        sample,
        "README's sample run is not what `herdsim run thundering-herd` prints: paste its output again"
    );
}

/// Waste counts the token requests beyond one per lifetime, which `attempts` does not: where
/// there are any, the run says how many of the wasted are token requests (a client that mints a
/// token per request can otherwise read as wasting more than every attempt it made).
#[test]
fn the_run_says_when_waste_includes_token_requests() {
    let minting = herdsim(&[
        "run",
        "token-expiry",
        "--small",
        "--fast",
        "--set",
        "client.token.refresh_margin_s=300",
    ]);
    assert!(minting.status.success());
    let line = |output: &Output| {
        stdout(output)
            .lines()
            .find(|line| line.trim_start().starts_with("attempts"))
            .expect("an attempts line")
            .to_string()
    };
    assert!(
        line(&minting).contains("of them token requests"),
        "{}",
        line(&minting)
    );
    let honest = herdsim(&["run", "token-expiry", "--small", "--fast"]);
    assert!(!line(&honest).contains("token requests"), "{}", line(&honest));
}
