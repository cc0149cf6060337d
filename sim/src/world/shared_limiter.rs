//! The shared limiter inside a simulation: one store that every instance reaches over a
//! simulated round trip, with scheduled outages (the store unreachable: requests hang until
//! the client's `shared_limiter.timeout_ms`, and the client paces locally).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use herd_client::shared_limiter::{KeyState, SharedLimitError, SharedLimiter, SharedRate};
use herd_client::transport::BoxFuture;

use crate::scenario::SharedLimiterConfig;
use crate::world::clock::SimClock;

pub(crate) struct SimLimiter {
    rate: SharedRate,
    round_trip: Duration,
    /// `[from, until)` windows in which the store does not answer.
    outages: Vec<(Duration, Duration)>,
    clock: SimClock,
    keys: Mutex<BTreeMap<String, KeyState>>,
}

impl SimLimiter {
    pub(crate) fn new(config: &SharedLimiterConfig, clock: SimClock) -> SimLimiter {
        SimLimiter {
            rate: SharedRate {
                algorithm: config.algorithm,
                limit: config.limit,
                window_ms: config.window_ms,
                burst: config.burst,
            },
            round_trip: Duration::from_millis(config.round_trip_ms),
            outages: config
                .outages
                .iter()
                .map(|o| (Duration::from_secs(o.from_s), Duration::from_secs(o.until_s)))
                .collect(),
            clock,
            keys: Mutex::new(BTreeMap::new()),
        }
    }

    fn unreachable_at(&self, now: Duration) -> bool {
        self.outages
            .iter()
            .any(|(from, until)| *from <= now && now < *until)
    }
}

impl SharedLimiter for SimLimiter {
    fn reserve<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Duration, SharedLimitError>> {
        Box::pin(async move {
            let half = self.round_trip / 2;
            tokio::time::sleep(half).await;
            let now = self.clock.now().as_duration();
            if self.unreachable_at(now) {
                // No answer: the client's timeout decides, as with a store that is down.
                std::future::pending::<()>().await;
            }
            let wait = {
                let mut keys = self.keys.lock().expect("limiter lock");
                self.rate.reserve(keys.entry(key.to_string()).or_default(), now)
            };
            tokio::time::sleep(half).await;
            Ok(wait.saturating_sub(half))
        })
    }
}
