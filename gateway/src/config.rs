//! Gateway configuration: the `[gateway]` part of a scenario file.
//!
//! Every field has a default taken from `docs/platform-facts.md`; units are last in names.
//! Unknown fields are errors (`deny_unknown_fields`), so a typo in a scenario never silently does nothing.

use serde::{Deserialize, Serialize};

use crate::time::SimTime;

/// Which platform the gateway imitates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlatformProfile {
    /// Genesys Cloud: `POST /oauth/token` (client_credentials, Basic auth), opaque tokens,
    /// `ININ-Correlation-Id`, pageSize/pageNumber/nextUri paging.
    #[default]
    Genesys,
    /// NICE CXone: `POST /auth/token` (password grant with access keys), JWT access tokens with a
    /// refresh token, skip/top paging with `_links.next`.
    Cxone,
}

impl PlatformProfile {
    /// The name a scenario uses for it.
    pub fn name(self) -> &'static str {
        match self {
            PlatformProfile::Genesys => "genesys",
            PlatformProfile::Cxone => "cxone",
        }
    }
}

/// Which rate-limit headers the gateway writes on API responses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HeaderDialect {
    /// No rate-limit headers: today's Genesys Cloud (removed after 2021-06-05).
    #[default]
    None,
    /// Legacy Genesys `inin-ratelimit-allowed/count/reset`; reset is **seconds until** the reset.
    Inin,
    /// The tutorials' `X-Rate-Limit-Limit/Remaining/Reset`; reset is an **epoch** second.
    XRateLimit,
    /// IETF structured `RateLimit-Policy: "name";q=300;w=60` and `RateLimit: "name";r=12;t=41`.
    Ietf,
}

/// Which of the platform's two hosts a request reached: the login host serves the token endpoint
/// (Genesys `login.<region>`, CXone the issuer found by discovery), the API host everything else.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HostRole {
    Login,
    Api,
}

impl HostRole {
    pub fn name(self) -> &'static str {
        match self {
            HostRole::Login => "login",
            HostRole::Api => "api",
        }
    }
}

/// The platform's host names. A request whose `Host` names the login host may only ask for a
/// token; one that names the API host may not (404, as on the platform). A `Host` that names
/// neither (an address such as `127.0.0.1:8080`) is served as both, so that SDKs pointed at one
/// address keep working.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hosts {
    pub login: String,
    pub api: String,
}

impl Hosts {
    /// The platform's own names: Genesys `login.mypurecloud.com` / `api.mypurecloud.com`
    /// (platform-facts §1a); CXone's global issuer `cxone.niceincontact.com` and the ACD API host
    /// `api-na1.niceincontact.com` (§2a).
    pub fn of(platform: PlatformProfile) -> Hosts {
        let (login, api) = match platform {
            PlatformProfile::Genesys => ("login.mypurecloud.com", "api.mypurecloud.com"),
            PlatformProfile::Cxone => ("cxone.niceincontact.com", "api-na1.niceincontact.com"),
        };
        Hosts {
            login: login.to_string(),
            api: api.to_string(),
        }
    }

    /// Which host a `Host` header names, if it names one: the configured names, or any name that
    /// starts with `login.` or `api.`/`api-` (another region). `None` serves both.
    pub fn role_of(&self, host: Option<&str>) -> Option<HostRole> {
        let host = host?.trim().to_ascii_lowercase();
        let name = match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !name.ends_with(']') => name,
            _ => host.as_str(),
        };
        if name == self.login.to_ascii_lowercase() {
            Some(HostRole::Login)
        } else if name == self.api.to_ascii_lowercase() {
            Some(HostRole::Api)
        } else if name.starts_with("login.") {
            Some(HostRole::Login)
        } else if name.starts_with("api.") || name.starts_with("api-") {
            Some(HostRole::Api)
        } else {
            None
        }
    }
}

/// How a refusal writes its `Retry-After`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryAfterStyle {
    /// Delay-seconds, as Genesys sends (platform-facts §1b).
    #[default]
    Seconds,
    /// An HTTP-date on the platform's clock (RFC 9110 §10.2.3), rounded up to the next second:
    /// a client must judge it against the response's `Date`, not its own clock.
    Date,
    /// No `Retry-After` at all.
    Missing,
}

/// What an `Idempotency-Key` reused with another body gets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyReuse {
    /// 422 `idempotency.key.reused` (Stripe and the IETF Idempotency-Key draft do this).
    #[default]
    Reject,
    /// The first response, replayed whatever the body (some platforms do this).
    Replay,
}

/// The limiter algorithm of one rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// Exact sliding log: never more than `limit` admissions in any window of `window_ms`.
    #[default]
    SlidingLog,
    /// Weighted two-window counter (the Cloudflare approximation).
    SlidingWindow,
    /// Fixed windows aligned to multiples of `window_ms` from the run's start.
    FixedWindow,
    /// Token bucket: `limit` tokens per `window_ms` refill, capacity `burst` (default `limit`).
    TokenBucket,
}

/// One part of a limiter key. A rule's key is the list of its parts, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyPart {
    /// The access token (identified by its issue number; the token itself never leaves the core).
    Token,
    /// The OAuth client id.
    Client,
    /// The endpoint family (`users.read`, `users.write`, `users.bulk`, `evaluations`, `oauth`).
    Family,
    /// The organization (one per gateway).
    Org,
    /// The resource a request names (a user id in `/api/v2/users/{id}`; empty for collections):
    /// per-resource limits such as Genesys' `PUT /api/v2/architect/ivrs/{ivrId}` at 100/min.
    Resource,
}

