//! Clocks. Policies never read a clock: they take `now` (monotonic) and, for HTTP-dates, the wall
//! clock's reading. The driver reads both through [`Clock`], so a simulation supplies simulated
//! time and a test supplies a manual one.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// A monotonic clock and a wall clock.
pub trait Clock: Send + Sync + 'static {
    /// Monotonic time since the clock's origin.
    fn now(&self) -> Duration;
    /// The wall clock (used only to read HTTP-dates and JWT `exp`).
    fn wall(&self) -> SystemTime;
}

/// tokio's clock: simulated under turmoil and under a paused runtime, real otherwise. The wall
/// clock is `epoch + elapsed`, so a simulation passes its simulated epoch.
#[derive(Clone, Copy, Debug)]
pub struct TokioClock {
    origin: tokio::time::Instant,
    epoch: SystemTime,
}

impl TokioClock {
    /// A clock whose wall time starts at `epoch` (a simulation's epoch).
    pub fn with_epoch(epoch: SystemTime) -> TokioClock {
        TokioClock {
            origin: tokio::time::Instant::now(),
            epoch,
        }
    }

    /// A clock for real use: the wall clock starts at the system's time. Never use in a simulation.
    pub fn real() -> TokioClock {
        TokioClock::with_epoch(SystemTime::now())
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
    fn wall(&self) -> SystemTime {
        self.epoch + self.origin.elapsed()
    }
}

/// A clock moved by hand, for unit tests of the policies and the token cache.
#[derive(Clone, Debug)]
pub struct ManualClock {
    now: Arc<Mutex<Duration>>,
    epoch: SystemTime,
}

impl ManualClock {
    pub fn new(epoch: SystemTime) -> ManualClock {
        ManualClock {
            now: Arc::new(Mutex::new(Duration::ZERO)),
            epoch,
        }
    }

    pub fn advance(&self, by: Duration) {
        *self.now.lock().expect("clock lock") += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        *self.now.lock().expect("clock lock")
    }
    fn wall(&self) -> SystemTime {
        self.epoch + self.now()
    }
}
