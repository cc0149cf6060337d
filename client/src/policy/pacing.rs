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
//! - A learned limit ([`LearnedLimit`]): at most `limit` sends in any window, starting from the
//!   platform's documented default (Genesys: 300 per minute per token) when there is one. A 429
//!   that says when (Retry-After) sets it to what the platform admitted in the window before
//!   it, counting the answers still on their way; a window in which the limit held sends back
//!   and nothing was refused lets it grow by a sixteenth after two such windows. A configured
//!   `limit_per_min` replaces it. Unlike an adaptive rate, it keeps the window's burst: after a
//!   pause the bucket is full again, as the platform's is.
//! - Probes look for room beyond the learned limit, and are careful in a bucket that others
//!   share (instances on one OAuth client): the room a bucket shows the moment it reopens is
//!   the others' sends still on their way, so a first probe waits until the reopening's spread
//!   has passed and this bucket's own sends have been quiet as long, before it and after it (the
//!   room found just before its own reserved sends go is theirs); the reopening that follows
//!   a refused probe grants no new one, unless the header showed that others hold older slots,
//!   or the bucket holds none of this one's (how a newcomer takes its share).
//! - Refused probes in a row space the next one out, doubling from the Retry-After up to the
//!   window; an admitted one resets it. A refused probe does not escalate the bucket's closure
//!   (it was this bucket's own question, and the closure holds every send), and no escalation
//!   holds the bucket past the learned limit's next free slot.
//! - A reopening that the learned limit would pass in silence (every send waits for a slot
//!   further off than the closure lasted) is seen by a send waiting for its slot, not only by
//!   the next new one: a limit learned too low (a burst refused in a window shorter than the
//!   documented one) finds the platform's reset by probing there, instead of waiting out its
//!   whole window.
//! - A prior nobody has confirmed (no refusal yet, never all admitted in a window) goes out in the
//!   bucket's first window as a ramp over a tenth of the window, not as one burst: instances on
//!   one OAuth client share its client-wide limit, and a burst would send everything before the
//!   first refusal could answer. A limiter shared by the fleet confirms it (it knows the others).
//! - A send whose learned slot a shared Retry-After outlived (the 429 came while it waited) gives
//!   the slot back and reserves again after the closure: the log then holds when it really went.
//! - A refusal whose Retry-After outlasts the longest window (beyond the header's resolution)
//!   costs more than the window's worth: the platform counts over a longer window, or holds a
//!   refused client back on purpose. After one, the limit looks for room (probes, growth) only
//!   after sixteen times the closure, so that such looks cost at most a sixteenth of the time.
//!   When the share moves (refused again after the closure, or the count was made in the
//!   bucket's first window, before others sharing it filled theirs), the limit keeps a
//!   sixteenth below what was admitted and its sends go evenly spaced at the learned rate,
//!   which every limiter admits (a sliding window's estimate frees a burst's slots only over
//!   the next window). A share too small to keep a sixteenth back is not guarded that way:
//!   probes look for room, as after any refusal.
//! - Sends waiting for the learned limit keep the order they came in, except for an item whose
//!   slot would come past half its time (one refused again and again, its deadline near): it
//!   takes the first slot held by an item that started after it, and each of those moves one
//!   slot on. A refused item otherwise goes to the back each time, and could pass its deadline
//!   behind younger items while the platform only rate limits.
//! - A Retry-After shorter than the window implies (a platform limiting per second) is tried
//!   before it is believed: the limit's share of the shorter window must be admitted again
//!   within it, because a bucket shared at capacity answers in seconds too.
//! - A 429 without Retry-After is noise alone (an edge in front of the platform answers so at
//!   random), but a run of them with no 2xx between is a limit that does not say when: the
//!   bucket closes for a second, doubling while its reopenings are refused at once (the
//!   escalation of a short Retry-After, so a reset nobody announced is found in a few
//!   refusals), and the learned limit takes what a whole window admitted, when no such closure
//!   of ours cut that window short. The first admission that ends a long run of them is a
//!   reset: the escalation that follows a window later ends no later than the same point of
//!   that window (it only shortens a closure, so a reset that is not periodic costs a refusal,
//!   never a wait).

use std::collections::BTreeMap;
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
    /// Learn the limit from the platform's answers (see [`LearnedLimit`]).
    pub learn: bool,
    /// Where learning starts: sends per `learn_window_ms`. `None`: the platform's documented
    /// default (Genesys 300 per minute per token; CXone documents none, so nothing until the
    /// first 429). The client fills it in from its platform when it is built.
    pub prior_per_window: Option<u64>,
    /// The window of the learned limit: Genesys documents per-minute limits.
    pub learn_window_ms: u64,
    /// Sleep the waits it computes. `false` is the tutorials' bug: the wait is computed and
    /// logged, and the request goes at once (a `sleep` that is never awaited).
    pub obey: bool,
}

impl PacingConfig {
    /// This configuration with the platform's documented default as its prior, when none is
    /// set: Genesys' `client.credentials.token.rate.per.minute` = 300 (platform-facts §1b, quoted
    /// by community answers **[SECONDARY]**); CXone publishes no general limit, so none.
    pub fn with_platform_prior(&self, platform: crate::platform::Platform) -> PacingConfig {
        let mut config = self.clone();
        // The documented default is per minute: it is no prior for a window of another length.
        if config.prior_per_window.is_none() && config.learn_window_ms == 60_000 {
            config.prior_per_window = match platform {
                crate::platform::Platform::Genesys => Some(300),
                crate::platform::Platform::Cxone => None,
            };
        }
        config
    }
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
            learn: true,
            prior_per_window: None,
            learn_window_ms: 60_000,
            obey: true,
        }
    }
}

/// A limit learned from the platform's answers: at most `limit` sends in any `window`.
#[derive(Clone, Debug)]
pub struct LearnedLimit {
    limit: Option<u64>,
    window: Duration,
    /// The longest window it assumes (the platform's documented one); a Retry-After can only
    /// shorten it.
    window_max: Duration,
    /// A shorter window a Retry-After implied, on trial (see [`CandidateWindow`]).
    candidate_window: Option<CandidateWindow>,
    /// When this bucket's sends were reserved, oldest first (the last window's).
    sends: std::collections::VecDeque<Duration>,
    /// When its answers were admitted (2xx), oldest first (the last window's).
    admitted: std::collections::VecDeque<Duration>,
    refused_at: Option<Duration>,
    /// Windows in a row in which the limit held a send back and nothing was refused.
    clean_binding_windows: u32,
    window_started: Duration,
    bound_this_window: bool,
    /// The longest answer seen lately: the margin kept past a window's end, so that a send
    /// released as a slot frees does not reach the platform before its own slot has.
    latency: Duration,
    /// Probes: when the limit holds a send back, it may go at once as a probe instead. An
    /// admitted probe raises the limit by one and allows two more (so a limit found too low
    /// doubles its way up within a window); a refused one ends probing until the next window.
    /// In a bucket shared at capacity a probe costs one refusal a window; when the platform has
    /// room, the limit finds it in a few round trips.
    probe_tokens: u32,
    probes_out: u32,
    /// The last reopening (the end of a shared Retry-After) that granted a probe.
    reopening_seen: Duration,
    /// Probes admitted since the last refused one: room the platform has shown.
    probes_admitted: u32,
    /// How long this bucket's own sends must have been quiet before a first probe: the spread
    /// of a reopening, so that the room a reopened bucket shows for a moment (the sends of
    /// others who share it, still on their way) is not taken for room beyond the limit.
    quiet: Duration,
    /// No first probe before this: a reopening's spread (and two answers) after it.
    probe_not_before: Duration,
    /// The last refusal was a probe's: the reopening it brings shows no room.
    probe_was_refused: bool,
    /// Refused probes in a row space the next look out, doubling from the Retry-After up to
    /// the window: a look no sooner than `probe_again_at`. An admitted probe resets it. (The
    /// bucket's closure is not what spaces them: it would hold every send, and a probe is
    /// only this bucket's own question.)
    probe_backoff: Duration,
    probe_again_at: Duration,
    /// A reopening seen, to be looked at once `probe_again_at` has come.
    look_at: Option<Duration>,
    /// When a probe was last refused (what [`Pacer::on_retry_after`] asks of the refusal it
    /// is told of).
    refused_probe: Option<Duration>,
    /// The limit is the platform's answer, not only its documentation: a refusal set it, or a
    /// window admitted all of it. Until then, in the bucket's first window, the prior goes out as
    /// a ramp over a [`RAMP_DIVISOR`]th of the window rather than at once: a documented default
    /// per token says nothing of who else shares the bucket (two instances on one OAuth client
    /// share the client-wide limit), and a burst sends everything before the first refusal can
    /// answer.
    confirmed: bool,
    /// When this bucket first reserved a send: its first window is the only one ramped.
    first_send: Option<Duration>,
    /// No exploration (probes, growth) before this: a refusal closed the bucket for longer than
    /// the window (see [`COSTLY_REFUSAL_RUN`]).
    explore_after: Duration,
    /// When the last costly refusal's closure ended: a costly refusal of a send made after it
    /// shows a share that moves.
    costly_reopens: Duration,
    /// A costly refusal came again after one: until `explore_after`, sends go evenly spaced
    /// and the limit keeps a sixteenth back.
    smooth: bool,
    /// The sends reserved in the log and not yet gone, by ticket (see [`Slot`]).
    waiting: BTreeMap<u64, Waiting>,
    next_ticket: u64,
}

