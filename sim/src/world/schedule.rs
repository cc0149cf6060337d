//! The network schedule: partitions, repairs, crashes and restarts of instances at their times,
//! applied between simulation steps and written into the trace.

use std::time::Duration;

use herd_gateway::SimTime;

use crate::scenario::Scenario;
use crate::trace::{NetworkAction, Record};

/// Network actions at their times.
pub(crate) struct Schedule {
    pub(crate) actions: Vec<Action>,
}

pub(crate) struct Action {
    pub(crate) at: Duration,
    pub(crate) kind: NetworkAction,
    pub(crate) instance: u32,
}

impl Schedule {
    pub(crate) fn new(scenario: &Scenario) -> Schedule {
        let mut actions = Vec::new();
        for partition in &scenario.network.partitions {
            let instances: Vec<u32> = match partition.instance {
                Some(instance) => vec![instance],
                None => (0..scenario.instances.count).collect(),
            };
            for instance in instances {
                actions.push(Action {
                    at: Duration::from_secs(partition.from_s),
                    kind: NetworkAction::Partition,
                    instance,
                });
                actions.push(Action {
                    at: Duration::from_secs(partition.until_s),
                    kind: NetworkAction::Repair,
                    instance,
                });
            }
        }
        for crash in &scenario.network.crashes {
            actions.push(Action {
                at: Duration::from_secs(crash.at_s),
                kind: NetworkAction::Crash,
                instance: crash.instance,
            });
            if let Some(after_s) = crash.restart_after_s {
                actions.push(Action {
                    at: Duration::from_secs(crash.at_s + after_s),
                    kind: NetworkAction::Restart,
                    instance: crash.instance,
                });
            }
        }
        // Stable: same-time actions keep their configuration order.
        actions.sort_by_key(|action| action.at);
        Schedule { actions }
    }
}

impl Action {
    /// The host it acts on.
    fn host(&self) -> String {
        format!("client-{}", self.instance)
    }

    /// The trace record of the action, taken at `elapsed`.
    pub(crate) fn record(&self, elapsed: Duration) -> Record {
        Record::Network {
            at: SimTime::from_duration(elapsed),
            host: self.host(),
            action: self.kind,
        }
    }

    /// Applies the action; a partition cuts the instance off from both platform hosts.
    pub(crate) fn apply(&self, sim: &mut turmoil::Sim<'_>, platform_hosts: &[String]) {
        let host = self.host();
        match self.kind {
            NetworkAction::Partition => {
                for platform_host in platform_hosts {
                    sim.partition(platform_host.as_str(), host.as_str());
                }
            }
            NetworkAction::Repair => {
                for platform_host in platform_hosts {
                    sim.repair(platform_host.as_str(), host.as_str());
                }
            }
            NetworkAction::Crash => sim.crash(host.as_str()),
            NetworkAction::Restart => sim.bounce(host.as_str()),
        }
    }
}
