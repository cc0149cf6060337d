//! The token cache: single-flight refresh, a refresh margin, proactive refresh, and 401 handling
//! with a generation check.
//!
//! [`TokenState`] is the sans-IO core: `poll(now)` says use this token, fetch one (the caller
//! leads the single flight), or wait for the leader. A token within `refresh_margin` of expiry is
//! still handed out while one caller fetches its successor, so a proactive refresh stalls nobody.
//! `invalidate(generation)` after a 401 only drops the token the 401 was for: a burst of 401s for
//! one token causes one refresh. Expiry is `expires_in`, or the JWT `exp` when it is sooner.
//! [`TokenCache`] is the async shell around it.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::events::EventKind;
use crate::platform::Credentials;
use crate::secret::Secret;
use crate::transport::{HttpRequest, Transport, TransportError};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenConfig {
    /// Refresh this long before expiry (the Go SDK refreshes at `expires_in - 60`).
    pub refresh_margin_s: u64,
}

impl Default for TokenConfig {
    fn default() -> TokenConfig {
        TokenConfig { refresh_margin_s: 60 }
    }
}

/// A token handed to a caller; `generation` identifies it for `invalidate`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub value: Secret,
    pub generation: u64,
}

/// What the caller should do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenStep {
    Use(Token),
    /// Fetch a token (with this refresh token when there is one); then `on_fetched`/`on_failed`.
    Fetch {
        refresh_token: Option<Secret>,
    },
    /// Another caller is fetching: wait for it.
    Wait,
}

/// A token endpoint's answer, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub access_token: Secret,
    pub expires_in: Duration,
    pub refresh_token: Option<Secret>,
    /// Time left until the JWT's `exp`, when the token is a JWT with one.
    pub jwt_expires_in: Option<Duration>,
}

/// Why no token could be had (never contains the secret).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenError {
    pub status: Option<u16>,
    pub transport: Option<TransportError>,
    pub retry_after: Option<Duration>,
}

#[derive(Clone, Debug)]
struct Held {
    /// When to refresh ahead of expiry: the margin, plus up to half of it again, spread per token
    /// (so a fleet whose tokens were issued together does not refresh together).
    refresh_at: Duration,
    value: Secret,
    expires_at: Duration,
    refresh_token: Option<Secret>,
}

#[derive(Debug)]
pub struct TokenState {
    held: Option<Held>,
    fetching: bool,
    generation: u64,
    margin: Duration,
    failures: u64,
    last_error: Option<TokenError>,
}

impl TokenState {
    pub fn new(config: &TokenConfig) -> TokenState {
        TokenState {
            held: None,
            fetching: false,
            generation: 0,
            margin: Duration::from_secs(config.refresh_margin_s),
            failures: 0,
            last_error: None,
        }
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn poll(&mut self, now: Duration) -> TokenStep {
        let valid = self.held.as_ref().filter(|held| now < held.expires_at);
        match valid {
            Some(held) if now < held.refresh_at || self.fetching => TokenStep::Use(Token {
                value: held.value.clone(),
                generation: self.generation,
            }),
            None if self.fetching => TokenStep::Wait,
            _ => {
                self.fetching = true;
                TokenStep::Fetch {
                    refresh_token: self.held.as_ref().and_then(|held| held.refresh_token.clone()),
                }
            }
        }
    }

    pub fn on_fetched(&mut self, now: Duration, grant: Grant) -> Token {
        assert!(self.fetching, "a fetch nobody started");
        let lifetime = grant
            .jwt_expires_in
            .map_or(grant.expires_in, |jwt| jwt.min(grant.expires_in));
        self.generation += 1;
        let expires_at = now + lifetime;
        // The spread comes from the token itself: a fixed function of a value the platform drew,
        // so it differs between instances and replays exactly.
        let spread = self.margin / 2 * spread_per_mille(grant.access_token.expose()) / 1_000;
        let refresh_at = expires_at.saturating_sub(self.margin + spread);
        self.held = Some(Held {
            refresh_at,
            value: grant.access_token.clone(),
            expires_at,
            refresh_token: grant.refresh_token,
        });
        self.fetching = false;
        self.last_error = None;
        Token {
            value: grant.access_token,
            generation: self.generation,
        }
    }

    /// The fetch failed; a refresh token that failed is dropped (the next fetch uses the grant).
    pub fn on_failed(&mut self, error: TokenError, used_refresh_token: bool) {
        assert!(self.fetching, "a fetch nobody started");
        self.fetching = false;
        self.failures += 1;
        self.last_error = Some(error);
        if used_refresh_token {
            if let Some(held) = self.held.as_mut() {
                held.refresh_token = None;
            }
        }
    }

    /// When the held token will be refreshed ahead of its expiry, if one is held.
    pub fn refresh_at(&self) -> Option<Duration> {
        self.held.as_ref().map(|held| held.refresh_at)
    }

    /// After a 401 with token `generation`: drops it if it is still the current one. Returns
    /// whether it did (so only the first of a burst of 401s causes a refresh).
    pub fn invalidate(&mut self, generation: u64) -> bool {
        match self.held.as_mut() {
            Some(held) if generation == self.generation && held.expires_at > Duration::ZERO => {
                held.expires_at = Duration::ZERO;
                held.refresh_at = Duration::ZERO;
                true
            }
            _ => false,
        }
    }

    fn failures(&self) -> u64 {
        self.failures
    }
}

/// The async shell: many workers, one token request at a time.
pub struct TokenCache {
    state: Mutex<TokenState>,
    notify: Notify,
    credentials: Credentials,
    token_url: String,
}

impl TokenCache {
    pub fn new(config: &TokenConfig, credentials: Credentials, token_url: String) -> TokenCache {
        TokenCache {
            state: Mutex::new(TokenState::new(config)),
            notify: Notify::new(),
            credentials,
            token_url,
        }
    }

