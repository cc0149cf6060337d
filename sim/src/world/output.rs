//! What a world hands over when it ends.

use std::time::Duration;

use herd_gateway::ledger::Ledger;
use herd_gateway::GatewayStats;

use crate::trace::Trace;
use crate::world::plan::{ItemOutcomes, WorkItem};

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunEnd {
    /// Every work item has an outcome.
    Completed,
    /// The scenario's `duration_s` passed first.
    DurationLimit,
    /// A host failed (a bug: reported with its message).
    HostError,
}

/// What a world hands over when it ends: plain data, no live gateway. Everything a trace or a
/// metric needs is in here; nothing flows back into the world.
pub struct WorldOutput {
    pub end: RunEnd,
    /// A host's failure message, when `end` is `HostError`.
    pub error: Option<String>,
    pub elapsed: Duration,
    /// Every event of both sides and the network, in execution order, hashed as it came.
    pub trace: Trace,
    /// The work plan: `plan[instance][worker]`.
    pub plan: Vec<Vec<Vec<WorkItem>>>,
    /// Every item's outcome, by its number in the plan.
    pub outcomes: ItemOutcomes,
    pub ledger: Ledger,
    /// Per instance, the connections the gateway accepted from it (empty counts in the memory
    /// network, which has no connections).
    pub connections_opened: Vec<u64>,
    pub gateway_stats: GatewayStats,
}
