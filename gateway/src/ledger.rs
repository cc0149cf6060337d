//! The side-effect ledger: every write the gateway applied, in order. Duplicate and lost writes are
//! counted from it exactly, never estimated.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::time::SimTime;

/// The kind of an applied write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteOp {
    /// `PATCH /api/v2/users/{id}`, an item of `PATCH /api/v2/users/bulk`, or CXone `PUT /agents/{id}`.
    UpdateUser,
    /// `POST /api/v2/quality/conversations/{conversationId}/evaluations`: key = conversation id.
    CreateEvaluation,
    /// An item of CXone `POST /agents`: key = `userName`.
    CreateAgent,
    /// Genesys `POST /api/v2/users`: key = the email.
    CreateUser,
    /// Genesys `POST /api/v2/analytics/conversations/details/jobs`: key = the query's `interval`.
    SubmitJob,
}

impl WriteOp {
    pub fn as_str(self) -> &'static str {
        match self {
            WriteOp::UpdateUser => "update_user",
            WriteOp::CreateEvaluation => "create_evaluation",
            WriteOp::CreateAgent => "create_agent",
            WriteOp::CreateUser => "create_user",
            WriteOp::SubmitJob => "submit_job",
        }
    }

    /// Creates are not idempotent: applying one twice for the same business key is a duplicate.
    pub fn is_create(self) -> bool {
        matches!(
            self,
            WriteOp::CreateEvaluation | WriteOp::CreateAgent | WriteOp::CreateUser | WriteOp::SubmitJob
        )
    }
}

/// One applied write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Write {
    pub at: SimTime,
    pub request: u64,
    pub op: WriteOp,
    /// The business key: user id, conversation id or agent user name.
    pub key: String,
    /// The resource's version after the write (updates).
    pub version: Option<u64>,
}

/// Every applied write, plus per-key counts for exact duplicate accounting.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    writes: Vec<Write>,
    applied: BTreeMap<(WriteOp, String), u64>,
    /// When bounded: the most writes and keys kept (a server runs for days; a run keeps all).
    cap: Option<usize>,
    /// Keys in the order first written, oldest first (bounded ledgers only).
    order: std::collections::VecDeque<(WriteOp, String)>,
}

/// What a bounded ledger keeps (`herdsim serve`): the last writes and the counts of the most
/// recently first-written keys; duplicates are then exact among those keys.
pub const SERVE_LEDGER_MAX: usize = 100_000;

impl Ledger {
    /// A ledger that keeps at most `cap` writes and `cap` keys, forgetting the oldest.
    pub fn bounded(cap: usize) -> Ledger {
        Ledger {
            cap: Some(cap.max(1)),
            ..Ledger::default()
        }
    }

    pub fn record(&mut self, write: Write) {
        let key = (write.op, write.key.clone());
        let count = self.applied.entry(key.clone()).or_insert(0);
        *count += 1;
        let first = *count == 1;
        self.writes.push(write);
        let Some(cap) = self.cap else { return };
        if first {
            self.order.push_back(key);
            while self.order.len() > cap {
                if let Some(oldest) = self.order.pop_front() {
                    self.applied.remove(&oldest);
                }
            }
        }
        if self.writes.len() > cap.saturating_mul(2) {
            // Amortized: drop the older half at once.
            self.writes.drain(..self.writes.len() - cap);
        }
    }

    pub fn writes(&self) -> &[Write] {
        &self.writes
    }

    /// How many times a write of `op` was applied to `key`.
    pub fn applied(&self, op: WriteOp, key: &str) -> u64 {
        self.applied.get(&(op, key.to_string())).copied().unwrap_or(0)
    }

    /// Creates applied more than once for the same business key (each extra one counts).
    pub fn duplicate_creates(&self) -> u64 {
        self.applied
            .iter()
            .filter(|((op, _), _)| op.is_create())
            .map(|(_, count)| count - 1)
            .sum()
    }

    /// Distinct business keys written by `op`.
    pub fn distinct_keys(&self, op: WriteOp) -> u64 {
        self.applied.keys().filter(|(o, _)| *o == op).count() as u64
    }

    /// The keys of `expected` that were never written by `op`: lost writes, when the client
    /// believes them done.
    pub fn missing<'a>(&self, op: WriteOp, expected: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
        expected
            .into_iter()
            .filter(|key| self.applied(op, key) == 0)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(op: WriteOp, key: &str) -> Write {
        Write {
            at: SimTime::ZERO,
            request: 1,
            op,
            key: key.to_string(),
            version: None,
        }
    }

    #[test]
    fn duplicates_count_only_repeated_creates() {
        let mut ledger = Ledger::default();
        ledger.record(write(WriteOp::CreateEvaluation, "c1"));
        ledger.record(write(WriteOp::CreateEvaluation, "c1"));
        ledger.record(write(WriteOp::CreateEvaluation, "c1"));
        ledger.record(write(WriteOp::CreateEvaluation, "c2"));
        ledger.record(write(WriteOp::UpdateUser, "u1"));
        ledger.record(write(WriteOp::UpdateUser, "u1"));
        assert_eq!(ledger.duplicate_creates(), 2);
        assert_eq!(ledger.applied(WriteOp::UpdateUser, "u1"), 2);
        assert_eq!(ledger.distinct_keys(WriteOp::CreateEvaluation), 2);
        assert_eq!(
            ledger.missing(WriteOp::CreateEvaluation, ["c1", "c3"]),
            vec!["c3"]
        );
        assert_eq!(ledger.writes().len(), 6);
    }
}