    pub fn invalidate(&self, generation: u64) -> bool {
        self.state.lock().expect("token lock").invalidate(generation)
    }

    /// A usable token, fetching one if needed. `emit` receives the token events.
    pub async fn get(
        &self,
        transport: &dyn Transport,
        clock: &dyn Clock,
        emit: &(dyn Fn(EventKind) + Sync),
    ) -> Result<Token, TokenError> {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let (step, failures_before) = {
                let mut state = self.state.lock().expect("token lock");
                (state.poll(clock.now()), state.failures())
            };
            match step {
                TokenStep::Use(token) => return Ok(token),
                TokenStep::Wait => {
                    notified.await;
                    let state = self.state.lock().expect("token lock");
                    if state.failures() != failures_before {
                        // The leader failed: share its error rather than start a stampede.
                        if let Some(error) = state.last_error {
                            return Err(error);
                        }
                    }
                }
                TokenStep::Fetch { refresh_token } => {
                    let generation = self.state.lock().expect("token lock").generation();
                    emit(EventKind::TokenRequest { generation });
                    let used_refresh_token = refresh_token.is_some();
                    let result = self.fetch(transport, clock, refresh_token).await;
                    let outcome = {
                        let mut state = self.state.lock().expect("token lock");
                        match result {
                            Ok(grant) => {
                                let expires_in_s = grant.expires_in.as_secs();
                                let token = state.on_fetched(clock.now(), grant);
                                Ok((token, expires_in_s))
                            }
                            Err(error) => {
                                state.on_failed(error, used_refresh_token);
                                Err(error)
                            }
                        }
                    };
                    self.notify.notify_waiters();
                    return match outcome {
                        Ok((token, expires_in_s)) => {
                            emit(EventKind::TokenIssued {
                                generation: token.generation,
                                expires_in_s,
                            });
                            Ok(token)
                        }
                        Err(error) => {
                            emit(EventKind::TokenFailed { status: error.status });
                            Err(error)
                        }
                    };
                }
            }
        }
    }

    async fn fetch(
        &self,
        transport: &dyn Transport,
        clock: &dyn Clock,
        refresh_token: Option<Secret>,
    ) -> Result<Grant, TokenError> {
        let request = token_request(&self.credentials, &self.token_url, refresh_token.as_ref());
        let response = transport.send(request).await.map_err(|error| TokenError {
            status: None,
            transport: Some(error),
            retry_after: None,
        })?;
        // Dates are judged against the server's clock (its `Date`), never the local one: a skewed
        // local clock must neither wake early nor take a JWT for expired.
        let server_wall = crate::headers::server_clock(&response.headers, clock.wall());
        let retry_after = crate::headers::header(&response.headers, "retry-after")
            .and_then(|value| crate::headers::parse_retry_after(value, server_wall));
        let failed = TokenError {
            status: Some(response.status),
            transport: None,
            retry_after,
        };
        if response.status != 200 {
            return Err(failed);
        }
        parse_grant(&response.body, server_wall).ok_or(failed)
    }
}

