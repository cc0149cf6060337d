//! The gateway core's own request and response types: plain data, no I/O.

use serde::Serialize;

/// A request as the core sees it. Header names are lower-cased by [`Request::new`]. Its `Debug`
/// never shows the body or the value of a credential header (tokens, client secrets, passwords).
#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// Path and query, e.g. `/api/v2/users?pageSize=25&pageNumber=2`.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, value)| {
                let secret = ["authorization", "proxy-authorization", "cookie"]
                    .iter()
                    .any(|s| name.eq_ignore_ascii_case(s));
                (name.as_str(), if secret { "<redacted>" } else { value.as_str() })
            })
            .collect();
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("path", &self.path())
            .field("headers", &headers)
            .field("body", &format_args!("<{} bytes redacted>", self.body.len()))
            .finish()
    }
}

impl Request {
    pub fn new(method: &str, target: &str) -> Request {
        Request {
            method: method.to_ascii_uppercase(),
            target: target.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.to_ascii_lowercase(), value.to_string()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    pub fn bearer(self, token: &str) -> Request {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// The first value of a header (names compare case-insensitively).
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn path(&self) -> &str {
        self.target
            .split_once('?')
            .map_or(self.target.as_str(), |(path, _)| path)
    }

    /// Query parameters in order (percent-decoded).
    pub fn query(&self) -> Vec<(String, String)> {
        self.target
            .split_once('?')
            .map(|(_, query)| form_urlencoded::parse(query.as_bytes()).into_owned().collect())
            .unwrap_or_default()
    }
}

/// What happens to a response on the way out: the shell carries it out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// Sent at once.
    #[default]
    Now,
    /// Held for this long first (the slow-response fault).
    DelayedMs(u64),
    /// Never sent: the connection closes (the lost-response fault; the write was applied).
    Lost,
    /// Never sent, and the connection stays open until the client gives up (the hang fault; no
    /// side effect). A shell bounds how long it holds one.
    Hang,
}

/// Why a request was refused by a limit: never sent on the wire, for the shells' logs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Refusal {
    pub rule: String,
    pub key: String,
    pub count: u64,
    pub limit: u64,
}

/// A response as the core decides it. The shell adds `Date` (from the simulated epoch).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub delivery: Delivery,
    /// Set on a 429 from a limit: which rule, key and count refused it ("why was this 429").
    pub refusal: Option<Refusal>,
}

impl Response {
    pub fn new(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delivery: Delivery::Now,
            refusal: None,
        }
    }

    pub fn json(status: u16, value: &serde_json::Value) -> Response {
        let mut response = Response::new(status);
        response.body = serde_json::to_vec(value).expect("a JSON value serializes");
        response
            .headers
            .push(("content-type".to_string(), "application/json".to_string()));
        response
    }

    pub fn html(status: u16, title: &str) -> Response {
        let mut response = Response::new(status);
        response.body = format!(
            "<html><head><title>{status} {title}</title></head><body><center><h1>{status} {title}</h1></center></body></html>"
        )
        .into_bytes();
        response
            .headers
            .push(("content-type".to_string(), "text/html".to_string()));
        response
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn body_json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_credentials() {
        let request = Request::new("POST", "/auth/token?password=q-s3cret")
            .header("Authorization", "Basic c2VjcmV0")
            .body("grant_type=password&password=b-s3cret");
        let shown = format!("{request:?}");
        for secret in ["q-s3cret", "b-s3cret", "c2VjcmV0"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("/auth/token"), "{shown}");
    }

    #[test]
    fn query_is_decoded_and_path_split() {
        let request = Request::new("get", "/api/v2/users?pageSize=25&name=a%20b");
        assert_eq!(request.method, "GET");
        assert_eq!(request.path(), "/api/v2/users");
        assert_eq!(
            request.query(),
            vec![("pageSize".into(), "25".into()), ("name".into(), "a b".into())]
        );
        assert_eq!(Request::new("GET", "/x").query(), vec![]);
    }
}
