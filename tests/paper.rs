//! The paper check: the ranking of Brooker's "Exponential Backoff And Jitter" (AWS Architecture
//! Blog, 2015) reproduced with the `contention` scenario. N clients read and conditionally
//! update one record; losers get 409, back off, re-read and retry. Over N = 10..50 and several
//! seeds: exponential backoff without jitter does far more work and takes far longer than full
//! jitter; full jitter does (within noise) the least work; decorrelated jitter finishes close to
//! or ahead of full jitter. (docs/retry-libraries.md §2.1 has the simulator's own numbers: at
//! N ≤ 50 full and decorrelated are within a few percent of each other in work there too.)

use std::collections::BTreeMap;
use std::sync::Mutex;

use herd_sim::scenario::{library, Scenario};
use herd_sim::sweep::{self, Param};

/// Mean (makespan s, attempts) per (workers, jitter) over the seeds.
fn contention_grid(
    workers: &[u32],
    jitters: &[&str],
    seeds: std::ops::Range<u64>,
) -> BTreeMap<(u32, String), (f64, f64)> {
    let params = [
        Param {
            key: "instances.workers".into(),
            values: workers.iter().map(u32::to_string).collect(),
        },
        Param {
            key: "client.backoff.jitter".into(),
            values: jitters.iter().map(std::string::ToString::to_string).collect(),
        },
    ];
    let points = sweep::grid(&params);
    let contention = library::find("contention").expect("a shipped scenario");
    let scenarios: Vec<Scenario> = points
        .iter()
        .map(|point| contention.load(&sweep::overrides(point)).unwrap())
        .collect();
    let jobs = sweep::jobs(1, points.len(), seeds.clone(), None);
    let records = Mutex::new(Vec::new());
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    sweep::execute(
        &sweep::Plan::grid(&scenarios, &[], &points),
        &jobs,
        threads,
        &|record| {
            records.lock().unwrap().push(record);
        },
    );
    let mut sums: BTreeMap<(u32, String), (f64, f64, f64)> = BTreeMap::new();
    for record in records.into_inner().unwrap() {
        assert!(
            record.failures.is_empty(),
            "{:?}: {:?}",
            record.point,
            record.failures
        );
        let key = (
            record.point["instances.workers"].parse().unwrap(),
            record.point["client.backoff.jitter"].clone(),
        );
        let entry = sums.entry(key).or_insert((0.0, 0.0, 0.0));
        entry.0 += record.metrics.makespan_s;
        entry.1 += record.metrics.attempts as f64;
        entry.2 += 1.0;
    }
    sums.into_iter()
        .map(|(key, (time, work, n))| (key, (time / n, work / n)))
        .collect()
}

#[test]
fn the_ranking_of_the_aws_backoff_and_jitter_study_holds() {
    let jitters = ["none", "full", "equal", "decorrelated"];
    let grid = contention_grid(&[10, 20, 30, 40, 50], &jitters, 0..4);
    let mut table = String::from("N   jitter          time s   attempts\n");
    for ((n, jitter), (time, work)) in &grid {
        table.push_str(&format!("{n:<3} {jitter:<14} {time:>7.2} {work:>10.0}\n"));
    }
    for n in [10, 20, 30, 40, 50] {
        let at = |jitter: &str| grid[&(n, jitter.to_string())];
        let ((none_t, none_w), (full_t, full_w), (equal_t, equal_w), (decor_t, decor_w)) =
            (at("none"), at("full"), at("equal"), at("decorrelated"));
        // No jitter: the clients stay in lockstep, one wins per round.
        assert!(
            none_t > 5.0 * full_t,
            "N={n}: no jitter should take far longer than full jitter\n{table}"
        );
        let work_factor = if n >= 30 { 2.0 } else { 1.2 };
        assert!(
            none_w > work_factor * full_w,
            "N={n}: no jitter should do far more work than full jitter\n{table}"
        );
        // Full jitter does the least work, within noise; less than equal jitter.
        let least = full_w.min(equal_w).min(decor_w);
        assert!(
            full_w <= 1.2 * least,
            "N={n}: full jitter should do (about) the least work\n{table}"
        );
        assert!(
            full_w < equal_w,
            "N={n}: full jitter should do less work than equal jitter\n{table}"
        );
        assert!(
            full_t < equal_t,
            "N={n}: full jitter should finish before equal jitter\n{table}"
        );
        // Decorrelated finishes close to or ahead of full jitter.
        assert!(
            decor_t <= 1.2 * full_t,
            "N={n}: decorrelated should finish close to or ahead of full jitter\n{table}"
        );
    }
    println!("{table}");
}
