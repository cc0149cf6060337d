//! herd-sim: the simulated Genesys Cloud / NICE CXone platform gateway.
//!
//! - [`gateway::Gateway`] is the sans-IO core: `handle(now, request) -> response`. It never reads a
//!   clock, sleeps, spawns or does I/O; all randomness comes from ChaCha8 streams of one seed.
//! - [`server`] is the thin hyper shell that serves the core over turmoil TCP (simulation) or tokio
//!   TCP (real time), with the `Date` header written from the simulated epoch.
//! - [`scenario`], [`world`], [`trace`], [`metrics`]: the harness. A scenario file and a seed
//!   build a turmoil simulation of the gateway and the client instances; a run yields the merged
//!   trace, its hash and the metrics.

pub mod config;
pub mod directory;
pub mod events;
pub mod fast;
pub mod faults;
pub mod gateway;
pub mod http;
pub mod ledger;
pub mod limiter;
pub mod limits;
pub mod metrics;
pub mod oauth;
pub mod routes;
pub mod scenario;
pub mod serve;
pub mod server;
mod shared_limit;
pub mod sweep;
pub mod time;
pub mod trace;
pub mod world;

pub use config::GatewayConfig;
pub use gateway::Gateway;
pub use http::{Request, Response};
pub use time::SimTime;
