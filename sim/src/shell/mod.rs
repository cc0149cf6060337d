//! The thin shells around the gateway core: one hyper service (`service`), served on a turmoil
//! host in simulation (`turmoil_host`) and over real TCP in real time (`tcp`, `herdsim serve`).
//! They convert, lock, ask a clock and carry out the core's delivery decisions; they decide
//! nothing themselves.

pub mod redact;
pub mod service;
pub mod tcp;
pub mod turmoil_host;