/// A send's reservation in a learned limit: what [`Pacer::acquire`] made, to pass to
/// [`Pacer::go_early`], [`Pacer::reserve_again`] and [`Pacer::sent`]. Its time can move later
/// while it waits: an item past half its time takes the first slot held by one that started
/// after it (see [`LearnedLimit::take_place`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot(u64);

/// The item a send is for: when it started, and the deadline it must finish by, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Item {
    pub started: Duration,
    pub deadline: Option<Duration>,
}

impl Item {
    /// Past half its time: a slot after this point leaves the item less time than it has
    /// waited, so it goes before items that started after it.
    fn urgent_after(&self) -> Option<Duration> {
        self.deadline
            .map(|deadline| self.started + deadline.saturating_sub(self.started) / 2)
    }
}

/// A reserved send not yet gone: its item, and its slot.
#[derive(Clone, Copy, Debug)]
struct Waiting {
    item: Item,
    at: Duration,
}

/// A refusal whose Retry-After outlasts the window costs more than the window's worth of
/// sends: an honest sliding window never asks for more than a window, so the platform counts
/// over a longer one than the limit learned, or holds a refused client back on purpose. After
/// such a refusal the limit looks for room beyond it (probes, growth) only once the bucket has
/// run this many times the closure since: exploration then costs at most this fraction of the
/// time in closures. Where the share moves, the limit keeps this fraction of it back.
const COSTLY_REFUSAL_RUN: u32 = 16;

/// An unconfirmed prior's sends are spread over this fraction of the window.
const RAMP_DIVISOR: u32 = 10;

/// `count` per `window` scaled to `part` of it, rounded up, at least one.
fn share_of(count: u64, part: Duration, window: Duration) -> u64 {
    let scaled = u128::from(count) * part.as_micros() / window.as_micros().max(1);
    u64::try_from(scaled).unwrap_or(u64::MAX).max(1)
}

/// A send held back for a learned slot leaves up to `spread_ms` after the slot frees, so that a
/// window's worth does not leave at once: the draw, made only if it is held back.
fn release_spread(spread_ms: u64, rng: &mut impl Rng) -> impl FnOnce() -> Duration + '_ {
    let spread_us = spread_ms.saturating_mul(1_000);
    move || Duration::from_micros(uniform(rng, 0, spread_us))
}

/// Retry-After counts whole seconds.
const RETRY_AFTER_RESOLUTION: Duration = Duration::from_secs(1);

/// A shorter window than the documented one, implied by a Retry-After: from our oldest
/// admission in the window to the moment the header says a slot frees. A platform that limits
/// per second answers in seconds; so does one that limits per minute, when others share the
/// bucket (its oldest admission is theirs) and it frees a slot every second. The two differ in
/// what follows the reopening: a short window admits again within it at least its share of the
/// limit (the limit scaled to the shorter window: a token bucket refills at that rate), a shared
/// bucket at capacity only the few slots that free. So the shorter window is taken only once
/// that share of sends made after the reopening has been admitted within it, and dropped at a
/// refusal or when that time has passed.
#[derive(Clone, Copy, Debug)]
struct CandidateWindow {
    window: Duration,
    reopens: Duration,
    needed: u64,
    admitted: u64,
}

impl LearnedLimit {
    pub fn new(prior: Option<u64>, window: Duration) -> LearnedLimit {
        let window = window.max(Duration::from_millis(1));
        LearnedLimit {
            limit: prior.filter(|&n| n > 0),
            window,
            window_max: window,
            candidate_window: None,
            sends: std::collections::VecDeque::new(),
            admitted: std::collections::VecDeque::new(),
            refused_at: None,
            clean_binding_windows: 0,
            window_started: Duration::ZERO,
            bound_this_window: false,
            latency: Duration::ZERO,
            probe_tokens: 1,
            probes_out: 0,
            reopening_seen: Duration::ZERO,
            probes_admitted: 0,
            quiet: Duration::ZERO,
            probe_not_before: Duration::ZERO,
            probe_was_refused: false,
            probe_backoff: Duration::ZERO,
            probe_again_at: Duration::ZERO,
            look_at: None,
            refused_probe: None,
            confirmed: prior.is_none(),
            first_send: None,
            explore_after: Duration::ZERO,
            costly_reopens: Duration::ZERO,
            smooth: false,
            waiting: BTreeMap::new(),
            next_ticket: 0,
        }
    }

    /// The quiet a first probe waits for after this bucket's last send (see [`Self::quiet`]);
    /// twice the longest recent answer is added to it.
    fn with_quiet(mut self, quiet: Duration) -> LearnedLimit {
        self.quiet = quiet;
        self
    }

    /// While the prior is unconfirmed, the earliest the send after `sent` others in the window
    /// may go: the prior goes out as a ramp, not a burst (see [`Self::confirmed`]).
    fn ramp_at(&self, now: Duration, sent: u64) -> Option<Duration> {
        let first = self.first_send?;
        // Only the bucket's first window: after it, its sends follow what the platform admitted.
        if self.confirmed || !self.in_first_window(now) {
            return None;
        }
        let limit = self.limit?;
        let step = self.window / RAMP_DIVISOR / u32::try_from(limit).unwrap_or(u32::MAX).max(1);
        Some(first + step * u32::try_from(sent).unwrap_or(u32::MAX))
    }

    /// `now` lies in the bucket's first window (or it has sent nothing yet).
    fn in_first_window(&self, now: Duration) -> bool {
        self.first_send.is_none_or(|first| now < first + self.window)
    }

    /// Where the send reserved at `at` is in the log (the first of several at that instant).
    fn logged(&self, at: Duration) -> Option<usize> {
        let position = self.sends.partition_point(|&sent| sent < at);
        (self.sends.get(position) == Some(&at)).then_some(position)
    }

    /// Moves the send logged at `position` to `at`, keeping the log in order.
    fn move_send(&mut self, position: usize, at: Duration) {
        self.sends.remove(position);
        let position = self.sends.partition_point(|&sent| sent <= at);
        self.sends.insert(position, at);
    }

    /// Probing may resume: a new window, or a reopening.
    fn grant_probe(&mut self) {
        self.probes_admitted = 0;
        self.probe_tokens = self.probe_tokens.max(1);
    }

    /// A probe may go now: one is granted, and either the platform has shown room since the
    /// last refused probe, or this bucket's own sends have been quiet for [`Self::quiet`] (plus
    /// two answers' time) so that others sharing the bucket have had their turn.
    fn may_probe(&self, now: Duration) -> bool {
        if self.probe_tokens == 0 || now < self.explore_after {
            return false;
        }
        // A shorter window on trial is tested by probes from its reopening on.
        let on_trial = self
            .candidate_window
            .is_some_and(|candidate| now >= candidate.reopens && now < candidate.reopens + candidate.window);
        if self.probes_admitted > 0 || on_trial {
            return true;
        }
        if now < self.probe_not_before {
            return false;
        }
        // Quiet on both sides: the room a probe finds just before this bucket's own reserved
        // sends go (a fixed window's reset, say) is theirs.
        let sent = self.sends.partition_point(|&at| at <= now);
        let last_sent = sent.checked_sub(1).map(|i| self.sends[i]);
        let next_sent = self.sends.get(sent).copied();
        let margin = self.quiet_margin();
        last_sent.is_none_or(|at| now >= at + margin) && next_sent.is_none_or(|at| at >= now + margin)
    }

    /// How long this bucket's own sends stay quiet around a probe, and how long after a
    /// reopening the first one waits: the reopening's spread and two answers.
    fn quiet_margin(&self) -> Duration {
        self.quiet + self.latency * 2
    }

    /// When the learned limit next lets a send go, if it holds them back now: the slot of the
    /// `limit`-th latest send frees a window (and an answer's way) after it went.
    fn next_free(&self, now: Duration) -> Option<Duration> {
        let limit = usize::try_from(self.limit?).unwrap_or(usize::MAX);
        let since = self.sends.partition_point(|&at| at + self.window <= now);
        let counted = self.sends.len() - since;
        (counted >= limit).then(|| self.sends[self.sends.len() - limit] + self.window + self.latency)
    }

