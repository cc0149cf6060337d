//! Rate-limiter algorithms for one key. Pure state machines: every call takes `now`.
//!
//! Each algorithm's guarantee, checked by the model-based tests in `tests/limiter_model.rs`:
//! - sliding log: never more than `limit` admissions in any half-open window `(t - window, t]`;
//!   admits exactly when a naive log of timestamps would (it *is* one, bounded to `limit` entries);
//! - fixed window: never more than `limit` admissions in one aligned window, so at most `2 * limit`
//!   in any sliding window;
//! - sliding-window counter: never more than `limit` in one aligned window and at most `2 * limit` in
//!   any sliding window (the weighted estimate assumes the previous window was uniform);
//! - token bucket: never more than `burst + limit` admissions in any window.
//!
//! All arithmetic is integer (microseconds; the bucket counts tokens in units of 1/window_us), so
//! runs are bit-for-bit reproducible.

use std::collections::VecDeque;

use crate::config::Algorithm;
use crate::time::SimTime;

/// The parameters of a rule at one instant (the limit may follow a capacity schedule).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitParams {
    pub algorithm: Algorithm,
    /// Admissions per window now (token bucket: refill per window).
    pub limit: u64,
    /// The largest limit the rule ever has: a sliding log never holds more entries.
    pub limit_max: u64,
    pub window_us: u64,
    /// Token bucket capacity.
    pub burst: u64,
}

/// What a limiter says about one more request at `now`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub admitted: bool,
    pub limit: u64,
    /// Admissions left before this one (0 when rejected).
    pub remaining: u64,
    /// The earliest time this request would be admitted (`now` when admitted; [`SimTime::NEVER`]
    /// when the limit is zero).
    pub retry_at: SimTime,
    /// When the window resets (log: the oldest entry leaves; bucket: full again).
    pub reset_at: SimTime,
    /// What the key has used at `now`, before this request: admissions in the window (sliding
    /// window: the weighted estimate, rounded up; bucket: tokens spent). May exceed `limit` after
    /// a capacity drop. "Why was this 429" reports it.
    pub count: u64,
}

/// A sliding log's admissions, oldest first, as runs of admissions at one instant: each run
/// holds its time and the count of admissions up to and including it since the log began, so
/// that counting a window and finding its n-th entry are binary searches, and recording many
/// admissions at one instant is one step. It admits exactly as a log of single timestamps would.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AdmissionLog {
    /// `(time, admissions up to and including this run)`, times strictly increasing.
    runs: VecDeque<(SimTime, u64)>,
    /// Admissions before the first run kept (those evicted).
    evicted: u64,
}

impl AdmissionLog {
    /// Admissions held.
    pub fn len(&self) -> u64 {
        self.runs.back().map_or(0, |(_, upto)| upto - self.evicted)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops the runs that left the window at `now`.
    fn evict(&mut self, window_us: u64, now: SimTime) {
        while let Some(&(at, upto)) = self.runs.front() {
            if at.as_micros().saturating_add(window_us) > now.as_micros() {
                break;
            }
            self.evicted = upto;
            self.runs.pop_front();
        }
    }

    /// The index of the first run still in the window at `now`.
    fn first_in(&self, window_us: u64, now: SimTime) -> usize {
        self.runs
            .partition_point(|(at, _)| at.as_micros().saturating_add(window_us) <= now.as_micros())
    }

    /// Admissions in the runs from `first` on.
    fn len_from(&self, first: usize) -> u64 {
        let before = if first == 0 {
            self.evicted
        } else {
            self.runs[first - 1].1
        };
        self.runs.back().map_or(0, |(_, upto)| upto - before)
    }

    fn time_of_run(&self, index: usize) -> Option<SimTime> {
        self.runs.get(index).map(|(at, _)| *at)
    }

    /// The time of the `n`-th admission (from 0) of the runs from `first` on.
    fn time_of_entry(&self, first: usize, n: u64) -> SimTime {
        let before = if first == 0 {
            self.evicted
        } else {
            self.runs[first - 1].1
        };
        let target = before + n + 1;
        let index = self.runs.partition_point(|(_, upto)| *upto < target);
        self.runs[index].0
    }

    /// Records one admission at `now` (never before the last).
    fn push(&mut self, now: SimTime) {
        self.push_n(now, 1);
    }

    /// Records `n` admissions at `now` at once.
    fn push_n(&mut self, now: SimTime, n: u64) {
        match self.runs.back_mut() {
            Some((at, upto)) if *at == now => *upto += n,
            Some((at, _)) => {
                assert!(*at < now, "log out of order");
                let upto = self.len() + self.evicted + n;
                self.runs.push_back((now, upto));
            }
            None => self.runs.push_back((now, self.evicted + n)),
        }
    }
}

/// The state of one key under one rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LimiterState {
    SlidingLog {
        admitted_at: AdmissionLog,
    },
    SlidingWindow {
        window_index: u64,
        previous: u64,
        current: u64,
    },
    FixedWindow {
        window_index: u64,
        count: u64,
    },
    TokenBucket {
        tokens_scaled: u128,
        updated_at: SimTime,
    },
}

