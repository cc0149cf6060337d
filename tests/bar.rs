//! The bar herdsim's own client must clear: on every shipped scenario (its quick version, in the
//! fast network mode, over three seeds), no peer preset that finishes as much work, losing none,
//! and sends no more into seen Retry-Afters, beats the default on makespan by more than 2%
//! without wasting more attempts, or on wasted attempts without taking longer (nor faster by less
//! than two round trips of the scenario's latency, which is noise in sub-second runs). A peer
//! that was faster by sending while the platform had said to wait did not beat it: it took what
//! the platform asked to keep. `scripts/compare-all` writes the full-size table
//! (`docs/compare.md`).

use std::sync::Mutex;

use herd_sim::scenario::{library, Scenario};
use herd_sim::sweep;

#[test]
fn no_peer_beats_the_default_on_any_shipped_scenario() {
    let points = sweep::grid(&[sweep::every_preset()]);
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let mut beaten = Vec::new();
    let mut compared = 0;
    for shipped in library::shipped() {
        let base = shipped.load(&[]).unwrap();
        let mut overrides = base.small.clone();
        overrides.push("network.mode=\"fast\"".to_string());
        let scenarios: Vec<Scenario> = points
            .iter()
            .map(|point| {
                let mut all = overrides.clone();
                all.extend(sweep::overrides(point));
                shipped.load(&all).unwrap()
            })
            .collect();
        let seeds = base.seed..base.seed + 3;
        let jobs = sweep::jobs(1, points.len(), seeds, None);
        let records = Mutex::new(Vec::new());
        sweep::execute(
            &sweep::Plan::grid(&scenarios, &[], &points),
            &jobs,
            threads,
            &|record| {
                records.lock().unwrap().push(record);
            },
        );
        let summary = sweep::summarize(&records.into_inner().unwrap(), &points);
        let herdsim = summary
            .points
            .iter()
            .find(|point| point.point["preset"].contains("herdsim"))
            .expect("the default is compared");
        assert_eq!(
            herdsim.runs_losing_work, 0,
            "{}: the default lost work",
            base.name
        );
        assert_eq!(
            herdsim.early_sends.p95, 0.0,
            "{}: the default sent into a Retry-After it had been told",
            base.name
        );
        for peer in &summary.points {
            if std::ptr::eq(peer, herdsim)
                || peer.runs_losing_work > 0
                || peer.failed_runs > 0
                || peer.ok.median < herdsim.ok.median
                || peer.early_sends.median > herdsim.early_sends.median
            {
                continue;
            }
            compared += 1;
            let (m, w) = (peer.makespan_s.median, peer.wasted_attempts.median);
            let (hm, hw) = (herdsim.makespan_s.median, herdsim.wasted_attempts.median);
            // A sub-second run differs by a round trip or two of latency between presets that
            // send different requests (each draws its own latency): that is not a win.
            let noise_s = 4.0 * base.network.latency_ms_max as f64 / 1_000.0;
            let faster = m < 0.98 * hm && m < hm - noise_s;
            if (faster && w <= hw) || (w < hw && m <= hm) {
                beaten.push(format!(
                    "{}: {} takes {m:.3} s wasting {w:.1}, the default {hm:.3} s wasting {hw:.1}",
                    base.name, peer.point["preset"]
                ));
            }
        }
    }
    assert!(
        compared >= 20,
        "only {compared} peers finished as much work: the bar checked little"
    );
    assert!(beaten.is_empty(), "the default is beaten:\n{}", beaten.join("\n"));
}

/// The default herd with no configuration (full size, fast mode, seeds 1–3): two instances on
/// one OAuth client, 400 workers at t = 0. Over the three seeds it wastes at most 1.5% of its
/// attempts (the target is 1%: 43 of 3 643 is 1.2% today) and no seed more than 2%, at
/// 95% utilization or more, finishing every item. It wasted a fifth before the ramp.
#[test]
fn the_default_herd_wastes_about_one_percent() {
    let shipped = library::find("thundering-herd").unwrap();
    let scenario = shipped.load(&["network.mode=\"fast\"".to_string()]).unwrap();
    let (mut wasted, mut attempts) = (0, 0);
    for seed in 1..=3 {
        let run = herd_sim::run::run(&scenario, seed, &mut |_| {});
        let m = &run.metrics;
        assert_eq!(m.ok, m.items, "seed {seed}: every item done");
        assert!(
            m.quota_utilization >= 0.95,
            "seed {seed}: utilization {}",
            m.quota_utilization
        );
        assert!(
            m.wasted_attempts * 50 <= m.attempts,
            "seed {seed}: {} of {} attempts wasted",
            m.wasted_attempts,
            m.attempts
        );
        wasted += m.wasted_attempts;
        attempts += m.attempts;
    }
    assert!(
        wasted * 100 <= attempts + attempts / 2,
        "{wasted} of {attempts} attempts wasted over three seeds"
    );
}
