//! Sans-IO policies: plain structs that take `now` (and an injected RNG) and return decisions.
//! Nothing here sleeps, spawns, reads a clock or does I/O.

pub mod adaptive;
pub mod backoff;
pub mod breaker;
pub mod budget;
pub mod idempotency;
pub mod pacing;
pub mod retry;
