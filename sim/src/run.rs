//! The one owner of the pipeline: scenario → world → trace → metrics → expectations. It is the
//! only module that calls both the world and the metrics; nothing downstream reaches back.
//!
//! ```text
//!  Scenario + seed
//!      │ world::simulate            (turmoil or the memory network; gateway, instances, schedule)
//!      ▼
//!  WorldOutput { trace, plan, outcomes, ledger, gateway_stats, end, elapsed }
//!      │   (the trace: records in execution order, SHA-256 taken as each arrived)
//!      │ metrics::compute           (reads the output and the trace, never the live gateway)
//!      │ metrics::check             (the scenario's [expect])
//!      ▼
//!  Run { trace, metrics, failures } ──► herd-reports (tables, timelines, charts)
//! ```

use std::time::Duration;

use crate::metrics::{self, Metrics};
use crate::scenario::Scenario;
use crate::trace::Trace;
use crate::world;

pub use crate::world::RunEnd;

/// One finished run.
pub struct Run {
    pub scenario: String,
    pub seed: u64,
    pub end: RunEnd,
    pub error: Option<String>,
    pub elapsed: Duration,
    pub trace: Trace,
    pub metrics: Metrics,
    /// Failed expectations of the scenario (empty when the run passed its own assertions).
    pub failures: Vec<String>,
}

/// Runs `scenario` with `seed`. Progress (simulated time so far) goes to `progress`.
pub fn run(scenario: &Scenario, seed: u64, progress: &mut dyn FnMut(Duration)) -> Run {
    let mut output = world::simulate(scenario, seed, progress);
    let trace = std::mem::replace(&mut output.trace, Trace::new(Vec::new()));
    let metrics = metrics::compute(scenario, &output, &trace);
    let failures = metrics::check(scenario, &metrics, output.end);
    Run {
        scenario: scenario.name.clone(),
        seed,
        end: output.end,
        error: output.error,
        elapsed: output.elapsed,
        trace,
        metrics,
        failures,
    }
}
