//! Routing: which endpoint a request is for, and its endpoint family (the unit of limiter keys and
//! of the client's circuit breakers).

use crate::config::{HostRole, PlatformProfile};

/// The CXone ACD API prefix (`/inContactAPI/services/vNN.0`); any version is accepted.
pub const CXONE_PREFIX: &str = "/inContactAPI/services/v31.0";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// Genesys `POST /oauth/token`, CXone `POST /auth/token`.
    Token,
    /// CXone `GET /.well-known/openid-configuration` on the issuer: where the token endpoint is.
    Discovery,
    /// Genesys `GET /api/v2/users`, CXone `GET /agents`.
    ListUsers,
    /// Genesys `POST /api/v2/users` (`name`, `email`; 409 on a duplicate email).
    CreateUser,
    /// Genesys `GET /api/v2/users/query?cursor=&pageSize=`: the cursor form of paging.
    QueryUsers,
    /// Genesys `POST /api/v2/analytics/conversations/details/jobs`: submit an async job.
    SubmitJob,
    /// Genesys `GET /api/v2/analytics/conversations/details/jobs/{jobId}`: its state.
    JobStatus(String),
    /// Genesys `GET /api/v2/analytics/conversations/details/jobs/{jobId}/results?cursor=`.
    JobResults(String),
    /// Genesys `GET /api/v2/users/{id}`, CXone `GET /agents/{id}`.
    GetUser(String),
    /// Genesys `PATCH /api/v2/users/{id}` (needs `version`), CXone `PUT /agents/{id}`.
    UpdateUser(String),
    /// Genesys `PATCH /api/v2/users/bulk` (at most 50 items, per-item results).
    BulkUpdateUsers,
    /// Genesys `POST /api/v2/quality/conversations/{conversationId}/evaluations` (`Idempotency-Key`).
    CreateEvaluation(String),
    /// CXone `POST /agents` with `{"agents":[...]}` (per-item results).
    CreateAgents,
    /// Genesys `GET /api/v2/organizations/limits/namespaces`: the configured limits.
    LimitNamespaces,
    /// Genesys `GET /api/v2/organizations/limits/namespaces/{namespace}`.
    LimitNamespace(String),
}

impl Route {
    /// The endpoint family: `oauth`, `users.read`, `users.write`, `users.bulk` or `evaluations`.
    pub fn family(&self) -> &'static str {
        match self {
            Route::Token | Route::Discovery => "oauth",
            Route::ListUsers | Route::GetUser(_) | Route::QueryUsers => "users.read",
            Route::UpdateUser(_) | Route::CreateUser => "users.write",
            Route::SubmitJob | Route::JobStatus(_) | Route::JobResults(_) => "analytics",
            Route::BulkUpdateUsers | Route::CreateAgents => "users.bulk",
            Route::CreateEvaluation(_) => "evaluations",
            Route::LimitNamespaces | Route::LimitNamespace(_) => "organizations.read",
        }
    }

    /// The resource the request names, for per-resource limits ("" for collections).
    pub fn resource(&self) -> &str {
        match self {
            Route::GetUser(id)
            | Route::UpdateUser(id)
            | Route::CreateEvaluation(id)
            | Route::JobStatus(id)
            | Route::JobResults(id) => id,
            Route::LimitNamespace(namespace) => namespace,
            _ => "",
        }
    }

    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Route::UpdateUser(_)
                | Route::BulkUpdateUsers
                | Route::CreateEvaluation(_)
                | Route::CreateAgents
                | Route::CreateUser
                | Route::SubmitJob
        )
    }

    /// The host that serves the route: the login host serves tokens and discovery only.
    pub fn host(&self) -> HostRole {
        match self {
            Route::Token | Route::Discovery => HostRole::Login,
            _ => HostRole::Api,
        }
    }
}

/// Why a request has no route: 404 for an unknown path, 405 for a known path with another method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoRoute {
    pub status: u16,
}

pub fn route(platform: PlatformProfile, method: &str, path: &str) -> Result<Route, NoRoute> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let found = match platform {
        PlatformProfile::Genesys => genesys(&segments, method),
        PlatformProfile::Cxone => cxone(&segments, method),
    };
    found
        .ok_or(NoRoute { status: 404 })?
        .map_err(|()| NoRoute { status: 405 })
}

type Found = Option<Result<Route, ()>>;

fn expect(method: &str, wanted: &str, route: Route) -> Found {
    Some(if method == wanted { Ok(route) } else { Err(()) })
}