    /// After a costly refusal (see [`COSTLY_REFUSAL_RUN`]), the earliest a send may go: its
    /// slot in the log, and a window's `limit`th after the latest send reserved. Sends spaced
    /// evenly at the learned rate are admitted whatever the platform counts with (a sliding
    /// log, a sliding window's estimate, a fixed window, a token bucket), where a window's
    /// burst is admitted by some only: a sliding window's estimate frees the slots of a burst
    /// over the next window, not at its end. `None` when the bucket is not careful.
    fn careful_slot(&self, now: Duration) -> Option<Duration> {
        if !self.smooth || now >= self.explore_after {
            return None;
        }
        let limit = u32::try_from(self.limit?).unwrap_or(u32::MAX).max(1);
        let spaced = self.sends.back().map(|&last| last + self.window / limit);
        Some(spaced.max(self.next_free(now)).unwrap_or(now))
    }

    /// The limit in force, if one is known.
    pub fn limit(&self) -> Option<u64> {
        self.limit
    }

    /// The window the limit counts over.
    pub fn window(&self) -> Duration {
        self.window
    }

    fn forget_before(&mut self, now: Duration) {
        // Within the first window nothing is old enough to forget.
        let Some(horizon) = now.checked_sub(self.window) else {
            return;
        };
        while self.sends.front().is_some_and(|&at| at <= horizon) {
            self.sends.pop_front();
        }
        while self.admitted.front().is_some_and(|&at| at <= horizon) {
            self.admitted.pop_front();
        }
    }

    /// Time passes to `now`: old sends are forgotten, a new window may begin, and a reopening
    /// of the bucket (the end of a shared Retry-After, `reopened_at`) that has come grants a
    /// probe. Whoever looks first, a new send or one waiting for its slot, sees it.
    fn observe(&mut self, now: Duration, reopened_at: Duration) {
        self.forget_before(now);
        self.turn_window(now);
        // The platform said the bucket would reopen now: it may have room beyond the limit (the
        // rest of a shared bucket went quiet), so a probe may look.
        // A reopening after a refused probe shows nothing new: the probe found the edge.
        if reopened_at > self.reopening_seen && reopened_at <= now {
            self.reopening_seen = reopened_at;
            if !self.probe_was_refused {
                self.look_at = Some(reopened_at.max(self.probe_again_at));
            }
        }
        if let Some(at) = self.look_at.filter(|&at| at <= now) {
            self.look_at = None;
            self.probe_not_before = at + self.quiet_margin();
            self.grant_probe();
        }
    }

    /// Reserves a send at or after `from`: when it may go. A send held back for a slot leaves
    /// `spread` after the slot frees, and is logged at that time: the log holds when sends
    /// really go, so the next window frees each slot no earlier than the platform does.
    fn reserve(
        &mut self,
        now: Duration,
        from: Duration,
        item: Item,
        spread: impl FnOnce() -> Duration,
        reopened_at: Duration,
    ) -> (Duration, Option<Slot>) {
        self.observe(now, reopened_at);
        if self.limit.is_none() {
            return (from, None);
        }
        let mut at = from;
        self.first_send.get_or_insert(from);
        if let Some(ramped) = self.ramp_at(now, self.sends.len() as u64) {
            at = at.max(ramped);
        }
        if let Some(spaced) = self.careful_slot(now) {
            // After a costly refusal: evenly spaced at the learned rate, no probe, no spread
            // (the spacing spreads the sends already).
            if spaced > at {
                self.bound_this_window = true;
                at = spaced;
            }
        } else if let Some(freed) = self.next_free(now).filter(|&freed| freed > at) {
            self.bound_this_window = true;
            if self.may_probe(now) {
                self.probe_tokens -= 1;
                self.probes_out += 1;
            } else {
                at = freed + spread();
            }
        }
        let position = self.sends.partition_point(|&sent| sent <= at);
        self.sends.insert(position, at);
        let earliest = from.max(now);
        let urgent = item.urgent_after().is_some_and(|urgent| at > urgent);
        if at > earliest && urgent && item.started < now {
            at = self.take_place(item.started, earliest, at);
        }
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        self.waiting.insert(ticket, Waiting { item, at });
        (at, Some(Slot(ticket)))
    }

    /// Oldest first among the waiting, for an item whose slot `last` at the back of the queue
    /// lies past half its time (one refused now and then, coming back): it takes the first
    /// slot after `earliest` held by an item that started after `started`; each such item moves
    /// to the next such slot, and the last to `last`. The log's times stay as they are: only
    /// who holds them changes. Without it, such an item goes to the back each time, and can
    /// pass its deadline behind younger items while the platform only rate limits. (Items with
    /// time to spare keep the order they came in: a refused one goes to the back, which gives
    /// a bucket at capacity room.)
    fn take_place(&mut self, started: Duration, earliest: Duration, last: Duration) -> Duration {
        let mut younger: Vec<(Duration, u64)> = self
            .waiting
            .iter()
            .filter(|(_, waiting)| {
                waiting.item.started > started && waiting.at > earliest && waiting.at < last
            })
            .map(|(&ticket, waiting)| (waiting.at, ticket))
            .collect();
        if younger.is_empty() {
            return last;
        }
        younger.sort_unstable();
        let taken = younger[0].0;
        let moved_to = younger.iter().skip(1).map(|&(at, _)| at).chain([last]);
        for (&(_, ticket), at) in younger.iter().zip(moved_to) {
            if let Some(waiting) = self.waiting.get_mut(&ticket) {
                waiting.at = at;
            }
        }
        taken
    }

    /// Where the reservation `slot` stands now, if it is still waiting.
    fn slot_at(&self, slot: Slot) -> Option<Duration> {
        self.waiting.get(&slot.0).map(|waiting| waiting.at)
    }

    /// Windows pass: two in a row in which the limit held sends back and nothing was refused
    /// are evidence that it may be higher; it grows by a sixteenth.
    fn turn_window(&mut self, now: Duration) {
        if now < self.window_started + self.window {
            return;
        }
        let refused_in_window = self.refused_at.is_some_and(|at| at >= self.window_started);
        if self.bound_this_window && !refused_in_window {
            self.clean_binding_windows += 1;
        } else {
            self.clean_binding_windows = 0;
        }
        if self.clean_binding_windows >= 2 && now >= self.explore_after {
            if let Some(limit) = self.limit.as_mut() {
                *limit += (*limit / 16).max(1);
            }
            self.clean_binding_windows = 0;
        }
        self.window_started = now;
        self.bound_this_window = false;
        self.grant_probe();
    }

    /// An admitted answer, `latency` after its send. Admissions are kept by when they were
    /// sent: a refusal's sample is what the platform admitted of the sends in the window before
    /// it, and one still on its way when the refusal came adds to it when it arrives.
    /// Returns whether it was a probe's: the limit grew, and so did the probes allowed.
    fn on_admitted(&mut self, now: Duration, latency: Duration) -> bool {
        let probe = self.probes_out > 0;
        self.latency = latency.max(self.latency * 7 / 8);
        self.forget_before(now);
        let sent_at = now.saturating_sub(latency);
        if let Some(candidate) = self.candidate_window.as_mut() {
            if sent_at >= candidate.reopens + candidate.window {
                // The trial's time passed without its share admitted: a bucket at capacity.
                self.candidate_window = None;
            } else if sent_at >= candidate.reopens {
                candidate.admitted += 1;
                if candidate.admitted >= candidate.needed {
                    // Its share again within the short window: it is the platform's.
                    self.window = candidate.window;
                    self.candidate_window = None;
                }
            }
        }
        let position = self.admitted.partition_point(|&at| at <= sent_at);
        self.admitted.insert(position, sent_at);
        if self
            .limit
            .is_some_and(|limit| self.admitted.len() as u64 >= limit)
        {
            self.confirmed = true;
        }
        if probe {
            self.probes_out -= 1;
            self.probe_backoff = Duration::ZERO;
            self.limit = self.limit.map(|limit| limit + 1);
            self.probe_tokens = self.probe_tokens.saturating_add(2).min(1 << 16);
            self.probes_admitted = self.probes_admitted.saturating_add(1);
        } else if let Some(refused_at) = self.refused_at {
            if sent_at <= refused_at && sent_at + self.window > refused_at {
                self.limit = self.limit.map(|limit| limit + 1);
            }
        }
        probe
    }

    /// A refusal once a shorter window's trial has reopened, before the trial's share was
    /// admitted again: the shorter window was not the platform's (and the refusal says nothing
    /// of the window). Ends the trial; returns whether it failed so.
    fn trial_failed(&mut self, now: Duration) -> bool {
        let failed = self
            .candidate_window
            .is_some_and(|candidate| now >= candidate.reopens);
        if failed {
            self.candidate_window = None;
        }
        failed
    }