/// A number in 0..1000 from a token's bytes (FNV-1a): the same token, the same number.
fn spread_per_mille(token: &str) -> u32 {
    let hash = token.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3)
    });
    (hash % 1_000) as u32
}

/// The token request of a grant (`client_credentials`, `password`, or `refresh_token`).
pub fn token_request(
    credentials: &Credentials,
    token_url: &str,
    refresh_token: Option<&Secret>,
) -> HttpRequest {
    let basic = |id: &str, secret: &Secret| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{id}:{}", secret.expose()))
        )
    };
    let form = |pairs: &[(&str, &str)]| {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    };
    let (authorization, body) = match (credentials, refresh_token) {
        (
            Credentials::ClientCredentials {
                client_id,
                client_secret,
            },
            _,
        ) => (
            basic(client_id, client_secret),
            form(&[("grant_type", "client_credentials")]),
        ),
        (
            Credentials::Password {
                client_id,
                client_secret,
                ..
            },
            Some(refresh),
        ) => (
            basic(client_id, client_secret),
            form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh.expose()),
            ]),
        ),
        (
            Credentials::Password {
                client_id,
                client_secret,
                access_key_id,
                access_key_secret,
            },
            None,
        ) => (
            basic(client_id, client_secret),
            form(&[
                ("grant_type", "password"),
                ("username", access_key_id),
                ("password", access_key_secret.expose()),
            ]),
        ),
    };
    HttpRequest {
        method: "POST".into(),
        url: token_url.to_string(),
        headers: vec![
            ("authorization".into(), authorization),
            ("content-type".into(), "application/x-www-form-urlencoded".into()),
        ],
        body: body.into_bytes(),
    }
}

/// Parses `{"access_token", "expires_in", "refresh_token"?}`; `None` for anything else.
pub fn parse_grant(body: &[u8], wall_now: SystemTime) -> Option<Grant> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let access_token = value.get("access_token")?.as_str()?.to_string();
    let expires_in = Duration::from_secs(value.get("expires_in")?.as_u64()?);
    let refresh_token = value
        .get("refresh_token")
        .and_then(|v| v.as_str())
        .map(Secret::new);
    let jwt_expires_in = jwt_exp(&access_token).map(|exp| {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(exp);
        at.duration_since(wall_now).unwrap_or(Duration::ZERO)
    });
    Some(Grant {
        access_token: Secret::new(access_token),
        expires_in,
        refresh_token,
        jwt_expires_in,
    })
}

