//! The metastability lab's trigger: a window in which the platform gets worse, after which a
//! client should recover. Loading folds it into the gateway (a capacity schedule, a maintenance
//! fault or a burst of 5xx), so that the gateway, the bound and the reports all see the same
//! platform; the scenario keeps it to say what recovery is measured from.
//!
//! ```toml
//! [trigger]
//! kind = "capacity_drop"   # or "outage" (every request 503, `retry_after_s` optional)
//! from_s = 120             #   or "server_errors" (`rate` of admitted API requests 503)
//! until_s = 240
//! factor = 0.2             # capacity_drop: every API rule's limit falls to this share
//! ```

use herd_gateway::config::{Fault, GatewayConfig, Layers, RetryAfterStyle, TIME_S_MAX};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    /// Every API rule's limit falls to `factor` of itself (at least 1 per window) for the window.
    CapacityDrop { from_s: u64, until_s: u64, factor: f64 },
    /// Every request is answered 503 (a maintenance window), with `Retry-After` when given.
    Outage {
        from_s: u64,
        until_s: u64,
        #[serde(default)]
        retry_after_s: Option<u64>,
    },
    /// A share `rate` of admitted API requests is answered 503.
    ServerErrors { from_s: u64, until_s: u64, rate: f64 },
}

impl Trigger {
    /// `[from_s, until_s)`.
    pub fn window_s(&self) -> (u64, u64) {
        match self {
            Trigger::CapacityDrop { from_s, until_s, .. }
            | Trigger::Outage { from_s, until_s, .. }
            | Trigger::ServerErrors { from_s, until_s, .. } => (*from_s, *until_s),
        }
    }

    /// What it does, in a few words.
    pub fn describe(&self) -> String {
        let (from_s, until_s) = self.window_s();
        let what = match self {
            Trigger::CapacityDrop { factor, .. } => format!("capacity down to {:.0}%", factor * 100.0),
            Trigger::Outage { .. } => "an outage (every request 503)".to_string(),
            Trigger::ServerErrors { rate, .. } => format!("{:.0}% of requests 503", rate * 100.0),
        };
        format!("{what} from {from_s} s to {until_s} s")
    }

    pub(crate) fn validate(&self) -> Result<(), (String, String)> {
        let (from_s, until_s) = self.window_s();
        if from_s >= until_s || until_s > TIME_S_MAX {
            return Err((
                "trigger.until_s".into(),
                format!("from_s < until_s ≤ {TIME_S_MAX} (a year)"),
            ));
        }
        match self {
            Trigger::CapacityDrop { factor, .. } if !(*factor > 0.0 && *factor < 1.0) => Err((
                "trigger.factor".into(),
                "must be above 0 and below 1 (the share of capacity left)".into(),
            )),
            Trigger::ServerErrors { rate, .. } if !(*rate > 0.0 && *rate <= 1.0) => {
                Err(("trigger.rate".into(), "must be within (0, 1]".into()))
            }
            Trigger::Outage { retry_after_s, .. } if retry_after_s.is_some_and(|s| s > 86_400) => {
                Err(("trigger.retry_after_s".into(), "is at most a day".into()))
            }
            _ => Ok(()),
        }
    }

    /// Folds the trigger into the gateway's configuration.
    pub(crate) fn apply(&self, gateway: &mut GatewayConfig) {
        let (from_s, until_s) = self.window_s();
        match self {
            Trigger::CapacityDrop { factor, .. } => {
                let mut rules = gateway.effective_limits();
                for rule in rules.iter_mut().filter(|rule| !rule.is_token_endpoint()) {
                    let (before, until) = (rule.limit_at_s(from_s), rule.limit_at_s(until_s));
                    let drop = |limit: u64| ((limit as f64 * factor).floor() as u64).max(1);
                    let mut schedule: Vec<_> = rule
                        .schedule
                        .iter()
                        .filter(|change| change.at_s < from_s || change.at_s > until_s)
                        .cloned()
                        .collect();
                    for change in rule
                        .schedule
                        .iter()
                        .filter(|c| c.at_s > from_s && c.at_s < until_s)
                    {
                        schedule.push(herd_gateway::config::CapacityChange {
                            at_s: change.at_s,
                            limit: drop(change.limit),
                        });
                    }
                    schedule.push(herd_gateway::config::CapacityChange {
                        at_s: from_s,
                        limit: drop(before),
                    });
                    schedule.push(herd_gateway::config::CapacityChange {
                        at_s: until_s,
                        limit: until,
                    });
                    schedule.sort_by_key(|change| change.at_s);
                    rule.schedule = schedule;
                }
                gateway.layers = Layers::OFF;
                gateway.limits = Some(rules);
            }
            Trigger::Outage { retry_after_s, .. } => gateway.faults.push(Fault::Maintenance {
                from_s,
                until_s: Some(until_s),
                retry_after_s: *retry_after_s,
                retry_after: RetryAfterStyle::Seconds,
                families: Vec::new(),
                host: None,
            }),
            Trigger::ServerErrors { rate, .. } => {
                gateway
                    .faults
                    .push(Fault::server_errors_503(*rate, from_s, Some(until_s)));
            }
        }
    }
}

/// `[arrivals]`: items arrive at a steady rate, in the workload's order, instead of all being
/// there at the start: a worker takes its next item once it has arrived (an open workload,
/// whose backlog can grow). Item `n` arrives at `n / rate_per_s` seconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arrivals {
    pub rate_per_s: f64,
}

impl Arrivals {
    /// When item `n` (in the workload's order) arrives (a year at the latest).
    pub fn at(&self, n: u64) -> std::time::Duration {
        let year = std::time::Duration::from_secs(TIME_S_MAX);
        std::time::Duration::try_from_secs_f64(n as f64 / self.rate_per_s).map_or(year, |at| at.min(year))
    }

    pub(crate) fn validate(&self) -> Result<(), (String, String)> {
        if !(0.001..=100_000.0).contains(&self.rate_per_s) {
            return Err((
                "arrivals.rate_per_s".into(),
                "must be within 0.001..=100000 items per second".into(),
            ));
        }
        Ok(())
    }
}