/// A limit that changes at `at_s` seconds into the run (a capacity schedule entry).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapacityChange {
    pub at_s: u64,
    pub limit: u64,
}

/// One rate-limit rule. Several rules may apply to one request; all must admit it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitRule {
    /// Shown in events and in `RateLimit-Policy`, e.g. `token.rate.per.minute`.
    pub name: String,
    #[serde(default)]
    pub algorithm: Algorithm,
    /// Admissions per window (token bucket: refill per window).
    pub limit: u64,
    #[serde(default = "default_window_ms")]
    pub window_ms: u64,
    /// Token bucket capacity; defaults to `limit`.
    #[serde(default)]
    pub burst: Option<u64>,
    /// What the key is made of; `["token"]` is Genesys' `token.rate.per.minute`.
    #[serde(default = "default_key")]
    pub key: Vec<KeyPart>,
    /// Endpoint families the rule applies to; empty means every API family (not `oauth`).
    #[serde(default)]
    pub families: Vec<String>,
    /// Capacity schedule: the limit changes at these times (sorted by `at_s`).
    #[serde(default)]
    pub schedule: Vec<CapacityChange>,
    /// Caps the advertised `Retry-After` below the true wait: the "Retry-After shorter than the
    /// reset" fault. `None` (the default) advertises the truthful, rounded-up wait.
    #[serde(default)]
    pub retry_after_max_s: Option<u64>,
    /// Advertises a `Retry-After` this many seconds longer than the true wait: the over-long
    /// answer of a quota-style limit, which a client that honours it pays for in makespan.
    /// 0 (the default) adds nothing.
    #[serde(default)]
    pub retry_after_extra_s: u64,
    /// How the refusal writes its `Retry-After`: seconds (the default), an HTTP-date, or none.
    #[serde(default)]
    pub retry_after: RetryAfterStyle,
    /// Enforced but never described in rate-limit headers: the headers then speak of another,
    /// looser rule and lie about the headroom (why Genesys removed them in 2021).
    #[serde(default)]
    pub hidden: bool,
    /// **[UNVERIFIED]** penalty for retrying early, as some tutorials claim: every request this
    /// rule refuses while its key is still locked out extends the lockout by this much. Off
    /// (`None`) by default.
    #[serde(default)]
    pub early_penalty_ms: Option<u64>,
}

fn default_window_ms() -> u64 {
    60_000
}

fn default_key() -> Vec<KeyPart> {
    vec![KeyPart::Token]
}

impl LimitRule {
    /// Whether the rule counts requests of `family`: its families, or every API family when it
    /// names none (the token endpoint's `oauth` only when named).
    pub fn applies_to(&self, family: &str) -> bool {
        if self.families.is_empty() {
            family != "oauth"
        } else {
            self.families.iter().any(|f| f == family)
        }
    }

    /// Whether a background consumer of the OAuth client counts in the same bucket as the
    /// client's own requests: the key holds no token and no resource (it is the client's, its
    /// organization's, or global).
    pub fn shared_with_client_consumers(&self) -> bool {
        !self.key.contains(&KeyPart::Token) && !self.key.contains(&KeyPart::Resource)
    }

    /// Genesys' documented default: 300 requests per minute per client-credentials token.
    pub fn genesys_token_default() -> LimitRule {
        LimitRule {
            name: "client.credentials.token.rate.per.minute".to_string(),
            algorithm: Algorithm::SlidingLog,
            limit: 300,
            window_ms: 60_000,
            burst: None,
            key: vec![KeyPart::Token],
            families: Vec::new(),
            schedule: Vec::new(),
            retry_after_max_s: None,
            retry_after_extra_s: 0,
            retry_after: RetryAfterStyle::Seconds,
            hidden: false,
            early_penalty_ms: None,
        }
    }

    /// A per-minute sliding-log rule keyed by `key`, over `families` (empty: every API family).
    fn per_minute(name: &str, limit: u64, key: Vec<KeyPart>, families: &[&str]) -> LimitRule {
        LimitRule {
            name: name.to_string(),
            limit,
            key,
            families: families.iter().map(|family| (*family).to_string()).collect(),
            ..LimitRule::genesys_token_default()
        }
    }

    /// Whether it is the token endpoint's own limit (it names `oauth` alone).
    pub fn is_token_endpoint(&self) -> bool {
        !self.families.is_empty() && self.families.iter().all(|family| family == "oauth")
    }

    /// The limit in force at `at_s` seconds into the run.
    pub fn limit_at_s(&self, at_s: u64) -> u64 {
        self.schedule
            .iter()
            .rev()
            .find(|change| change.at_s <= at_s)
            .map_or(self.limit, |change| change.limit)
    }

    /// The largest limit this rule ever has (bounds a sliding log's memory).
    pub fn limit_max(&self) -> u64 {
        self.schedule
            .iter()
            .map(|change| change.limit)
            .fold(self.limit, u64::max)
    }
}

/// An OAuth client registered with the gateway.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthClientConfig {
    pub id: String,
    pub secret: String,
    /// Access token lifetime; Genesys default 86399 (allowed 300..=172800), CXone 3600.
    #[serde(default)]
    pub token_ttl_s: Option<u64>,
    /// CXone access keys (the password grant's username/password) this client may use.
    #[serde(default)]
    pub access_keys: Vec<AccessKey>,
    /// The scopes the client was granted; `None` grants every scope. A request outside them gets
    /// 403 (see [`scopes_for_family`]).
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
}

