//! Proactive pacing, per bucket: wait *before* sending, so that 429s are not needed to learn the
//! limit.
//!
//! - From rate-limit headers (any dialect, see [`crate::headers`]): the quota left is tracked and
//!   decremented as requests go out; when it cannot serve the requests already in flight, dispatch
//!   pauses until the reported reset (plus a seeded spread, so the paused herd does not leave at
//!   one instant).
//! - From a configured client-side limit: GCRA (the virtual-scheduling form of a token bucket),
//!   which reserves each slot, so concurrent workers queue in order instead of racing.
//! - After a 429 with `Retry-After`, the bucket is closed for everyone until then. Only evidence
//!   that the header was wrong escalates: a 429 at the very moment the bucket reopened on the
//!   header's word (within the spread and a second of round trip), with no success since it
//!   reopened, and a Retry-After no shorter than before (a window that resets later than it
//!   says). The closure then doubles, up to `escalation_cap_ms`; the first success decays it
//!   back to the header's word. An honest Retry-After is honoured exactly, however short.

use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::backoff::uniform;
use crate::headers::RateLimitInfo;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PacingConfig {
    /// Pace from rate-limit headers when the platform sends them.
    pub from_headers: bool,
    /// After a 429 with Retry-After, hold every worker of the bucket until then.
    pub share_retry_after: bool,
    /// Spread the paused workers over this much time after the reset.
    pub spread_ms: u64,
    /// A client-side limit: at most this many requests per minute (GCRA); `None` for none.
    pub limit_per_min: Option<u64>,
    /// Requests the client-side limit lets through at once.
    pub burst: u64,
    /// Distrust a repeated short Retry-After: double the shared closure each time the bucket is
    /// refused again right after reopening, up to this much; 0 turns it off.
    pub escalation_cap_ms: u64,
}

impl Default for PacingConfig {
    fn default() -> PacingConfig {
        PacingConfig {
            from_headers: true,
            share_retry_after: true,
            spread_ms: 1_000,
            limit_per_min: None,
            burst: 1,
            escalation_cap_ms: 60_000,
        }
    }
}

/// Why the pacer asked to wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PaceReason {
    Headers,
    /// A slot reserved in the limiter shared with other instances.
    Shared,
    RetryAfter,
    ClientLimit,
    Adaptive,
}

#[derive(Clone, Copy, Debug)]
struct Quota {
    remaining: u64,
    limit: Option<u64>,
    reset_at: Duration,
}

/// The pacing state of one bucket.
#[derive(Clone, Debug)]
pub struct Pacer {
    config: PacingConfig,
    quota: Option<Quota>,
    closed_until: Duration,
    /// The last closure: the header's wait, and the (possibly escalated) wait applied.
    last_header_wait: Duration,
    last_wait: Duration,
    /// GCRA theoretical arrival time.
    tat: Duration,
    /// A request of this bucket succeeded since it last reopened: the header was honest.
    succeeded_since_reopen: bool,
}

/// How long after a reopening a refusal still counts as "at once" (a round trip, beyond the
/// spread).
const AT_ONCE_MARGIN: Duration = Duration::from_secs(1);

impl Pacer {
    pub fn new(config: PacingConfig) -> Pacer {
        Pacer {
            config,
            quota: None,
            closed_until: Duration::ZERO,
            last_header_wait: Duration::ZERO,
            last_wait: Duration::ZERO,
            tat: Duration::ZERO,
            succeeded_since_reopen: false,
        }
    }

