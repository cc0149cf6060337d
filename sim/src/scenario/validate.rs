//! What serde cannot check: ranges, references between tables, the workload against the data.

use herd_gateway::config::PlatformProfile;

use crate::scenario::{Scenario, SharedLimiterKind, Workload};

impl Scenario {
    /// Checks what serde cannot.
    pub(crate) fn validate(&self) -> Result<(), (String, String)> {
        self.gateway
            .validate()
            .map_err(|e| (format!("gateway.{}", e.field), e.message))?;
        let platform = crate::scenario::client_platform(self.gateway.platform);
        if self.client.platform != platform {
            return Err((
                "client.platform".into(),
                format!(
                    "must match gateway.platform ({:?}): the gateway's platform decides; remove this field",
                    self.gateway.platform.name()
                ),
            ));
        }
        let simulated = herd_client::ClientConfig::default();
        if self.client.base_url != simulated.base_url || self.client.token_url.is_some() {
            let field = if self.client.token_url.is_some() {
                "client.token_url"
            } else {
                "client.base_url"
            };
            return Err((
                field.into(),
                "cannot be set in a scenario: the simulated client reaches the gateway by its host name \
                 (set it when you use herd-client against a real platform)"
                    .into(),
            ));
        }
        self.client
            .validate()
            .map_err(|e| (format!("client.{}", e.field), e.message))?;
        let bad = |field: &str, message: &str| Err((field.to_string(), message.to_string()));
        if self.instances.count == 0 || self.instances.count > 10 {
            return bad(
                "instances.count",
                "must be within 1..=10 (turmoil's step cost grows with the cube of the host count)",
            );
        }
        if self.instances.workers == 0 || self.instances.workers > 10_000 {
            return bad("instances.workers", "must be within 1..=10000");
        }
        if self.tick_ms == 0 || self.tick_ms > 1_000 {
            return bad("tick_ms", "must be within 1..=1000");
        }
        const YEAR_S: u64 = 365 * 86_400;
        if !(1..=YEAR_S).contains(&self.duration_s) {
            return bad("duration_s", "must be within 1..=31536000 (a year)");
        }
        const DAY_MS: i64 = 86_400_000;
        let offsets = [
            self.instances.clock_offset_ms_of(0),
            self.instances
                .clock_offset_ms_of(self.instances.count.saturating_sub(1)),
        ];
        if offsets.iter().any(|offset| offset.abs() > DAY_MS) {
            return bad(
                "instances.clock_offset_ms",
                "every instance's clock offset must be within a day (±86400000 ms)",
            );
        }
        if self.instances.clock_drift_ppm.abs() > 100_000 {
            return bad("instances.clock_drift_ppm", "must be within ±100000 ppm (10%)");
        }
        if self.instances.spread_s > YEAR_S {
            return bad("instances.spread_s", "must be within 0..=31536000 (a year)");
        }
        if self.network.latency_ms_max > 60_000 {
            return bad("network.latency_ms_max", "must be within 0..=60000");
        }
        for (index, partition) in self.network.partitions.iter().enumerate() {
            if partition.until_s > YEAR_S || partition.from_s > partition.until_s {
                return Err((
                    format!("network.partitions[{index}].until_s"),
                    "from_s ≤ until_s ≤ 31536000 (a year)".to_string(),
                ));
            }
        }
        for (index, crash) in self.network.crashes.iter().enumerate() {
            if crash.at_s > YEAR_S || crash.restart_after_s.is_some_and(|after| after > YEAR_S) {
                return Err((
                    format!("network.crashes[{index}].at_s"),
                    "times are within a year".to_string(),
                ));
            }
        }
        if self.shared_limiter.window_ms > 7 * 86_400_000 || self.shared_limiter.limit > 1_000_000 {
            return bad(
                "shared_limiter.window_ms",
                "window_ms is at most a week, limit at most 1000000",
            );
        }
        if let Some(arrivals) = &self.arrivals {
            arrivals.validate()?;
            if matches!(
                self.workload,
                Workload::BulkUpdate { .. } | Workload::CreateAgents { .. }
            ) {
                return bad(
                    "arrivals",
                    "arrivals pace items one by one; a bulk workload (bulk_update, create_agents) has none",
                );
            }
        }
        if self.expect.recovers && self.trigger.is_none() {
            return bad("expect.recovers", "needs a [trigger] to recover from");
        }
        if let Err((field, message)) = self.workload_size() {
            return Err((field.to_string(), message));
        }
        if let Some(trigger) = &self.trigger {
            // Recovery is counted second by second: a week of them at the most.
            const WEEK_S: u64 = 7 * 86_400;
            if self.duration_s > WEEK_S {
                return bad(
                    "duration_s",
                    "a scenario with a [trigger] runs for at most a week (604800 s): its recovery is counted per second",
                );
            }
            if trigger.window_s().1 >= self.duration_s {
                return Err((
                    "trigger.until_s".to_string(),
                    format!(
                        "the trigger must end before the run does (duration_s = {}), or there is nothing to recover in",
                        self.duration_s
                    ),
                ));
            }
        }
        if let (Some(arrivals), Some(items)) = (&self.arrivals, self.items_one_by_one()) {
            let last_s = items.saturating_sub(1) as f64 / arrivals.rate_per_s;
            if last_s >= self.duration_s as f64 {
                return Err((
                    "arrivals.rate_per_s".to_string(),
                    format!(
                        "{items} items at {} per second arrive until {last_s:.0} s, after the run ends (duration_s = {})",
                        arrivals.rate_per_s, self.duration_s
                    ),
                ));
            }
        }
        if self.shared_limiter.kind == SharedLimiterKind::Sim
            && (self.shared_limiter.limit == 0
                || self.shared_limiter.burst == 0
                || self.shared_limiter.window_ms == 0)
        {
            return bad(
                "shared_limiter.limit",
                "a shared limiter needs a limit, a window_ms and a burst of at least 1",
            );
        }
        if self.network.latency_ms_min > self.network.latency_ms_max {
            return bad("network.latency_ms_min", "must not exceed network.latency_ms_max");
        }
        for (index, id) in self.instances.oauth_clients.iter().enumerate() {
            if !self.gateway.clients.iter().any(|client| &client.id == id) {
                return Err((
                    format!("instances.oauth_clients[{index}]"),
                    format!("{id:?} is not one of gateway.clients"),
                ));
            }
        }
        if self.gateway.clients.is_empty() {
            return bad("gateway.clients", "the instances need at least one OAuth client");
        }
        if self.gateway.platform == PlatformProfile::Cxone {
            for instance in 0..self.instances.count {
                let id = self
                    .instances
                    .oauth_client_of(instance, &self.gateway)
                    .unwrap_or_default();
                if self
                    .gateway
                    .clients
                    .iter()
                    .any(|client| client.id == id && client.access_keys.is_empty())
                {
                    return Err((
                        "gateway.clients".into(),
                        format!("CXone's password grant needs an access key: {id:?} has none"),
                    ));
                }
            }
        }
        for (index, partition) in self.network.partitions.iter().enumerate() {
            if partition
                .instance
                .is_some_and(|instance| instance >= self.instances.count)
                || partition.from_s >= partition.until_s
            {
                return Err((
                    format!("network.partitions[{index}]"),
                    "names no instance, or ends before it starts".into(),
                ));
            }
        }
        for (index, crash) in self.network.crashes.iter().enumerate() {
            if crash.instance >= self.instances.count {
                return Err((
                    format!("network.crashes[{index}].instance"),
                    "names no instance".into(),
                ));
            }
        }
        let users = self.gateway.data.users;
        let genesys = self.gateway.platform == PlatformProfile::Genesys;
        match &self.workload {
            Workload::BulkUpdate { .. } if !genesys => bad(
                "workload.kind",
                "bulk_update is a Genesys endpoint; use create_agents on CXone",
            ),
            Workload::CreateAgents { .. } if genesys => {
                bad("workload.kind", "create_agents is a CXone endpoint")
            }
            Workload::CreateUsers { .. } | Workload::AnalyticsJobs { .. } if !genesys => bad(
                "workload.kind",
                "create_users and analytics_jobs are Genesys endpoints",
            ),
            Workload::AnalyticsJobs { poll_every_ms, .. } if !(100..=600_000).contains(poll_every_ms) => {
                bad("workload.poll_every_ms", "must be within 100..=600000")
            }
            _ if self.bad_items.missing_pct + self.bad_items.invalid_pct > 100 => bad(
                "bad_items.missing_pct",
                "missing_pct and invalid_pct add up to at most 100",
            ),
            Workload::BulkUpdate { users: Some(n) } if *n > users => {
                bad("workload.users", "more than gateway.data.users")
            }
            Workload::Read { .. }
            | Workload::Update { .. }
            | Workload::Contention { .. }
            | Workload::Mixed { .. }
                if users == 0 =>
            {
                bad("gateway.data.users", "the workload needs users")
            }
            _ => Ok(()),
        }
    }