/// The scopes any one of which lets a request of `family` through. The names are Genesys' OAuth
/// scope names (`users`, `users:readonly`, `analytics`, `quality`, `organization`); which scope
/// guards which route is **[UNVERIFIED]** beyond the names.
pub fn scopes_for_family(family: &str) -> &'static [&'static str] {
    match family {
        "users.read" => &["users", "users:readonly"],
        "users.write" | "users.bulk" => &["users"],
        "evaluations" => &["quality"],
        "analytics" => &["analytics", "analytics:readonly"],
        "organizations.read" => &["organization", "organization:readonly"],
        _ => &[],
    }
}

/// A CXone access key: `username=<id>&password=<secret>` in the password grant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessKey {
    pub id: String,
    pub secret: String,
}

/// A background consumer: another integration that shares an OAuth client and draws from the same
/// buckets at a scheduled rate. It never retries; its rejections are only counted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackgroundConsumer {
    pub name: String,
    /// The OAuth client whose buckets it shares.
    pub client: String,
    pub rate_per_min: u64,
    #[serde(default)]
    pub from_s: u64,
    #[serde(default)]
    pub until_s: Option<u64>,
    #[serde(default = "default_background_family")]
    pub family: String,
}

fn default_background_family() -> String {
    "users.read".to_string()
}

/// A fault on a schedule, or by rate from the gateway's seeded RNG.
///
/// Every fault with a window can name what it hits: `families` (endpoint families, `oauth` for the
/// token endpoint) and `host` (`login` or `api`). With neither, a maintenance window hits every
/// request and the other faults hit every API family (not the token endpoint); `host = "login"`
/// alone hits the token endpoint. Ordered from mild to severe: `slow`, `hang`, `server_errors`,
/// `maintenance`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// A burst of 5xx responses: each admitted API request fails with `status` with probability `rate`.
    /// The request has no side effect.
    ServerErrors {
        #[serde(default)]
        from_s: u64,
        #[serde(default)]
        until_s: Option<u64>,
        rate: f64,
        #[serde(default = "default_5xx")]
        status: u16,
        /// An HTML error page instead of the JSON body (as a load balancer would send).
        #[serde(default)]
        html: bool,
        /// `Retry-After` on the 5xx (RFC 9110 allows it on 503), when given.
        #[serde(default)]
        retry_after_s: Option<u64>,
        #[serde(default)]
        retry_after: RetryAfterStyle,
        #[serde(default)]
        families: Vec<String>,
        #[serde(default)]
        host: Option<HostRole>,
    },
    /// A maintenance window: every request it hits gets 503, with `Retry-After` when given.
    Maintenance {
        #[serde(default)]
        from_s: u64,
        #[serde(default)]
        until_s: Option<u64>,
        #[serde(default)]
        retry_after_s: Option<u64>,
        #[serde(default)]
        retry_after: RetryAfterStyle,
        #[serde(default)]
        families: Vec<String>,
        #[serde(default)]
        host: Option<HostRole>,
    },
    /// Spurious throttling at the edge: 429s at `rate`, with or without `Retry-After`, JSON or HTML.
    Throttle {
        #[serde(default)]
        from_s: u64,
        #[serde(default)]
        until_s: Option<u64>,
        rate: f64,
        #[serde(default)]
        retry_after_s: Option<u64>,
        #[serde(default)]
        retry_after: RetryAfterStyle,
        #[serde(default)]
        html: bool,
        #[serde(default)]
        families: Vec<String>,
        #[serde(default)]
        host: Option<HostRole>,
    },
    /// Slow responses: with probability `rate` the response is held for `delay_ms`.
    Slow {
        #[serde(default)]
        from_s: u64,
        #[serde(default)]
        until_s: Option<u64>,
        rate: f64,
        delay_ms: u64,
        #[serde(default)]
        families: Vec<String>,
        #[serde(default)]
        host: Option<HostRole>,
    },
    /// A response that never comes: with probability `rate` an admitted request (it spent quota,
    /// it has no side effect) is held until the client gives up and closes the connection.
    Hang {
        #[serde(default)]
        from_s: u64,
        #[serde(default)]
        until_s: Option<u64>,
        rate: f64,
        #[serde(default)]
        families: Vec<String>,
        #[serde(default)]
        host: Option<HostRole>,
    },
    /// The write is applied but its response is lost (the connection closes): the reason for
    /// idempotency keys. Applies to writes only.
    LostResponse {
        #[serde(default)]
        from_s: u64,
        #[serde(default)]
        until_s: Option<u64>,
        rate: f64,
        #[serde(default)]
        families: Vec<String>,
        #[serde(default)]
        host: Option<HostRole>,
    },
    /// Every token issued before `at_s` is revoked at `at_s`.
    RevokeTokens { at_s: u64 },
}

impl Fault {
    /// A share `rate` of admitted API requests answered 503 (no `Retry-After`) from `from_s`
    /// until `until_s` (`None`: to the end).
    pub fn server_errors_503(rate: f64, from_s: u64, until_s: Option<u64>) -> Fault {
        Fault::ServerErrors {
            from_s,
            until_s,
            rate,
            status: 503,
            html: false,
            retry_after_s: None,
            retry_after: RetryAfterStyle::Seconds,
            families: Vec::new(),
            host: None,
        }
    }

    /// The fault's window in seconds, `[from_s, until_s)`; `None` for scheduled events.
    pub fn window(&self) -> Option<(u64, Option<u64>)> {
        match self {
            Fault::ServerErrors { from_s, until_s, .. }
            | Fault::Maintenance { from_s, until_s, .. }
            | Fault::Throttle { from_s, until_s, .. }
            | Fault::Slow { from_s, until_s, .. }
            | Fault::Hang { from_s, until_s, .. }
            | Fault::LostResponse { from_s, until_s, .. } => Some((*from_s, *until_s)),
            Fault::RevokeTokens { .. } => None,
        }
    }

