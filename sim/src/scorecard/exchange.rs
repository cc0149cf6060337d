//! The referee's input: one [`Exchange`] per request, as `herdsim serve` saw it answered.

use serde::{Deserialize, Serialize};

/// One request, as a line's example shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Example {
    pub t_s: f64,
    pub method: String,
    pub target: String,
    pub status: Option<u16>,
    pub note: String,
}

/// One bucket a request counts against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    pub id: String,
    pub limit: u64,
    pub window_ms: u64,
}

/// A token issued by a token request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issued {
    pub token_seq: u64,
    pub expires_in_s: u64,
}

/// One request and its answer, as the referee sees it. Never a secret: secret query values are
/// redacted in `target`, headers are reduced to flags, bodies to a fingerprint (none for token
/// requests, whose bodies carry credentials).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exchange {
    /// When the gateway answered it, in µs of its time.
    pub t_us: u64,
    pub method: String,
    /// Path and query, secrets redacted.
    pub target: String,
    /// `None`: no answer was sent (a lost or hung response).
    pub status: Option<u16>,
    #[serde(default)]
    pub client: Option<String>,
    #[serde(default)]
    pub token_seq: Option<u64>,
    #[serde(default)]
    pub family: String,
    #[serde(default)]
    pub buckets: Vec<Bucket>,
    /// The wait the answer's `Retry-After` said, in ms.
    #[serde(default)]
    pub retry_after_ms: Option<u64>,
    /// On a 429 from a limit: the bucket that refused it.
    #[serde(default)]
    pub refused_by: Option<String>,
    #[serde(default)]
    pub idempotency_key: bool,
    /// A create on which the platform honours `Idempotency-Key`.
    #[serde(default)]
    pub keyed_create: bool,
    #[serde(default)]
    pub listing: bool,
    #[serde(default)]
    pub token_request: bool,
    /// Method, target and body, hashed: equal for a retry of the same request.
    #[serde(default)]
    pub fingerprint: u64,
    #[serde(default)]
    pub issued: Option<Issued>,
    /// Creates this request applied, as `op:key`.
    #[serde(default)]
    pub created: Vec<String>,
}

impl Exchange {
    pub(crate) fn example(&self, note: String) -> Example {
        Example {
            t_s: self.t_us as f64 / 1e6,
            method: self.method.clone(),
            target: self.target.clone(),
            status: self.status,
            note,
        }
    }

    /// Whether the request asks for the first page of its listing.
    pub(crate) fn first_page(&self) -> bool {
        let Some((_, query)) = self.target.split_once('?') else {
            return true;
        };
        form_urlencoded::parse(query.as_bytes()).all(|(name, value)| match name.as_ref() {
            "cursor" | "after" => value.is_empty(),
            "pageNumber" => value == "1",
            "skip" => value == "0",
            _ => true,
        })
    }

    pub(crate) fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
}

/// A fingerprint of a request: FNV-1a over method, target and body. Within one server's life
/// only; it never identifies a body outside the card.
pub fn fingerprint(method: &str, target: &str, body: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in method
        .bytes()
        .chain([0])
        .chain(target.bytes())
        .chain([0])
        .chain(body.iter().copied())
    {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// An exchange line for a record file: `{"t_us":…,"src":"exchange",…}`, time and source first
/// like every trace line (an `Exchange` serializes `t_us` first; the source goes after it).
pub fn exchange_line(exchange: &Exchange) -> String {
    let json = serde_json::to_string(exchange).expect("exchanges serialize");
    match json.find(',') {
        Some(comma) => format!("{},\"src\":\"exchange\"{}", &json[..comma], &json[comma..]),
        None => json,
    }
}
