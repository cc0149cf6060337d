//! OAuth: issuing and validating tokens for both platforms.
//!
//! Genesys: `POST /oauth/token`, Basic auth, `grant_type=client_credentials`, opaque token,
//! `{"access_token","token_type":"bearer","expires_in":86399}`; a failed grant is 400
//! `{"error":"unauthorized_client",...}` (platform-facts §1a).
//! CXone: `POST /auth/token`, `grant_type=password&username=<access key id>&password=<secret>`,
//! client authentication by Basic auth or `client_id`/`client_secret` in the body; JWT access token,
//! `refresh_token`, `id_token` with `tenantId`, `expires_in` 3600; refresh rotates the refresh token
//! (platform-facts §2a).

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::RngCore;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use crate::config::{GatewayConfig, OAuthClientConfig, PlatformProfile, TokenCap, WhenTokensFull};
use crate::events::AuthFailure;
use crate::time::SimTime;

/// How long an expired or revoked token is remembered (so it can be told apart from garbage).
const FORGET_AFTER: Duration = Duration::from_secs(3_600);
/// The most revoked tokens remembered at once, oldest forgotten first: a client minting a token
/// per request gets its old ones revoked under the live cap, and they must not pile up for the
/// day they would take to expire. A forgotten token's 401 says `unknown`, not `revoked`.
pub const REVOKED_REMEMBERED_MAX: usize = 10_000;
/// The most refresh tokens held at once, oldest forgotten first.
pub const REFRESH_TOKENS_MAX: usize = 10_000;
/// The most access tokens held at once, live or remembered dead. Dead ones are forgotten first;
/// when every one is live (only with `tokens.live_max_per_client = 0`), grants are refused.
pub const TOKENS_HELD_MAX: usize = 100_000;

#[derive(Clone, Debug)]
struct TokenRecord {
    seq: u64,
    client: String,
    expires_at: SimTime,
    revoked: bool,
}

#[derive(Clone, Debug)]
struct RefreshRecord {
    client: String,
    access_key: String,
    expires_at: SimTime,
}

/// A granted token, ready to be written as the token endpoint's body.
#[derive(Clone, Debug, PartialEq)]
pub struct Grant {
    pub client: String,
    pub token_seq: u64,
    /// The client's oldest live token, revoked to stay within the cap (`tokens.when_full`).
    pub evicted: Option<u64>,
    pub grant: &'static str,
    pub expires_in_s: u64,
    pub body: serde_json::Value,
}

/// A refused grant: status and OAuth error code.
#[derive(Clone, Debug, PartialEq)]
pub struct GrantError {
    pub status: u16,
    pub error: &'static str,
    pub description: &'static str,
}

impl GrantError {
    fn new(status: u16, error: &'static str, description: &'static str) -> GrantError {
        GrantError {
            status,
            error,
            description,
        }
    }

    pub fn body(&self) -> serde_json::Value {
        json!({"error": self.error, "description": self.description, "error_description": self.description})
    }
}

/// Tokens and refresh tokens issued by one gateway.
pub struct TokenStore {
    tokens: BTreeMap<String, TokenRecord>,
    refresh_tokens: BTreeMap<String, RefreshRecord>,
    /// Each client's tokens in issue order, oldest first; dead ones leave lazily.
    issued_by_client: BTreeMap<String, VecDeque<String>>,
    /// Revoked tokens with when they were revoked, oldest first.
    revoked: VecDeque<(SimTime, String)>,
    /// Refresh tokens in the order they were issued, oldest first.
    refresh_order: VecDeque<String>,
    issued: u64,
}

impl TokenStore {
    pub fn new() -> TokenStore {
        TokenStore {
            tokens: BTreeMap::new(),
            refresh_tokens: BTreeMap::new(),
            issued_by_client: BTreeMap::new(),
            revoked: VecDeque::new(),
            refresh_order: VecDeque::new(),
            issued: 0,
        }
    }