    /// A 429 that says when, `retry_after` from now: the platform admitted what it admitted of
    /// our sends in its window, and the window is no longer than from our oldest admission then
    /// to the moment it says a slot frees (a platform limiting per second answers in seconds).
    fn on_refused(&mut self, now: Duration, retry_after: Duration) {
        self.forget_before(now);
        let trial_failed = self.trial_failed(now);
        // The window the header implies, from our oldest admission in ours to the slot it says
        // frees: shorter than ours by more than a Retry-After's resolution (whole seconds) and
        // the answer's way, when the platform's window is shorter or when it holds the older
        // sends of others who share the bucket.
        let implied = self.admitted.front().map(|&oldest| {
            (now + retry_after)
                .saturating_sub(oldest)
                .clamp(Duration::from_secs(1), self.window_max)
        });
        let shorter =
            implied.filter(|&implied| implied + RETRY_AFTER_RESOLUTION + self.latency < self.window);
        // Beyond the longest window by more than the header's resolution (an HTTP-date and the
        // Date it is read against are whole seconds each) and the answer's way.
        // A share too small to keep a sixteenth of it back (the bucket is nearly all others')
        // is not worth guarding: it is met as any refusal, and probes look for room (where a
        // share it guarded has shrunk to that, they look again).
        let long = retry_after > self.window_max + RETRY_AFTER_RESOLUTION * 2 + self.latency;
        let costly = long && self.admitted.len() as u64 >= u64::from(COSTLY_REFUSAL_RUN);
        // Refused again, a send made after the last costly closure: what the platform admits
        // moves from window to window (others sharing the bucket send more or less, or it
        // counts a burst differently), so the limit keeps some of it back and sends evenly.
        // So does a count over the bucket's first window, made before others sharing the
        // bucket had a window to fill theirs.
        let shifting =
            costly && (self.in_first_window(now) || (now < self.explore_after && now >= self.costly_reopens));
        if costly {
            self.explore_after = self
                .explore_after
                .max(now + retry_after.saturating_mul(COSTLY_REFUSAL_RUN));
            self.costly_reopens = self.costly_reopens.max(now + retry_after);
            self.smooth |= shifting;
        } else if long {
            self.explore_after = Duration::ZERO;
            self.smooth = false;
        }
        if self.probes_out > 0 {
            self.probe_refused(now, retry_after, shorter.is_some());
            return;
        }
        if let (false, Some(implied)) = (trial_failed, shorter) {
            self.candidate_window = Some(CandidateWindow {
                window: implied,
                reopens: now + retry_after,
                needed: share_of(self.admitted.len() as u64, implied, self.window),
                admitted: 0,
            });
        }
        // What is left after `forget_before` is exactly the admissions sent in the window before
        // now. Answers admitted before this refusal but still on their way raise it again as they
        // arrive (`on_admitted`).
        let admitted = self.admitted.len() as u64;
        let headroom = if shifting {
            admitted / u64::from(COSTLY_REFUSAL_RUN)
        } else {
            0
        };
        self.set_limit(now, admitted.saturating_sub(headroom));
    }

    /// A refusal of a send made as a probe, `retry_after` from now: the probe found the edge;
    /// the limit stands, and no more probing this window. The reopening it brings shows no new
    /// room either, unless others hold older slots of the bucket (`others_older`: the header
    /// implied a window shorter than ours), or it holds none of ours (then a slot they free may
    /// be taken: how a newcomer gets its share).
    fn probe_refused(&mut self, now: Duration, retry_after: Duration, others_older: bool) {
        self.probes_out = 0;
        self.probe_tokens = 0;
        self.probes_admitted = 0;
        self.probe_backoff = (self.probe_backoff * 2)
            .max(retry_after)
            .max(RETRY_AFTER_RESOLUTION)
            .min(self.window_max);
        self.probe_again_at = now + self.probe_backoff;
        self.refused_probe = Some(now);
        // Refused holding no slot of the window at all: the bucket is all others'.
        self.probe_was_refused = !others_older && !self.admitted.is_empty();
        self.refused_at = Some(now);
    }

    /// A refusal sets the limit to `limit`: what the platform admitted of the window before it.
    fn set_limit(&mut self, now: Duration, limit: u64) {
        self.limit = Some(limit.max(1));
        self.confirmed = true;
        self.probe_was_refused = false;
        self.refused_at = Some(now);
        self.clean_binding_windows = 0;
    }

    /// A refusal that did not say when, taken for the limit's (see [`Pacer::on_refused_unsaid`]):
    /// as [`Self::on_refused`], the platform admitted what it admitted of our sends in the window
    /// before it; without a time, it implies no window and no cost beyond the window's.
    fn on_refused_unsaid(&mut self, now: Duration) {
        self.forget_before(now);
        self.trial_failed(now);
        if self.probes_out > 0 {
            self.probe_refused(now, Duration::ZERO, false);
            return;
        }
        // The bucket's first window holds less than a window's sends: no count of a window.
        if self.in_first_window(now) {
            return;
        }
        self.set_limit(now, self.admitted.len() as u64);
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
    /// The limit learned from the platform's answers (or its documented default).
    Learned,
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
    learned: Option<LearnedLimit>,
    /// The learned limit's reservation the last `acquire` made.
    reservation: Option<Slot>,
    /// 429s without `Retry-After` since the last 2xx (see [`Self::on_refused_unsaid`]).
    unsaid_run: u32,
    /// The platform has refused this bucket for its limit (a 429 that said when, or a run of
    /// them that did not): its probes no longer start at once (see [`Self::on_success`]).
    ever_limited: bool,
    /// When such a run last closed the bucket.
    unsaid_closed_at: Option<Duration>,
    /// When the refusals that did not say when began, until a send made since is admitted.
    unsaid_episode: Option<Duration>,
    /// When such refusals last ended after an eighth of a window or more: a reset, expected
    /// again a window later.
    unsaid_reset: Option<Duration>,
}

/// 429s without `Retry-After` in a row, with no 2xx between them, before they are taken for the
/// platform's limit rather than an edge's noise. A limit reached refuses every send until a
/// slot frees, so a run comes at once; refusals at random, a fraction `p` of the answers, make
/// one only `p^(n-1)` of the time (at the 15% of `gateway-spikes`, 0.3%).
const UNSAID_RUN: u32 = 4;

/// The closure a 429 without `Retry-After` brings once it is taken for the limit's: the
/// header's resolution. Refused again at the reopening with no success since, it doubles (the
/// escalation of a short `Retry-After`), so a reset it does not know is found in a few
/// refusals, as an honest one is met.
const UNSAID_WAIT: Duration = RETRY_AFTER_RESOLUTION;

/// How long after a reopening a refusal still counts as "at once" (a round trip, beyond the
/// spread).
const AT_ONCE_MARGIN: Duration = Duration::from_secs(1);

impl Pacer {
    pub fn new(config: PacingConfig) -> Pacer {
        // A configured limit replaces every prior and what could be learned.
        let learned = (config.learn && config.limit_per_min.is_none()).then(|| {
            LearnedLimit::new(
                config.prior_per_window,
                Duration::from_millis(config.learn_window_ms),
            )
            .with_quiet(Duration::from_millis(config.spread_ms))
        });
        Pacer {
            learned,
            config,
            quota: None,
            closed_until: Duration::ZERO,
            last_header_wait: Duration::ZERO,
            last_wait: Duration::ZERO,
            tat: Duration::ZERO,
            succeeded_since_reopen: false,
            reservation: None,
            unsaid_run: 0,
            ever_limited: false,
            unsaid_closed_at: None,
            unsaid_episode: None,
            unsaid_reset: None,
        }
    }

    /// Reserves a send of a new item at or after `now`: the wait before it may go, and why.
    /// `in_flight` counts this bucket's requests already sent and not yet answered.
    pub fn acquire(
        &mut self,
        now: Duration,
        in_flight: u64,
        rng: &mut impl Rng,
    ) -> Option<(Duration, PaceReason)> {
        let item = Item {
            started: now,
            deadline: None,
        };
        self.acquire_for(now, item, in_flight, rng)
    }

    /// Reserves a send of `item` (its first attempt, or a retry): as [`Self::acquire`], but an
    /// item whose learned slot would come past half its time goes before the items waiting
    /// that started after it.
    pub fn acquire_for(
        &mut self,
        now: Duration,
        item: Item,
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
        if let Some(learned) = self.learned.as_mut() {
            let from = now + wait.map_or(Duration::ZERO, |(w, _)| w);
            let spread = release_spread(self.config.spread_ms, rng);
            let (at, slot) = learned.reserve(now, from, item, spread, self.closed_until);
            self.reservation = slot;
            if at > from {
                wait = Some((at - now, PaceReason::Learned));
            }
        }
        wait
    }

    /// The learned limit, if this bucket learns one.
    pub fn learned(&self) -> Option<&LearnedLimit> {
        self.learned.as_ref()
    }

    /// Where the reservation `slot` stands now (it moves later when an older item past half its
    /// time takes its place), while it waits.
    pub fn slot_at(&self, slot: Slot) -> Option<Duration> {
        self.learned.as_ref()?.slot_at(slot)
    }

