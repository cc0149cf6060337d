//! Load and abuse tests of `herdsim serve` on loopback, bounded in count and time: slow bodies at
//! the connection limit, a hundred thousand token requests with the server's memory measured,
//! garbage connections, and secrets in query strings and headers. After each, the server still
//! serves fresh clients; its memory stays under the documented bound; no secret reaches a log
//! line, a record or a report.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The documented bound on what 100 000 token requests may add to the server's memory
/// (README, "What serve keeps"): tokens (the live cap and 10 000 remembered revoked ones), the
/// scorecard's capped state and the allocator's slack.
const TOKEN_FLOOD_RSS_GROWTH_MAX_KB: u64 = 16 * 1024;

fn address(base: &str) -> String {
    base.trim_start_matches("http://").to_string()
}

/// The server's resident memory, in KiB (Linux).
fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kb| kb.parse().ok())
        })
        .unwrap_or(0)
}

/// A fresh client's answer: the status of one request on a new connection, or 0.
fn fresh_status(base: &str) -> u16 {
    let Ok(mut stream) = TcpStream::connect(address(base)) else {
        return 0;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = stream.write_all(b"GET /api/v2/users HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

fn scenario_file(dir: &std::path::Path, extra: &str) -> String {
    let path = dir.join("abuse.toml");
    std::fs::write(
        &path,
        format!("name = \"abuse\"\ndescription = \"abuse tests\"\n[gateway]\nplatform = \"genesys\"\n{extra}\n[workload]\nkind = \"read\"\noperations = 1\n"),
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn slow_bodies_at_the_connection_limit_are_cut_and_fresh_clients_are_served_again() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_file(dir.path(), "");
    let (mut server, mut stdout, base) = support::spawn_serve(&[
        &scenario,
        "--max-connections",
        "32",
        "--body-timeout-s",
        "2",
        "--log-format",
        "none",
    ]);
    let mut slow = Vec::new();
    for _ in 0..32 {
        let mut stream = TcpStream::connect(address(&base)).unwrap();
        stream
            .write_all(b"POST /api/v2/users HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"na")
            .unwrap();
        slow.push(stream);
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(fresh_status(&base), 503, "every slot is held by a slow body");
    let started = Instant::now();
    let mut served = 0;
    while started.elapsed() < Duration::from_secs(8) {
        served = fresh_status(&base);
        if served == 401 {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        served, 401,
        "fresh clients are served once the slow bodies are cut"
    );
    for mut stream in slow {
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        assert!(
            answer.starts_with("HTTP/1.1 408"),
            "a slow body gets 408: {answer:.80}"
        );
    }
    let (status, printed) = support::stop(&mut server, &mut stdout);
    assert!(status.success());
    assert!(printed.contains("32 bodies too slow (408)"), "{printed}");
    assert!(
        printed.contains(" 0 bad requests"),
        "timeouts are not bad requests: {printed}"
    );
}

/// Sends `count` requests pipelined over one connection, in batches, and reads every answer.
fn pipelined(base: &str, request: &[u8], count: usize) -> usize {
    let mut stream = TcpStream::connect(address(base)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut answered = 0;
    let batch = 100;
    let mut sent = 0;
    while sent < count {
        let now = batch.min(count - sent);
        let mut bytes = Vec::with_capacity(request.len() * now);
        for _ in 0..now {
            bytes.extend_from_slice(request);
        }
        stream.write_all(&bytes).unwrap();
        sent += now;
        for _ in 0..now {
            let mut length = 0usize;
            let mut line = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap() == 0 {
                    return answered;
                }
                if line == "\r\n" {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            answered += 1;
        }
    }
    answered
}

#[test]
fn a_hundred_thousand_token_requests_stay_within_the_memory_bound() {
    let dir = tempfile::tempdir().unwrap();
    // The token endpoint's own limit off, so that every request is a grant.
    let scenario = scenario_file(dir.path(), "[gateway.layers]\ntoken_endpoint_rate_per_min = 0");
    let (mut server, mut stdout, base) = support::spawn_serve(&[&scenario, "--log-format", "none"]);
    let request = b"POST /oauth/token HTTP/1.1\r\nhost: x\r\nauthorization: Basic aGVyZC1hcHA6aGVyZC1zZWNyZXQ=\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 29\r\n\r\ngrant_type=client_credentials";
    assert_eq!(pipelined(&base, request, 2_000), 2_000, "warm-up");
    let before = rss_kb(server.id());
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let base = base.clone();
            std::thread::spawn(move || pipelined(&base, request, 24_500))
        })
        .collect();
    let answered: usize = threads.into_iter().map(|thread| thread.join().unwrap()).sum();
    assert_eq!(answered, 98_000);
    let after = rss_kb(server.id());
    assert!(before > 0, "RSS is readable");
    assert!(
        after.saturating_sub(before) <= TOKEN_FLOOD_RSS_GROWTH_MAX_KB,
        "100 000 token requests grew the server from {before} KiB to {after} KiB"
    );
    assert_eq!(fresh_status(&base), 401, "still serving");
    let (status, printed) = support::stop(&mut server, &mut stdout);
    assert!(status.success());
    assert!(printed.contains("tokens: 100000 issued"), "{printed}");
    eprintln!("RSS {before} KiB -> {after} KiB over 98 000 token requests");
}

#[test]
fn garbage_connections_never_stop_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_file(dir.path(), "");
    let (mut server, mut stdout, base) = support::spawn_serve(&[&scenario, "--log-format", "none"]);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for n in 0..300 {
        let Ok(mut stream) = TcpStream::connect(address(&base)) else {
            continue;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
        let length = rng.random_range(1..4_096);
        let mut bytes: Vec<u8> = (0..length).map(|_| rng.random()).collect();
        if n % 3 == 0 {
            // Half a plausible request, then garbage.
            let mut head = b"POST /oauth/token HTTP/1.1\r\ncontent-length: 99999\r\n".to_vec();
            head.append(&mut bytes);
            bytes = head;
        }
        let _ = stream.write_all(&bytes);
        if n % 2 == 0 {
            let mut sink = [0u8; 512];
            let _ = stream.read(&mut sink);
        }
        if n % 25 == 0 {
            assert_eq!(
                fresh_status(&base),
                401,
                "serving between garbage connections ({n})"
            );
        }
    }
    assert_eq!(fresh_status(&base), 401, "still serving");
    let (status, _) = support::stop(&mut server, &mut stdout);
    assert!(status.success(), "the server shut down cleanly");
}

#[test]
fn secrets_in_query_strings_and_headers_reach_no_log_record_or_report() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_file(dir.path(), "");
    let record = dir.path().join("session.jsonl");
    let report = dir.path().join("report");
    let secrets = [
        "q-client-s3cret",
        "q-passw0rd",
        "q-access-t0ken",
        "q-assert10n",
        "h-bearer-t0ken",
        "h-basic-s3cret",
    ];
    for format in ["text", "json"] {
        let (mut server, mut stdout, base) = support::spawn_serve(&[
            &scenario,
            "--log-format",
            format,
            "--record",
            record.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ]);
        let basic = base64_basic("herd-app", secrets[5]);
        let leaks = [
            format!(
                "/oauth/token?client_secret={}&grant_type=client_credentials",
                secrets[0]
            ),
            format!(
                "/api/v2/users?password={}&access_token={}",
                secrets[1], secrets[2]
            ),
            format!(
                "/api/v2/users?pageSize=1&Assertion={}&CLIENT%5FSECRET={}",
                secrets[3], secrets[0]
            ),
        ];
        for target in &leaks {
            support::http(
                &base,
                "GET",
                target,
                &[("authorization", &format!("Bearer {}", secrets[4]))],
                "",
            );
            support::http(
                &base,
                "POST",
                target,
                &[("authorization", &basic)],
                "grant_type=client_credentials",
            );
        }
        let (status, printed) = support::stop(&mut server, &mut stdout);
        assert!(status.success());
        let mut written = vec![
            ("stdout".to_string(), printed),
            ("record".to_string(), std::fs::read_to_string(&record).unwrap()),
        ];
        for entry in std::fs::read_dir(&report).unwrap() {
            let path = entry.unwrap().path();
            written.push((
                path.display().to_string(),
                String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned(),
            ));
        }
        for (name, text) in &written {
            for secret in secrets {
                assert!(!text.contains(secret), "{secret} in {name} ({format} logs)");
            }
        }
        assert!(
            written[0].1.contains("<redacted>"),
            "the log shows that something was redacted"
        );
    }
}

fn base64_basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}
