//! The binding rule of a scenario as the report's charts draw it: the API rule that allows the
//! least to the keys the instances use at once. (Utilization and the best makespan come from the
//! oracle in `bound.rs`, which takes every rule.)

use herd_gateway::config::{KeyPart, LimitRule};

use crate::scenario::Scenario;

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

/// What `rule` allows the instances per second at `limit` per window, over the keys they use at
/// once. A token bucket refills `limit` per window too: the same average rate.
pub fn rate_per_s(scenario: &Scenario, rule: &LimitRule, limit: u64) -> f64 {
    limit as f64 * 1_000.0 / rule.window_ms.max(1) as f64 * keys_in_use(scenario, rule)
}

/// `numerator / denominator`, 0 when the denominator is.
pub(crate) fn ratio(numerator: f64, denominator: f64) -> f64 {
    if denominator > 0.0 {
        numerator / denominator
    } else {
        0.0
    }
}