    /// Handles a token request body (form-encoded) with its `Authorization` header.
    pub fn grant(
        &mut self,
        config: &GatewayConfig,
        rng: &mut ChaCha8Rng,
        now: SimTime,
        authorization: Option<&str>,
        body: &[u8],
    ) -> Result<Grant, GrantError> {
        let form: BTreeMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
        let (client_id, client_secret) = match basic_credentials(authorization) {
            Some(pair) => pair,
            None => match (form.get("client_id"), form.get("client_secret")) {
                // CXone documents `client_secret_post`; Genesys takes it by a community report
                // **[SECONDARY]**, unless `body_credentials = false`.
                (Some(id), Some(secret))
                    if config.platform == PlatformProfile::Cxone || config.body_credentials =>
                {
                    (id.clone(), secret.clone())
                }
                _ => {
                    return Err(GrantError::new(
                        401,
                        "invalid_client",
                        "Client authentication failed",
                    ))
                }
            },
        };
        let client = config
            .clients
            .iter()
            .find(|client| client.id == client_id && client.secret == client_secret)
            .ok_or_else(|| GrantError::new(400, "unauthorized_client", "Client authentication failed"))?;
        let grant_type = form.get("grant_type").map(String::as_str).unwrap_or("");
        let evicted = self.make_room(config.tokens, &client.id, now)?;
        if self.tokens.len() >= TOKENS_HELD_MAX {
            self.forget_dead(now, 0);
            if self.tokens.len() >= TOKENS_HELD_MAX {
                return Err(GrantError::new(400, "invalid_request", "Too many active tokens"));
            }
        }
        let mut grant = match (config.platform, grant_type) {
            (PlatformProfile::Genesys, "client_credentials") => {
                Ok(self.issue_genesys(config, client, rng, now))
            }
            (PlatformProfile::Cxone, "password") => {
                let username = form.get("username").map(String::as_str).unwrap_or("");
                let password = form.get("password").map(String::as_str).unwrap_or("");
                let key = client
                    .access_keys
                    .iter()
                    .find(|key| key.id == username && key.secret == password)
                    .ok_or_else(|| GrantError::new(400, "invalid_grant", "Invalid access key"))?;
                Ok(self.issue_cxone(config, client, &key.id, "password", rng, now))
            }
            (PlatformProfile::Cxone, "refresh_token") => {
                let presented = form.get("refresh_token").map(String::as_str).unwrap_or("");
                let record = match self.refresh_tokens.remove(presented) {
                    Some(record) if record.client == client.id && now < record.expires_at => record,
                    _ => return Err(GrantError::new(400, "invalid_grant", "Invalid refresh token")),
                };
                Ok(self.issue_cxone(config, client, &record.access_key, "refresh_token", rng, now))
            }
            (_, "") => Err(GrantError::new(400, "invalid_request", "Missing grant_type")),
            _ => Err(GrantError::new(
                400,
                "unsupported_grant_type",
                "Unsupported grant type",
            )),
        }?;
        grant.evicted = evicted.map(|token| self.revoke(&token, now));
        Ok(grant)
    }

    /// The client's live tokens, oldest first, after dropping dead ones from the front.
    fn live_of(&mut self, client: &str, now: SimTime) -> usize {
        let Some(queue) = self.issued_by_client.get_mut(client) else {
            return 0;
        };
        queue.retain(|token| {
            self.tokens
                .get(token)
                .is_some_and(|record| !record.revoked && now < record.expires_at)
        });
        queue.len()
    }

    /// Under the cap: nothing to do. At it: refuse, or name the oldest token to revoke once the
    /// grant succeeds.
    fn make_room(&mut self, cap: TokenCap, client: &str, now: SimTime) -> Result<Option<String>, GrantError> {
        if cap.live_max_per_client == 0 || (self.live_of(client, now) as u64) < cap.live_max_per_client {
            return Ok(None);
        }
        match cap.when_full {
            WhenTokensFull::Refuse => Err(GrantError::new(
                400,
                "invalid_request",
                "Too many active tokens for this client",
            )),
            WhenTokensFull::RevokeOldest => {
                Ok(self.issued_by_client.get(client).and_then(|q| q.front().cloned()))
            }
        }
    }