fn genesys(segments: &[&str], method: &str) -> Found {
    match segments {
        ["oauth", "token"] => expect(method, "POST", Route::Token),
        ["api", "v2", "users"] => match method {
            "GET" => Some(Ok(Route::ListUsers)),
            "POST" => Some(Ok(Route::CreateUser)),
            _ => Some(Err(())),
        },
        ["api", "v2", "users", "bulk"] => expect(method, "PATCH", Route::BulkUpdateUsers),
        ["api", "v2", "users", "query"] => expect(method, "GET", Route::QueryUsers),
        ["api", "v2", "analytics", "conversations", "details", "jobs"] => {
            expect(method, "POST", Route::SubmitJob)
        }
        ["api", "v2", "analytics", "conversations", "details", "jobs", job] if !job.is_empty() => {
            expect(method, "GET", Route::JobStatus(job.to_string()))
        }
        ["api", "v2", "analytics", "conversations", "details", "jobs", job, "results"] if !job.is_empty() => {
            expect(method, "GET", Route::JobResults(job.to_string()))
        }
        ["api", "v2", "users", id] if !id.is_empty() => match method {
            "GET" => Some(Ok(Route::GetUser(id.to_string()))),
            "PATCH" => Some(Ok(Route::UpdateUser(id.to_string()))),
            _ => Some(Err(())),
        },
        ["api", "v2", "organizations", "limits", "namespaces"] => {
            expect(method, "GET", Route::LimitNamespaces)
        }
        ["api", "v2", "organizations", "limits", "namespaces", namespace] if !namespace.is_empty() => {
            expect(method, "GET", Route::LimitNamespace(namespace.to_string()))
        }
        ["api", "v2", "quality", "conversations", conversation, "evaluations"]
            if !conversation.is_empty() =>
        {
            expect(method, "POST", Route::CreateEvaluation(conversation.to_string()))
        }
        _ => None,
    }
}

fn cxone(segments: &[&str], method: &str) -> Found {
    match segments {
        ["auth", "token"] => expect(method, "POST", Route::Token),
        [".well-known", "openid-configuration"] => expect(method, "GET", Route::Discovery),
        ["inContactAPI", "services", version, rest @ ..] if version.starts_with('v') => match rest {
            ["agents"] => match method {
                "GET" => Some(Ok(Route::ListUsers)),
                "POST" => Some(Ok(Route::CreateAgents)),
                _ => Some(Err(())),
            },
            ["agents", id] if !id.is_empty() => match method {
                "GET" => Some(Ok(Route::GetUser(id.to_string()))),
                "PUT" => Some(Ok(Route::UpdateUser(id.to_string()))),
                _ => Some(Err(())),
            },
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_families() {
        let cases = [
            (PlatformProfile::Genesys, "POST", "/oauth/token", Ok(Route::Token)),
            (
                PlatformProfile::Genesys,
                "GET",
                "/api/v2/users",
                Ok(Route::ListUsers),
            ),
            (
                PlatformProfile::Genesys,
                "PATCH",
                "/api/v2/users/bulk",
                Ok(Route::BulkUpdateUsers),
            ),
            (
                PlatformProfile::Genesys,
                "PATCH",
                "/api/v2/users/u1",
                Ok(Route::UpdateUser("u1".into())),
            ),
            (
                PlatformProfile::Genesys,
                "DELETE",
                "/api/v2/users/u1",
                Err(NoRoute { status: 405 }),
            ),
            (
                PlatformProfile::Genesys,
                "POST",
                "/api/v2/users",
                Ok(Route::CreateUser),
            ),
            (
                PlatformProfile::Genesys,
                "GET",
                "/api/v2/users/query",
                Ok(Route::QueryUsers),
            ),
            (
                PlatformProfile::Genesys,
                "POST",
                "/api/v2/analytics/conversations/details/jobs",
                Ok(Route::SubmitJob),
            ),
            (
                PlatformProfile::Genesys,
                "GET",
                "/api/v2/analytics/conversations/details/jobs/j1/results",
                Ok(Route::JobResults("j1".into())),
            ),
            (
                PlatformProfile::Cxone,
                "GET",
                "/.well-known/openid-configuration",
                Ok(Route::Discovery),
            ),
            (
                PlatformProfile::Genesys,
                "POST",
                "/api/v2/quality/conversations/c9/evaluations",
                Ok(Route::CreateEvaluation("c9".into())),
            ),
            (
                PlatformProfile::Genesys,
                "GET",
                "/api/v2/nothing",
                Err(NoRoute { status: 404 }),
            ),
            (
                PlatformProfile::Genesys,
                "POST",
                "/auth/token",
                Err(NoRoute { status: 404 }),
            ),
            (PlatformProfile::Cxone, "POST", "/auth/token", Ok(Route::Token)),
            (
                PlatformProfile::Cxone,
                "GET",
                "/inContactAPI/services/v31.0/agents",
                Ok(Route::ListUsers),
            ),
            (
                PlatformProfile::Cxone,
                "POST",
                "/inContactAPI/services/v27.0/agents",
                Ok(Route::CreateAgents),
            ),
            (
                PlatformProfile::Cxone,
                "PUT",
                "/inContactAPI/services/v31.0/agents/7",
                Ok(Route::UpdateUser("7".into())),
            ),
            (
                PlatformProfile::Cxone,
                "PATCH",
                "/inContactAPI/services/v31.0/agents/7",
                Err(NoRoute { status: 405 }),
            ),
        ];
        for (platform, method, path, expected) in cases {
            assert_eq!(route(platform, method, path), expected, "{method} {path}");
        }
        assert_eq!(Route::CreateAgents.family(), "users.bulk");
        assert_eq!(Route::Token.host(), HostRole::Login);
        assert_eq!(Route::JobStatus("j".into()).family(), "analytics");
        assert!(Route::CreateUser.is_write() && Route::SubmitJob.is_write());
        assert!(!Route::GetUser("x".into()).is_write());
    }
}
