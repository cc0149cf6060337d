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

/// An instance's own clock: monotonic time as the runtime keeps it, and a wall clock that is off
/// from the platform's by `offset` and drifts by `drift_ppm` (a host whose NTP is wrong). The
/// platform's `Date` headers keep the true time, so a client that trusts its own wall clock for
/// an HTTP-date or a JWT `exp` is wrong by the skew.
#[derive(Clone, Copy, Debug)]
pub(crate) struct InstanceClock {
    origin: tokio::time::Instant,
    epoch: std::time::SystemTime,
    offset_ms: i64,
    drift_ppm: i64,
}

impl InstanceClock {
    pub(crate) fn new(epoch: std::time::SystemTime, offset_ms: i64, drift_ppm: i64) -> InstanceClock {
        InstanceClock {
            origin: tokio::time::Instant::now(),
            epoch,
            offset_ms,
            drift_ppm,
        }
    }
}

impl herd_client::clock::Clock for InstanceClock {
    fn now(&self) -> std::time::Duration {
        self.origin.elapsed()
    }

    fn wall(&self) -> std::time::SystemTime {
        let elapsed = self.origin.elapsed();
        let drift_us = elapsed.as_micros() as i128 * i128::from(self.drift_ppm) / 1_000_000;
        let skew_us = i128::from(self.offset_ms) * 1_000 + drift_us;
        let true_wall = self.epoch + elapsed;
        let skew = std::time::Duration::from_micros(skew_us.unsigned_abs() as u64);
        if skew_us >= 0 {
            true_wall + skew
        } else {
            true_wall.checked_sub(skew).unwrap_or(std::time::UNIX_EPOCH)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herd_client::clock::Clock;
    use std::time::{Duration, UNIX_EPOCH};

    #[tokio::test(start_paused = true)]
    async fn an_instance_clock_is_offset_and_drifts() {
        let epoch = UNIX_EPOCH + Duration::from_secs(1_767_225_600);
        let ahead = InstanceClock::new(epoch, 30_000, 1_000);
        let behind = InstanceClock::new(epoch, -5_000, 0);
        assert_eq!(ahead.wall(), epoch + Duration::from_secs(30));
        tokio::time::advance(Duration::from_secs(1_000)).await;
        assert_eq!(
            ahead.now(),
            Duration::from_secs(1_000),
            "monotonic time is not skewed"
        );
        assert_eq!(
            ahead.wall(),
            epoch + Duration::from_secs(1_000 + 30 + 1),
            "1000 ppm over 1000 s"
        );
        assert_eq!(behind.wall(), epoch + Duration::from_secs(995));
    }
}