    /// Revokes one token; returns its number.
    fn revoke(&mut self, token: &str, now: SimTime) -> u64 {
        let record = self.tokens.get_mut(token).expect("a live token to revoke");
        record.revoked = true;
        let seq = record.seq;
        self.revoked.push_back((now, token.to_string()));
        if self.revoked.len() > REVOKED_REMEMBERED_MAX {
            self.forget_dead(now, REVOKED_REMEMBERED_MAX);
        }
        seq
    }

    /// Forgets revoked tokens until at most `keep` are remembered, and expired ones; both also
    /// once [`FORGET_AFTER`] has passed.
    fn forget_dead(&mut self, now: SimTime, keep: usize) {
        while let Some((at, token)) = self.revoked.front() {
            if self.revoked.len() <= keep && now < *at + FORGET_AFTER {
                break;
            }
            self.tokens.remove(token);
            self.revoked.pop_front();
        }
        if keep == 0 {
            self.tokens
                .retain(|_, record| !record.revoked && now < record.expires_at);
        }
    }

    /// Live tokens of `client` at `now` (for the cap and for tests).
    pub fn live_count(&mut self, client: &str, now: SimTime) -> usize {
        self.live_of(client, now)
    }

    fn record(&mut self, token: String, client: &OAuthClientConfig, expires_at: SimTime) -> u64 {
        self.issued += 1;
        let seq = self.issued;
        let previous = self.tokens.insert(
            token.clone(),
            TokenRecord {
                seq,
                client: client.id.clone(),
                expires_at,
                revoked: false,
            },
        );
        assert!(previous.is_none(), "token collision");
        self.issued_by_client
            .entry(client.id.clone())
            .or_default()
            .push_back(token);
        seq
    }

    fn issue_genesys(
        &mut self,
        config: &GatewayConfig,
        client: &OAuthClientConfig,
        rng: &mut ChaCha8Rng,
        now: SimTime,
    ) -> Grant {
        let expires_in_s = config.token_ttl_s(client);
        let token = random_token(rng, 48);
        let seq = self.record(token.clone(), client, now + Duration::from_secs(expires_in_s));
        Grant {
            client: client.id.clone(),
            token_seq: seq,
            evicted: None,
            grant: "client_credentials",
            expires_in_s,
            body: json!({"access_token": token, "token_type": "bearer", "expires_in": expires_in_s}),
        }
    }

    fn issue_cxone(
        &mut self,
        config: &GatewayConfig,
        client: &OAuthClientConfig,
        access_key: &str,
        grant: &'static str,
        rng: &mut ChaCha8Rng,
        now: SimTime,
    ) -> Grant {
        let expires_in_s = config.token_ttl_s(client);
        let issued_at_s = config.epoch_unix_s + now.as_micros() / 1_000_000;
        let claims = json!({
            "iss": "https://cxone.niceincontact.com",
            "sub": format!("user:{access_key}"),
            "tenantId": "11eb0000-herd-0000-0000-000000000001",
            "iat": issued_at_s,
            "exp": issued_at_s + expires_in_s,
            "jti": random_token(rng, 12),
        });
        let access_token = jwt(&claims, rng);
        let id_token = jwt(
            &json!({"tenantId": claims["tenantId"], "iat": issued_at_s, "exp": issued_at_s + expires_in_s}),
            rng,
        );
        let refresh_token = random_token(rng, 32);
        let seq = self.record(
            access_token.clone(),
            client,
            now + Duration::from_secs(expires_in_s),
        );
        // Refresh tokens outlive the access token (a day); each is used once.
        self.refresh_order.push_back(refresh_token.clone());
        while self.refresh_order.len() > REFRESH_TOKENS_MAX {
            if let Some(oldest) = self.refresh_order.pop_front() {
                self.refresh_tokens.remove(&oldest);
            }
        }
        self.refresh_tokens.insert(
            refresh_token.clone(),
            RefreshRecord {
                client: client.id.clone(),
                access_key: access_key.to_string(),
                expires_at: now + Duration::from_secs(86_400),
            },
        );
        Grant {
            client: client.id.clone(),
            token_seq: seq,
            evicted: None,
            grant,
            expires_in_s,
            body: json!({
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": expires_in_s,
                "refresh_token": refresh_token,
                "id_token": id_token,
            }),
        }
    }

