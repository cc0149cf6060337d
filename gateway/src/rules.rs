//! The rule set: several keyed limiters, all of which must admit a request.

use std::collections::BTreeMap;

use crate::config::{KeyPart, LimitRule};
use crate::limiter::{LimitParams, LimiterState, Verdict};
use crate::time::SimTime;

/// Who is asking, as far as limiter keys are concerned. Tokens appear only as their issue number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subject<'a> {
    pub token_seq: u64,
    pub client: &'a str,
    pub family: &'a str,
    /// The resource the request names (a user id), or "" for collections and the token endpoint.
    pub resource: &'a str,
}

/// One rule's verdict on one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleVerdict {
    pub rule_index: usize,
    pub rule: String,
    pub key: String,
    pub window_ms: u64,
    /// Never described in headers.
    pub hidden: bool,
    pub verdict: Verdict,
}

/// The verdicts of every rule that applies to a request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Check {
    pub verdicts: Vec<RuleVerdict>,
}

impl Check {
    pub fn admitted(&self) -> bool {
        self.verdicts.iter().all(|v| v.verdict.admitted)
    }

    /// The rejecting rule with the latest `retry_at`: the request cannot pass before then.
    pub fn binding_rejection(&self) -> Option<&RuleVerdict> {
        self.verdicts
            .iter()
            .filter(|v| !v.verdict.admitted)
            .max_by_key(|v| (v.verdict.retry_at, v.rule_index))
    }

    /// The visible applicable rule with the least headroom: what rate-limit headers describe.
    pub fn tightest(&self) -> Option<&RuleVerdict> {
        self.verdicts
            .iter()
            .filter(|v| !v.hidden)
            .min_by_key(|v| (v.verdict.admitted, v.verdict.remaining, v.rule_index))
    }
}

struct RuleState {
    rule: LimitRule,
    keys: BTreeMap<String, LimiterState>,
    /// Keys locked out until a time (rules with `early_penalty_ms` only).
    lockouts: BTreeMap<String, SimTime>,
}

impl RuleState {
    /// A key's verdict under this rule: its limiter's, unless an early-retry lockout is running,
    /// in which case the request is refused whatever the count says, and this request's penalty
    /// is already in the wait it is told.
    fn verdict(&self, rule_index: usize, key: String, mut verdict: Verdict, now: SimTime) -> RuleVerdict {
        if let Some(&locked_until) = self.lockouts.get(&key).filter(|until| **until > now) {
            let penalty = std::time::Duration::from_millis(self.rule.early_penalty_ms.unwrap_or(0));
            verdict.admitted = false;
            verdict.remaining = 0;
            verdict.retry_at = verdict.retry_at.max(locked_until + penalty);
        }
        RuleVerdict {
            rule_index,
            rule: self.rule.name.clone(),
            key,
            window_ms: self.rule.window_ms,
            hidden: self.rule.hidden,
            verdict,
        }
    }
}

/// One bucket's live state, as the limits report shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct BucketState {
    pub rule: String,
    pub key: String,
    pub algorithm: crate::config::Algorithm,
    pub window_ms: u64,
    pub limit: u64,
    pub count: u64,
    pub remaining: u64,
    pub reset_in_ms: u64,
    /// Set while an early-retry penalty locks the key out.
    pub locked_for_ms: Option<u64>,
}

/// Every configured rule with its per-key state. Memory is bounded: a key's state is bounded by the
/// rule's largest limit, and idle keys are dropped by [`RateLimits::prune`].
pub struct RateLimits {
    rules: Vec<RuleState>,
}

impl RateLimits {
    pub fn new(rules: Vec<LimitRule>) -> RateLimits {
        RateLimits {
            rules: rules
                .into_iter()
                .map(|rule| RuleState {
                    rule,
                    keys: BTreeMap::new(),
                    lockouts: BTreeMap::new(),
                })
                .collect(),
        }
    }

    pub fn rules(&self) -> impl Iterator<Item = &LimitRule> {
        self.rules.iter().map(|state| &state.rule)
    }

    /// Asks every applicable rule about one more request; consumes nothing.
    pub fn check(&mut self, now: SimTime, subject: Subject<'_>) -> Check {
        let mut check = Check::default();
        for (rule_index, state) in self.rules.iter_mut().enumerate() {
            if !state.rule.applies_to(subject.family) {
                continue;
            }
            let params = params_at(&state.rule, now);
            let key = key_of(&state.rule, subject);
            let limiter = state
                .keys
                .entry(key.clone())
                .or_insert_with(|| LimiterState::new(&params, now));
            let verdict = limiter.check(&params, now);
            check.verdicts.push(state.verdict(rule_index, key, verdict, now));
        }
        check
    }