impl LimiterState {
    pub fn new(params: &LimitParams, now: SimTime) -> LimiterState {
        assert!(params.window_us > 0, "window must be positive");
        match params.algorithm {
            Algorithm::SlidingLog => LimiterState::SlidingLog {
                admitted_at: AdmissionLog::default(),
            },
            Algorithm::SlidingWindow => LimiterState::SlidingWindow {
                window_index: now.as_micros() / params.window_us,
                previous: 0,
                current: 0,
            },
            Algorithm::FixedWindow => LimiterState::FixedWindow {
                window_index: now.as_micros() / params.window_us,
                count: 0,
            },
            Algorithm::TokenBucket => LimiterState::TokenBucket {
                tokens_scaled: u128::from(params.burst) * u128::from(params.window_us),
                updated_at: now,
            },
        }
    }

    /// Brings the state forward to `now` (evicts, rolls windows, refills). `now` never goes back.
    fn advance(&mut self, params: &LimitParams, now: SimTime) {
        let window_us = params.window_us;
        match self {
            LimiterState::SlidingLog { admitted_at } => admitted_at.evict(window_us, now),
            LimiterState::SlidingWindow {
                window_index,
                previous,
                current,
            } => {
                let index_now = now.as_micros() / window_us;
                assert!(index_now >= *window_index, "time went backwards");
                if index_now == *window_index + 1 {
                    *previous = *current;
                    *current = 0;
                } else if index_now > *window_index + 1 {
                    *previous = 0;
                    *current = 0;
                }
                *window_index = index_now;
            }
            LimiterState::FixedWindow { window_index, count } => {
                let index_now = now.as_micros() / window_us;
                assert!(index_now >= *window_index, "time went backwards");
                if index_now != *window_index {
                    *window_index = index_now;
                    *count = 0;
                }
            }
            LimiterState::TokenBucket {
                tokens_scaled,
                updated_at,
            } => {
                assert!(now >= *updated_at, "time went backwards");
                let elapsed_us = u128::from((now - *updated_at).as_micros() as u64);
                let capacity = u128::from(params.burst) * u128::from(window_us);
                *tokens_scaled = (*tokens_scaled + elapsed_us * u128::from(params.limit)).min(capacity);
                *updated_at = now;
            }
        }
    }

