//! Quotas: the limit rule a run is measured against, how many of its keys the instances use at
//! once, the utilization of what it allowed and the makespan's lower bound.

use std::collections::BTreeMap;

use herd_gateway::config::{Algorithm, KeyPart, LimitRule};
use herd_gateway::events::GatewayEventKind;

use crate::scenario::Scenario;
use crate::trace::{Record, Trace};

/// The limit rule quotas are measured against: of the API rules (not the token endpoint's), the
/// one that allows the least per second to the keys the instances use at once. Under the
/// layered defaults that is the per-client rule when instances share an OAuth client.
pub fn quota_rule(scenario: &Scenario) -> Option<LimitRule> {
    let allowed_per_ms =
        |rule: &LimitRule| rule.limit as f64 * keys_in_use(scenario, rule) / rule.window_ms as f64;
    scenario
        .gateway
        .effective_limits()
        .into_iter()
        .filter(|rule| !rule.families.iter().any(|family| family == "oauth"))
        .min_by(|a, b| allowed_per_ms(a).total_cmp(&allowed_per_ms(b)))
}

/// How many of `rule`'s keys the instances use at once, endpoint families aside: one per
/// instance for token-keyed rules (each holds its own token), one per OAuth client in use for
/// client-keyed ones, one otherwise.
pub fn keys_in_use(scenario: &Scenario, rule: &LimitRule) -> f64 {
    let instances = &scenario.instances;
    if rule.key.contains(&KeyPart::Token) {
        f64::from(instances.count)
    } else if rule.key.contains(&KeyPart::Client) {
        let clients: std::collections::BTreeSet<&str> = (0..instances.count)
            .filter_map(|instance| instances.oauth_client_of(instance, &scenario.gateway))
            .collect();
        clients.len().max(1) as f64
    } else {
        1.0
    }
}

/// (utilization, makespan lower bound in seconds) against the first limit rule.
pub(crate) fn quota(scenario: &Scenario, trace: &Trace) -> (f64, f64) {
    let Some(rule) = quota_rule(scenario) else {
        return (0.0, 0.0);
    };
    let window_s = rule.window_ms as f64 / 1_000.0;
    // Per key: (first, last, useful admissions).
    let mut keys: BTreeMap<String, (f64, f64, u64)> = BTreeMap::new();
    let mut families = std::collections::BTreeSet::new();
    for record in trace.records() {
        let Record::Gateway(event) = record else { continue };
        let GatewayEventKind::Admitted {
            family,
            token_seq,
            status,
            ..
        } = &event.kind
        else {
            continue;
        };
        if !rule.families.is_empty() && !rule.families.contains(family) {
            continue;
        }
        families.insert(family.clone());
        let key = key_of(&rule, *token_seq, family);
        let at = event.at.as_micros() as f64 / 1e6;
        let entry = keys.entry(key).or_insert((at, at, 0));
        entry.1 = at;
        if (200..300).contains(status) {
            entry.2 += 1;
        }
    }
    let burst = rule.burst.unwrap_or(rule.limit) as f64;
    let limit = rule.limit as f64;
    let allowed: f64 = keys
        .values()
        .map(|(first, last, _)| match rule.algorithm {
            Algorithm::TokenBucket => burst + limit * (last - first) / window_s,
            _ => limit * (((last - first) / window_s).floor() + 1.0),
        })
        .sum();
    let useful: u64 = keys.values().map(|(_, _, useful)| useful).sum();
    let concurrent_keys = keys_in_use(scenario, &rule)
        * if rule.key.contains(&KeyPart::Family) {
            families.len().max(1) as f64
        } else {
            1.0
        };
    let initial = if rule.algorithm == Algorithm::TokenBucket {
        burst
    } else {
        limit
    } * concurrent_keys;
    let rate = limit * concurrent_keys / window_s;
    let lower_bound = if rate > 0.0 {
        (useful as f64 - initial).max(0.0) / rate
    } else {
        0.0
    };
    (ratio(useful as f64, allowed), lower_bound)
}

fn key_of(rule: &LimitRule, token_seq: u64, family: &str) -> String {
    rule.key
        .iter()
        .map(|part| match part {
            KeyPart::Token => format!("t{token_seq}"),
            KeyPart::Family => family.to_string(),
            // Events do not name the resource: per-resource keys are counted together.
            KeyPart::Client | KeyPart::Org | KeyPart::Resource => String::new(),
        })
        .collect::<Vec<_>>()
        .join("|")
}

/// `numerator / denominator`, 0 when the denominator is.
pub(crate) fn ratio(numerator: f64, denominator: f64) -> f64 {
    if denominator > 0.0 {
        numerator / denominator
    } else {
        0.0
    }
}