    /// What [`RateLimits::check`] would say at `now`, without touching any state. For planners
    /// that look ahead (the harness's best-makespan oracle); `now` must not be before a key's
    /// last use.
    pub fn peek(&self, now: SimTime, subject: Subject<'_>) -> Check {
        let mut check = Check::default();
        for (rule_index, state) in self.rules.iter().enumerate() {
            if !state.rule.applies_to(subject.family) {
                continue;
            }
            let params = params_at(&state.rule, now);
            let key = key_of(&state.rule, subject);
            let verdict = match state.keys.get(&key) {
                Some(limiter) => limiter.peek(&params, now),
                None => LimiterState::new(&params, now).check(&params, now),
            };
            check.verdicts.push(state.verdict(rule_index, key, verdict, now));
        }
        check
    }

    /// The buckets (`rule/key`) a request of `subject` counts against, with each rule's limit and
    /// window at `now`. Reads nothing but the configuration.
    pub fn keys_of(&self, now: SimTime, subject: Subject<'_>) -> Vec<(String, u64, u64)> {
        self.rules
            .iter()
            .filter(|state| state.rule.applies_to(subject.family))
            .map(|state| {
                let params = params_at(&state.rule, now);
                (
                    format!("{}/{}", state.rule.name, key_of(&state.rule, subject)),
                    params.limit,
                    state.rule.window_ms,
                )
            })
            .collect()
    }

    /// Whether any rule applies to `family` (a family no rule limits is unlimited).
    pub fn limits_family(&self, family: &str) -> bool {
        self.rules.iter().any(|state| state.rule.applies_to(family))
    }

    /// Consumes one admission from every rule in `check`. Precondition: `check.admitted()`.
    pub fn record(&mut self, now: SimTime, check: &Check) {
        assert!(check.admitted(), "record of a rejected request");
        for verdict in &check.verdicts {
            let state = &mut self.rules[verdict.rule_index];
            let params = params_at(&state.rule, now);
            let limiter = state.keys.get_mut(&verdict.key).expect("checked key has state");
            limiter.record(&params, now);
        }
    }

    /// Consumes `n` admissions at once from every rule in `check` (a planner's batch at one
    /// instant). Precondition: every rule in `check` has at least `n` admissions left.
    pub fn record_n(&mut self, now: SimTime, check: &Check, n: u64) {
        assert!(check.admitted(), "record of a rejected request");
        for verdict in &check.verdicts {
            let state = &mut self.rules[verdict.rule_index];
            let params = params_at(&state.rule, now);
            let limiter = state.keys.get_mut(&verdict.key).expect("checked key has state");
            limiter.record_n(&params, now, n);
        }
    }

    /// Notes a refusal: under a rule with `early_penalty_ms`, a key refused while still locked
    /// out has its lockout extended by the penalty; otherwise it is locked until its `retry_at`.
    pub fn record_refusal(&mut self, now: SimTime, check: &Check) {
        for verdict in check.verdicts.iter().filter(|verdict| !verdict.verdict.admitted) {
            let state = &mut self.rules[verdict.rule_index];
            let Some(penalty_ms) = state.rule.early_penalty_ms else {
                continue;
            };
            let penalty = std::time::Duration::from_millis(penalty_ms);
            let lockout = state.lockouts.entry(verdict.key.clone()).or_insert(SimTime::ZERO);
            let before = *lockout;
            *lockout = if before > now {
                before + penalty
            } else {
                verdict.verdict.retry_at
            };
            debug_assert!(*lockout > now, "a refusal locks its key out until a later time");
        }
    }

    /// The buckets that belong to a token and its client, with their counts now: every key whose
    /// token and client parts (if any) are the caller's. Advances their state; consumes nothing.
    pub fn describe(&mut self, now: SimTime, token_seq: u64, client: &str) -> Vec<BucketState> {
        let (token_part, client_part) = (format!("token#{token_seq}"), format!("client:{client}"));
        let belongs = move |key: &str| {
            key.split('|').all(|part| {
                if part.starts_with("token#") {
                    part == token_part
                } else if part.starts_with("client:") {
                    part == client_part
                } else {
                    true
                }
            })
        };
        self.describe_where(now, usize::MAX, belongs)
    }

    /// Every bucket in use now, fullest first, at most `max` of them (the live dashboard).
    pub fn describe_all(&mut self, now: SimTime, max: usize) -> Vec<BucketState> {
        let mut buckets = self.describe_where(now, usize::MAX, |_| true);
        buckets.sort_by(|a, b| {
            (b.count * a.limit.max(1))
                .cmp(&(a.count * b.limit.max(1)))
                .then_with(|| (&a.rule, &a.key).cmp(&(&b.rule, &b.key)))
        });
        buckets.truncate(max);
        buckets
    }

    fn describe_where(
        &mut self,
        now: SimTime,
        max: usize,
        belongs: impl Fn(&str) -> bool,
    ) -> Vec<BucketState> {
        let mut buckets = Vec::new();
        for state in &mut self.rules {
            let params = params_at(&state.rule, now);
            for (key, limiter) in state.keys.iter_mut().filter(|(key, _)| belongs(key)).take(max) {
                let verdict = limiter.check(&params, now);
                let locked_until = state.lockouts.get(key).filter(|until| **until > now);
                buckets.push(BucketState {
                    rule: state.rule.name.clone(),
                    key: key.clone(),
                    algorithm: state.rule.algorithm,
                    window_ms: state.rule.window_ms,
                    limit: verdict.limit,
                    count: verdict.count,
                    remaining: verdict.remaining,
                    reset_in_ms: (verdict.reset_at.min(SimTime::NEVER) - now).as_millis() as u64,
                    locked_for_ms: locked_until.map(|until| (*until - now).as_millis() as u64),
                });
            }
        }
        buckets
    }

