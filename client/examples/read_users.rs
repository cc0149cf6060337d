//! Using the client against a real Genesys Cloud org (or `herdsim serve`): read a few users.
//!
//! ```sh
//! GENESYS_BASE_URL=https://api.mypurecloud.com GENESYS_CLIENT_ID=... GENESYS_CLIENT_SECRET=... \
//!     cargo run -p herd-client --example read_users -- 5
//! ```
//!
//! The token URL defaults to the base URL's `login.` host for Genesys (`token_url` overrides it).

use std::sync::Arc;

use herd_client::clock::TokioClock;
use herd_client::events::NoopObserver;
use herd_client::gate::Priority;
use herd_client::secret::Secret;
use herd_client::transport::HyperTransport;
use herd_client::{Client, ClientConfig, Credentials, Platform, Preset};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = |name: &str| std::env::var(name).map_err(|_| format!("set {name}"));
    let base_url = env("GENESYS_BASE_URL")?;
    let credentials = Credentials::ClientCredentials {
        client_id: env("GENESYS_CLIENT_ID")?,
        client_secret: Secret::new(env("GENESYS_CLIENT_SECRET")?),
    };
    let how_many: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(5);

    // herdsim's own policy; `Preset::GenesysJava` etc. configure the same engine as the SDKs do.
    let config = Preset::Herdsim.apply(&ClientConfig {
        platform: Platform::Genesys,
        base_url,
        ..ClientConfig::default()
    });
    let client = Client::new(
        config,
        credentials,
        Arc::new(HyperTransport::https()),
        Arc::new(TokioClock::real()),
        Arc::new(NoopObserver),
    )?;
    let mut worker = client.worker(0, rand::SeedableRng::seed_from_u64(jitter_seed()));
    match worker.list_all("users", Priority::Normal).await {
        Ok(users) => {
            for user in users.iter().take(how_many) {
                println!(
                    "{} {}",
                    user["id"].as_str().unwrap_or("?"),
                    user["name"].as_str().unwrap_or("?")
                );
            }
            Ok(())
        }
        Err(result) => Err(format!(
            "listing users ended {:?} (last status {:?})",
            result.outcome, result.status
        )
        .into()),
    }
}

/// A seed for the worker's jitter in real use: anything that differs between processes will do
/// (a simulation derives it from the run's seed instead).
fn jitter_seed() -> u64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    since.as_nanos() as u64 ^ u64::from(std::process::id())
}
