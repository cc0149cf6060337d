//! Circuit breakers, one per bucket (endpoint family), so that one throttled family never trips
//! the whole host.
//!
//! Closed → Open when the failure condition holds (consecutive failures, or a failure rate over a
//! sliding window with a minimum of calls). Open → HalfOpen after `open_ms`. HalfOpen admits at
//! most `half_open_probes` probes in all: all succeed → Closed; one fails (or they have not all
//! reported back within another `open_ms`) → Open again.
//! In `retries_only` scope first attempts always pass and only retries are stopped (Brooker's
//! "break retries only"). Every transition is returned, for events.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum BreakerMode {
    #[default]
    Disabled,
    Consecutive {
        failures: u32,
    },
    FailureRate {
        threshold_pct: u32,
        window_ms: u64,
        min_calls: u32,
    },
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerScope {
    #[default]
    All,
    RetriesOnly,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerConfig {
    pub mode: BreakerMode,
    pub open_ms: u64,
    pub half_open_probes: u32,
    pub scope: BreakerScope,
    /// Statuses that count as failures (transport errors always do).
    pub failure_statuses: Vec<u16>,
    /// Whether failures reach it at all. `false` is the tutorials' bug: the call raises on any
    /// non-2xx before the breaker records it, so it only ever sees successes and never opens.
    pub sees_failures: bool,
}

impl Default for BreakerConfig {
    fn default() -> BreakerConfig {
        BreakerConfig {
            mode: BreakerMode::Consecutive { failures: 10 },
            open_ms: 10_000,
            half_open_probes: 2,
            scope: BreakerScope::All,
            failure_statuses: vec![500, 502, 503, 504],
            sees_failures: true,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

/// A state change, for events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    pub from: BreakerState,
    pub to: BreakerState,
}

/// What `admit` granted; hand it back to `record`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permit {
    /// Counted in the closed state (or passed by `retries_only` scope).
    Normal,
    /// One of the half-open probes of half-open period `epoch`.
    Probe { epoch: u64 },
}

#[derive(Clone, Debug)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    state: BreakerState,
    consecutive_failures: u32,
    /// (second, calls, failures), for the failure-rate mode.
    window: VecDeque<(u64, u64, u64)>,
    open_until: Duration,
    /// Probes let through in this half-open period (never more than `half_open_probes`).
    probes_admitted: u32,
    probes_succeeded: u32,
    half_open_since: Duration,
    /// Counts half-open periods, so that a probe outliving its period is ignored.
    half_open_epoch: u64,
    openings: u64,
}

impl CircuitBreaker {
    pub fn new(config: BreakerConfig) -> CircuitBreaker {
        CircuitBreaker {
            config,
            state: BreakerState::Closed,
            consecutive_failures: 0,
            window: VecDeque::new(),
            open_until: Duration::ZERO,
            probes_admitted: 0,
            probes_succeeded: 0,
            half_open_since: Duration::ZERO,
            half_open_epoch: 0,
            openings: 0,
        }
    }

    pub fn state(&self) -> BreakerState {
        self.state
    }

    pub fn openings(&self) -> u64 {
        self.openings
    }

    /// Probes let through in the current half-open period.
    pub fn probes_admitted(&self) -> u32 {
        self.probes_admitted
    }

    pub fn counts_as_failure(&self, status: Option<u16>) -> bool {
        status.is_none_or(|status| self.config.failure_statuses.contains(&status))
    }

    /// Asks to send. `Err(at)`: not before `at`. The transition is Open → HalfOpen, if it happened.
    pub fn admit(&mut self, now: Duration, is_retry: bool) -> (Result<Permit, Duration>, Option<Transition>) {
        if self.config.mode == BreakerMode::Disabled
            || (self.config.scope == BreakerScope::RetriesOnly && !is_retry)
        {
            return (Ok(Permit::Normal), None);
        }
        let mut transition = None;
        if self.state == BreakerState::Open && now >= self.open_until {
            transition = self.move_to(BreakerState::HalfOpen);
            self.half_open_epoch += 1;
            self.probes_admitted = 0;
            self.probes_succeeded = 0;
            self.half_open_since = now;
        }
        // Probes that never report back (a permit dropped by its caller) must not hold the
        // breaker half-open forever: after another `open_ms` they count as a failed probe.
        if self.state == BreakerState::HalfOpen
            && self.probes_admitted >= self.config.half_open_probes
            && now >= self.half_open_since + Duration::from_millis(self.config.open_ms)
        {
            let reopened = self.open(now);
            return (Err(self.open_until), reopened);
        }
        let decision = match self.state {
            BreakerState::Closed => Ok(Permit::Normal),
            BreakerState::Open => Err(self.open_until),
            BreakerState::HalfOpen if self.probes_admitted < self.config.half_open_probes => {
                self.probes_admitted += 1;
                Ok(Permit::Probe {
                    epoch: self.half_open_epoch,
                })
            }
            // Every probe is out: look again when one could have come back.
            BreakerState::HalfOpen => Err(now + Duration::from_millis(self.config.open_ms.clamp(1, 1_000))),
        };
        assert!(
            self.probes_admitted <= self.config.half_open_probes,
            "more probes than allowed"
        );
        (decision, transition)
    }

    /// Whether `permit` still stands: a normal permit while the breaker is closed (or passes
    /// everything), a probe within its own half-open period. A caller that waited after `admit`
    /// asks before it sends, so that a permit from before an opening never sends into it.
    pub fn holds(&self, permit: Permit) -> bool {
        if self.config.mode == BreakerMode::Disabled || self.config.scope == BreakerScope::RetriesOnly {
            return true;
        }
        match permit {
            Permit::Normal => self.state == BreakerState::Closed,
            Permit::Probe { epoch } => self.state == BreakerState::HalfOpen && epoch == self.half_open_epoch,
        }
    }

    /// Records how a permitted attempt ended.
    pub fn record(&mut self, now: Duration, permit: Permit, failed: bool) -> Option<Transition> {
        match (self.state, permit) {
            (BreakerState::HalfOpen, Permit::Probe { epoch }) if epoch == self.half_open_epoch => {
                if failed {
                    return self.open(now);
                }
                self.probes_succeeded += 1;
                if self.probes_succeeded >= self.config.half_open_probes {
                    self.consecutive_failures = 0;
                    self.window.clear();
                    return self.move_to(BreakerState::Closed);
                }
                None
            }
            (BreakerState::Closed, Permit::Normal) => {
                self.count(now, failed);
                if self.should_trip(now) {
                    return self.open(now);
                }
                None
            }
            // A result from before the state changed (or a probe outliving its half-open state).
            _ => None,
        }
    }

    fn count(&mut self, now: Duration, failed: bool) {
        self.consecutive_failures = if failed { self.consecutive_failures + 1 } else { 0 };
        if let BreakerMode::FailureRate { window_ms, .. } = self.config.mode {
            let second = now.as_secs();
            let oldest = now.saturating_sub(Duration::from_millis(window_ms)).as_secs();
            while self.window.front().is_some_and(|(s, _, _)| *s < oldest) {
                self.window.pop_front();
            }
            if self.window.back().is_none_or(|(s, _, _)| *s != second) {
                self.window.push_back((second, 0, 0));
            }
            let bucket = self.window.back_mut().expect("just pushed");
            bucket.1 += 1;
            bucket.2 += u64::from(failed);
        }
    }

    fn should_trip(&self, _now: Duration) -> bool {
        match self.config.mode {
            BreakerMode::Disabled => false,
            BreakerMode::Consecutive { failures } => self.consecutive_failures >= failures.max(1),
            BreakerMode::FailureRate {
                threshold_pct,
                min_calls,
                ..
            } => {
                let (calls, failures) = self
                    .window
                    .iter()
                    .fold((0, 0), |(c, f), (_, bc, bf)| (c + bc, f + bf));
                calls >= u64::from(min_calls.max(1)) && failures * 100 >= calls * u64::from(threshold_pct)
            }
        }
    }

    fn open(&mut self, now: Duration) -> Option<Transition> {
        self.open_until = now + Duration::from_millis(self.config.open_ms);
        self.openings += 1;
        self.probes_admitted = 0;
        self.move_to(BreakerState::Open)
    }

    fn move_to(&mut self, to: BreakerState) -> Option<Transition> {
        let from = self.state;
        self.state = to;
        (from != to).then_some(Transition { from, to })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn breaker(mode: BreakerMode) -> CircuitBreaker {
        CircuitBreaker::new(BreakerConfig {
            mode,
            open_ms: 1_000,
            half_open_probes: 2,
            ..BreakerConfig::default()
        })
    }

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn consecutive_failures_open_then_probes_close() {
        let mut b = breaker(BreakerMode::Consecutive { failures: 3 });
        for _ in 0..2 {
            let (permit, _) = b.admit(ms(0), false);
            assert_eq!(b.record(ms(0), permit.unwrap(), true), None);
        }
        let (permit, _) = b.admit(ms(0), false);
        assert_eq!(
            b.record(ms(0), permit.unwrap(), true),
            Some(Transition {
                from: BreakerState::Closed,
                to: BreakerState::Open
            })
        );
        assert_eq!(b.admit(ms(500), false).0, Err(ms(1_000)));
        let (first, transition) = b.admit(ms(1_000), false);
        assert_eq!(
            transition,
            Some(Transition {
                from: BreakerState::Open,
                to: BreakerState::HalfOpen
            })
        );
        let (second, _) = b.admit(ms(1_000), true);
        assert!(b.admit(ms(1_000), true).0.is_err(), "only two probes");
        assert_eq!(b.record(ms(1_100), first.unwrap(), false), None);
        assert_eq!(
            b.record(ms(1_100), second.unwrap(), false),
            Some(Transition {
                from: BreakerState::HalfOpen,
                to: BreakerState::Closed
            })
        );
        assert_eq!(b.openings(), 1);
    }

    #[test]
    fn a_failed_probe_reopens() {
        let mut b = breaker(BreakerMode::Consecutive { failures: 1 });
        let (permit, _) = b.admit(ms(0), false);
        b.record(ms(0), permit.unwrap(), true);
        let (probe, _) = b.admit(ms(1_000), false);
        assert_eq!(
            b.record(ms(1_000), probe.unwrap(), true),
            Some(Transition {
                from: BreakerState::HalfOpen,
                to: BreakerState::Open
            })
        );
        assert_eq!(b.admit(ms(1_500), false).0, Err(ms(2_000)));
    }

    #[test]
    fn failure_rate_needs_min_calls() {
        let mut b = breaker(BreakerMode::FailureRate {
            threshold_pct: 50,
            window_ms: 10_000,
            min_calls: 4,
        });
        let outcomes = [true, false, true];
        for failed in outcomes {
            let (permit, _) = b.admit(ms(0), false);
            assert_eq!(b.record(ms(0), permit.unwrap(), failed), None);
        }
        let (permit, _) = b.admit(ms(0), false);
        assert!(
            b.record(ms(0), permit.unwrap(), false).is_some(),
            "2 of 4 failed: 50%"
        );
    }

    #[test]
    fn retries_only_scope_passes_first_attempts() {
        let mut b = CircuitBreaker::new(BreakerConfig {
            scope: BreakerScope::RetriesOnly,
            ..breaker(BreakerMode::Consecutive { failures: 1 }).config
        });
        let (permit, _) = b.admit(ms(0), true);
        b.record(ms(0), permit.unwrap(), true);
        assert!(b.admit(ms(10), false).0.is_ok());
        assert!(b.admit(ms(10), true).0.is_err());
    }

    /// The reference model: a plain state with the same rules, written as a table.
    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Model {
        Closed(u32),
        Open(u64),
        /// `out`: probes let through this period; `ok`: of them, succeeded.
        HalfOpen {
            out: u32,
            ok: u32,
        },
    }

    proptest! {
        #[test]
        fn matches_the_reference_model(ops in prop::collection::vec((any::<bool>(), any::<bool>(), 0u64..700), 1..200)) {
            let (threshold, probes, open_ms) = (3u32, 2u32, 1_000u64);
            let mut b = CircuitBreaker::new(BreakerConfig { mode: BreakerMode::Consecutive { failures: threshold }, open_ms, half_open_probes: probes, ..BreakerConfig::default() });
            let mut model = Model::Closed(0);
            let mut now = 0u64;
            let mut model_epoch = 0u64;
            let mut half_open_since = 0u64;
            let mut outstanding: Vec<(Permit, Option<u64>)> = Vec::new();
            for (send, failed, advance) in ops {
                now += advance;
                if send {
                    if let Model::Open(until) = model { if now >= until { model = Model::HalfOpen { out: 0, ok: 0 }; model_epoch += 1; half_open_since = now; } }
                    if let Model::HalfOpen { out, .. } = model { if out >= probes && now >= half_open_since + open_ms { model = Model::Open(now + open_ms); } }
                    let expected_admit = match model {
                        Model::Closed(_) => true,
                        Model::Open(_) => false,
                        Model::HalfOpen { out, .. } => out < probes,
                    };
                    let (permit, _) = b.admit(ms(now), false);
                    prop_assert_eq!(permit.is_ok(), expected_admit);
                    if let Ok(permit) = permit {
                        let mut probe_epoch = None;
                        if let Model::HalfOpen { out, ok } = model { model = Model::HalfOpen { out: out + 1, ok }; probe_epoch = Some(model_epoch); }
                        outstanding.push((permit, probe_epoch));
                    }
                    prop_assert!(b.probes_admitted() <= probes);
                } else if let Some((permit, probe_epoch)) = outstanding.pop() {
                    b.record(ms(now), permit, failed);
                    let current_probe = probe_epoch == Some(model_epoch);
                    model = match (model, probe_epoch) {
                        (Model::Closed(n), None) if failed && n + 1 >= threshold => Model::Open(now + open_ms),
                        (Model::Closed(n), None) => Model::Closed(if failed { n + 1 } else { 0 }),
                        (Model::HalfOpen { .. }, Some(_)) if current_probe && failed => Model::Open(now + open_ms),
                        (Model::HalfOpen { ok, .. }, Some(_)) if current_probe && ok + 1 >= probes => Model::Closed(0),
                        (Model::HalfOpen { out, ok }, Some(_)) if current_probe => Model::HalfOpen { out, ok: ok + 1 },
                        (other, _) => other,
                    };
                }
                let expected_state = match model {
                    Model::Closed(_) => BreakerState::Closed,
                    Model::Open(_) => BreakerState::Open,
                    Model::HalfOpen { .. } => BreakerState::HalfOpen,
                };
                prop_assert_eq!(b.state(), expected_state);
            }
        }
    }
}