    /// A send waiting for its learned-limit slot goes now, if it may: because the limit learned
    /// since (a shorter window, a higher limit) frees a slot already, or as a probe, when one
    /// is available. Its reservation then moves to `now`.
    pub fn go_early(&mut self, slot: Slot, now: Duration) -> bool {
        let Some(learned) = self.learned.as_mut() else {
            return false;
        };
        let Some(reserved_at) = learned.slot_at(slot) else {
            return false;
        };
        // Nothing goes early while a shared Retry-After holds the bucket closed, nor while a
        // costly refusal holds exploration back (a send gone early is one).
        if now >= reserved_at || now < self.closed_until || now < learned.explore_after {
            return false;
        }
        // A reopening is a look at the bucket: one the learned limit would let pass in silence
        // (its next slot lies further off than the closure lasted) is taken by a waiting send,
        // or the limit, if it was learned too low, could not find out until that slot. A busy
        // bucket's next send sees it (`reserve`).
        let silent = learned
            .next_free(now)
            .is_some_and(|free| free > self.closed_until + self.last_wait);
        if silent {
            learned.observe(now, self.closed_until);
        } else {
            learned.forget_before(now);
        }
        // The waiting reservation lies after `now`, so it is not among the sends counted here.
        let sent_by_now = learned.sends.partition_point(|&at| at <= now) as u64;
        if learned
            .ramp_at(now, sent_by_now)
            .is_some_and(|ramped| ramped > now)
        {
            return false;
        }
        let free = learned.limit.is_none_or(|limit| sent_by_now < limit);
        if !free && !learned.may_probe(now) {
            return false;
        }
        let Some(position) = learned.logged(reserved_at) else {
            return false;
        };
        if !free {
            learned.probe_tokens -= 1;
            learned.probes_out += 1;
        }
        learned.move_send(position, now);
        if let Some(waiting) = learned.waiting.get_mut(&slot.0) {
            waiting.at = now;
        }
        true
    }

    /// A limiter shared by the fleet reserved this bucket's slot: who else sends is known to
    /// it, so the prior goes out without a ramp.
    pub fn coordinated(&mut self) {
        if let Some(learned) = self.learned.as_mut() {
            learned.confirmed = true;
        }
    }

    /// The learned limit's reservation that the last [`Self::acquire`] made, if it made one:
    /// what to pass to [`Self::go_early`] and [`Self::sent`].
    pub fn take_reservation(&mut self) -> Option<Slot> {
        self.reservation.take()
    }

    /// A send whose learned slot, `slot`, a shared Retry-After has outlived
    /// (the 429 came while it waited): the slot was counted at a time it did not go, so it is
    /// given back and a new one reserved from `now`, against the log as it stands after the
    /// closure. Without this, every send reserved before a closure goes the moment it ends,
    /// whatever the limit. Returns when the new slot is, and the new reservation.
    pub fn reserve_again(
        &mut self,
        slot: Slot,
        now: Duration,
        rng: &mut impl Rng,
    ) -> (Duration, Option<Slot>) {
        let (closed_until, spread_ms) = (self.closed_until, self.config.spread_ms);
        let Some(learned) = self.learned.as_mut() else {
            return (now, None);
        };
        let Some(Waiting { item, at }) = learned.waiting.remove(&slot.0) else {
            return (now, None);
        };
        if let Some(position) = learned.logged(at) {
            learned.sends.remove(position);
        }
        learned.reserve(now, now, item, release_spread(spread_ms, rng), closed_until)
    }

    /// The send reserved as `slot` goes now, and its reservation ends. Later than reserved (a
    /// shared Retry-After closed the bucket meanwhile, say), its slot is logged at `now`, when
    /// the platform counts it, or the limit would free it a window after a time it was not
    /// sent, early.
    pub fn sent(&mut self, slot: Slot, now: Duration) {
        let Some(learned) = self.learned.as_mut() else {
            return;
        };
        let Some(Waiting { at: reserved_at, .. }) = learned.waiting.remove(&slot.0) else {
            return;
        };
        if now <= reserved_at {
            return;
        }
        if let Some(position) = learned.logged(reserved_at) {
            learned.move_send(position, now);
        }
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
        // A refused probe is this bucket's own question, spaced by its own backoff: it says
        // nothing of the header to the sends that wait.
        let probe = self
            .learned
            .as_ref()
            .is_some_and(|learned| learned.refused_probe == Some(now));
        let evidence = reopened && refused_at_once && !self.succeeded_since_reopen && !probe;
        if !cap.is_zero() && evidence && header_wait >= self.last_header_wait && !self.last_wait.is_zero() {
            // Distrust of the header spaces the next look, but holds nothing past the learned
            // limit's next free slot: the limit is the bucket's own evidence of when it has room.
            let learned_free = self
                .learned
                .as_ref()
                .and_then(|learned| learned.next_free(now))
                .map_or(cap, |free| free.saturating_sub(now).max(header_wait));
            wait = wait.max((self.last_wait * 2).min(cap).min(learned_free));
        }
        if now + wait > self.closed_until {
            self.closed_until = now + wait;
            self.last_header_wait = header_wait;
            self.last_wait = wait;
            self.succeeded_since_reopen = false;
        }
        wait
    }

    /// A 429 that said when: the learned limit is what the platform admitted in the window
    /// before it. (A 429 without Retry-After: [`Self::on_refused_unsaid`].)
    pub fn on_rate_limited(&mut self, now: Duration, retry_after: Duration) {
        self.ever_limited = true;
        if let Some(learned) = self.learned.as_mut() {
            learned.on_refused(now, retry_after);
        }
    }

    /// A 429 without `Retry-After`. One alone teaches nothing: an edge in front of the platform
    /// answers so at random. [`UNSAID_RUN`] in a row with no 2xx between them are the platform's
    /// limit saying no without saying when: the learned limit becomes what was admitted in the
    /// window before, as after a `Retry-After`, and the bucket closes for [`UNSAID_WAIT`],
    /// doubling while the reopenings are refused at once. Returns the closure, when it is taken
    /// for the limit's.
    pub fn on_refused_unsaid(&mut self, now: Duration) -> Option<Duration> {
        self.unsaid_run = self.unsaid_run.saturating_add(1);
        if self.unsaid_run < UNSAID_RUN {
            return None;
        }
        self.ever_limited = true;
        // What the window admitted is the platform's limit only when the bucket sent through
        // all of it: a closure of ours in it (one of these, its time guessed) cut the count.
        if let Some(learned) = self.learned.as_mut() {
            if self
                .unsaid_closed_at
                .is_none_or(|closed| now >= closed + learned.window)
            {
                learned.on_refused_unsaid(now);
            }
        }
        self.unsaid_closed_at = Some(now);
        self.unsaid_episode.get_or_insert(now);
        let wait = self.on_retry_after(now, UNSAID_WAIT);
        // A reset seen a window ago bounds the escalation: the closure ends no later than the
        // same point of the next window. It only shortens a closure, so a reset that is not
        // periodic (a sliding window, a bucket that refills) costs a refusal, never a wait.
        let window = self.documented_window();
        let predicted = self.unsaid_reset.map(|reset| {
            let turns = now.saturating_sub(reset).as_nanos() / window.as_nanos() + 1;
            reset + window * u32::try_from(turns).unwrap_or(u32::MAX)
        });
        match predicted {
            Some(reset)
                if reset > now + UNSAID_WAIT && reset < now + wait && self.closed_until == now + wait =>
            {
                self.closed_until = reset;
                self.last_wait = reset - now;
                Some(reset - now)
            }
            _ => Some(wait),
        }
    }

    /// A 2xx from this bucket: once it has reopened, the bucket admitted on the header's word,
    /// so an escalation decays: the first success after each reopening halves it towards the
    /// header's wait (a header that lies every window is met again near the learned wait, not
    /// relearned from scratch; an honest one is back to its word after a few windows).
    /// Returns whether the sends waiting for their learned slots should look again now rather
    /// than at their next timed look: an admitted probe made room in a bucket that has never
    /// been refused, where the limit grows as fast as the answers come (a slow start). Once
    /// refused, probes near the edge go one look at a time: a round of them sent the moment
    /// room is made overshoots the edge together.
    pub fn on_success(&mut self, now: Duration, latency: Duration) -> bool {
        self.unsaid_run = 0;
        let sent_at = now.saturating_sub(latency);
        // The first send admitted after refusals that did not say when ends them: a reset, if
        // they lasted long enough to be one (an eighth of the window; a platform that frees a
        // slot every second ends them sooner). It arrived half its answer's time ago.
        if let Some(start) = self.unsaid_episode.filter(|&start| sent_at >= start) {
            self.unsaid_episode = None;
            let window = self.documented_window();
            let admitted_at = now.saturating_sub(latency / 2);
            self.unsaid_reset = (admitted_at >= start + window / 8).then_some(admitted_at);
        }
        let probe_admitted = self
            .learned
            .as_mut()
            .is_some_and(|learned| learned.on_admitted(now, latency));
        if now >= self.closed_until && !self.succeeded_since_reopen {
            self.succeeded_since_reopen = true;
            self.last_wait = (self.last_wait / 2).max(self.last_header_wait);
        }
        probe_admitted && !self.ever_limited
    }

    /// The window the platform documents (`learn_window_ms`), whatever shorter one a
    /// `Retry-After` taught the learned limit: the period of a reset seen without one.
    fn documented_window(&self) -> Duration {
        Duration::from_millis(self.config.learn_window_ms.max(1))
    }

