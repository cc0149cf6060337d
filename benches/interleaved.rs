//! The interleaved, paired driver: the measures of benches/README.md, each taken side by side in
//! one process, so that drift of a shared machine lands in both sides of a ratio.
//!
//! - `per_request`: the four per-request variants (harness on turmoil, harness in the fast mode,
//!   bare turmoil + hyper, the in-memory core) at 1 200 and 12 000 reads, run round by round in
//!   a rotating order; each round gives its own ratios, and the medians are reported.
//! - `phases`: a fast herd run split into the world, the trace, the metrics and the drop: how
//!   much of a run is bookkeeping after the world.
//! - `memory`: the peak resident memory of a fast herd run, per operation.
//! - `scaling`: the cost per request of the fast mode from 100 to 20 000 workers, same work.
//! - `herd_1m`: a 1 000 000-operation herd in the fast mode: its wall time and peak heap.
//! - `sweep`: the 100-seed × 16-point herd sweep on 2 threads, fast and on turmoil.
//!
//! `cargo bench --bench interleaved [-- SECTION...]` (default: every section but `herd_1m` and
//! `sweep`, which take minutes; name them to run them). `INTERLEAVED_ROUNDS` sets the rounds.
//! Under `cargo test` it runs one small round of the quick sections, as a smoke test.

use std::sync::Mutex;
use std::time::Instant;

use herd_sim::scenario::{NetworkMode, Scenario};
use herd_sim::{metrics, run, sweep, trace, world};

mod support;

use support::{bare_turmoil_reads, harness_reads, in_memory_reads, shipped, HOSTS, WORKERS_PER_HOST};

/// A field of `/proc/self/status`, in KiB (Linux).
fn status_kb(field: &str) -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with(field))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kb| kb.parse().ok())
        })
        .unwrap_or(0)
}