    /// What the fault names as its target: families and host.
    pub fn target(&self) -> (&[String], Option<HostRole>) {
        match self {
            Fault::ServerErrors { families, host, .. }
            | Fault::Maintenance { families, host, .. }
            | Fault::Throttle { families, host, .. }
            | Fault::Slow { families, host, .. }
            | Fault::Hang { families, host, .. }
            | Fault::LostResponse { families, host, .. } => (families, *host),
            Fault::RevokeTokens { .. } => (&[], None),
        }
    }

    /// Whether the fault is active at `now` (`from_s` inclusive, `until_s` exclusive).
    pub fn active_at(&self, now: SimTime) -> bool {
        let at_us = now.as_micros();
        self.window().is_some_and(|(from_s, until_s)| {
            from_s.saturating_mul(1_000_000) <= at_us
                && until_s.is_none_or(|until_s| at_us < until_s.saturating_mul(1_000_000))
        })
    }

    /// Whether the fault hits a request of `family` served by the `role` host.
    pub fn hits(&self, family: &str, role: HostRole) -> bool {
        let (families, host) = self.target();
        if host.is_some_and(|host| host != role) {
            return false;
        }
        if !families.is_empty() {
            return families.iter().any(|named| named == family);
        }
        matches!(self, Fault::Maintenance { .. }) || host.is_some() || role == HostRole::Api
    }
}

fn default_5xx() -> u16 {
    503
}

/// The simulated organization's data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// Users (Genesys) or agents (CXone) that exist at the start.
    pub users: u64,
    /// Largest bulk request accepted (Genesys `PATCH /api/v2/users/bulk`: "Max 50").
    pub bulk_max: u64,
    /// Largest page accepted (`pageSize` or `top`).
    pub page_size_max: u64,
    /// Honour `Idempotency-Key` on creates (Genesys honours it on quality evaluations).
    pub idempotency_keys: bool,
    /// What a key reused with another body gets: `reject` (422) or `replay`.
    pub idempotency_reuse: KeyReuse,
    /// How much longer a bulk request takes per item, in ms **[UNVERIFIED]**: a bulk of 50 is
    /// slower than one update, though no vendor number is published.
    pub bulk_item_ms: u64,
    /// How long an analytics conversation-detail job takes to be `FULFILLED` **[UNVERIFIED]**:
    /// the platform gives no figure; jobs run for seconds to minutes.
    pub job_duration_s: u64,
    /// How many conversations a fulfilled job's results hold.
    pub job_conversations: u64,
}

impl Default for DataConfig {
    fn default() -> DataConfig {
        DataConfig {
            users: 100,
            bulk_max: 50,
            page_size_max: 500,
            idempotency_keys: true,
            idempotency_reuse: KeyReuse::Reject,
            bulk_item_ms: 10,
            job_duration_s: 20,
            job_conversations: 250,
        }
    }
}

/// The platform's layered limits, each a rule with a per-minute rate; 0 turns a layer off. A
/// request passes only if every layer that applies admits it, and the layers are keyed so that a
/// new token never frees a client-wide bucket. Defaults follow `docs/platform-facts.md`:
/// - `token_rate_per_min` (300): `client.credentials.token.rate.per.minute`, per token
///   (documented; the value is quoted by community answers and code comments **[SECONDARY]**);
/// - `client_rate_per_min` (300): per OAuth client across all of its tokens: community answers
///   describe the 300/min as "per client credential" **[SECONDARY]**;
/// - `token_endpoint_rate_per_min` (30): token requests per OAuth client, refused with 429 and
///   `Retry-After`: forum reports of 429s from `/oauth/token` under load **[UNVERIFIED]**, no
///   vendor number; 30 is far above one request per expiry;
/// - `org_rate_per_min` (0, off): per organization, shared with background consumers such as the
///   UI (`org.user.rate.per.minute` = 3000 in community answers) **[UNVERIFIED]**.
///
/// NICE CXone publishes no general API limits: the same layers apply to it as a stand-in
/// **[UNVERIFIED]**, so that no client can cheat there either.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Layers {
    pub token_rate_per_min: u64,
    pub client_rate_per_min: u64,
    pub token_endpoint_rate_per_min: u64,
    pub org_rate_per_min: u64,
}

impl Default for Layers {
    fn default() -> Layers {
        Layers {
            token_rate_per_min: 300,
            client_rate_per_min: 300,
            token_endpoint_rate_per_min: 30,
            org_rate_per_min: 0,
        }
    }
}

impl Layers {
    /// No layer at all: only a scenario's own `limits` apply (for tests of single rules).
    pub const OFF: Layers = Layers {
        token_rate_per_min: 0,
        client_rate_per_min: 0,
        token_endpoint_rate_per_min: 0,
        org_rate_per_min: 0,
    };

    /// The rules of the layers that are on, tightest scope first.
    pub fn rules(&self) -> Vec<LimitRule> {
        let layers = [
            (
                self.token_rate_per_min,
                "client.credentials.token.rate.per.minute",
                vec![KeyPart::Token],
                &[][..],
            ),
            (
                self.client_rate_per_min,
                "client.rate.per.minute",
                vec![KeyPart::Client],
                &[][..],
            ),
            (
                self.token_endpoint_rate_per_min,
                "oauth.token.rate.per.minute",
                vec![KeyPart::Client],
                &["oauth"][..],
            ),
            (
                self.org_rate_per_min,
                "org.user.rate.per.minute",
                vec![KeyPart::Org],
                &[][..],
            ),
        ];
        layers
            .into_iter()
            .filter(|(limit, ..)| *limit > 0)
            .map(|(limit, name, key, families)| LimitRule::per_minute(name, limit, key, families))
            .collect()
    }
}