    /// The platform has not refused this bucket for its limit yet: an admitted probe makes
    /// room at once (see [`Self::on_success`]).
    pub fn slow_start(&self) -> bool {
        !self.ever_limited
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
    use proptest::prelude::Just;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn s(v: u64) -> Duration {
        Duration::from_secs(v)
    }

    /// A pacer whose prior is `prior` a minute, coordinated by a fleet-wide limiter (so the
    /// prior needs no ramp), releasing at once (no spread).
    fn coordinated(prior: u64) -> Pacer {
        let mut pacer = Pacer::new(PacingConfig {
            prior_per_window: Some(prior),
            spread_ms: 0,
            ..PacingConfig::default()
        });
        pacer.coordinated();
        pacer
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
                pacer.on_success(s(at), Duration::ZERO);
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
        pacer.on_success(s(71), Duration::ZERO);
        // Halved by the success: a lying header met again is met at 20 s, not relearned from 10.
        assert_eq!(
            pacer.on_retry_after(s(200), s(10)),
            s(10),
            "an honest-looking closure"
        );
        assert_eq!(pacer.on_retry_after(s(210), s(10)), s(20));
        for at in [231, 232, 233] {
            pacer.on_success(s(at), Duration::ZERO);
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
                pacer.on_success(now, Duration::ZERO);
                now += Duration::from_millis(gap_ms);
            }
        }
    }

    /// A platform in miniature: a sliding log of `capacity` per minute, one worker sending as
    /// fast as the pacer lets it, for `minutes`. Returns the pacer and the refusals.
    fn against_a_sliding_log(prior: Option<u64>, capacity: usize, minutes: u64, seed: u64) -> (Pacer, u64) {
        against_a_sliding_log_of(s(60), prior, capacity, minutes, seed)
    }

    fn against_a_sliding_log_of(
        window: Duration,
        prior: Option<u64>,
        capacity: usize,
        minutes: u64,
        seed: u64,
    ) -> (Pacer, u64) {
        let (pacer, refusals, _) = against_a_platform(window, prior, capacity, minutes, seed, true);
        (pacer, refusals)
    }

    /// As [`against_a_sliding_log_of`], with its 429s saying when (`says_when`) or not. Returns
    /// the pacer, the refusals and the admissions.
    fn against_a_platform(
        window: Duration,
        prior: Option<u64>,
        capacity: usize,
        minutes: u64,
        seed: u64,
        says_when: bool,
    ) -> (Pacer, u64, u64) {
        let mut pacer = Pacer::new(PacingConfig {
            prior_per_window: prior,
            ..PacingConfig::default()
        });
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let latency = Duration::from_millis(20);
        let mut admitted: std::collections::VecDeque<Duration> = std::collections::VecDeque::new();
        let (mut now, mut refusals, mut admissions) = (Duration::ZERO, 0, 0);
        while now < s(60 * minutes) {
            let wait = pacer.acquire(now, 0, &mut rng);
            let slot = pacer.take_reservation();
            if let Some((wait, reason)) = wait {
                let reserved_at = now + wait;
                if let (PaceReason::Learned, Some(slot)) = (reason, slot) {
                    // As the client's worker does: look for an earlier slot (a probe) every
                    // quarter of the wait left, between 250 ms and 2 s apart.
                    while now < reserved_at && !pacer.go_early(slot, now) {
                        let left = reserved_at - now;
                        now += (left / 4).clamp(Duration::from_millis(250), s(2)).min(left);
                    }
                } else {
                    now = reserved_at;
                }
            }
            if let Some(slot) = slot {
                pacer.sent(slot, now);
            }
            let arrives = now + latency / 2;
            while admitted.front().is_some_and(|&at| at + window <= arrives) {
                admitted.pop_front();
            }
            now += latency;
            if admitted.len() < capacity {
                admitted.push_back(arrives);
                admissions += 1;
                pacer.on_success(now, latency);
            } else if says_when {
                refusals += 1;
                let reopens = admitted[0] + window;
                pacer.on_rate_limited(now, reopens.saturating_sub(now).max(Duration::from_secs(1)));
                pacer.on_retry_after(now, reopens.saturating_sub(now).max(Duration::from_secs(1)));
                now = now.max(pacer.closed_until());
            } else {
                refusals += 1;
                pacer.on_refused_unsaid(now);
                now = now.max(pacer.closed_until());
            }
        }
        (pacer, refusals, admissions)
    }

    #[test]
    fn the_prior_holds_a_window_and_a_refusal_sets_what_was_admitted() {
        let mut pacer = coordinated(5);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..5 {
            assert_eq!(
                pacer.acquire(s(0), 0, &mut rng),
                None,
                "the prior's window is a burst"
            );
        }
        assert_eq!(
            pacer.acquire(s(0), 0, &mut rng),
            None,
            "the sixth goes at once as a probe: the prior may be low"
        );
        let (wait, reason) = pacer.acquire(s(0), 0, &mut rng).expect("the seventh waits");
        assert_eq!(reason, PaceReason::Learned);
        assert!(wait >= s(60), "{wait:?}");
        // Another bucket: five sent, three admitted, then a refusal: the limit is three; an
        // answer sent before the refusal and arriving after it raises it to four.
        let mut pacer = Pacer::new(PacingConfig {
            prior_per_window: Some(5),
            spread_ms: 0,
            ..PacingConfig::default()
        });
        for _ in 0..5 {
            pacer.acquire(s(0), 0, &mut rng);
        }
        for _ in 0..3 {
            pacer.on_success(s(1), Duration::from_millis(500));
        }
        pacer.on_rate_limited(s(1), s(59));
        assert_eq!(pacer.learned().unwrap().limit(), Some(3));
        pacer.on_success(s(2), s(1));
        assert_eq!(pacer.learned().unwrap().limit(), Some(4));
        let configured = Pacer::new(PacingConfig {
            limit_per_min: Some(10),
            ..PacingConfig::default()
        });
        assert!(
            configured.learned().is_none(),
            "a configured limit replaces learning"
        );
    }

    #[test]
    fn an_unconfirmed_prior_ramps_over_a_tenth_of_its_first_window() {
        let config = PacingConfig {
            prior_per_window: Some(5),
            spread_ms: 0,
            ..PacingConfig::default()
        };
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut pacer = Pacer::new(config.clone());
        let waits: Vec<u128> = (0..5)
            .map(|_| pacer.acquire(s(0), 0, &mut rng).map_or(0, |(w, _)| w.as_millis()))
            .collect();
        // Five over six seconds: one every 1.2 s.
        assert_eq!(waits, vec![0, 1_200, 2_400, 3_600, 4_800]);
        // A send waiting for its ramped slot does not go early (the ramp is not a limit a
        // probe may look past).
        let last = pacer.take_reservation().unwrap();
        assert_eq!(pacer.slot_at(last), Some(Duration::from_millis(4_800)));
        assert!(!pacer.go_early(last, s(1)));
        // Confirmed by a refusal, the ramp is over: the learned limit rules alone.
        let mut pacer = Pacer::new(config.clone());
        pacer.acquire(s(0), 0, &mut rng);
        pacer.on_success(Duration::from_millis(100), Duration::from_millis(100));
        pacer.on_rate_limited(Duration::from_millis(200), s(1));
        assert_eq!(pacer.learned().unwrap().limit(), Some(1));
        // And past the bucket's first window there is no ramp either.
        let mut pacer = Pacer::new(config);
        pacer.acquire(s(0), 0, &mut rng);
        assert_eq!(pacer.acquire(s(61), 0, &mut rng), None);
        assert_eq!(
            pacer.acquire(s(61), 0, &mut rng),
            None,
            "no ramp after the first window"
        );
    }

    #[test]
    fn a_slot_outlived_by_a_closure_is_reserved_again_after_it() {
        let mut pacer = coordinated(2);
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        assert_eq!(pacer.acquire(s(0), 0, &mut rng), None);
        assert_eq!(pacer.acquire(s(0), 0, &mut rng), None);
        // Both admitted: a third send waits for the window (its answer is too fresh for a probe).
        pacer.on_success(Duration::from_millis(50), Duration::from_millis(50));
        pacer.on_success(Duration::from_millis(50), Duration::from_millis(50));
        let (wait, reason) = pacer.acquire(Duration::from_millis(60), 0, &mut rng).unwrap();
        assert_eq!(reason, PaceReason::Learned);
        let reserved = Duration::from_millis(60) + wait;
        assert!(reserved >= s(60), "{reserved:?}");
        let slot = pacer.take_reservation().unwrap();
        // A 429 closes the bucket until 100 s while it waits; at 100 s it reserves again: the old
        // slot is given back and the new one lies at the closure's end, where the log says a
        // slot is free.
        pacer.on_retry_after(s(1), s(99));
        let (again, _) = pacer.reserve_again(slot, s(100), &mut rng);
        assert_eq!(again, s(100));
        assert_eq!(pacer.slot_at(slot), None, "the old reservation is gone");
        let sends = &pacer.learned().unwrap().sends;
        assert!(!sends.contains(&reserved), "the outlived slot is given back");
        assert_eq!(sends.iter().filter(|&&at| at == s(100)).count(), 1);
    }