/// The peak resident memory above what was resident when `work` started, in bytes: the peak is
/// reset first (`/proc/self/clear_refs`), then read (`VmHWM`).
fn peak_memory_of<T>(work: impl FnOnce() -> T) -> (T, usize) {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let base = status_kb("VmRSS:");
    let value = work();
    (value, status_kb("VmHWM:").saturating_sub(base) * 1024)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

fn timed<T>(work: impl FnOnce() -> T) -> (T, f64) {
    let started = Instant::now();
    let value = work();
    (value, started.elapsed().as_secs_f64())
}

/// A per-request variant: its name and one run of it (returning the reads done).
type Variant<'a> = (&'static str, Box<dyn Fn() -> u64 + 'a>);

struct Options {
    rounds: usize,
    smoke: bool,
}

fn per_request(options: &Options) {
    let sizes: &[u32] = if options.smoke { &[1] } else { &[3, 30] };
    println!(
        "## per_request: medians of {} rounds, variants interleaved",
        options.rounds
    );
    let mut marginal: Vec<(u32, [f64; 4])> = Vec::new();
    for &reads_per_worker in sizes {
        let reads = f64::from(HOSTS * WORKERS_PER_HOST * reads_per_worker);
        let harness = harness_reads(reads_per_worker);
        let mut fast = harness.clone();
        fast.network.mode = NetworkMode::Fast;
        let variants: [Variant<'_>; 4] = [
            (
                "harness (turmoil)",
                Box::new(|| run::run(&harness, 1, &mut |_| {}).metrics.ok),
            ),
            (
                "harness (fast)",
                Box::new(|| run::run(&fast, 1, &mut |_| {}).metrics.ok),
            ),
            (
                "bare turmoil + hyper",
                Box::new(move || bare_turmoil_reads(reads_per_worker)),
            ),
            (
                "in-memory core",
                Box::new(move || in_memory_reads(reads_per_worker)),
            ),
        ];
        let mut times: [Vec<f64>; 4] = Default::default();
        let (mut turmoil_ratio, mut fast_ratio) = (Vec::new(), Vec::new());
        for round in 0..options.rounds {
            let mut this = [0.0; 4];
            for offset in 0..4 {
                let index = (round + offset) % 4;
                let (done, seconds) = timed(&variants[index].1);
                assert_eq!(done as f64, reads, "{} did every read", variants[index].0);
                this[index] = seconds;
                times[index].push(seconds);
            }
            turmoil_ratio.push(this[0] / this[2]);
            fast_ratio.push(this[1] / this[3]);
        }
        println!("\n{} reads:", reads as u64);
        let mut medians = [0.0; 4];
        for (index, (name, _)) in variants.iter().enumerate() {
            medians[index] = median(&mut times[index]);
            println!(
                "  {name:<22} {:>9.2} ms  {:>9.0} requests/s",
                medians[index] * 1e3,
                reads / medians[index]
            );
        }
        println!(
            "  harness ÷ bare turmoil + hyper: {:.2}×   fast ÷ in-memory core: {:.2}×",
            median(&mut turmoil_ratio),
            median(&mut fast_ratio)
        );
        marginal.push((reads_per_worker, medians));
    }
    if let [(small_reads, small), (large_reads, large)] = marginal.as_slice() {
        let extra = f64::from(HOSTS * WORKERS_PER_HOST * (large_reads - small_reads));
        let per = |index: usize| (large[index] - small[index]) / extra * 1e6;
        println!(
            "\nper marginal request: harness {:.2} µs, fast {:.2} µs, bare {:.2} µs, in-memory {:.2} µs; harness ÷ bare {:.2}×, fast ÷ in-memory {:.2}×",
            per(0),
            per(1),
            per(2),
            per(3),
            per(0) / per(2),
            per(1) / per(3)
        );
    }
}

fn fast_herd(overrides: &[&str]) -> Scenario {
    let mut all = vec!["network.mode=\"fast\""];
    all.extend_from_slice(overrides);
    shipped("thundering-herd", &all)
}

fn phases(options: &Options) {
    let scenario = fast_herd(if options.smoke {
        &["workload.operations=200"]
    } else {
        &[]
    });
    phases_of("a fast herd run", &scenario, options);
    let mut reads = harness_reads(if options.smoke { 1 } else { 3 });
    reads.network.mode = NetworkMode::Fast;
    phases_of("the fast per-request reads", &reads, options);
}

fn phases_of(what: &str, scenario: &Scenario, options: &Options) {
    let mut parts: [Vec<f64>; 4] = Default::default();
    for _ in 0..options.rounds.max(3) {
        let (mut output, world_s) = timed(|| world::simulate(scenario, 1, &mut |_| {}));
        let trace = std::mem::replace(&mut output.trace, trace::Trace::new(Vec::new()));
        // What hashing costs inside the world: the same records hashed again, on their own.
        let ((), hash_s) = timed(|| {
            let mut hasher = trace::LineHasher::default();
            trace.records().iter().for_each(|record| hasher.add(record));
            assert_eq!(hasher.finish(), trace.hash());
        });
        let (metrics, metrics_s) = timed(|| metrics::compute(scenario, &output, &trace));
        let ((), drop_s) = timed(move || drop((output, trace, metrics)));
        for (index, seconds) in [world_s, hash_s, metrics_s, drop_s].into_iter().enumerate() {
            parts[index].push(seconds);
        }
    }
    let medians: Vec<f64> = parts.iter_mut().map(|part| median(part)).collect();
    let total = medians[0] + medians[2] + medians[3];
    println!("\n## phases of {what} (medians)");
    println!(
        "  world     {:>8.2} ms  {:>5.1}%  (of which hashing the trace as it goes: {:.2} ms)",
        medians[0] * 1e3,
        medians[0] / total * 100.0,
        medians[1] * 1e3
    );
    println!(
        "  metrics   {:>8.2} ms  {:>5.1}%",
        medians[2] * 1e3,
        medians[2] / total * 100.0
    );
    println!(
        "  drop      {:>8.2} ms  {:>5.1}%",
        medians[3] * 1e3,
        medians[3] / total * 100.0
    );
    println!(
        "  bookkeeping after the world: {:.1}% of the run",
        (medians[2] + medians[3]) / total * 100.0
    );
}

fn memory(options: &Options) {
    let operations: u64 = if options.smoke { 200 } else { 20_000 };
    let scenario = fast_herd(&[&format!("workload.operations={operations}")]);
    let (run, peak) = peak_memory_of(|| run::run(&scenario, 1, &mut |_| {}));
    println!(
        "\n## memory: a fast herd of {operations} operations ({} trace events) peaks at {:.1} MB resident: {:.0} B per operation",
        run.trace.records().len(),
        peak as f64 / 1e6,
        peak as f64 / operations as f64
    );
}

fn scaling(options: &Options) {
    let operations = if options.smoke { 400 } else { 40_000 };
    let workers: &[u64] = if options.smoke {
        &[10, 100]
    } else {
        &[100, 1_000, 20_000]
    };
    println!("\n## scaling: {operations} reads in the fast mode, no limit in the way (median of rounds)");
    let scenarios: Vec<(u64, Scenario)> = workers
        .iter()
        .map(|&count| {
            // Two instances (an instance holds at most 10 000 workers).
            let scenario = fast_herd(&[
                "instances.count=2",
                &format!("instances.workers={}", count / 2),
                &format!("workload.operations={operations}"),
                "gateway.layers.token_rate_per_min=0",
                "gateway.layers.client_rate_per_min=0",
            ]);
            (count, scenario)
        })
        .collect();
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); scenarios.len()];
    let mut requests = vec![0u64; scenarios.len()];
    for round in 0..options.rounds.max(3) {
        for offset in 0..scenarios.len() {
            let index = (round + offset) % scenarios.len();
            let (run, seconds) = timed(|| run::run(&scenarios[index].1, 1, &mut |_| {}));
            requests[index] = run.metrics.gateway_requests;
            times[index].push(seconds);
        }
    }
    let per: Vec<f64> = times
        .iter_mut()
        .zip(&requests)
        .map(|(time, requests)| median(time) / *requests as f64 * 1e9)
        .collect();
    for ((count, _), ns) in scenarios.iter().zip(&per) {
        println!("  {count:>6} workers: {ns:>7.0} ns per request");
    }
    println!(
        "  cost per request, {} → {} workers: {:.2}×",
        workers[0],
        workers[workers.len() - 1],
        per[per.len() - 1] / per[0]
    );
}