/// What the token endpoint does when an OAuth client asks for a token beyond its cap of live
/// tokens. **[UNVERIFIED]**: neither platform documents a cap; it is modelled so that a client
/// that fetches a token per request shows in the gateway's own counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenTokensFull {
    /// Issue the new token and revoke the client's oldest live one (its holder gets 401).
    #[default]
    RevokeOldest,
    /// Refuse the request (400 `invalid_request`, "too many active tokens").
    Refuse,
}

/// The token endpoint's bound on live tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenCap {
    /// Live (unexpired, unrevoked) tokens per OAuth client; 0 means no cap.
    pub live_max_per_client: u64,
    pub when_full: WhenTokensFull,
}

impl Default for TokenCap {
    fn default() -> TokenCap {
        TokenCap {
            live_max_per_client: 100,
            when_full: WhenTokensFull::RevokeOldest,
        }
    }
}

/// The whole gateway configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewayConfig {
    pub platform: PlatformProfile,
    pub headers: HeaderDialect,
    /// The simulated wall clock at t = 0, in Unix seconds (Date headers, epoch resets, JWT claims).
    pub epoch_unix_s: u64,
    /// The login and API host names; the platform's own when absent ([`Hosts::of`]).
    pub hosts: Option<Hosts>,
    /// Accept `client_id`/`client_secret` in the token request's form body, not only in HTTP
    /// Basic. CXone documents both; for Genesys this rests on a community report that it works
    /// against `login.mypurecloud.com` (2025-06-24) **[SECONDARY]**.
    pub body_credentials: bool,
    pub clients: Vec<OAuthClientConfig>,
    /// The platform's layered limits (see [`Layers`]).
    pub layers: Layers,
    /// The scenario's own rules, on top of the layers (per resource, schedules, other keys);
    /// `None` and `[]` are the same.
    pub limits: Option<Vec<LimitRule>>,
    /// The cap on live tokens per OAuth client.
    pub tokens: TokenCap,
    pub background: Vec<BackgroundConsumer>,
    pub faults: Vec<Fault>,
    pub data: DataConfig,
    /// Largest request body accepted (Genesys `request.bytes.max` = 512000); larger gets 413.
    pub max_body_bytes: u64,
}

/// The endpoint families a fault or a rule may name.
pub const FAMILIES: [&str; 7] = [
    "oauth",
    "users.read",
    "users.write",
    "users.bulk",
    "evaluations",
    "analytics",
    "organizations.read",
];

/// 2026-01-01T00:00:00Z: a fixed default epoch, so runs never depend on the real date.
pub const DEFAULT_EPOCH_UNIX_S: u64 = 1_767_225_600;

/// The latest epoch a scenario may start at: 9990-01-01T00:00:00Z, so that every `Date` and
/// HTTP-date `Retry-After` of a run (which may span years of simulated time) stays before the
/// year 10000, where HTTP-dates end.
pub const EPOCH_UNIX_S_MAX: u64 = 253_086_768_000;

/// The longest window a rule may have: a week.
pub const WINDOW_MS_MAX: u64 = 7 * 86_400_000;
/// The latest time of anything scheduled (a fault, a capacity change, a consumer): a year.
pub const TIME_S_MAX: u64 = 365 * 86_400;

impl Default for GatewayConfig {
    fn default() -> GatewayConfig {
        GatewayConfig {
            platform: PlatformProfile::Genesys,
            headers: HeaderDialect::None,
            epoch_unix_s: DEFAULT_EPOCH_UNIX_S,
            hosts: None,
            body_credentials: true,
            clients: vec![OAuthClientConfig::example()],
            layers: Layers::default(),
            limits: None,
            tokens: TokenCap::default(),
            background: Vec::new(),
            faults: Vec::new(),
            data: DataConfig::default(),
            max_body_bytes: 512_000,
        }
    }
}

impl OAuthClientConfig {
    /// The client every shipped scenario uses unless it names its own (`herd-app` / `herd-secret`,
    /// access key `herd-key` / `herd-key-secret`).
    pub fn example() -> OAuthClientConfig {
        OAuthClientConfig {
            id: "herd-app".to_string(),
            secret: "herd-secret".to_string(),
            token_ttl_s: None,
            scopes: None,
            access_keys: vec![AccessKey {
                id: "herd-key".to_string(),
                secret: "herd-key-secret".to_string(),
            }],
        }
    }
}

/// A configuration the gateway cannot run with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayConfigError {
    /// Dotted path of the offending field, e.g. `clients[0].token_ttl_s`.
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for GatewayConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for GatewayConfigError {}

fn config_error(field: impl Into<String>, message: impl Into<String>) -> GatewayConfigError {
    GatewayConfigError {
        field: field.into(),
        message: message.into(),
    }
}

impl GatewayConfig {
    /// The rules in force: the layers that are on, then the scenario's own rules.
    /// The longest `Retry-After` the gateway can send, in s: a refusal waits at most its rule's
    /// window (plus a lockout penalty) or its cap; a fault says its own `retry_after_s`.
    pub fn longest_retry_after_s(&self) -> u64 {
        let rules = self
            .effective_limits()
            .iter()
            .map(|rule| {
                let wait_ms = rule.window_ms + rule.early_penalty_ms.unwrap_or(0);
                rule.retry_after_max_s
                    .unwrap_or(u64::MAX)
                    .min(wait_ms.div_ceil(1_000))
                    .saturating_add(rule.retry_after_extra_s)
            })
            .max()
            .unwrap_or(0);
        let faults = self
            .faults
            .iter()
            .map(|fault| match fault {
                Fault::Maintenance { retry_after_s, .. }
                | Fault::Throttle { retry_after_s, .. }
                | Fault::ServerErrors { retry_after_s, .. } => retry_after_s.unwrap_or(0),
                _ => 0,
            })
            .max()
            .unwrap_or(0);
        rules.max(faults).min(86_400)
    }

