//! The pages people look at, rendered in headless Chromium (Debian's `chromium`; `scripts/test`
//! installs it): serve's live dashboard shows the numbers its JSON endpoints give, and a run's
//! self-contained report.html draws the timeline it embeds, zoomed as its link asks.
//!
//! Without Chromium and outside CI these tests say they are skipped; under `CI=true` a missing
//! Chromium fails them.

mod support;

use std::path::Path;
use std::process::Command;

use herd_reports::html::timeline_peak;
use serde_json::Value;

const CHROMIUM: &str = "/usr/bin/chromium";

fn chromium() -> bool {
    support::required(Path::new(CHROMIUM).exists(), CHROMIUM)
}

/// The page's DOM after its scripts ran (for up to `budget_ms` of virtual time).
fn rendered(url: &str, budget_ms: u64) -> String {
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--virtual-time-budget={budget_ms}"))
        .arg("--dump-dom")
        .arg(url)
        .output()
        .expect("chromium runs");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The text of the element with `id` (elements with no child elements only).
fn text_of(dom: &str, id: &str) -> Option<String> {
    let start = dom.find(&format!("id=\"{id}\""))?;
    let open = dom[start..].find('>')? + start + 1;
    let close = dom[open..].find('<')? + open;
    Some(dom[open..close].to_string())
}

/// The cells of the table row with `id`, as text.
fn row_cells(dom: &str, id: &str) -> Vec<String> {
    let Some(start) = dom.find(&format!("id=\"{id}\"")) else {
        return Vec::new();
    };
    let end = dom[start..].find("</tr>").map_or(dom.len(), |end| start + end);
    dom[start..end]
        .split("<td")
        .skip(1)
        .filter_map(|cell| {
            let open = cell.find('>')? + 1;
            let close = cell[open..].find('<').map_or(cell.len(), |close| open + close);
            Some(cell[open..close].to_string())
        })
        .collect()
}

#[test]
fn the_live_dashboard_renders_the_numbers_of_its_json_endpoints() {
    if !chromium() {
        return;
    }
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/clients/referee.toml");
    let (mut server, mut stdout, base) =
        support::spawn_serve(&[scenario.to_str().unwrap(), "--log-format", "none"]);
    let basic = [("authorization", "Basic aGVyZC1hcHA6aGVyZC1zZWNyZXQ=")];
    let mut token = String::new();
    for _ in 0..5 {
        let (_, body) = support::http(
            &base,
            "POST",
            "/oauth/token",
            &basic,
            "grant_type=client_credentials",
        );
        token = serde_json::from_str::<Value>(&body).unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_string();
    }
    let bearer = [("authorization", format!("Bearer {token}"))];
    let bearer: Vec<(&str, &str)> = bearer
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect();
    for _ in 0..70 {
        support::http(
            &base,
            "GET",
            "/api/v2/users/6a1f0000-0000-4000-8000-00000000dead",
            &bearer,
            "",
        );
    }
    let report: Value =
        serde_json::from_str(&support::http(&base, "GET", "/__herdsim/report", &[], "").1).unwrap();
    let live: Value =
        serde_json::from_str(&support::http(&base, "GET", "/__herdsim/live", &[], "").1).unwrap();
    let (moved, _) = support::http(&base, "GET", "/__herdsim", &[], "");
    assert_eq!(moved, 308, "the page without its slash sends the browser to it");
    let dom = rendered(&format!("{base}/__herdsim"), 3_000);
    assert_eq!(
        text_of(&dom, "total-requests"),
        Some(report["total"]["requests"].to_string()),
        "{dom:.400}"
    );
    assert_eq!(
        text_of(&dom, "total-429").unwrap(),
        report["total"]["rate_limited"].to_string()
    );
    assert_eq!(
        text_of(&dom, "total-tokens").unwrap(),
        report["total"]["token_requests"].to_string()
    );
    assert_eq!(
        text_of(&dom, "verdict").unwrap(),
        if report["pass"] == true { "PASS" } else { "FAIL" }
    );
    assert!(
        report["total"]["rate_limited"].as_u64().unwrap() > 0,
        "the page has 429s to show"
    );
    for line in report["total"]["lines"].as_array().unwrap() {
        let cells = row_cells(&dom, &format!("rule-{}", line["id"].as_str().unwrap()));
        assert_eq!(
            cells.get(1),
            Some(&line["value"].to_string()),
            "{}: {cells:?}",
            line["id"]
        );
        let verdict = if line["pass"] == true { "pass" } else { "FAIL" };
        assert_eq!(cells.get(3).map(String::as_str), Some(verdict), "{}", line["id"]);
    }
    let shown_buckets = dom.matches("class=\"bucket\"").count();
    assert_eq!(
        shown_buckets,
        live["buckets"].as_array().unwrap().len(),
        "one row per live bucket"
    );
    assert!(shown_buckets > 0);
    assert!(dom.contains("<canvas id=\"rps\""));
    let (status, _) = support::stop(&mut server, &mut stdout);
    assert!(status.success());
}

#[test]
fn a_runs_report_html_draws_its_timeline_and_zooms_to_the_first_second() {
    if !chromium() {
        return;
    }
    let scenario = herd_sim::scenario::library::find("thundering-herd")
        .unwrap()
        .load(&["network.mode=\"fast\"".to_string()])
        .unwrap();
    let run = herd_sim::run::run(&scenario, 1, &mut |_| {});
    let dir = tempfile::tempdir().unwrap();
    herd_reports::write_run(
        dir.path(),
        &herd_reports::RunReport {
            scenario: &scenario,
            seed: 1,
            command: "herdsim run --fast",
            run: &run,
        },
    )
    .unwrap();
    let points = herd_reports::trace_points(&run.trace);
    let page = dir.path().join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "self-contained: nothing fetched"
    );
    let end_s = points.last().unwrap().0 as f64 / 1e6;
    let whole = rendered(&format!("file://{}", page.display()), 1_000);
    assert_eq!(
        text_of(&whole, "shown").unwrap(),
        points
            .iter()
            .filter(|(t, _)| (*t as f64 / 1e6) < end_s)
            .count()
            .to_string()
    );
    assert_eq!(
        text_of(&whole, "peak").unwrap(),
        timeline_peak(&points, 0.0, end_s).to_string()
    );
    let zoomed = rendered(&format!("file://{}#from=0&to=1", page.display()), 1_000);
    let in_first_second = points.iter().filter(|(t, _)| *t < 1_000_000).count();
    assert_eq!(text_of(&zoomed, "shown").unwrap(), in_first_second.to_string());
    let zoomed_peak = timeline_peak(&points, 0.0, 1.0);
    assert_eq!(text_of(&zoomed, "peak").unwrap(), zoomed_peak.to_string());
    assert!(
        zoomed_peak * 4 < in_first_second as u64,
        "zoomed in, the first second is many bars, not one: peak {zoomed_peak} of {in_first_second}"
    );
    let rate_limited = points.iter().filter(|(_, class)| *class == 1).count();
    assert!(
        whole.contains(&format!("429 {rate_limited}")),
        "the legend counts the 429s ({rate_limited})"
    );
}
