//! Who a request is from and which buckets it counts against, read before the request is
//! handled and without touching any state: what a referee (the real-time server's scorecard)
//! needs to judge a client. The simulation never asks, so it costs runs nothing.

use serde::Serialize;

use crate::gateway::Gateway;
use crate::http::Request;
use crate::routes::{route, Route};
use crate::rules::Subject;
use crate::time::SimTime;

/// One bucket a request counts against: `rule/key`, with the rule's limit and window now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BucketRef {
    pub id: String,
    pub limit: u64,
    pub window_ms: u64,
}

/// What the gateway can say about a request before it handles it. Never a secret: the client is
/// its id, the token its issue number.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Caller {
    /// The OAuth client: the token's, or the one a token request claims to be.
    pub client: Option<String>,
    /// The bearer token's issue number, when it is one the gateway issued.
    pub token_seq: Option<u64>,
    /// The endpoint family (`oauth`, `users.read`, …); `""` when nothing routes the request.
    pub family: &'static str,
    /// The buckets of the layered limits it counts against (none when it has no client).
    pub buckets: Vec<BucketRef>,
    /// A create on which the platform honours `Idempotency-Key`.
    pub keyed_create: bool,
    /// A listing: the request pages through a collection.
    pub listing: bool,
    pub token_request: bool,
}

impl Gateway {
    /// Reads who `request` is from at `now`; changes nothing (no limiter state, no draw).
    pub fn caller_of(&self, now: SimTime, request: &Request) -> Caller {
        let Ok(route) = route(self.config.platform, &request.method, request.path()) else {
            return Caller::default();
        };
        let family = route.family();
        let authorization = request.header_value("authorization");
        let (client, token_seq) = if route == Route::Token {
            (crate::oauth::claimed_client(authorization, &request.body), None)
        } else {
            // Expired and revoked tokens still say whose they were.
            self.tokens
                .owner(authorization)
                .map_or((None, None), |(seq, client)| {
                    (Some(client.to_string()), Some(seq))
                })
        };
        let buckets = client.as_deref().map_or_else(Vec::new, |client| {
            let subject = Subject {
                token_seq: token_seq.unwrap_or(0),
                client,
                family,
                resource: route.resource(),
            };
            self.limits
                .keys_of(now.max(self.latest), subject)
                .into_iter()
                .map(|(id, limit, window_ms)| BucketRef { id, limit, window_ms })
                .collect()
        });
        Caller {
            client,
            token_seq,
            family,
            buckets,
            keyed_create: self.config.data.idempotency_keys
                && matches!(route, Route::CreateEvaluation(_) | Route::CreateAgents),
            listing: matches!(route, Route::ListUsers | Route::QueryUsers | Route::JobResults(_)),
            token_request: route == Route::Token,
        }
    }
}