    /// Whether one more request would be admitted at `now`. Advances the state; consumes nothing.
    pub fn check(&mut self, params: &LimitParams, now: SimTime) -> Verdict {
        self.advance(params, now);
        let window_us = params.window_us;
        let limit = params.limit;
        match self {
            // Evicted above, the log holds only the window: reading it is the whole verdict.
            LimiterState::SlidingLog { .. } => self.peek(params, now),
            LimiterState::SlidingWindow {
                window_index,
                previous,
                current,
            } => {
                let window_start_us = *window_index * window_us;
                let elapsed_us = now.as_micros() - window_start_us;
                let weighted = u128::from(*previous) * u128::from(window_us - elapsed_us)
                    + u128::from(*current) * u128::from(window_us);
                let capacity = u128::from(limit) * u128::from(window_us);
                let reset_at = SimTime::from_micros(window_start_us + window_us);
                let count = u64::try_from(weighted.div_ceil(u128::from(window_us))).unwrap_or(u64::MAX);
                if weighted + u128::from(window_us) <= capacity {
                    let remaining = ((capacity - weighted) / u128::from(window_us)) as u64;
                    return admit(limit, remaining, now, reset_at, count);
                }
                let retry_at =
                    sliding_window_retry_at(*previous, *current, limit, window_start_us, window_us);
                reject(limit, retry_at, reset_at, count)
            }
            LimiterState::FixedWindow { window_index, count } => {
                let reset_at = SimTime::from_micros((*window_index + 1) * window_us);
                if *count < limit {
                    return admit(limit, limit - *count, now, reset_at, *count);
                }
                reject(
                    limit,
                    if limit == 0 { SimTime::NEVER } else { reset_at },
                    reset_at,
                    *count,
                )
            }
            LimiterState::TokenBucket { tokens_scaled, .. } => {
                let one_token = u128::from(window_us);
                let capacity = u128::from(params.burst) * one_token;
                let until = |target: u128| -> SimTime {
                    if *tokens_scaled >= target {
                        now
                    } else if limit == 0 {
                        SimTime::NEVER
                    } else {
                        let wait_us = (target - *tokens_scaled).div_ceil(u128::from(limit));
                        now + micros(u64::try_from(wait_us).unwrap_or(u64::MAX / 4))
                    }
                };
                let reset_at = until(capacity);
                let spent = params.burst.saturating_sub((*tokens_scaled / one_token) as u64);
                if *tokens_scaled >= one_token {
                    return admit(
                        params.burst,
                        (*tokens_scaled / one_token) as u64,
                        now,
                        reset_at,
                        spent,
                    );
                }
                reject(params.burst, until(one_token), reset_at, spent)
            }
        }
    }

    /// Consumes `n` admissions at `now` at once. Precondition: `check(params, now)` just
    /// admitted with at least `n` remaining.
    pub fn record_n(&mut self, params: &LimitParams, now: SimTime, n: u64) {
        match self {
            LimiterState::SlidingLog { admitted_at } => {
                assert!(admitted_at.len() + n <= params.limit, "record without admission");
                admitted_at.push_n(now, n);
            }
            _ => {
                for _ in 0..n {
                    self.record(params, now);
                }
            }
        }
    }

    /// Consumes one admission at `now`. Precondition: `check(params, now)` just admitted.
    pub fn record(&mut self, params: &LimitParams, now: SimTime) {
        match self {
            LimiterState::SlidingLog { admitted_at } => {
                assert!(admitted_at.len() < params.limit, "record without admission");
                admitted_at.push(now);
                assert!(
                    admitted_at.len() <= params.limit_max,
                    "sliding log over its bound"
                );
            }
            LimiterState::SlidingWindow { current, .. } => *current += 1,
            LimiterState::FixedWindow { count, .. } => {
                *count += 1;
                assert!(*count <= params.limit_max, "fixed window over its limit");
            }
            LimiterState::TokenBucket { tokens_scaled, .. } => {
                let one_token = u128::from(params.window_us);
                assert!(*tokens_scaled >= one_token, "record without a token");
                *tokens_scaled -= one_token;
            }
        }
    }

    /// What [`LimiterState::check`] would say at `now`, without changing the state. `now` must
    /// not be before the state's last use. A sliding log is read in place (binary search); the
    /// other states are small and are copied.
    pub fn peek(&self, params: &LimitParams, now: SimTime) -> Verdict {
        let LimiterState::SlidingLog { admitted_at } = self else {
            let mut copy = self.clone();
            return copy.check(params, now);
        };
        let window_us = params.window_us;
        let limit = params.limit;
        let first_in = admitted_at.first_in(window_us, now);
        let used = admitted_at.len_from(first_in);
        let reset_at = admitted_at
            .time_of_run(first_in)
            .map_or(now, |at| at + micros(window_us));
        if used < limit {
            return admit(limit, limit - used, now, reset_at, used);
        }
        let retry_at = if limit == 0 {
            SimTime::NEVER
        } else {
            // The entry whose leaving makes room: the (used - limit)th of the window, from 0.
            admitted_at.time_of_entry(first_in, used - limit) + micros(window_us)
        };
        reject(limit, retry_at, reset_at, used)
    }