    #[test]
    fn a_waiting_send_probes_a_silent_reopening_and_refused_probes_back_off() {
        let ms = Duration::from_millis;
        let mut pacer = coordinated(5);
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        // A burst of five into a window shorter than the documented minute: three admitted,
        // then a refusal that says a second (the header lies: the window resets later).
        for _ in 0..5 {
            assert_eq!(pacer.acquire(s(0), 0, &mut rng), None);
        }
        for _ in 0..3 {
            pacer.on_success(ms(50), ms(50));
        }
        pacer.on_rate_limited(ms(100), s(1));
        pacer.on_retry_after(ms(100), s(1));
        assert_eq!(pacer.learned().unwrap().limit(), Some(3));
        // The next send is the bucket's probe, at the closure's end (1.1 s).
        let (wait, reason) = pacer.acquire(ms(200), 0, &mut rng).unwrap();
        assert_eq!((ms(200) + wait, reason), (ms(1_100), PaceReason::RetryAfter));
        // Every other send waits for the learned minute: nothing new comes to see a reopening.
        let mut waiting = Vec::new();
        for _ in 0..2 {
            let (wait, reason) = pacer.acquire(ms(300), 0, &mut rng).unwrap();
            assert_eq!(reason, PaceReason::Learned);
            assert!(ms(300) + wait >= s(60), "{wait:?}");
            waiting.push(pacer.take_reservation().unwrap());
        }
        // The probe is refused at once after the reopening, with no success since: a send's
        // refusal would escalate the closure, a probe's does not (it spaces its own next look).
        pacer.on_rate_limited(ms(1_150), s(1));
        assert_eq!(pacer.on_retry_after(ms(1_150), s(1)), s(1));
        assert!(
            !pacer.go_early(waiting[0], ms(2_000)),
            "the bucket is still closed"
        );
        // A waiting send sees the reopening at 2.15 s and looks.
        assert!(pacer.go_early(waiting[0], ms(2_300)));
        pacer.on_rate_limited(ms(2_350), s(1));
        assert_eq!(pacer.on_retry_after(ms(2_350), s(1)), s(1));
        // Refused again, the next look waits twice as long: not at the reopening (3.35 s), at
        // 4.35 s.
        assert!(!pacer.go_early(waiting[1], ms(3_500)));
        assert!(pacer.go_early(waiting[1], ms(4_500)));
    }

    #[test]
    fn a_costly_refusal_stops_probing_and_a_moving_share_is_kept_back_and_sent_evenly() {
        let ms = Duration::from_millis;
        // A burst of `admitted + 1` at `at`, all but the last admitted, and a refusal that says
        // `retry_after`. The bucket's first send was at 0, so a burst after a minute is not in
        // its first window.
        let burst_then_refusal = |at: Duration, admitted: u32, retry_after: Duration| {
            let mut pacer = coordinated(64);
            let mut rng = ChaCha8Rng::seed_from_u64(6);
            if at > Duration::ZERO {
                assert_eq!(pacer.acquire(Duration::ZERO, 0, &mut rng), None);
                pacer.on_success(ms(50), ms(50));
            }
            for _ in 0..=admitted {
                assert_eq!(pacer.acquire(at, 0, &mut rng), None);
            }
            for _ in 0..admitted {
                pacer.on_success(at + ms(50), ms(50));
            }
            pacer.on_rate_limited(at + ms(100), retry_after);
            pacer.on_retry_after(at + ms(100), retry_after);
            (pacer, rng)
        };
        let go_now = |pacer: &mut Pacer, rng: &mut ChaCha8Rng, at: Duration, n: usize| {
            (0..n).all(|_| pacer.acquire(at, 0, rng).is_none_or(|(wait, _)| wait.is_zero()))
        };

        // A Retry-After of four minutes, beyond any minute's reset: the platform punishes an
        // overshoot with four windows. The limit is what was admitted (32), the next window's
        // burst goes as the log frees it, but no probe and no early send looks for room
        // beyond it: a refused one would close the bucket for four minutes again.
        let later = s(120);
        let (mut pacer, mut rng) = burst_then_refusal(later, 32, s(240));
        assert_eq!(pacer.learned().unwrap().limit(), Some(32));
        let reopened = later + ms(240_100);
        assert!(go_now(&mut pacer, &mut rng, reopened, 32));
        let (_, reason) = pacer.acquire(reopened, 0, &mut rng).unwrap();
        assert_eq!(reason, PaceReason::Learned);
        let waiting = pacer.take_reservation().unwrap();
        assert!(
            !pacer.go_early(waiting, reopened + s(5)),
            "no probe after a costly refusal"
        );
        // Refused again after the reopening: the share moves. The limit keeps a sixteenth of
        // what was admitted back (32 -> 30), and after the closure its sends go evenly spaced,
        // a window's thirtieth apart (2 s), not as a burst that a sliding window's estimate
        // would refuse.
        for _ in 0..32 {
            pacer.on_success(reopened + ms(50), ms(50));
        }
        pacer.on_rate_limited(reopened + ms(100), s(240));
        pacer.on_retry_after(reopened + ms(100), s(240));
        assert_eq!(pacer.learned().unwrap().limit(), Some(30));
        let reopened = reopened + ms(240_100);
        let slots: Vec<Duration> = (0..4)
            .map(|_| {
                reopened
                    + pacer
                        .acquire(reopened, 0, &mut rng)
                        .map_or(Duration::ZERO, |(w, _)| w)
            })
            .collect();
        let gaps: Vec<Duration> = slots.windows(2).map(|pair| pair[1] - pair[0]).collect();
        assert_eq!(gaps, vec![s(2); 3], "{slots:?}");

        // In the bucket's first window the count was made before others sharing the bucket
        // filled theirs: it is kept back and sent evenly at once.
        let (mut pacer, mut rng) = burst_then_refusal(Duration::ZERO, 32, s(240));
        assert_eq!(pacer.learned().unwrap().limit(), Some(30));
        assert!(go_now(&mut pacer, &mut rng, ms(240_100), 1));
        assert!(!go_now(&mut pacer, &mut rng, ms(240_100), 1));

        // An honest Retry-After (the minute's reset) leaves the limit at what was admitted, and
        // the next window's sends go as the log frees them.
        let (mut pacer, mut rng) = burst_then_refusal(Duration::ZERO, 32, s(60));
        assert_eq!(pacer.learned().unwrap().limit(), Some(32));
        assert!(go_now(&mut pacer, &mut rng, ms(60_200), 32));
        // A share too small to keep a sixteenth back is not guarded: the sends after the
        // closure go as the log frees them.
        let (mut pacer, mut rng) = burst_then_refusal(Duration::ZERO, 4, s(240));
        assert_eq!(pacer.learned().unwrap().limit(), Some(4));
        assert!(go_now(&mut pacer, &mut rng, ms(240_100), 4));
    }

    #[test]
    fn an_item_past_half_its_time_goes_before_younger_waiting_items() {
        let mut pacer = coordinated(1);
        // No probe takes a slot early here: the order of the queue is the question.
        pacer.learned.as_mut().unwrap().probe_tokens = 0;
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let item = |started: u64, deadline: u64| Item {
            started: s(started),
            deadline: Some(s(deadline)),
        };
        let mut reserve = |pacer: &mut Pacer, item: Item| {
            pacer.acquire_for(s(30), item, 0, &mut rng);
            pacer.take_reservation().unwrap()
        };
        let at = |pacer: &Pacer, slot: Slot| pacer.slot_at(slot).map(|at| at.as_secs());
        // One send a minute, all reserved at 30 s: the first goes at once, three items that
        // started after it wait a minute each.
        let slots: Vec<Slot> = [0, 10, 20, 30]
            .into_iter()
            .map(|started| reserve(&mut pacer, item(started, started + 600)))
            .collect();
        let waits: Vec<Option<u64>> = slots.iter().map(|&slot| at(&pacer, slot)).collect();
        assert_eq!(waits, vec![Some(30), Some(90), Some(150), Some(210)]);
        // An item that started at 0 with ten minutes to finish: the back of the queue (270 s)
        // is before half its time (300 s), so it waits its turn.
        let patient = reserve(&mut pacer, item(0, 600));
        assert_eq!(at(&pacer, patient), Some(270));
        // One that started at 0 and must finish by 200 s would wait past half its time: it
        // takes the first slot held by an item that started after it, each of those moves one
        // slot on, and the log's times stay as they were.
        let urgent = reserve(&mut pacer, item(0, 200));
        assert_eq!(at(&pacer, urgent), Some(90));
        let moved: Vec<Option<u64>> = slots[1..].iter().map(|&slot| at(&pacer, slot)).collect();
        assert_eq!(moved, vec![Some(150), Some(210), Some(330)]);
        assert_eq!(at(&pacer, patient), Some(270), "an item as old keeps its place");
        let log: Vec<u64> = pacer
            .learned()
            .unwrap()
            .sends
            .iter()
            .map(Duration::as_secs)
            .collect();
        assert_eq!(log, vec![30, 90, 150, 210, 270, 330]);
        // Gone, a send leaves the table.
        pacer.sent(slots[0], s(30));
        assert_eq!(at(&pacer, slots[0]), None);
    }