    pub fn effective_limits(&self) -> Vec<LimitRule> {
        let mut rules = self.layers.rules();
        rules.extend(self.limits.iter().flatten().cloned());
        rules
    }

    /// The login and API host names in force.
    pub fn hosts(&self) -> Hosts {
        self.hosts.clone().unwrap_or_else(|| Hosts::of(self.platform))
    }

    /// The access token lifetime of a client on this platform.
    pub fn token_ttl_s(&self, client: &OAuthClientConfig) -> u64 {
        client.token_ttl_s.unwrap_or(match self.platform {
            PlatformProfile::Genesys => 86_399,
            PlatformProfile::Cxone => 3_600,
        })
    }

    /// Checks everything serde cannot: ranges, references between sections, probabilities.
    pub fn validate(&self) -> Result<(), GatewayConfigError> {
        if self.epoch_unix_s > EPOCH_UNIX_S_MAX {
            return Err(config_error(
                "epoch_unix_s",
                format!(
                    "{} is after {EPOCH_UNIX_S_MAX} (the start of 9990): HTTP-dates end with the year 9999",
                    self.epoch_unix_s
                ),
            ));
        }
        if let Some(hosts) = &self.hosts {
            for (field, name) in [("hosts.login", &hosts.login), ("hosts.api", &hosts.api)] {
                let valid = !name.is_empty()
                    && name.len() <= 253
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
                if !valid {
                    return Err(config_error(field, "a host name: letters, digits, '.' and '-'"));
                }
            }
            if hosts.login.eq_ignore_ascii_case(&hosts.api) {
                return Err(config_error(
                    "hosts.api",
                    "the API host must differ from the login host",
                ));
            }
        }
        if self.clients.is_empty() {
            return Err(config_error("clients", "at least one OAuth client is needed"));
        }
        for (index, client) in self.clients.iter().enumerate() {
            let ttl_s = self.token_ttl_s(client);
            if self.platform == PlatformProfile::Genesys && !(300..=172_800).contains(&ttl_s) {
                return Err(config_error(
                    format!("clients[{index}].token_ttl_s"),
                    format!("{ttl_s} is outside Genesys' allowed 300..=172800 seconds"),
                ));
            }
            if ttl_s == 0 || ttl_s > TIME_S_MAX {
                return Err(config_error(
                    format!("clients[{index}].token_ttl_s"),
                    format!("must be within 1..={TIME_S_MAX} (a year)"),
                ));
            }
        }
        for (name, rate) in [
            ("token_rate_per_min", self.layers.token_rate_per_min),
            ("client_rate_per_min", self.layers.client_rate_per_min),
            (
                "token_endpoint_rate_per_min",
                self.layers.token_endpoint_rate_per_min,
            ),
            ("org_rate_per_min", self.layers.org_rate_per_min),
        ] {
            if rate > 1_000_000 {
                return Err(config_error(
                    format!("layers.{name}"),
                    "at most 1000000 per minute (0 turns it off)",
                ));
            }
        }
        if self.tokens.live_max_per_client > 1_000_000 {
            return Err(config_error(
                "tokens.live_max_per_client",
                "at most 1000000 (0 means no cap)",
            ));
        }
        for (index, rule) in self.limits.iter().flatten().enumerate() {
            let field = |name: &str| format!("limits[{index}].{name}");
            let name_ok = !rule.name.is_empty()
                && rule
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
            if !name_ok {
                return Err(config_error(
                    field("name"),
                    "use letters, digits, '.', '-' and '_' only",
                ));
            }
            if !(1..=WINDOW_MS_MAX).contains(&rule.window_ms) {
                return Err(config_error(
                    field("window_ms"),
                    format!("must be within 1..={WINDOW_MS_MAX} (a week)"),
                ));
            }
            if rule.limit == 0 {
                return Err(config_error(
                    field("limit"),
                    "must be at least 1: a rule that admits nothing makes every run wait until duration_s \
                     (for an outage, use a maintenance fault)",
                ));
            }
            if let Some((index, change)) = rule
                .schedule
                .iter()
                .enumerate()
                .find(|(_, change)| change.limit == 0)
            {
                return Err(config_error(
                    field(&format!("schedule[{index}].limit")),
                    format!(
                        "a limit of 0 from {} s admits nothing: use a maintenance fault for an outage",
                        change.at_s
                    ),
                ));
            }
            if let Some(index) = rule.schedule.iter().position(|change| change.at_s > TIME_S_MAX) {
                return Err(config_error(
                    field(&format!("schedule[{index}].at_s")),
                    format!("must be within 0..={TIME_S_MAX} (a year)"),
                ));
            }
            if rule.retry_after_max_s.is_some_and(|cap| cap > 86_400)
                || rule.early_penalty_ms.is_some_and(|p| p > 86_400_000)
            {
                return Err(config_error(
                    field("retry_after_max_s"),
                    "retry_after_max_s and early_penalty_ms are at most a day",
                ));
            }
            if rule.retry_after_extra_s > 86_400 {
                return Err(config_error(field("retry_after_extra_s"), "is at most a day"));
            }
            if rule.retry_after_extra_s > 0 && rule.retry_after_max_s.is_some() {
                return Err(config_error(
                    field("retry_after_extra_s"),
                    "cannot lengthen a Retry-After that retry_after_max_s shortens: give one of them",
                ));
            }
            if rule.key.is_empty() {
                return Err(config_error(field("key"), "needs at least one part"));
            }
            if rule.limit_max() > 1_000_000 {
                return Err(config_error(
                    field("limit"),
                    "at most 1000000 per window (memory is bounded by it)",
                ));
            }
            if rule.burst == Some(0) {
                return Err(config_error(field("burst"), "must be positive"));
            }
            if !rule.schedule.windows(2).all(|pair| pair[0].at_s <= pair[1].at_s) {
                return Err(config_error(field("schedule"), "entries must be sorted by at_s"));
            }
        }
        for (index, consumer) in self.background.iter().enumerate() {
            if !self.clients.iter().any(|client| client.id == consumer.client) {
                return Err(config_error(
                    format!("background[{index}].client"),
                    format!("no OAuth client named {:?}", consumer.client),
                ));
            }
            if consumer.rate_per_min == 0 || consumer.rate_per_min > 600_000 {
                return Err(config_error(
                    format!("background[{index}].rate_per_min"),
                    "must be in 1..=600000",
                ));
            }
        }
        for (index, fault) in self.faults.iter().enumerate() {
            let rate = match fault {
                Fault::ServerErrors { rate, status, .. } => {
                    if !(500..=599).contains(status) {
                        return Err(config_error(
                            format!("faults[{index}].status"),
                            "must be a 5xx status",
                        ));
                    }
                    Some(*rate)
                }
                Fault::Throttle { rate, .. }
                | Fault::Slow { rate, .. }
                | Fault::Hang { rate, .. }
                | Fault::LostResponse { rate, .. } => Some(*rate),
                Fault::Maintenance { .. } | Fault::RevokeTokens { .. } => None,
            };
            if let Some(rate) = rate {
                if !(0.0..=1.0).contains(&rate) {
                    return Err(config_error(
                        format!("faults[{index}].rate"),
                        "must be within 0.0..=1.0",
                    ));
                }
            }
        }
        for (index, fault) in self.faults.iter().enumerate() {
            let times = match fault {
                Fault::RevokeTokens { at_s } => [Some(*at_s), None],
                _ => {
                    let (from_s, until_s) = fault.window().unwrap_or_default();
                    [Some(from_s), until_s]
                }
            };
            if times.iter().flatten().any(|s| *s > TIME_S_MAX) {
                return Err(config_error(
                    format!("faults[{index}]"),
                    format!("times are within 0..={TIME_S_MAX} s (a year)"),
                ));
            }
            let waits = match fault {
                Fault::Maintenance { retry_after_s, .. }
                | Fault::Throttle { retry_after_s, .. }
                | Fault::ServerErrors { retry_after_s, .. } => retry_after_s.unwrap_or(0) > 86_400,
                Fault::Slow { delay_ms, .. } => *delay_ms > 600_000,
                _ => false,
            };
            if waits {
                return Err(config_error(
                    format!("faults[{index}]"),
                    "retry_after_s is at most a day, delay_ms at most 600000",
                ));
            }
            if let Some(unknown) = fault
                .target()
                .0
                .iter()
                .find(|family| !FAMILIES.contains(&family.as_str()))
            {
                return Err(config_error(
                    format!("faults[{index}].families"),
                    format!(
                        "{unknown:?} is not an endpoint family; use one of {}",
                        FAMILIES.join(", ")
                    ),
                ));
            }
        }
        for (index, consumer) in self.background.iter().enumerate() {
            if consumer.from_s > TIME_S_MAX || consumer.until_s.is_some_and(|s| s > TIME_S_MAX) {
                return Err(config_error(
                    format!("background[{index}].from_s"),
                    format!("times are within 0..={TIME_S_MAX} s (a year)"),
                ));
            }
        }
        for (field, value, low, high) in [
            ("data.users", self.data.users, 0, 10_000_000),
            ("data.bulk_max", self.data.bulk_max, 1, 10_000),
            ("data.page_size_max", self.data.page_size_max, 1, 100_000),
            ("data.bulk_item_ms", self.data.bulk_item_ms, 0, 60_000),
            ("data.job_duration_s", self.data.job_duration_s, 0, 86_400),
            (
                "data.job_conversations",
                self.data.job_conversations,
                0,
                1_000_000,
            ),
            ("max_body_bytes", self.max_body_bytes, 1, 64 * 1024 * 1024),
        ] {
            if !(low..=high).contains(&value) {
                return Err(config_error(field, format!("{value} is outside {low}..={high}")));
            }
        }
        if self.data.bulk_max == 0 || self.data.page_size_max == 0 {
            return Err(config_error(
                "data",
                "bulk_max and page_size_max must be positive",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_platform_facts() {
        let config = GatewayConfig::default();
        assert_eq!(config.validate(), Ok(()));
        assert_eq!(config.token_ttl_s(&config.clients[0]), 86_399);
        let rules = config.effective_limits();
        let layers: Vec<(&str, u64, &[KeyPart])> = rules
            .iter()
            .map(|rule| (rule.name.as_str(), rule.limit, &rule.key[..]))
            .collect();
        assert_eq!(
            layers,
            vec![
                (
                    "client.credentials.token.rate.per.minute",
                    300,
                    &[KeyPart::Token][..]
                ),
                ("client.rate.per.minute", 300, &[KeyPart::Client][..]),
                ("oauth.token.rate.per.minute", 30, &[KeyPart::Client][..]),
            ],
            "layered by default; the org layer is off"
        );
        assert!(rules.iter().all(|rule| rule.window_ms == 60_000));
        assert_eq!(
            rules[2].families,
            vec!["oauth".to_string()],
            "the token endpoint's own layer"
        );
        let cxone = GatewayConfig {
            platform: PlatformProfile::Cxone,
            ..GatewayConfig::default()
        };
        assert_eq!(cxone.token_ttl_s(&cxone.clients[0]), 3_600);
    }

    #[test]
    fn validation_names_the_field() {
        let mut config = GatewayConfig::default();
        config.clients[0].token_ttl_s = Some(100);
        assert_eq!(config.validate().unwrap_err().field, "clients[0].token_ttl_s");
        let mut config = GatewayConfig::default();
        config.faults.push(Fault::Slow {
            from_s: 0,
            until_s: None,
            rate: 1.5,
            delay_ms: 10,
            families: Vec::new(),
            host: None,
        });
        assert_eq!(config.validate().unwrap_err().field, "faults[0].rate");
        config.faults[0] = Fault::Hang {
            from_s: 0,
            until_s: None,
            rate: 0.5,
            families: vec!["users.raed".into()],
            host: None,
        };
        assert_eq!(config.validate().unwrap_err().field, "faults[0].families");
        config.faults.clear();
        config.hosts = Some(Hosts {
            login: "api.example".into(),
            api: "API.example".into(),
        });
        assert_eq!(config.validate().unwrap_err().field, "hosts.api");
        config.hosts = None;
        config.faults.push(Fault::Slow {
            from_s: 0,
            until_s: None,
            rate: 1.5,
            delay_ms: 10,
            families: Vec::new(),
            host: None,
        });
        assert_eq!(config.validate().unwrap_err().field, "faults[0].rate");
        let late = GatewayConfig {
            epoch_unix_s: EPOCH_UNIX_S_MAX + 1,
            ..GatewayConfig::default()
        };
        assert_eq!(late.validate().unwrap_err().field, "epoch_unix_s");
        let latest = GatewayConfig {
            epoch_unix_s: EPOCH_UNIX_S_MAX,
            ..GatewayConfig::default()
        };
        assert!(latest.validate().is_ok());
    }

    #[test]
    fn capacity_schedule_applies_in_order() {
        let mut rule = LimitRule::genesys_token_default();
        rule.schedule = vec![
            CapacityChange { at_s: 60, limit: 100 },
            CapacityChange {
                at_s: 120,
                limit: 500,
            },
        ];
        assert_eq!(rule.limit_at_s(0), 300);
        assert_eq!(rule.limit_at_s(60), 100);
        assert_eq!(rule.limit_at_s(200), 500);
        assert_eq!(rule.limit_max(), 500);
    }

    #[test]
    fn toml_round_trip_and_unknown_fields_are_rejected() {
        let text = r#"
            platform = "cxone"
            headers = "x-rate-limit"
            [[limits]]
            name = "per-client"
            algorithm = "token_bucket"
            limit = 100
            burst = 20
            key = ["client", "family"]
            [[faults]]
            kind = "maintenance"
            from_s = 60
            until_s = 180
            retry_after_s = 30
        "#;
        let config: GatewayConfig = toml::from_str(text).unwrap();
        assert_eq!(config.platform, PlatformProfile::Cxone);
        assert_eq!(config.headers, HeaderDialect::XRateLimit);
        assert_eq!(
            config.limits.as_ref().unwrap()[0].key,
            vec![KeyPart::Client, KeyPart::Family]
        );
        assert!(matches!(
            config.faults[0],
            Fault::Maintenance {
                retry_after_s: Some(30),
                ..
            }
        ));
        assert!(toml::from_str::<GatewayConfig>("platfrom = \"genesys\"").is_err());
    }

    #[test]
    fn hosts_are_told_apart_by_name() {
        let hosts = Hosts::of(PlatformProfile::Genesys);
        assert_eq!(
            hosts.role_of(Some("login.mypurecloud.com")),
            Some(HostRole::Login)
        );
        assert_eq!(
            hosts.role_of(Some("API.mypurecloud.com:443")),
            Some(HostRole::Api)
        );
        assert_eq!(
            hosts.role_of(Some("login.mypurecloud.de")),
            Some(HostRole::Login),
            "another region"
        );
        assert_eq!(
            hosts.role_of(Some("api-na1.niceincontact.com")),
            Some(HostRole::Api)
        );
        assert_eq!(
            hosts.role_of(Some("127.0.0.1:8080")),
            None,
            "an address serves both"
        );
        assert_eq!(hosts.role_of(Some("[::1]:8080")), None);
        assert_eq!(hosts.role_of(Some("localhost")), None);
        assert_eq!(hosts.role_of(None), None);
        let cxone = Hosts::of(PlatformProfile::Cxone);
        assert_eq!(
            cxone.role_of(Some("cxone.niceincontact.com")),
            Some(HostRole::Login)
        );
    }

    #[test]
    fn untargeted_faults_hit_the_api_and_targets_narrow_them() {
        let slow = |families: Vec<String>, host| Fault::Slow {
            from_s: 0,
            until_s: None,
            rate: 1.0,
            delay_ms: 1,
            families,
            host,
        };
        assert!(slow(Vec::new(), None).hits("users.read", HostRole::Api));
        assert!(!slow(Vec::new(), None).hits("oauth", HostRole::Login));
        assert!(slow(Vec::new(), Some(HostRole::Login)).hits("oauth", HostRole::Login));
        assert!(!slow(vec!["users.write".into()], None).hits("users.read", HostRole::Api));
        assert!(slow(vec!["oauth".into()], None).hits("oauth", HostRole::Login));
    }
}