    /// The number and client of the bearer token in `authorization`, live or not (expired and
    /// revoked tokens are remembered until pruned). Checks nothing.
    pub fn owner(&self, authorization: Option<&str>) -> Option<(u64, &str)> {
        let token = bearer(authorization)?;
        self.tokens
            .get(token)
            .map(|record| (record.seq, record.client.as_str()))
    }

    /// Validates a request's `Authorization` header: the token's number and client, or why not.
    pub fn authenticate(
        &self,
        now: SimTime,
        authorization: Option<&str>,
    ) -> Result<(u64, &str), (AuthFailure, Option<u64>)> {
        let token = bearer(authorization).ok_or((AuthFailure::Missing, None))?;
        let record = self.tokens.get(token).ok_or((AuthFailure::Unknown, None))?;
        if record.revoked {
            return Err((AuthFailure::Revoked, Some(record.seq)));
        }
        if now >= record.expires_at {
            return Err((AuthFailure::Expired, Some(record.seq)));
        }
        Ok((record.seq, record.client.as_str()))
    }

    /// Revokes every live token; returns how many.
    pub fn revoke_all(&mut self, now: SimTime) -> u64 {
        let mut count = 0;
        for (token, record) in &mut self.tokens {
            if !record.revoked && now < record.expires_at {
                record.revoked = true;
                self.revoked.push_back((now, token.clone()));
                count += 1;
            }
        }
        self.refresh_tokens.clear();
        self.refresh_order.clear();
        self.forget_dead(now, REVOKED_REMEMBERED_MAX);
        count
    }

    /// Forgets tokens long dead, and expired refresh tokens (bounded memory).
    pub fn prune(&mut self, now: SimTime) {
        self.forget_dead(now, REVOKED_REMEMBERED_MAX);
        self.tokens
            .retain(|_, record| now < record.expires_at + FORGET_AFTER);
        let tokens = &self.tokens;
        for queue in self.issued_by_client.values_mut() {
            queue.retain(|token| {
                tokens
                    .get(token)
                    .is_some_and(|record| !record.revoked && now < record.expires_at)
            });
        }
        self.issued_by_client.retain(|_, queue| !queue.is_empty());
        self.refresh_tokens.retain(|_, record| now < record.expires_at);
        let refresh_tokens = &self.refresh_tokens;
        self.refresh_order
            .retain(|token| refresh_tokens.contains_key(token));
    }

    pub fn issued(&self) -> u64 {
        self.issued
    }

    pub fn held(&self) -> usize {
        self.tokens.len() + self.refresh_tokens.len()
    }
}

impl Default for TokenStore {
    fn default() -> TokenStore {
        TokenStore::new()
    }
}

/// The OAuth client a token request claims to be (Basic auth, else the form's `client_id`),
/// before its secret is checked: the token endpoint's own limit is keyed by it.
pub fn claimed_client(authorization: Option<&str>, body: &[u8]) -> Option<String> {
    if let Some((id, _)) = basic_credentials(authorization) {
        return Some(id);
    }
    form_urlencoded::parse(body)
        .find(|(name, _)| name == "client_id")
        .map(|(_, id)| id.into_owned())
}

/// The token of `Bearer <token>`.
fn bearer(authorization: Option<&str>) -> Option<&str> {
    authorization
        .and_then(|value| {
            value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
        })
        .map(str::trim)
}

