//! Whole-scenario benches and the baselines they are judged against.
//!
//! - `scenario/*`: the shipped thundering herd and token-expiry scenarios at full size
//!   (throughput: gateway requests, so criterion prints simulated requests per wall second).
//! - `per_request/*`: the same 1 200 reads by 400 workers on 2 hosts with no rate limit, through
//!   (a) the harness (client policies, gateway core, trace) on turmoil, (a') the harness in the
//!   fast network mode, (b) a bare turmoil + hyper loop with no policies carrying the same bytes
//!   (the gateway's recorded answer to a read, the same request headers), (c) the gateway core
//!   called directly on a paused tokio runtime (in memory).
//! - `scenario/*` runs each scenario in both network modes.
//! - `tick_ms/*`: the thundering herd at several turmoil tick sizes.
//! - `sweep_threads/*`: eight small runs on one thread and on two.
//!
//! `cargo bench --bench scenarios`; numbers and their ratios are in benches/README.md.

use std::sync::Mutex;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use herd_sim::{run, sweep};

mod support;

use support::{
    bare_turmoil_reads, harness_reads, in_memory_reads, run_requests, shipped, HOSTS, WORKERS_PER_HOST,
};

const READS_PER_WORKER: u32 = 3;

// Every group does its setup inside the closure criterion calls only when a filter selects the
// bench: a filtered bench pays for nothing else.

fn scenarios(c: &mut Criterion) {
    let mut group = c.benchmark_group("scenario");
    group.sample_size(10);
    for (name, mode) in [
        ("thundering-herd", "turmoil"),
        ("thundering-herd", "fast"),
        ("token-expiry", "turmoil"),
        ("token-expiry", "fast"),
    ] {
        let id = format!("{name}/{mode}");
        group.bench_function(id.clone(), |b| {
            let scenario = shipped(name, &[&format!("network.mode=\"{mode}\"")]);
            let started = std::time::Instant::now();
            let run = run::run(&scenario, 1, &mut |_| {});
            let wall = started.elapsed().as_secs_f64();
            eprintln!(
                "{id}: {} requests, {:.1} s simulated in {:.3} s wall: {:.0}x real time, {:.0} simulated requests per wall second",
                run.metrics.gateway_requests,
                run.elapsed.as_secs_f64(),
                wall,
                run.elapsed.as_secs_f64() / wall,
                run.metrics.gateway_requests as f64 / wall
            );
            b.iter(|| run_requests(&scenario));
        });
    }
    group.finish();
}

fn per_request(c: &mut Criterion) {
    let reads = u64::from(HOSTS * WORKERS_PER_HOST * READS_PER_WORKER);
    let mut group = c.benchmark_group("per_request");
    group.sample_size(20);
    group.throughput(Throughput::Elements(reads));
    group.bench_function("harness", |b| {
        let harness = harness_reads(READS_PER_WORKER);
        assert_eq!(
            run::run(&harness, 1, &mut |_| {}).metrics.ok,
            reads,
            "the harness does every read"
        );
        b.iter(|| run_requests(&harness));
    });
    group.bench_function("harness_fast", |b| {
        let mut fast = harness_reads(READS_PER_WORKER);
        fast.network.mode = herd_sim::scenario::NetworkMode::Fast;
        assert_eq!(
            run::run(&fast, 1, &mut |_| {}).metrics.ok,
            reads,
            "the fast mode does every read"
        );
        b.iter(|| run_requests(&fast));
    });
    group.bench_function("bare_turmoil_hyper", |b| {
        assert_eq!(
            bare_turmoil_reads(READS_PER_WORKER),
            reads,
            "the bare loop does every read"
        );
        b.iter(|| bare_turmoil_reads(READS_PER_WORKER));
    });
    group.bench_function("in_memory_core", |b| {
        assert_eq!(
            in_memory_reads(READS_PER_WORKER),
            reads,
            "the in-memory loop does every read"
        );
        b.iter(|| in_memory_reads(READS_PER_WORKER));
    });
    group.finish();
}

fn tick_sizes(c: &mut Criterion) {
    let mut group = c.benchmark_group("tick_ms");
    group.sample_size(10);
    for tick_ms in [1u64, 5, 10, 20] {
        group.bench_with_input(BenchmarkId::from_parameter(tick_ms), &tick_ms, |b, &tick_ms| {
            let scenario = shipped("thundering-herd", &[&format!("tick_ms={tick_ms}")]);
            let run = run::run(&scenario, 1, &mut |_| {});
            eprintln!(
                "tick {tick_ms} ms: makespan {:.2} s, {} attempts, {} 429s, latency p50 {} ms",
                run.metrics.makespan_s,
                run.metrics.attempts,
                run.metrics.responses_429,
                run.metrics.latency_ms_p50
            );
            b.iter(|| run_requests(&scenario));
        });
    }
    group.finish();
}

fn sweep_threads(c: &mut Criterion) {
    // Eight runs of the small token-expiry scenario (6 simulated minutes each), on turmoil.
    let scenario = shipped(
        "token-expiry",
        &[
            "workload.operations=60",
            "gateway.data.users=60",
            "instances.workers=4",
            "gateway.layers.token_rate_per_min=5",
            "gateway.layers.client_rate_per_min=10",
        ],
    );
    let points = vec![sweep::Point::new()];
    let jobs = sweep::jobs(1, 1, 0..8, None);
    let mut group = c.benchmark_group("sweep_threads");
    group.sample_size(10);
    group.throughput(Throughput::Elements(jobs.len() as u64));
    for threads in [1usize, 2] {
        group.bench_with_input(BenchmarkId::from_parameter(threads), &threads, |b, &threads| {
            b.iter(|| {
                let done = Mutex::new(0u32);
                sweep::execute(
                    &sweep::Plan::grid(std::slice::from_ref(&scenario), &[], &points),
                    &jobs,
                    threads,
                    &|_| *done.lock().unwrap() += 1,
                );
                done.into_inner().unwrap()
            });
        });
    }
    group.finish();
}

criterion_group!(benches, scenarios, per_request, tick_sizes, sweep_threads);
criterion_main!(benches);
