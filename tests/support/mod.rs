//! What the test files that run the `herdsim` binary share. Each test file uses some of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::time::Duration;

/// The batch engines' variables that pick a sweep's shard: cleared for every run, set only by
/// the tests of that choice.
pub const SHARD_VARIABLES: [&str; 5] = [
    "SLURM_ARRAY_TASK_ID",
    "SLURM_ARRAY_TASK_COUNT",
    "SLURM_ARRAY_TASK_MIN",
    "JOB_COMPLETION_INDEX",
    "HERDSIM_SHARD_COUNT",
];

/// `herdsim ARGS`, to the end, with no shard variable of the environment it runs in.
pub fn herdsim(args: &[&str]) -> Output {
    herdsim_with(args, &[])
}

/// `herdsim ARGS` with these environment variables (and no others of the shard's).
pub fn herdsim_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_herdsim"));
    for name in SHARD_VARIABLES {
        command.env_remove(name);
    }
    command
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("the binary runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `herdsim serve ARGS --addr 127.0.0.1:0`: the process, its stdout after the first line, and
/// the base URL that line names.
pub fn spawn_serve(args: &[&str]) -> (Child, BufReader<ChildStdout>, String) {
    let mut server = Command::new(env!("CARGO_BIN_EXE_herdsim"))
        .arg("serve")
        .args(args)
        .args(["--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(server.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let base = first
        .split_whitespace()
        .find(|word| word.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .to_string();
    (server, stdout, base)
}

/// One request over a fresh loopback connection: (status, body).
pub fn http(base: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let address = base.trim_start_matches("http://");
    let host = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("host"))
        .map_or(address, |(_, value)| value);
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers
        .iter()
        .filter(|(name, _)| !name.eq_ignore_ascii_case("host"))
    {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    std::io::Write::write_all(&mut stream, request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, body)| body.to_string());
    (status, body)
}

/// Stops a server as a service manager would (SIGTERM) and returns how it exited and the rest
/// of what it printed.
pub fn stop(server: &mut Child, stdout: &mut BufReader<ChildStdout>) -> (std::process::ExitStatus, String) {
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let status = server.wait().unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    (status, rest)
}

/// Whether a test's outside requirement is here. Under `CI=true` a missing one fails the test
/// (`scripts/test` installs it); elsewhere the test says it is skipped and checks nothing.
pub fn required(found: bool, what: &str) -> bool {
    if !found {
        assert!(
            std::env::var("CI").map_or(true, |ci| ci != "true"),
            "{what} is missing: scripts/test installs it"
        );
        eprintln!("test skipped: {what} is missing (scripts/test installs it)");
    }
    found
}