    /// Whether the state is indistinguishable from a fresh one at `now` (so the key can be dropped).
    pub fn is_idle(&mut self, params: &LimitParams, now: SimTime) -> bool {
        self.advance(params, now);
        match self {
            LimiterState::SlidingLog { admitted_at } => admitted_at.is_empty(),
            LimiterState::SlidingWindow {
                previous, current, ..
            } => *previous == 0 && *current == 0,
            LimiterState::FixedWindow { count, .. } => *count == 0,
            LimiterState::TokenBucket { tokens_scaled, .. } => {
                *tokens_scaled == u128::from(params.burst) * u128::from(params.window_us)
            }
        }
    }
}

fn micros(us: u64) -> std::time::Duration {
    std::time::Duration::from_micros(us)
}

fn admit(limit: u64, remaining: u64, now: SimTime, reset_at: SimTime, count: u64) -> Verdict {
    Verdict {
        admitted: true,
        limit,
        remaining,
        retry_at: now,
        reset_at,
        count,
    }
}

fn reject(limit: u64, retry_at: SimTime, reset_at: SimTime, count: u64) -> Verdict {
    Verdict {
        admitted: false,
        limit,
        remaining: 0,
        retry_at,
        reset_at,
        count,
    }
}

/// The first instant the weighted estimate `previous * (W - e) / W + current + 1` fits in `limit`.
fn sliding_window_retry_at(
    previous: u64,
    current: u64,
    limit: u64,
    window_start_us: u64,
    window_us: u64,
) -> SimTime {
    let w = u128::from(window_us);
    // Within this window: needs previous * (W - e) <= (limit - current - 1) * W.
    if current < limit && previous > 0 {
        let slack = u128::from(limit - current - 1) * w / u128::from(previous);
        let elapsed_needed_us = w - slack.min(w);
        return SimTime::from_micros(window_start_us + elapsed_needed_us as u64);
    }
    // In the next window `current` becomes `previous` and the count restarts at zero.
    if limit == 0 {
        return SimTime::NEVER;
    }
    let next_start_us = window_start_us + window_us;
    if current == 0 {
        return SimTime::from_micros(next_start_us);
    }
    let slack = u128::from(limit - 1) * w / u128::from(current);
    SimTime::from_micros(next_start_us + (w - slack.min(w)) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(algorithm: Algorithm, limit: u64, window_ms: u64) -> LimitParams {
        LimitParams {
            algorithm,
            limit,
            limit_max: limit,
            window_us: window_ms.saturating_mul(1_000),
            burst: limit,
        }
    }

    fn fill(state: &mut LimiterState, p: &LimitParams, now: SimTime, n: u64) {
        for _ in 0..n {
            assert!(state.check(p, now).admitted);
            state.record(p, now);
        }
    }

    #[test]
    fn sliding_log_rejects_until_the_oldest_entry_leaves() {
        let p = params(Algorithm::SlidingLog, 3, 1_000);
        let mut state = LimiterState::new(&p, SimTime::ZERO);
        fill(&mut state, &p, SimTime::from_millis(100), 1);
        fill(&mut state, &p, SimTime::from_millis(200), 2);
        let verdict = state.check(&p, SimTime::from_millis(500));
        assert!(!verdict.admitted);
        assert_eq!(verdict.retry_at, SimTime::from_millis(1_100));
        assert!(!state.check(&p, SimTime::from_micros(1_099_999)).admitted);
        let verdict = state.check(&p, SimTime::from_millis(1_100));
        assert!(verdict.admitted);
        assert_eq!(verdict.remaining, 1);
    }

    #[test]
    fn sliding_log_follows_a_lowered_limit() {
        let mut p = params(Algorithm::SlidingLog, 4, 1_000);
        let mut state = LimiterState::new(&p, SimTime::ZERO);
        for ms in [0, 100, 200, 300] {
            fill(&mut state, &p, SimTime::from_millis(ms), 1);
        }
        p.limit = 2;
        p.limit_max = 4;
        // Two of the four entries must leave before one more fits under a limit of 2.
        assert_eq!(
            state.check(&p, SimTime::from_millis(400)).retry_at,
            SimTime::from_millis(1_200)
        );
    }

    #[test]
    fn fixed_window_resets_at_the_boundary() {
        let p = params(Algorithm::FixedWindow, 2, 1_000);
        let mut state = LimiterState::new(&p, SimTime::ZERO);
        fill(&mut state, &p, SimTime::from_millis(900), 2);
        let verdict = state.check(&p, SimTime::from_millis(950));
        assert_eq!(
            (verdict.admitted, verdict.retry_at),
            (false, SimTime::from_secs(1))
        );
        assert!(state.check(&p, SimTime::from_secs(1)).admitted);
    }

    #[test]
    fn sliding_window_weights_the_previous_window() {
        let p = params(Algorithm::SlidingWindow, 10, 1_000);
        let mut state = LimiterState::new(&p, SimTime::ZERO);
        fill(&mut state, &p, SimTime::from_millis(999), 10);
        // At 1.0 s the estimate is 10 * 1.0 + 0: full. Half-way through, 5 slots are back.
        let verdict = state.check(&p, SimTime::from_secs(1));
        assert!(!verdict.admitted);
        assert_eq!(verdict.retry_at, SimTime::from_millis(1_100));
        let at_half = SimTime::from_millis(1_500);
        assert_eq!(state.check(&p, at_half).remaining, 5);
        fill(&mut state, &p, at_half, 5);
        assert!(!state.check(&p, at_half).admitted);
    }

    #[test]
    fn token_bucket_refills_continuously() {
        let p = LimitParams {
            burst: 2,
            ..params(Algorithm::TokenBucket, 10, 1_000)
        };
        let mut state = LimiterState::new(&p, SimTime::ZERO);
        fill(&mut state, &p, SimTime::ZERO, 2);
        let verdict = state.check(&p, SimTime::ZERO);
        assert_eq!(
            (verdict.admitted, verdict.retry_at),
            (false, SimTime::from_millis(100))
        );
        assert!(state.check(&p, SimTime::from_millis(100)).admitted);
        assert!(!state.is_idle(&p, SimTime::from_millis(100)));
        assert!(state.is_idle(&p, SimTime::from_millis(200)));
    }

    #[test]
    fn zero_limit_never_admits() {
        for algorithm in [
            Algorithm::SlidingLog,
            Algorithm::SlidingWindow,
            Algorithm::FixedWindow,
        ] {
            let p = params(algorithm, 0, 1_000);
            let mut state = LimiterState::new(&p, SimTime::ZERO);
            let verdict = state.check(&p, SimTime::from_millis(5));
            assert!(!verdict.admitted, "{algorithm:?}");
            assert_eq!(verdict.retry_at, SimTime::NEVER, "{algorithm:?}");
        }
    }

    #[test]
    fn many_admissions_at_one_instant_are_the_same_as_one_by_one() {
        for algorithm in [
            Algorithm::SlidingLog,
            Algorithm::SlidingWindow,
            Algorithm::FixedWindow,
            Algorithm::TokenBucket,
        ] {
            let p = params(algorithm, 50, 1_000);
            let (mut batched, mut single) = (
                LimiterState::new(&p, SimTime::ZERO),
                LimiterState::new(&p, SimTime::ZERO),
            );
            let mut checked = 0;
            for (ms, n) in [
                (0u64, 7u64),
                (0, 5),
                (300, 20),
                (900, 18),
                (1_250, 9),
                (2_600, 50),
            ] {
                let at = SimTime::from_millis(ms);
                let verdict = batched.check(&p, at);
                assert_eq!(verdict, single.check(&p, at), "{algorithm:?} at {ms} ms");
                let n = n.min(verdict.remaining);
                batched.record_n(&p, at, n);
                for _ in 0..n {
                    assert!(single.check(&p, at).admitted);
                    single.record(&p, at);
                }
                for probe in [
                    at,
                    at + std::time::Duration::from_millis(1),
                    at + std::time::Duration::from_millis(999),
                ] {
                    assert_eq!(
                        batched.peek(&p, probe),
                        single.peek(&p, probe),
                        "{algorithm:?} probed at {probe:?}"
                    );
                    checked += 1;
                }
            }
            assert_eq!(checked, 18);
        }
    }
}
