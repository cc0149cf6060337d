//! What the gateway's test files share. Each test file uses some of it.
#![allow(dead_code)]

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use herd_gateway::{Gateway, Request, SimTime};

/// `Authorization: Basic` for an OAuth client.
pub fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

/// The shipped client's Genesys client-credentials token request.
pub fn token_request() -> Request {
    Request::new("POST", "/oauth/token")
        .header("Authorization", &basic("herd-app", "herd-secret"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
}

/// A Genesys token for the shipped client at `now` (the request must be granted).
pub fn genesys_token(gateway: &mut Gateway, now: SimTime) -> String {
    let response = gateway.handle(now, token_request());
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    response.body_json().unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The gateway's two streams for a test: distinct ChaCha8 streams of `seed` (the harness's own
/// map lives in `herd_sim::streams`).
pub fn streams(seed: u64) -> herd_gateway::GatewayStreams {
    use rand::SeedableRng;
    let stream = |id: u64| {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(id);
        rng
    };
    herd_gateway::GatewayStreams {
        faults: stream(1),
        ids: stream(2),
    }
}
