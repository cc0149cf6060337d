//! Platform facts the client needs: token endpoints and grants, paths, paging links.
//! (docs/platform-facts.md §1a, §1e, §2a, §2e.)

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::secret::Secret;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    #[default]
    Genesys,
    Cxone,
}

/// The CXone ACD API prefix.
pub const CXONE_API: &str = "/inContactAPI/services/v31.0";

/// How the client gets its tokens.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "grant", rename_all = "snake_case", deny_unknown_fields)]
pub enum Credentials {
    /// Genesys: `client_credentials` with Basic auth.
    ClientCredentials {
        client_id: String,
        client_secret: Secret,
    },
    /// CXone: `password` grant with an access key; Basic client authentication.
    Password {
        client_id: String,
        client_secret: Secret,
        access_key_id: String,
        access_key_secret: Secret,
    },
}

impl Credentials {
    pub fn client_id(&self) -> &str {
        match self {
            Credentials::ClientCredentials { client_id, .. } | Credentials::Password { client_id, .. } => {
                client_id
            }
        }
    }

    /// The example credentials of the simulated gateway (`herd-app` / `herd-secret`).
    pub fn example(platform: Platform) -> Credentials {
        match platform {
            Platform::Genesys => Credentials::ClientCredentials {
                client_id: "herd-app".into(),
                client_secret: Secret::new("herd-secret"),
            },
            Platform::Cxone => Credentials::Password {
                client_id: "herd-app".into(),
                client_secret: Secret::new("herd-secret"),
                access_key_id: "herd-key".into(),
                access_key_secret: Secret::new("herd-key-secret"),
            },
        }
    }
}

impl Platform {
    /// The token URL for an API base URL. Genesys: the SDKs swap `//api.` for `//login.`.
    pub fn token_url(self, base_url: &str) -> String {
        let base = base_url.trim_end_matches('/');
        match self {
            Platform::Genesys => format!("{}/oauth/token", base.replacen("//api.", "//login.", 1)),
            Platform::Cxone => format!("{base}/auth/token"),
        }
    }

    pub fn first_page(self, page_size: u64) -> String {
        match self {
            Platform::Genesys => format!("/api/v2/users?pageSize={page_size}&pageNumber=1"),
            Platform::Cxone => format!("{CXONE_API}/agents?skip=0&top={page_size}"),
        }
    }

    /// The items of a page and the link to the next one (`nextUri` or `_links.next`).
    pub fn page(self, body: &Value) -> (Vec<Value>, Option<String>) {
        let (items, next) = match self {
            Platform::Genesys => (&body["entities"], body.get("nextUri")),
            Platform::Cxone => (
                &body["agents"],
                body.get("_links").and_then(|links| links.get("next")),
            ),
        };
        let items = items.as_array().cloned().unwrap_or_default();
        (items, next.and_then(Value::as_str).map(relative))
    }

    pub fn user_path(self, id: &str) -> String {
        match self {
            Platform::Genesys => format!("/api/v2/users/{id}"),
            Platform::Cxone => format!("{CXONE_API}/agents/{id}"),
        }
    }

    pub fn update_method(self) -> &'static str {
        match self {
            Platform::Genesys => "PATCH",
            Platform::Cxone => "PUT",
        }
    }

    /// The user in a single-user answer: Genesys answers the user itself; CXone a one-element
    /// `agents` list (calljacob/nice-cxone-api `GET /agents/{agentId}`) **[SECONDARY]**.
    pub fn single_user(self, body: Value) -> Value {
        match self {
            Platform::Genesys => body,
            Platform::Cxone => match body.get("agents").and_then(|agents| agents.get(0)) {
                Some(agent) => agent.clone(),
                None => body,
            },
        }
    }

    /// The body of an update: Genesys takes the fields; CXone `PUT /agents/{id}` takes them
    /// under `agent` (same source) **[SECONDARY]**.
    pub fn update_body(self, fields: serde_json::Map<String, Value>) -> Value {
        match self {
            Platform::Genesys => Value::Object(fields),
            Platform::Cxone => serde_json::json!({ "agent": fields }),
        }
    }

    /// The id of a listed user (`id`, or CXone's numeric `agentId`).
    pub fn user_id(self, user: &Value) -> Option<String> {
        match self {
            Platform::Genesys => user["id"].as_str().map(str::to_string),
            Platform::Cxone => user["agentId"].as_u64().map(|id| id.to_string()),
        }
    }
}

/// Links may be absolute (`https://host/path?q`) or relative; the client keeps the path and query.
fn relative(link: &str) -> String {
    match link.split_once("://") {
        Some((_, rest)) => rest
            .find('/')
            .map_or("/".to_string(), |at| rest[at..].to_string()),
        None => link.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn token_urls_and_links() {
        assert_eq!(
            Platform::Genesys.token_url("https://api.mypurecloud.com"),
            "https://login.mypurecloud.com/oauth/token"
        );
        assert_eq!(
            Platform::Genesys.token_url("http://gateway/"),
            "http://gateway/oauth/token"
        );
        assert_eq!(
            Platform::Cxone.token_url("https://cxone.niceincontact.com"),
            "https://cxone.niceincontact.com/auth/token"
        );
        let (items, next) = Platform::Cxone.page(&json!({"agents": [{"agentId": 1}], "_links": {"next": "https://api-na1.niceincontact.com/inContactAPI/services/v31.0/agents?skip=1&top=1"}}));
        assert_eq!(items.len(), 1);
        assert_eq!(
            next.as_deref(),
            Some("/inContactAPI/services/v31.0/agents?skip=1&top=1")
        );
        let (_, next) = Platform::Genesys
            .page(&json!({"entities": [], "nextUri": "/api/v2/users?pageSize=1&pageNumber=2"}));
        assert_eq!(next.as_deref(), Some("/api/v2/users?pageSize=1&pageNumber=2"));
        assert_eq!(Platform::Genesys.page(&json!({"entities": []})).1, None);
    }
}
