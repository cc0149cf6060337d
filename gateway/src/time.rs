//! Simulated time. The gateway core never reads a clock: every call takes a [`SimTime`].

use std::fmt;
use std::ops::{Add, Sub};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Microseconds since the start of a run (the simulated epoch is configuration, see
/// [`crate::config::GatewayConfig::epoch_unix_s`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SimTime(u64);

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);
    /// Far enough in the future to mean "never" in any run, yet safe to add to.
    pub const NEVER: SimTime = SimTime(u64::MAX / 4);

    pub const fn from_micros(us: u64) -> SimTime {
        SimTime(us)
    }
    pub const fn from_millis(ms: u64) -> SimTime {
        SimTime(ms.saturating_mul(1_000))
    }
    pub const fn from_secs(s: u64) -> SimTime {
        SimTime(s.saturating_mul(1_000_000))
    }
    pub fn from_duration(d: Duration) -> SimTime {
        SimTime(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
    }
    pub const fn as_micros(self) -> u64 {
        self.0
    }
    pub const fn as_millis(self) -> u64 {
        self.0 / 1_000
    }
    pub fn as_duration(self) -> Duration {
        Duration::from_micros(self.0)
    }
    /// Whole seconds from `self` until `later`, rounded up (0 when `later` is not after `self`).
    pub fn secs_until_ceil(self, later: SimTime) -> u64 {
        later.0.saturating_sub(self.0).div_ceil(1_000_000)
    }
    pub fn saturating_sub(self, d: Duration) -> SimTime {
        SimTime(self.0.saturating_sub(duration_micros(d)))
    }
}

fn duration_micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl Add<Duration> for SimTime {
    type Output = SimTime;
    fn add(self, d: Duration) -> SimTime {
        SimTime(self.0.saturating_add(duration_micros(d)))
    }
}

impl Sub for SimTime {
    type Output = Duration;
    /// Saturating: an earlier minus a later time is zero.
    fn sub(self, earlier: SimTime) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}s", self.0 / 1_000_000, self.0 % 1_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_and_rounds_up() {
        let t = SimTime::from_millis(1_500);
        assert_eq!(t + Duration::from_millis(500), SimTime::from_secs(2));
        assert_eq!(SimTime::ZERO - t, Duration::ZERO);
        assert_eq!(SimTime::ZERO.secs_until_ceil(t), 2);
        assert_eq!(t.secs_until_ceil(SimTime::ZERO), 0);
        assert_eq!(SimTime::ZERO.secs_until_ceil(SimTime::from_secs(3)), 3);
        assert_eq!(t.to_string(), "1.500000s");
    }
}
