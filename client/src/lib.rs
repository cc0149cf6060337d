//! herd-client: a resilient client for Genesys Cloud and NICE CXone APIs.
//!
//! - [`policy`]: sans-IO decisions (backoff, retry, budget, breaker, pacing, adaptive rate,
//!   idempotency keys) that take `now` and an injected RNG;
//! - [`token`]: the token cache (sans-IO core, single-flight async shell);
//! - [`client`]: the async driver, the only part that awaits;
//! - [`api`]: platform operations built on it (paging, versioned and bulk updates, creates);
//! - [`transport`]: hyper over turmoil TCP, hyper over tokio TCP (+ rustls), in-memory;
//! - [`presets`]: the same engine configured as the official SDKs and well-known libraries;
//! - [`shared_limiter`]: a rate shared by the instances of one OAuth client (in memory, or Redis).
//!
//! It does not depend on the simulator: the two meet at HTTP.

pub mod api;
pub mod client;
pub mod clock;
pub mod config;
pub mod events;
pub mod gate;
pub mod headers;
pub mod platform;
pub mod policy;
pub mod presets;
pub mod secret;
pub mod shared_limiter;
pub mod token;
pub mod transport;

pub use client::{Body, Client, OpBody, OpResult, Operation, Outcome, Worker};
pub use config::ClientConfig;
pub use platform::{Credentials, Platform};
pub use presets::Preset;
