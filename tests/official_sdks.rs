//! The official Genesys Cloud SDKs, configured as their documentation says, against
//! `herdsim serve` (`shared/reference/official-sdks-measured.md`): the Python SDK with
//! `configuration.host = "http://127.0.0.1:PORT"` (its login URL then stays on the address, which
//! serves both hosts), the JavaScript SDK with `setGateway({host, protocol: "http", port})`.
//!
//! `scripts/test` installs both under `target/sdks` and sets `HERDSIM_SDKS`. Run without it
//! (plain `cargo test`), these tests say so and check nothing; under `CI=true` a missing SDK is a
//! failure.

mod support;

use std::path::PathBuf;
use std::process::Command;

fn sdks() -> Option<PathBuf> {
    let dir = std::env::var_os("HERDSIM_SDKS");
    if !support::required(dir.is_some(), "HERDSIM_SDKS (the official SDKs)") {
        return None;
    }
    dir.map(PathBuf::from)
}

/// Serves a scenario whose analytics jobs take a second, runs `program args… PORT`, and returns
/// what the program printed and the server's log.
fn against_serve(program: &PathBuf, script: &str, env: &[(&str, PathBuf)]) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("sdk.toml");
    std::fs::write(
        &scenario,
        "name = \"sdk\"\ndescription = \"the official SDKs\"\n[gateway]\nplatform = \"genesys\"\n[gateway.data]\njob_duration_s = 1\n[workload]\nkind = \"read\"\noperations = 1\n",
    )
    .unwrap();
    let (mut server, mut stdout, base) = support::spawn_serve(&[scenario.to_str().unwrap()]);
    let port = base
        .rsplit(':')
        .next()
        .map(|rest| rest.trim_end_matches(|c: char| !c.is_ascii_digit()).to_string())
        .unwrap_or_else(|| panic!("no port in {base:?}"));
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sdk")
        .join(script);
    let mut command = Command::new("timeout");
    command.arg("120").arg(program).arg(&script).arg(&port);
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().unwrap();
    let (_, log) = support::stop(&mut server, &mut stdout);
    let printed = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{} failed:\n{printed}\n{}\nserver log:\n{log}",
        script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    (printed, log)
}

#[test]
fn the_python_sdk_runs_against_serve_as_configured_by_its_docs() {
    let Some(sdks) = sdks() else { return };
    let (printed, log) = against_serve(&sdks.join("venv/bin/python"), "genesys_python.py", &[]);
    assert!(printed.contains("analytics job ok"), "{printed}");
    assert!(
        log.contains("POST   /oauth/token 200") && log.contains("(both)"),
        "the token request went to the address, which serves both hosts:\n{log}"
    );
}

#[test]
fn the_javascript_sdk_runs_against_serve_through_set_gateway() {
    let Some(sdks) = sdks() else { return };
    let (printed, _) = against_serve(
        &PathBuf::from("node"),
        "genesys_javascript.js",
        &[("NODE_PATH", sdks.join("node/node_modules"))],
    );
    assert!(printed.contains("cursor paging ok"), "{printed}");
}