fn herd_1m() {
    // 20 000 workers on two instances, the layers at their largest (1 000 000 per minute), so
    // that a million operations can finish: the herd at t = 0, then the limits' pace.
    let scenario = fast_herd(&[
        "instances.count=2",
        "instances.workers=10000",
        "workload.operations=1000000",
        "gateway.layers.token_rate_per_min=1000000",
        "gateway.layers.client_rate_per_min=1000000",
        "duration_s=7200",
    ]);
    let ((run, peak), seconds) = timed(|| peak_memory_of(|| run::run(&scenario, 1, &mut |_| {})));
    println!(
        "\n## herd_1m: 1 000 000 operations by 20 000 workers in the fast mode: {seconds:.1} s wall, {} ok, {} gateway requests, peak resident {:.2} GB ({:.0} B per operation), makespan {:.0} s simulated",
        run.metrics.ok,
        run.metrics.gateway_requests,
        peak as f64 / 1e9,
        peak as f64 / 1e6,
        run.metrics.makespan_s
    );
}

fn sweep_herd() {
    println!("\n## sweep: the herd, 16 points × 100 seeds on 2 threads");
    for mode in ["fast", "turmoil"] {
        let points = sweep::grid(&[
            sweep::Param {
                key: "client.concurrency".into(),
                values: ["4", "8", "16", "32"].map(String::from).to_vec(),
            },
            sweep::Param {
                key: "client.backoff.jitter".into(),
                values: ["none", "full", "equal", "decorrelated"]
                    .map(String::from)
                    .to_vec(),
            },
        ]);
        let scenarios: Vec<Scenario> = points
            .iter()
            .map(|point| {
                let mut overrides = vec![format!("network.mode=\"{mode}\"")];
                overrides.extend(sweep::overrides(point));
                let overrides: Vec<&str> = overrides.iter().map(String::as_str).collect();
                shipped("thundering-herd", &overrides)
            })
            .collect();
        let jobs = sweep::jobs(1, points.len(), 0..100, None);
        let done = Mutex::new(0u32);
        let ((), seconds) = timed(|| {
            sweep::execute(&sweep::Plan::grid(&scenarios, &[], &points), &jobs, 2, &|_| {
                *done.lock().unwrap() += 1;
            });
        });
        println!(
            "  {mode:<8} {} runs in {seconds:.1} s",
            done.into_inner().unwrap()
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let smoke = !args.iter().any(|arg| arg == "--bench");
    let sections: Vec<&str> = args
        .iter()
        .filter(|arg| !arg.starts_with("--"))
        .map(String::as_str)
        .collect();
    let rounds = std::env::var("INTERLEAVED_ROUNDS")
        .ok()
        .and_then(|rounds| rounds.parse().ok())
        .unwrap_or(if smoke { 1 } else { 11 });
    let options = Options { rounds, smoke };
    let wanted = |name: &str, by_default: bool| {
        if sections.is_empty() {
            by_default
        } else {
            sections.contains(&name)
        }
    };
    let started = Instant::now();
    // Memory first: the peak resident size of a fresh process is not hidden by memory that
    // earlier sections freed and the allocator kept.
    if wanted("memory", true) {
        memory(&options);
    }
    if wanted("per_request", true) {
        per_request(&options);
    }
    if wanted("phases", true) {
        phases(&options);
    }
    if wanted("scaling", true) {
        scaling(&options);
    }
    if !smoke && wanted("herd_1m", false) {
        herd_1m();
    }
    if !smoke && wanted("sweep", false) {
        sweep_herd();
    }
    println!("\n(interleaved driver: {:.1} s)", started.elapsed().as_secs_f64());
}