    /// A workload with no work is an error (a run would "complete" having checked nothing), and
    /// one over ten million items is refused before it fills memory.
    /// How many items the workload makes, when they go one by one (what arrivals pace).
    fn items_one_by_one(&self) -> Option<u64> {
        match &self.workload {
            Workload::Read { operations }
            | Workload::Update { operations }
            | Workload::Create { operations }
            | Workload::CreateUsers { operations } => Some(*operations),
            Workload::Contention { rounds } => Some(self.total_workers().saturating_mul(*rounds)),
            Workload::Mixed { reads, updates } => Some(reads.saturating_add(*updates)),
            Workload::AnalyticsJobs { jobs, .. } => Some(*jobs),
            Workload::BulkUpdate { .. } | Workload::CreateAgents { .. } => None,
        }
    }

    fn workload_size(&self) -> Result<(), (&'static str, String)> {
        const ITEMS_MAX: u64 = 10_000_000;
        let (field, items) = match &self.workload {
            Workload::Read { operations }
            | Workload::Update { operations }
            | Workload::Create { operations } => ("workload.operations", *operations),
            Workload::Contention { rounds } => ("workload.rounds", *rounds),
            Workload::Mixed { reads, updates } => ("workload.reads", reads.saturating_add(*updates)),
            Workload::BulkUpdate { users } => ("workload.users", users.unwrap_or(self.gateway.data.users)),
            Workload::CreateAgents { agents } => ("workload.agents", *agents),
            Workload::CreateUsers { operations } => ("workload.operations", *operations),
            Workload::AnalyticsJobs { jobs, .. } => ("workload.jobs", *jobs),
        };
        if items == 0 {
            return Err((field, "the workload has no work: at least 1".to_string()));
        }
        if items > ITEMS_MAX {
            return Err((field, format!("at most {ITEMS_MAX}")));
        }
        Ok(())
    }
}
