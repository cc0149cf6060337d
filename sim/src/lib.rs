//! herd-sim: the harness around the gateway core (`herd-gateway`) and the client (`herd-client`).
//!
//! One folder per concept, in the order data flows:
//! - [`scenario`]: the TOML schema, loading with `--set`, validation, the shipped library;
//! - [`world`]: the network (turmoil or in memory), the gateway host, the instances, the
//!   schedule; it hands over a [`world::WorldOutput`];
//! - [`trace`], [`metrics`]: what happened, and what it means;
//! - [`run`]: the one owner of that pipeline;
//! - [`sweep`]: grids of settings × seeds over `run`, results files, summaries;
//! - [`shrink`]: a failing run made smaller, still failing the same way;
//! - [`scorecard`]: the referee of clients that `herdsim serve` grades;
//! - [`shell`]: the hyper shells that serve the core (turmoil, real TCP);
//! - [`streams`]: the one map of random streams.

pub mod metrics;
pub mod run;
pub mod scenario;
pub mod scorecard;
pub mod shell;
pub mod shrink;
pub mod streams;
pub mod sweep;
pub mod trace;
pub mod world;
