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
        if self.duration_s == 0 {
            return bad("duration_s", "must be positive");
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
}