    /// Reserves a send at or after `now`: the wait before it may go, and why. `in_flight` counts
    /// this bucket's requests already sent and not yet answered.
    pub fn acquire(
        &mut self,
        now: Duration,
        in_flight: u64,
        rng: &mut impl Rng,
    ) -> Option<(Duration, PaceReason)> {
        let mut wait: Option<(Duration, PaceReason)> = None;
        let mut consider = |at: Duration, reason: PaceReason| {
            if at > now && wait.is_none_or(|(w, _)| at - now > w) {
                wait = Some((at - now, reason));
            }
        };
        if self.closed_until > now {
            let spread = Duration::from_micros(uniform(rng, 0, self.config.spread_ms.saturating_mul(1_000)));
            consider(self.closed_until + spread, PaceReason::RetryAfter);
        }
        if let Some(quota) = self.quota.as_mut() {
            if now >= quota.reset_at {
                // A new window: its quota is the limit, if we know it; otherwise unknown.
                match quota.limit {
                    Some(limit) => {
                        *quota = Quota {
                            remaining: limit,
                            limit: Some(limit),
                            reset_at: Duration::MAX,
                        }
                    }
                    None => self.quota = None,
                }
            }
        }
        if let Some(quota) = self.quota.as_mut() {
            if quota.remaining <= in_flight && quota.reset_at != Duration::MAX {
                let spread =
                    Duration::from_micros(uniform(rng, 0, self.config.spread_ms.saturating_mul(1_000)));
                let at = quota.reset_at + spread;
                if at > now && wait.is_none_or(|(w, _)| at - now > w) {
                    wait = Some((at - now, PaceReason::Headers));
                }
            } else {
                quota.remaining = quota.remaining.saturating_sub(1);
            }
        }
        if let Some(per_min) = self.config.limit_per_min.filter(|&n| n > 0) {
            let interval = Duration::from_micros(60_000_000 / per_min);
            let tolerance = interval * (self.config.burst.max(1) as u32 - 1);
            let tat = self.tat.max(now);
            let allowed_at = tat.saturating_sub(tolerance);
            self.tat = tat + interval;
            if allowed_at > now && wait.is_none_or(|(w, _)| allowed_at - now > w) {
                wait = Some((allowed_at - now, PaceReason::ClientLimit));
            }
        }
        wait
    }

    /// Takes in what a response said about the quota.
    pub fn on_rate_limit(&mut self, now: Duration, info: Option<RateLimitInfo>) {
        if !self.config.from_headers {
            return;
        }
        if let Some(info) = info {
            self.quota = Some(Quota {
                remaining: info.remaining,
                limit: info.limit,
                reset_at: now + info.reset_after,
            });
        }
    }

    /// A 429 with `Retry-After`: nobody in this bucket should send before `now + wait`.
    /// Returns the wait the bucket is closed for (longer than `wait` when escalated).
    pub fn on_retry_after(&mut self, now: Duration, wait: Duration) -> Duration {
        if !self.config.share_retry_after {
            return wait;
        }
        let header_wait = wait;
        let mut wait = wait;
        let cap = Duration::from_millis(self.config.escalation_cap_ms);
        let reopened = self.closed_until > Duration::ZERO && now >= self.closed_until;
        let refused_at_once =
            now <= self.closed_until + Duration::from_millis(self.config.spread_ms) + AT_ONCE_MARGIN;
        let evidence = reopened && refused_at_once && !self.succeeded_since_reopen;
        if !cap.is_zero() && evidence && header_wait >= self.last_header_wait && !self.last_wait.is_zero() {
            wait = wait.max((self.last_wait * 2).min(cap));
        }
        if now + wait > self.closed_until {
            self.closed_until = now + wait;
            self.last_header_wait = header_wait;
            self.last_wait = wait;
            self.succeeded_since_reopen = false;
        }
        wait
    }

    /// A 2xx from this bucket: once it has reopened, the bucket admitted on the header's word,
    /// so an escalation decays: the first success after each reopening halves it towards the
    /// header's wait (a header that lies every window is met again near the learned wait, not
    /// relearned from scratch; an honest one is back to its word after a few windows).
    pub fn on_success(&mut self, now: Duration) {
        if now >= self.closed_until && !self.succeeded_since_reopen {
            self.succeeded_since_reopen = true;
            self.last_wait = (self.last_wait / 2).max(self.last_header_wait);
        }
    }

