//! `herdsim shrink` on seeded failures: the result is smaller, still fails the same way when
//! replayed, and the same input always shrinks to the same output.

use std::process::{Command, Output};

fn herdsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_herdsim"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The value of `key = N` in a TOML text (top level or in its table), if written.
fn number(text: &str, table: &str, key: &str) -> Option<u64> {
    let mut current = String::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')) {
            current = name.to_string();
        } else if current == table {
            if let Some(value) = line.strip_prefix(&format!("{key} = ")) {
                return value.trim().parse().ok();
            }
        }
    }
    None
}

fn shrink(out: &std::path::Path, property: &str) -> Output {
    herdsim(&[
        "shrink",
        "lost-responses",
        "--small",
        "--fast",
        "--set",
        "client.idempotency_keys=false",
        "--property",
        property,
        "--out",
        out.to_str().unwrap(),
    ])
}

#[test]
fn a_preset_without_idempotency_keys_on_lost_responses_shrinks_and_still_fails() {
    let dir = tempfile::tempdir().unwrap();
    for property in ["expectations", "duplicates"] {
        let out = dir.path().join(format!("shrunk-{property}.toml"));
        let shrunk = shrink(&out, property);
        assert!(
            shrunk.status.success(),
            "{}{}",
            stdout(&shrunk),
            String::from_utf8_lossy(&shrunk.stderr)
        );
        let printed = stdout(&shrunk);
        assert!(printed.contains("replay:   herdsim run"), "{printed}");
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(
            text.starts_with("# Shrunk by `"),
            "names the original run: {text}"
        );
        assert!(text.contains("from lost-responses at seed 1"), "{text}");
        // The quick version had 5 workers and 40 operations: both shrank.
        let workers = number(&text, "instances", "workers").unwrap();
        let operations = number(&text, "workload", "operations").unwrap();
        assert!(
            workers < 5 && operations < 40,
            "{workers} workers, {operations} operations: {text}"
        );
        assert!(
            !text.contains("\nsmall = "),
            "the quick version is not applied twice"
        );
        let timeline = std::fs::read_to_string(out.with_extension("timeline.txt")).unwrap();
        assert!(
            timeline.contains("write_applied"),
            "the timeline shows the writes: {timeline}"
        );
        // Replayed by itself (its seed is written in it), it fails the same way.
        let replay = herdsim(&["run", out.to_str().unwrap()]);
        assert_eq!(replay.status.code(), Some(1), "{}", stdout(&replay));
        assert!(
            stdout(&replay).contains("duplicate writes"),
            "{}",
            stdout(&replay)
        );
    }
}

#[test]
fn the_same_input_shrinks_to_the_same_output() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (dir.path().join("a.toml"), dir.path().join("b.toml"));
    assert!(shrink(&first, "expectations").status.success());
    assert!(shrink(&second, "expectations").status.success());
    let body = |path: &std::path::Path| {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .filter(|line| !line.starts_with("# Shrunk by") && !line.starts_with("# Replay"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(body(&first), body(&second));
    assert_eq!(
        std::fs::read_to_string(first.with_extension("timeline.txt")).unwrap(),
        std::fs::read_to_string(second.with_extension("timeline.txt")).unwrap()
    );
}

#[test]
fn a_run_that_passes_has_nothing_to_shrink() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("none.toml");
    let passing = herdsim(&[
        "shrink",
        "lost-responses",
        "--small",
        "--fast",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(passing.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&passing.stderr).contains("does not fail"),
        "{}",
        String::from_utf8_lossy(&passing.stderr)
    );
    assert!(!out.exists(), "nothing written");
}
