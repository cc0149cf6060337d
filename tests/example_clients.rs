//! The example clients (`examples/clients/`), in Python and in Node, against `herdsim serve` on
//! the referee playground: the scorecard fails the naive ones on every rule and passes the
//! careful ones, and `herdsim grade` gives the same verdict from the recorded file.
//!
//! They need `python3` (standard library only) and `node` (18 or later, for its built-in
//! `fetch`); `scripts/test` installs both when they are missing. Each run is bounded: the
//! clients stop themselves within a minute, and the test kills a client after two.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const RULES: [&str; 10] = [
    "rate_limited",
    "early_sends",
    "early_retries",
    "token_requests",
    "live_tokens",
    "unkeyed_replays",
    "duplicate_writes",
    "permanent_retries",
    "paging_restarts",
    "wakeup_bursts",
];

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/clients")
}

/// Whether `program` runs here; under `CI=true` it must.
fn available(program: &str) -> bool {
    let found = Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    support::required(found, program)
}

/// Serves the referee playground, runs one example client against it, and returns the live
/// scorecard (`GET /__herdsim/report`), the client's own summary, and `herdsim grade --json` of
/// the recorded file with its exit code.
fn graded(program: &str, script: &str) -> (Value, String, Value, i32) {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("session.jsonl");
    let scenario = examples().join("referee.toml");
    let (mut server, mut stdout, base) = support::spawn_serve(&[
        scenario.to_str().unwrap(),
        "--log-format",
        "none",
        "--record",
        record.to_str().unwrap(),
    ]);
    let mut client = Command::new(program)
        .arg(examples().join(script))
        .arg(&base)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while client.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(120) {
            let _ = client.kill();
            panic!("{script} ran for two minutes");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = client.wait_with_output().unwrap();
    let summary = String::from_utf8_lossy(&output.stdout).into_owned();
    let (status, body) = support::http(&base, "GET", "/__herdsim/report", &[], "");
    assert_eq!(status, 200, "{body}");
    let live: Value = serde_json::from_str(&body).unwrap();
    let (stopped, printed) = support::stop(&mut server, &mut stdout);
    assert!(stopped.success(), "serve stops cleanly: {printed}");
    assert!(
        printed.contains("scorecard: "),
        "serve prints the scorecard at shutdown: {printed}"
    );
    let grade = Command::new(env!("CARGO_BIN_EXE_herdsim"))
        .args(["grade", "--json"])
        .arg(&record)
        .output()
        .unwrap();
    let offline: Value = serde_json::from_slice(&grade.stdout).unwrap_or_else(|error| {
        panic!(
            "grade printed no JSON ({error}): {}",
            String::from_utf8_lossy(&grade.stderr)
        )
    });
    (live, summary, offline, grade.status.code().unwrap_or(-1))
}

fn verdicts(report: &Value) -> Vec<(String, bool)> {
    report["total"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| {
            (
                line["id"].as_str().unwrap().to_string(),
                line["pass"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn naive_fails_every_rule(program: &str, script: &str) {
    if !available(program) {
        return;
    }
    let (live, summary, offline, code) = graded(program, script);
    let failed: Vec<String> = verdicts(&live)
        .into_iter()
        .filter(|(_, pass)| !pass)
        .map(|(id, _)| id)
        .collect();
    let passed: Vec<&Value> = live["total"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|line| line["pass"] == true)
        .collect();
    assert_eq!(
        failed, RULES,
        "{script} ({summary}) should fail every rule, but passes {passed:#?}"
    );
    for line in live["total"]["lines"].as_array().unwrap() {
        let worst = &line["worst"];
        assert!(
            worst["t_s"].is_number() && worst["method"].is_string(),
            "a failed line names its worst example: {line}"
        );
    }
    assert_eq!(
        verdicts(&offline),
        verdicts(&live),
        "grade gives the same verdicts from the record"
    );
    assert_eq!(offline["total"]["requests"], live["total"]["requests"]);
    assert_eq!(code, 1, "grade exits 1 when a rule fails");
}

fn careful_passes_every_rule(program: &str, script: &str) {
    if !available(program) {
        return;
    }
    let (live, summary, offline, code) = graded(program, script);
    let client: Value =
        serde_json::from_str(summary.trim()).unwrap_or_else(|_| panic!("{script} printed {summary:?}"));
    assert_eq!(client["gave_up"], 0, "{summary}");
    assert_eq!(client["final_4xx"], 1, "the missing user, and only it: {summary}");
    let failed: Vec<String> = verdicts(&live)
        .into_iter()
        .filter(|(_, pass)| !pass)
        .map(|(id, _)| id)
        .collect();
    assert!(failed.is_empty(), "{script} fails {failed:?}: {live:#}");
    assert!(
        live["total"]["requests"].as_u64().unwrap() > 30,
        "it did the work: {live}"
    );
    assert_eq!(
        verdicts(&offline),
        verdicts(&live),
        "grade gives the same verdicts from the record"
    );
    assert_eq!(code, 0, "grade exits 0 when every rule passes");
}

#[test]
fn python_naive_client_fails_every_rule() {
    naive_fails_every_rule("python3", "naive.py");
}

#[test]
fn python_careful_client_passes_every_rule() {
    careful_passes_every_rule("python3", "careful.py");
}

#[test]
fn node_naive_client_fails_every_rule() {
    naive_fails_every_rule("node", "naive.mjs");
}

#[test]
fn node_careful_client_passes_every_rule() {
    careful_passes_every_rule("node", "careful.mjs");
}