    /// Until when the bucket is closed by a shared Retry-After.
    pub fn closed_until(&self) -> Duration {
        self.closed_until
    }

    /// The wait until a shared Retry-After has passed (plus the spread); reserves nothing, so it
    /// can be asked again after every sleep.
    pub fn closed_wait(&self, now: Duration, rng: &mut impl Rng) -> Option<Duration> {
        (self.closed_until > now).then(|| {
            let spread = Duration::from_micros(uniform(rng, 0, self.config.spread_ms.saturating_mul(1_000)));
            self.closed_until + spread - now
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::Dialect;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn s(v: u64) -> Duration {
        Duration::from_secs(v)
    }

    #[test]
    fn headers_pause_when_the_quota_cannot_serve_the_in_flight() {
        let mut pacer = Pacer::new(PacingConfig {
            spread_ms: 0,
            ..PacingConfig::default()
        });
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        pacer.on_rate_limit(
            s(0),
            Some(RateLimitInfo {
                dialect: Dialect::Inin,
                limit: Some(10),
                remaining: 3,
                reset_after: s(20),
            }),
        );
        assert_eq!(pacer.acquire(s(1), 0, &mut rng), None);
        assert_eq!(pacer.acquire(s(1), 1, &mut rng), None);
        // One left locally, two in flight: wait for the reset at 20 s.
        assert_eq!(
            pacer.acquire(s(1), 2, &mut rng),
            Some((s(19), PaceReason::Headers))
        );
        // After the reset the known limit is back.
        assert_eq!(pacer.acquire(s(21), 5, &mut rng), None);
    }

    #[test]
    fn shared_retry_after_holds_everyone_with_a_spread() {
        let mut pacer = Pacer::new(PacingConfig {
            spread_ms: 500,
            ..PacingConfig::default()
        });
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        pacer.on_retry_after(s(10), s(30));
        let waits: Vec<Duration> = (0..20)
            .map(|_| pacer.acquire(s(11), 0, &mut rng).unwrap().0)
            .collect();
        assert!(waits
            .iter()
            .all(|w| *w >= s(29) && *w <= s(29) + Duration::from_millis(500)));
        assert!(waits.iter().any(|w| *w != waits[0]), "the herd is spread");
        assert_eq!(pacer.acquire(s(41), 0, &mut rng), None);
    }

    #[test]
    fn a_repeated_short_retry_after_escalates_the_closure_up_to_the_cap() {
        let mut pacer = Pacer::new(PacingConfig {
            spread_ms: 0,
            escalation_cap_ms: 8_000,
            ..PacingConfig::default()
        });
        let ms = Duration::from_millis;
        // The header says 1 s, every time the bucket reopens: 1, 2, 4, 8, 8 s.
        let mut now = s(0);
        let mut waits = Vec::new();
        for _ in 0..5 {
            let wait = pacer.on_retry_after(now, s(1));
            waits.push(wait.as_secs());
            // A response still in flight during the closure changes nothing.
            assert_eq!(pacer.on_retry_after(now + ms(10), s(1)), s(1));
            assert_eq!(pacer.closed_until(), (now + wait).max(now + ms(10) + s(1)));
            now = pacer.closed_until() + ms(20);
        }
        assert_eq!(waits, vec![1, 2, 4, 8, 8]);
        // A 429 long after the last closure is taken at its word again.
        let later = pacer.closed_until() + s(60);
        assert_eq!(pacer.on_retry_after(later, s(1)), s(1));
        // So is a shorter Retry-After right after reopening (a sliding window freeing slots).
        let reopened = pacer.closed_until() + ms(5);
        pacer.on_retry_after(reopened, s(30));
        assert_eq!(
            pacer.on_retry_after(pacer.closed_until() + ms(5), ms(200)),
            ms(200)
        );
        // Off: never escalates.
        let mut plain = Pacer::new(PacingConfig {
            spread_ms: 0,
            escalation_cap_ms: 0,
            ..PacingConfig::default()
        });
        plain.on_retry_after(s(0), s(1));
        assert_eq!(plain.on_retry_after(s(1), s(1)), s(1));
    }

    #[test]
    fn client_limit_reserves_slots_in_order() {
        let mut pacer = Pacer::new(PacingConfig {
            limit_per_min: Some(60),
            burst: 2,
            ..PacingConfig::default()
        });
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let waits: Vec<Option<u64>> = (0..5)
            .map(|_| pacer.acquire(s(0), 0, &mut rng).map(|(w, _)| w.as_secs()))
            .collect();
        assert_eq!(waits, vec![None, None, Some(1), Some(2), Some(3)]);
    }

    /// (what happens after the first 429 said 10 s, the closure the second 429 gets)
    #[test]
    fn only_evidence_of_a_wrong_retry_after_escalates() {
        // Each case: a 429 at 0 s with Retry-After 10 s, then the events, then a second 429 with
        // Retry-After 10 s at `second_at`; the closure it gets.
        let cases: [(&str, Option<u64>, u64, u64); 4] = [
            (
                "refused the moment it reopened, nothing admitted: the header was short",
                None,
                10,
                20,
            ),
            (
                "a success came in between: the header was honest",
                Some(10),
                11,
                10,
            ),
            (
                "refused long after reopening: a new window, honestly full",
                None,
                40,
                10,
            ),
            ("refused before reopening: not evidence either", None, 5, 10),
        ];
        for (what, success_at, second_at, expected_s) in cases {
            let mut pacer = Pacer::new(PacingConfig {
                spread_ms: 0,
                ..PacingConfig::default()
            });
            assert_eq!(pacer.on_retry_after(s(0), s(10)), s(10));
            if let Some(at) = success_at {
                pacer.on_success(s(at));
            }
            assert_eq!(pacer.on_retry_after(s(second_at), s(10)), s(expected_s), "{what}");
        }
    }

    #[test]
    fn an_escalation_decays_after_the_first_success() {
        let mut pacer = Pacer::new(PacingConfig {
            spread_ms: 0,
            ..PacingConfig::default()
        });
        assert_eq!(pacer.on_retry_after(s(0), s(10)), s(10));
        assert_eq!(pacer.on_retry_after(s(10), s(10)), s(20), "escalated");
        assert_eq!(pacer.on_retry_after(s(30), s(10)), s(40), "escalated again");
        pacer.on_success(s(71));
        // Halved by the success: a lying header met again is met at 20 s, not relearned from 10.
        assert_eq!(
            pacer.on_retry_after(s(200), s(10)),
            s(10),
            "an honest-looking closure"
        );
        assert_eq!(pacer.on_retry_after(s(210), s(10)), s(20));
        for at in [231, 232, 233] {
            pacer.on_success(s(at));
        }
        // Three successes in one reopening decay it once: 20 → 10, then doubled again.
        assert_eq!(pacer.on_retry_after(s(300), s(10)), s(10));
        assert_eq!(
            pacer.on_retry_after(s(310), s(10)),
            s(20),
            "decayed to the header's word, then doubled"
        );
    }

    proptest::proptest! {
        /// An honest Retry-After (the bucket admits the moment it said) is honoured exactly,
        /// however short and however often: no escalation without evidence.
        #[test]
        fn an_honest_retry_after_never_escalates(
            steps in proptest::collection::vec((1u64..30, 0u64..5_000), 1..40),
        ) {
            let mut pacer = Pacer::new(PacingConfig::default());
            let mut now = Duration::ZERO;
            for (retry_after_s, gap_ms) in steps {
                let closed = pacer.on_retry_after(now, s(retry_after_s));
                proptest::prop_assert_eq!(closed, s(retry_after_s), "escalated an honest header at {:?}", now);
                now += s(retry_after_s);
                pacer.on_success(now);
                now += Duration::from_millis(gap_ms);
            }
        }
    }
}