    #[test]
    fn a_retry_after_in_seconds_teaches_a_window_in_seconds() {
        // 5 per second, where the prior assumes 300 per minute: the first Retry-After (1 s)
        // shows the window is a second, not a minute, and the limit is five.
        let (pacer, refusals) = against_a_sliding_log_of(s(1), Some(300), 5, 2, 3);
        let learned = pacer.learned().unwrap();
        assert!(
            learned.window() <= Duration::from_millis(1_500),
            "{:?}",
            learned.window()
        );
        assert!(
            (4..=6).contains(&learned.limit().unwrap()),
            "{:?}",
            learned.limit()
        );
        assert!(refusals <= 2 * 60 + 2, "{refusals} refusals in two minutes");
    }

    #[test]
    fn a_run_of_refusals_that_do_not_say_when_closes_the_bucket_and_doubles_at_once_refused() {
        let mut pacer = Pacer::new(PacingConfig {
            spread_ms: 0,
            ..PacingConfig::default()
        });
        for at in 0..3 {
            assert_eq!(
                pacer.on_refused_unsaid(s(at)),
                None,
                "refusal {at} alone is noise"
            );
        }
        assert_eq!(pacer.closed_until(), Duration::ZERO);
        assert_eq!(
            pacer.on_refused_unsaid(s(3)),
            Some(s(1)),
            "the fourth in a row is a limit"
        );
        assert_eq!(pacer.closed_until(), s(4));
        // Refused again the moment it reopens, nothing admitted since: the guess was short.
        assert_eq!(pacer.on_refused_unsaid(s(4)), Some(s(2)));
        assert_eq!(pacer.on_refused_unsaid(s(6)), Some(s(4)));
        // A 2xx ends the run: the next refusals are noise again until four come in a row.
        pacer.on_success(s(10), Duration::ZERO);
        for at in 11..14 {
            assert_eq!(pacer.on_refused_unsaid(s(at)), None);
        }
        assert_eq!(pacer.closed_until(), s(10));
    }

    #[test]
    fn a_reset_seen_after_refusals_that_did_not_say_when_ends_the_next_escalation_a_window_later() {
        let mut pacer = Pacer::new(PacingConfig {
            spread_ms: 0,
            ..PacingConfig::default()
        });
        let refuse_run = |pacer: &mut Pacer, from: u64| {
            for at in from..from + 3 {
                assert_eq!(pacer.on_refused_unsaid(s(at)), None);
            }
            pacer.on_refused_unsaid(s(from + 3))
        };
        // A fixed window that turns at 0, 60, 120 s: refused from 0, each reopening refused at
        // once (1, 2, 4, 8, 16 s), then 32 s, and admitted after the turn.
        assert_eq!(refuse_run(&mut pacer, 0), Some(s(1)));
        let mut at = 4;
        for wait in [2, 4, 8, 16, 32] {
            assert_eq!(pacer.on_refused_unsaid(s(at)), Some(s(wait)));
            at += wait;
        }
        assert_eq!(at, 66);
        pacer.on_success(s(66), Duration::ZERO);
        // The next window fills at 70 s. The doubling would run to 104 + 32 = 136 s; the reset
        // seen at 66 s ends it at 126 s.
        assert_eq!(refuse_run(&mut pacer, 70), Some(s(1)));
        let mut at = 74;
        for wait in [2, 4, 8, 16] {
            assert_eq!(pacer.on_refused_unsaid(s(at)), Some(s(wait)));
            at += wait;
        }
        assert_eq!(pacer.on_refused_unsaid(s(at)), Some(s(126 - at)));
        assert_eq!(pacer.closed_until(), s(126));
    }

    #[test]
    fn a_probe_admitted_before_any_refusal_makes_room_at_once_and_after_one_does_not() {
        let ms = Duration::from_millis;
        let mut pacer = coordinated(2);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for _ in 0..2 {
            assert_eq!(pacer.acquire(s(0), 0, &mut rng), None);
        }
        // Sends within the limit make no room.
        assert!(!pacer.on_success(ms(20), ms(20)));
        assert!(!pacer.on_success(ms(20), ms(20)));
        // The third waits for the next minute, and goes early as the bucket's probe.
        let probe = |pacer: &mut Pacer, rng: &mut ChaCha8Rng, at: Duration| {
            let limit = pacer.learned().unwrap().limit();
            let wait = pacer.acquire(at, 0, rng);
            let slot = pacer.take_reservation().unwrap();
            assert!(
                wait.is_none() || pacer.go_early(slot, at),
                "a probe may go at {at:?}"
            );
            pacer.sent(slot, at);
            assert_eq!(pacer.learned().unwrap().limit(), limit, "beyond the limit");
        };
        probe(&mut pacer, &mut rng, ms(100));
        // Admitted, never refused: the limit grows as fast as the answers come.
        assert!(pacer.on_success(ms(120), ms(20)), "room at once");
        assert_eq!(pacer.learned().unwrap().limit(), Some(3));
        // Once refused, an admitted probe waits for the next look of the sends that wait.
        pacer.on_rate_limited(ms(200), s(1));
        pacer.on_retry_after(ms(200), s(1));
        assert_eq!(pacer.learned().unwrap().limit(), Some(3));
        probe(&mut pacer, &mut rng, s(2));
        assert!(
            !pacer.on_success(s(2) + ms(20), ms(20)),
            "no room at once after a refusal"
        );
        assert_eq!(
            pacer.learned().unwrap().limit(),
            Some(4),
            "the probe was admitted"
        );
    }

    /// Refusals without Retry-After that a 2xx interrupts before four come in a row (an edge
    /// refusing a share of requests at random) never close the bucket. Counts the cases that
    /// had refusals to check: nearly all of them must.
    #[test]
    fn refusals_at_random_between_admissions_never_close_the_bucket() {
        let strategy = proptest::collection::vec(0..UNSAID_RUN, 1..200);
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let (ran, refused) = (std::cell::Cell::new(0u32), std::cell::Cell::new(0u32));
        runner
            .run(&strategy, |answers| {
                let mut pacer = Pacer::new(PacingConfig::default());
                let mut any = false;
                for (i, refusals_before) in answers.into_iter().enumerate() {
                    let now = Duration::from_millis(100 * i as u64);
                    for _ in 0..refusals_before {
                        any = true;
                        proptest::prop_assert_eq!(pacer.on_refused_unsaid(now), None);
                    }
                    pacer.on_success(now, Duration::ZERO);
                }
                proptest::prop_assert_eq!(pacer.closed_until(), Duration::ZERO);
                ran.set(ran.get() + 1);
                refused.set(refused.get() + u32::from(any));
                Ok(())
            })
            .unwrap();
        assert!(
            refused.get() * 10 >= ran.get() * 9,
            "refusals in only {} of {} cases",
            refused.get(),
            ran.get()
        );
    }

    #[test]
    fn a_limit_that_never_says_when_costs_a_few_refusals_a_window() {
        // 30 per minute where the prior assumes 300, and no Retry-After ever: each window's
        // reset is found by closures that double from a second (four refusals start them, about
        // six more reach a minute), not by a stream of refusals.
        for seed in 0..4 {
            let minutes = 10;
            let (_, refusals, admissions) = against_a_platform(s(60), Some(300), 30, minutes, seed, false);
            assert!(
                refusals <= 12 * minutes,
                "seed {seed}: {refusals} refusals in {minutes} minutes"
            );
            assert!(
                admissions >= 30 * (minutes - 1),
                "seed {seed}: {admissions} admitted of {} possible",
                30 * minutes
            );
        }
    }

    proptest::proptest! {
        /// From a prior far above the platform's limit, the learned limit comes down to it in
        /// one refusal episode; from one far below, probes find it within a few minutes; either
        /// way refusals stay a handful a minute, not a share of the traffic.
        #[test]
        fn the_learned_limit_converges_from_above_and_below(
            capacity in 5usize..120,
            prior in proptest::prop_oneof![Just(300u64), 1u64..5],
            seed in proptest::prelude::any::<u64>(),
        ) {
            let minutes = 12;
            let (pacer, refusals) = against_a_sliding_log(Some(prior), capacity, minutes, seed);
            let limit = pacer.learned().unwrap().limit().unwrap();
            proptest::prop_assert!(
                limit + 2 >= capacity as u64 && limit <= capacity as u64 + 2,
                "learned {} for a limit of {} from a prior of {}", limit, capacity, prior
            );
            proptest::prop_assert!(
                refusals <= 2 * minutes + 2,
                "{} refusals in {} minutes (limit {}, prior {})", refusals, minutes, capacity, prior
            );
        }
    }
}
