//! herd-gateway: the simulated Genesys Cloud / NICE CXone platform gateway, as a sans-IO core.
//!
//! [`Gateway`] is a state machine in the style of quinn-proto: [`Gateway::handle`] takes `now`
//! and a request and returns the response; [`Gateway::next_wakeup`] says when the gateway has
//! work of its own; [`Gateway::advance_to`] does it; [`Gateway::drain_events`] hands over what it
//! decided. It never reads a clock, sleeps, spawns or does I/O, and its manifest has no runtime
//! dependency, so the compiler keeps that promise. Randomness comes from the two ChaCha8 streams
//! it is given ([`GatewayStreams`]).
//!
//! Entry points: [`Gateway::new`] with a [`GatewayConfig`]; `handle`; the shells in `herd-sim`.

mod background;
pub mod caller;
pub mod config;
pub mod directory;
pub mod events;
pub mod faults;
mod gateway;
pub mod http;
pub mod idempotency;
mod jobs;
pub mod ledger;
pub mod limiter;
pub mod oauth;
mod rate_headers;
mod replies;
mod resources;
pub mod routes;
pub mod rules;
pub mod time;

pub use config::GatewayConfig;
pub use gateway::{Gateway, GatewayStats, GatewayStreams};
pub use http::{Request, Response};
pub use time::SimTime;