/// The `exp` claim of a JWT; `None` for an opaque token or a malformed one.
fn jwt_exp(token: &str) -> Option<u64> {
    let mut parts = token.split('.');
    let (_, payload, _, None) = (parts.next()?, parts.next()?, parts.next()?, parts.next()) else {
        return None;
    };
    let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    claims.get("exp")?.as_u64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn grant(expires_in_s: u64) -> Grant {
        Grant {
            access_token: Secret::new("t"),
            expires_in: Duration::from_secs(expires_in_s),
            refresh_token: None,
            jwt_expires_in: None,
        }
    }

    fn s(v: u64) -> Duration {
        Duration::from_secs(v)
    }

    #[test]
    fn a_fleet_refreshes_spread_over_half_a_margin() {
        // Twenty instances whose tokens were issued at the same moment.
        let refreshes: Vec<Duration> = (0..20)
            .map(|n| {
                let mut state = TokenState::new(&TokenConfig { refresh_margin_s: 60 });
                state.poll(s(0));
                state.on_fetched(
                    s(0),
                    Grant {
                        access_token: Secret::new(format!("token-of-instance-{n}")),
                        ..grant(3_600)
                    },
                );
                state.refresh_at().unwrap()
            })
            .collect();
        assert!(
            refreshes.iter().all(|at| (s(3_510)..=s(3_540)).contains(at)),
            "{refreshes:?}"
        );
        let distinct: std::collections::BTreeSet<&Duration> = refreshes.iter().collect();
        assert!(distinct.len() >= 15, "spread, not together: {refreshes:?}");
        let again = {
            let mut state = TokenState::new(&TokenConfig { refresh_margin_s: 60 });
            state.poll(s(0));
            state.on_fetched(
                s(0),
                Grant {
                    access_token: Secret::new("token-of-instance-3"),
                    ..grant(3_600)
                },
            );
            state.refresh_at().unwrap()
        };
        assert_eq!(
            again, refreshes[3],
            "the same token, the same moment: replays exactly"
        );
    }

    #[test]
    fn single_flight_and_proactive_refresh() {
        let mut state = TokenState::new(&TokenConfig { refresh_margin_s: 60 });
        assert_eq!(state.poll(s(0)), TokenStep::Fetch { refresh_token: None });
        assert_eq!(state.poll(s(0)), TokenStep::Wait, "nobody else fetches");
        let token = state.on_fetched(s(1), grant(300));
        assert_eq!(token.generation, 1);
        assert!(matches!(state.poll(s(200)), TokenStep::Use(_)));
        // Within the margin: the first caller fetches, the others keep using the valid token.
        assert!(matches!(state.poll(s(250)), TokenStep::Fetch { .. }));
        assert!(matches!(
            state.poll(s(251)),
            TokenStep::Use(Token { generation: 1, .. })
        ));
        state.on_fetched(s(252), grant(300));
        assert!(matches!(
            state.poll(s(253)),
            TokenStep::Use(Token { generation: 2, .. })
        ));
    }

    #[test]
    fn a_burst_of_401s_invalidates_once() {
        let mut state = TokenState::new(&TokenConfig::default());
        state.poll(s(0));
        state.on_fetched(s(0), grant(3_600));
        assert!(state.invalidate(1));
        assert!(
            !state.invalidate(1),
            "the second 401 for the same token does nothing"
        );
        assert!(matches!(state.poll(s(1)), TokenStep::Fetch { .. }));
        state.on_fetched(s(1), grant(3_600));
        assert!(
            !state.invalidate(1),
            "a late 401 for the old token keeps the new one"
        );
        assert!(matches!(
            state.poll(s(2)),
            TokenStep::Use(Token { generation: 2, .. })
        ));
    }

    #[test]
    fn jwt_exp_shortens_the_lifetime() {
        let claims = URL_SAFE_NO_PAD.encode(br#"{"exp":1767225700}"#);
        let body = format!(r#"{{"access_token":"h.{claims}.s","expires_in":3600,"refresh_token":"r"}}"#);
        let wall = SystemTime::UNIX_EPOCH + s(1_767_225_600);
        let grant = parse_grant(body.as_bytes(), wall).unwrap();
        assert_eq!(grant.jwt_expires_in, Some(s(100)));
        assert_eq!(grant.refresh_token, Some(Secret::new("r")));
        let mut state = TokenState::new(&TokenConfig { refresh_margin_s: 0 });
        state.poll(s(0));
        state.on_fetched(s(0), grant);
        assert!(matches!(
            state.poll(s(100)),
            TokenStep::Fetch {
                refresh_token: Some(_)
            }
        ));
        assert_eq!(
            parse_grant(b"{\"access_token\":\"opaque\",\"expires_in\":86399}", wall)
                .unwrap()
                .jwt_expires_in,
            None
        );
        assert_eq!(parse_grant(b"<html>", wall), None);
    }

    #[test]
    fn grants_are_formed_per_platform() {
        let cc = token_request(
            &Credentials::example(crate::platform::Platform::Genesys),
            "http://g/oauth/token",
            None,
        );
        assert_eq!(cc.body, b"grant_type=client_credentials");
        assert_eq!(cc.headers[0].1, "Basic aGVyZC1hcHA6aGVyZC1zZWNyZXQ=");
        let pw = token_request(
            &Credentials::example(crate::platform::Platform::Cxone),
            "http://g/auth/token",
            None,
        );
        assert_eq!(
            String::from_utf8(pw.body).unwrap(),
            "grant_type=password&username=herd-key&password=herd-key-secret"
        );
        let refresh = Secret::new("r 1");
        let rt = token_request(
            &Credentials::example(crate::platform::Platform::Cxone),
            "http://g/auth/token",
            Some(&refresh),
        );
        assert_eq!(
            String::from_utf8(rt.body).unwrap(),
            "grant_type=refresh_token&refresh_token=r+1"
        );
    }

    proptest! {
        #[test]
        fn grant_parser_never_panics(body in any::<Vec<u8>>(), token in any::<String>()) {
            let wall = SystemTime::UNIX_EPOCH + s(1_767_225_600);
            let _ = parse_grant(&body, wall);
            let _ = jwt_exp(&token);
            let json = serde_json::json!({"access_token": token, "expires_in": 5}).to_string();
            prop_assert!(parse_grant(json.as_bytes(), wall).is_some());
        }
    }
}
