//! The world's clock: simulated time as the network mode keeps it. Nothing in a run reads the
//! system clock; instances read this (and turmoil's simulated wall clock, for `Date`s).

use herd_gateway::SimTime;

/// Simulated time as the world's network mode keeps it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum SimClock {
    /// turmoil's simulated time.
    Turmoil,
    /// A paused tokio runtime's time since `origin` (the fast network mode).
    Tokio(tokio::time::Instant),
}

impl SimClock {
    pub(crate) fn now(self) -> SimTime {
        match self {
            SimClock::Turmoil => SimTime::from_duration(turmoil::sim_elapsed().unwrap_or_default()),
            SimClock::Tokio(origin) => SimTime::from_duration(origin.elapsed()),
        }
    }
}