/// Decodes `Basic base64(id:secret)`; `None` for anything else.
fn basic_credentials(authorization: Option<&str>) -> Option<(String, String)> {
    let encoded = authorization?
        .strip_prefix("Basic ")
        .or_else(|| authorization?.strip_prefix("basic "))?;
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

fn random_token(rng: &mut ChaCha8Rng, bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rng.fill_bytes(&mut buffer);
    URL_SAFE_NO_PAD.encode(buffer)
}

/// A JWT-shaped token: base64url header, claims and a random (unverifiable) signature.
fn jwt(claims: &serde_json::Value, rng: &mut ChaCha8Rng) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims serialize"));
    format!("{header}.{payload}.{}", random_token(rng, 64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    #[test]
    fn genesys_client_credentials_issue_opaque_tokens() {
        let config = GatewayConfig::default();
        let mut store = TokenStore::new();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let auth = basic("herd-app", "herd-secret");
        let grant = store
            .grant(
                &config,
                &mut rng,
                SimTime::ZERO,
                Some(&auth),
                b"grant_type=client_credentials",
            )
            .unwrap();
        assert_eq!(grant.body["token_type"], "bearer");
        assert_eq!(grant.body["expires_in"], 86_399);
        let token = grant.body["access_token"].as_str().unwrap().to_string();
        assert!(!token.contains('.'), "Genesys tokens are opaque");
        let bearer = format!("Bearer {token}");
        assert_eq!(
            store.authenticate(SimTime::from_secs(10), Some(&bearer)),
            Ok((1, "herd-app"))
        );
        assert_eq!(
            store.authenticate(SimTime::from_secs(86_399), Some(&bearer)),
            Err((AuthFailure::Expired, Some(1)))
        );
        assert_eq!(
            store.authenticate(SimTime::ZERO, Some("Bearer nope")),
            Err((AuthFailure::Unknown, None))
        );
        assert_eq!(
            store.authenticate(SimTime::ZERO, None),
            Err((AuthFailure::Missing, None))
        );
        let wrong = basic("herd-app", "wrong");
        let refused = store.grant(
            &config,
            &mut rng,
            SimTime::ZERO,
            Some(&wrong),
            b"grant_type=client_credentials",
        );
        assert_eq!(refused.unwrap_err().error, "unauthorized_client");
        let refused = store.grant(
            &config,
            &mut rng,
            SimTime::ZERO,
            Some(&auth),
            b"grant_type=password",
        );
        assert_eq!(refused.unwrap_err().error, "unsupported_grant_type");
    }

    #[test]
    fn cxone_password_grant_gives_jwt_and_rotating_refresh_token() {
        let config = GatewayConfig {
            platform: PlatformProfile::Cxone,
            ..GatewayConfig::default()
        };
        let mut store = TokenStore::new();
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let body = b"grant_type=password&username=herd-key&password=herd-key-secret&client_id=herd-app&client_secret=herd-secret";
        let grant = store.grant(&config, &mut rng, SimTime::ZERO, None, body).unwrap();
        assert_eq!(grant.expires_in_s, 3_600);
        let access = grant.body["access_token"].as_str().unwrap();
        assert_eq!(access.split('.').count(), 3, "CXone access tokens are JWTs");
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(access.split('.').nth(1).unwrap()).unwrap())
                .unwrap();
        assert_eq!(
            claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
            3_600
        );
        let refresh = grant.body["refresh_token"].as_str().unwrap().to_string();
        let refresh_body = format!("grant_type=refresh_token&refresh_token={refresh}");
        let auth = basic("herd-app", "herd-secret");
        let renewed = store
            .grant(
                &config,
                &mut rng,
                SimTime::from_secs(3_000),
                Some(&auth),
                refresh_body.as_bytes(),
            )
            .unwrap();
        assert_eq!(renewed.grant, "refresh_token");
        assert_eq!(renewed.token_seq, 2);
        let reused = store.grant(
            &config,
            &mut rng,
            SimTime::from_secs(3_001),
            Some(&auth),
            refresh_body.as_bytes(),
        );
        assert_eq!(
            reused.unwrap_err().error,
            "invalid_grant",
            "refresh tokens are single-use"
        );
    }

    #[test]
    fn revocation_and_pruning() {
        let config = GatewayConfig::default();
        let mut store = TokenStore::new();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let auth = basic("herd-app", "herd-secret");
        let grant = store
            .grant(
                &config,
                &mut rng,
                SimTime::ZERO,
                Some(&auth),
                b"grant_type=client_credentials",
            )
            .unwrap();
        let bearer = format!("Bearer {}", grant.body["access_token"].as_str().unwrap());
        assert_eq!(store.revoke_all(SimTime::from_secs(5)), 1);
        assert_eq!(
            store.authenticate(SimTime::from_secs(6), Some(&bearer)),
            Err((AuthFailure::Revoked, Some(1)))
        );
        store.prune(SimTime::from_secs(86_399 + 3_600));
        assert_eq!(store.held(), 0);
    }
}