    /// Drops every key whose state is as good as new. Deterministic (keys are visited in order).
    pub fn prune(&mut self, now: SimTime) {
        for state in &mut self.rules {
            let params = params_at(&state.rule, now);
            state.keys.retain(|_, limiter| !limiter.is_idle(&params, now));
            state.lockouts.retain(|_, until| *until > now);
        }
    }

    /// How many keys are held, over all rules (for tests of the memory bound).
    pub fn key_count(&self) -> usize {
        self.rules.iter().map(|state| state.keys.len()).sum()
    }
}

fn params_at(rule: &LimitRule, now: SimTime) -> LimitParams {
    let limit = rule.limit_at_s(now.as_micros() / 1_000_000);
    LimitParams {
        algorithm: rule.algorithm,
        limit,
        limit_max: rule.limit_max(),
        window_us: rule.window_ms.saturating_mul(1_000),
        burst: rule.burst.unwrap_or(rule.limit),
    }
}

fn key_of(rule: &LimitRule, subject: Subject<'_>) -> String {
    use std::fmt::Write as _;
    // One allocation per key, written in place: this runs on every check of every request.
    let mut key = String::with_capacity(24 * rule.key.len());
    for (index, part) in rule.key.iter().enumerate() {
        if index > 0 {
            key.push('|');
        }
        let _ = match part {
            KeyPart::Token => write!(key, "token#{}", subject.token_seq),
            KeyPart::Client => write!(key, "client:{}", subject.client),
            KeyPart::Family => write!(key, "family:{}", subject.family),
            KeyPart::Org => write!(key, "org"),
            KeyPart::Resource => write!(key, "resource:{}", subject.resource),
        };
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Algorithm;

    fn rule(name: &str, limit: u64, key: Vec<KeyPart>, families: &[&str]) -> LimitRule {
        LimitRule {
            name: name.to_string(),
            algorithm: Algorithm::SlidingLog,
            limit,
            window_ms: 60_000,
            burst: None,
            key,
            families: families.iter().map(std::string::ToString::to_string).collect(),
            schedule: Vec::new(),
            retry_after_max_s: None,
            retry_after_extra_s: 0,
            retry_after: Default::default(),
            hidden: false,
            early_penalty_ms: None,
        }
    }

    #[test]
    fn every_applicable_rule_must_admit() {
        let mut limits = RateLimits::new(vec![
            rule("per-token", 3, vec![KeyPart::Token], &[]),
            rule(
                "per-client-bulk",
                1,
                vec![KeyPart::Client, KeyPart::Family],
                &["users.bulk"],
            ),
        ]);
        let bulk = Subject {
            token_seq: 1,
            client: "app",
            family: "users.bulk",
            resource: "",
        };
        let read = Subject {
            token_seq: 1,
            client: "app",
            family: "users.read",
            resource: "",
        };
        let now = SimTime::from_secs(1);
        let first = limits.check(now, bulk);
        assert_eq!(first.verdicts.len(), 2);
        assert!(first.admitted());
        limits.record(now, &first);
        let second = limits.check(now, bulk);
        assert!(!second.admitted());
        assert_eq!(second.binding_rejection().unwrap().rule, "per-client-bulk");
        assert_eq!(
            second.binding_rejection().unwrap().key,
            "client:app|family:users.bulk"
        );
        // Reads share the per-token rule but not the bulk one.
        let read_check = limits.check(now, read);
        assert_eq!(read_check.verdicts.len(), 1);
        assert_eq!(read_check.tightest().unwrap().verdict.remaining, 2);
    }

    #[test]
    fn oauth_is_limited_only_when_named() {
        let mut limits = RateLimits::new(vec![rule("api", 1, vec![KeyPart::Org], &[])]);
        let token = Subject {
            token_seq: 0,
            client: "app",
            family: "oauth",
            resource: "",
        };
        assert!(limits.check(SimTime::ZERO, token).verdicts.is_empty());
    }

    #[test]
    fn prune_drops_idle_keys_only() {
        let mut limits = RateLimits::new(vec![rule("per-token", 3, vec![KeyPart::Token], &[])]);
        for token_seq in 0..10 {
            let subject = Subject {
                token_seq,
                client: "app",
                family: "users.read",
                resource: "",
            };
            let check = limits.check(SimTime::from_secs(token_seq), subject);
            limits.record(SimTime::from_secs(token_seq), &check);
        }
        assert_eq!(limits.key_count(), 10);
        limits.prune(SimTime::from_secs(65));
        assert_eq!(
            limits.key_count(),
            4,
            "tokens 6..=9 still have entries in the window"
        );
    }
}
