//! Gateway events: what the core decided, for traces. They never carry a secret: tokens appear as
//! their issue number (`token_seq`), never as the token; client secrets never appear at all.

use serde::Serialize;

use crate::time::SimTime;

/// One thing the gateway did, at simulated time `at`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GatewayEvent {
    pub at: SimTime,
    /// The request's number at this gateway (0 for background and scheduled events).
    pub request: u64,
    #[serde(flatten)]
    pub kind: GatewayEventKind,
}

/// Why a request got a 401.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthFailure {
    Missing,
    Unknown,
    Expired,
    Revoked,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum GatewayEventKind {
    /// A token was issued (grant: `client_credentials`, `password` or `refresh_token`).
    TokenIssued {
        client: String,
        token_seq: u64,
        grant: String,
        expires_in_s: u64,
    },
    /// A live token was revoked to make room for a new one under the cap.
    TokenEvicted { client: String, token_seq: u64 },
    /// A token request was refused.
    TokenRefused { status: u16, error: String },
    /// A request was refused for its credentials.
    Unauthorized {
        family: &'static str,
        reason: AuthFailure,
        token_seq: Option<u64>,
    },
    /// A request outside the OAuth client's scopes got 403.
    Forbidden { family: &'static str, token_seq: u64 },
    /// A request passed every limiter. `remaining` is the tightest rule's headroom after it.
    Admitted {
        family: &'static str,
        token_seq: u64,
        status: u16,
        remaining: Option<u64>,
    },
    /// A request was rejected by a limiter: which rule, which key, and the key's count and limit
    /// at that moment ("why was this 429"). `wait_ms` is the true wait; `retry_after_s` what was
    /// said. Token requests refused by the token endpoint's limit have family `oauth`, token 0.
    RateLimited {
        family: &'static str,
        token_seq: u64,
        rule: String,
        key: String,
        count: u64,
        limit: u64,
        wait_ms: u64,
        retry_after_s: Option<u64>,
    },
    /// A scheduled or random fault changed the response.
    Fault {
        family: &'static str,
        fault: String,
        status: u16,
    },
    /// A write took effect (recorded in the ledger too).
    WriteApplied {
        op: String,
        key: String,
        version: Option<u64>,
    },
    /// A replayed idempotent create: no second write.
    IdempotentReplay { key: String },
    /// A versioned update came with a stale version.
    Conflict { key: String, sent: u64, current: u64 },
    /// A background consumer's draw.
    Background { consumer: String, admitted: bool },
    /// Tokens were revoked on schedule.
    TokensRevoked { count: u64 },
    /// A request the gateway could not route or parse.
    BadRequest { status: u16, reason: String },
}
