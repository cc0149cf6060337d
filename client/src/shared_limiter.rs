//! A rate limit shared by every instance of a service that uses one OAuth client.
//!
//! Each instance's pacer sees only its own traffic; when several instances share one OAuth
//! client (and so its client-wide buckets), they overdraw it together. A [`SharedLimiter`]
//! reserves each request's slot in one place, over a key per OAuth client, so the instances
//! queue in order instead of racing: GCRA (the virtual-scheduling form of a token bucket) for a
//! steady rate, or a sliding log of slots for a platform that counts in a sliding window.
//!
//! - [`MemoryLimiter`]: one process (several clients in one process, tests, simulations).
//! - [`RedisLimiter`] (feature `redis`): either algorithm in one Lua script, atomic, on
//!   Redis's own clock.
//!
//! **When the shared store is unreachable** the client falls back to its local pacing (headers,
//! shared Retry-After, its own client-side limit) and asks the store again after
//! `shared_limiter.retry_after_failure_ms`: a dead Redis costs one `shared_limiter.timeout_ms` per that
//! interval, never a stall. Both transitions are events.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::transport::BoxFuture;

/// Reserves request slots of a shared rate.
pub trait SharedLimiter: Send + Sync + 'static {
    /// Reserves the next slot of `key`'s rate: how long to wait before sending. An error means
    /// the shared store could not be asked; the caller paces locally instead.
    fn reserve<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Duration, SharedLimitError>>;
}

/// The shared store could not be asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedLimitError(pub String);

impl std::fmt::Display for SharedLimitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "shared limiter unavailable: {}", self.0)
    }
}

impl std::error::Error for SharedLimitError {}

/// How a shared rate is kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SharedAlgorithm {
    /// GCRA: `limit` per `window_ms` as a steady rate, `burst` of them at once.
    #[default]
    Gcra,
    /// At most `limit` in any `window_ms` (as the platform's own sliding-log limits count):
    /// the whole window's quota may go at once, and each slot frees `window_ms` after it was used.
    SlidingLog,
}

/// The shared rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedRate {
    pub algorithm: SharedAlgorithm,
    pub limit: u64,
    pub window_ms: u64,
    /// GCRA only: requests let through at once.
    pub burst: u64,
}

impl SharedRate {
    /// GCRA at `limit_per_min` with `burst`.
    pub fn gcra(limit_per_min: u64, burst: u64) -> SharedRate {
        SharedRate {
            algorithm: SharedAlgorithm::Gcra,
            limit: limit_per_min,
            window_ms: 60_000,
            burst,
        }
    }

    /// At most `limit` in any `window_ms`.
    pub fn sliding_log(limit: u64, window_ms: u64) -> SharedRate {
        SharedRate {
            algorithm: SharedAlgorithm::SlidingLog,
            limit,
            window_ms,
            burst: limit,
        }
    }

    /// GCRA: the time between two slots.
    pub fn interval(self) -> Duration {
        Duration::from_micros(self.window_ms.saturating_mul(1_000) / self.limit.max(1))
    }

    /// GCRA: how far ahead of the schedule a burst may run.
    pub fn tolerance(self) -> Duration {
        self.interval() * (self.burst.max(1) - 1) as u32
    }

    pub fn window(self) -> Duration {
        Duration::from_millis(self.window_ms)
    }

    /// Reserves a slot at or after `now` in `state`; returns the wait. The Redis scripts do the
    /// same arithmetic on Redis's clock.
    pub fn reserve(self, state: &mut KeyState, now: Duration) -> Duration {
        match self.algorithm {
            SharedAlgorithm::Gcra => {
                let start = state.tat.max(now);
                let allowed_at = start.saturating_sub(self.tolerance());
                state.tat = start + self.interval();
                allowed_at.saturating_sub(now)
            }
            SharedAlgorithm::SlidingLog => {
                let (limit, window) = (self.limit.max(1) as usize, self.window());
                while state.log.front().is_some_and(|slot| *slot + window <= now) {
                    state.log.pop_front();
                }
                let slot = if state.log.len() < limit {
                    now
                } else {
                    now.max(state.log[state.log.len() - limit] + window)
                };
                // Only the last `limit` slots can matter to a later reservation: bounded.
                while state.log.len() >= limit {
                    state.log.pop_front();
                }
                state.log.push_back(slot);
                slot - now
            }
        }
    }
}

/// One key's reservations (GCRA's theoretical arrival time, or the sliding log's last slots).
#[derive(Clone, Debug, Default)]
pub struct KeyState {
    tat: Duration,
    log: std::collections::VecDeque<Duration>,
}

/// How the client uses a shared limiter (`[client.shared_limiter]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SharedLimiterUse {
    /// A reservation that takes longer than this counts as the store being unreachable.
    pub timeout_ms: u64,
    /// After a failure, pace locally for this long before asking the store again.
    pub retry_after_failure_ms: u64,
    /// One shared rate per endpoint family instead of one per OAuth client.
    pub per_family: bool,
}

impl Default for SharedLimiterUse {
    fn default() -> SharedLimiterUse {
        SharedLimiterUse {
            timeout_ms: 50,
            retry_after_failure_ms: 5_000,
            per_family: false,
        }
    }
}

/// A shared limiter inside one process, optionally with a simulated round trip to the store.
pub struct MemoryLimiter {
    rate: SharedRate,
    clock: Arc<dyn Clock>,
    round_trip: Duration,
    keys: Mutex<BTreeMap<String, KeyState>>,
}

impl MemoryLimiter {
    pub fn new(rate: SharedRate, clock: Arc<dyn Clock>) -> MemoryLimiter {
        MemoryLimiter {
            rate,
            clock,
            round_trip: Duration::ZERO,
            keys: Mutex::new(BTreeMap::new()),
        }
    }

    /// Each reservation takes this long (half there, half back), as a store over a network would.
    pub fn with_round_trip(mut self, round_trip: Duration) -> MemoryLimiter {
        self.round_trip = round_trip;
        self
    }
}

impl SharedLimiter for MemoryLimiter {
    fn reserve<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Duration, SharedLimitError>> {
        Box::pin(async move {
            let half = self.round_trip / 2;
            if !half.is_zero() {
                tokio::time::sleep(half).await;
            }
            let wait = {
                let mut keys = self.keys.lock().expect("limiter lock");
                self.rate
                    .reserve(keys.entry(key.to_string()).or_default(), self.clock.now())
            };
            if !half.is_zero() {
                tokio::time::sleep(half).await;
            }
            Ok(wait.saturating_sub(half))
        })
    }
}

#[cfg(feature = "redis")]
pub use self::redis_limiter::RedisLimiter;

#[cfg(feature = "redis")]
mod redis_limiter {
    use std::sync::LazyLock;
    use std::time::Duration;

    use redis::aio::MultiplexedConnection;

    use super::{SharedAlgorithm, SharedLimitError, SharedLimiter, SharedRate};
    use crate::transport::BoxFuture;

    /// GCRA on Redis's clock, atomically: KEYS[1] the key; ARGV[1] the interval and ARGV[2] the
    /// burst tolerance, in microseconds. Returns the wait in microseconds. The key expires once
    /// its schedule has passed, so idle keys cost nothing.
    const GCRA: &str = r#"
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.floor((new_tat - now) / 1000) + 1000)
local wait = tat - tolerance - now
if wait < 0 then wait = 0 end
return wait
"#;

    /// A sliding log of reserved slots, atomically: KEYS[1] the log (a sorted set of slot times),
    /// KEYS[2] its sequence; ARGV[1] the window in microseconds, ARGV[2] the limit. Keeps only
    /// the last `limit` slots. Returns the wait in microseconds.
    const SLIDING_LOG: &str = r#"
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now - window))
local count = redis.call('ZCARD', KEYS[1])
local slot = now
if count >= limit then
  local entry = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
  local freed = tonumber(entry[2]) + window
  if freed > slot then slot = freed end
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, count - limit)
end
local seq = redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[1], string.format('%d', slot), string.format('%d-%d', slot, seq))
local ttl = math.floor((slot - now + window) / 1000) + 1000
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
return slot - now
"#;

    static GCRA_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(GCRA));
    static SLIDING_LOG_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(SLIDING_LOG));

    /// A shared limiter on Redis. Connects lazily; a failed call drops the connection, and the
    /// next call reconnects. Every call is bounded by the client's `shared_limiter.timeout_ms`.
    pub struct RedisLimiter {
        client: redis::Client,
        rate: SharedRate,
        prefix: String,
        connection: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    }

    impl RedisLimiter {
        /// `url`: `redis://host:port/db`. Keys are `<prefix>:<key>`. Nothing connects yet.
        pub fn new(
            url: &str,
            rate: SharedRate,
            prefix: impl Into<String>,
        ) -> Result<RedisLimiter, SharedLimitError> {
            let client = redis::Client::open(url).map_err(|error| SharedLimitError(error.to_string()))?;
            Ok(RedisLimiter {
                client,
                rate,
                prefix: prefix.into(),
                connection: tokio::sync::Mutex::new(None),
            })
        }

        async fn connection(&self) -> Result<MultiplexedConnection, SharedLimitError> {
            let mut cached = self.connection.lock().await;
            if let Some(connection) = cached.as_ref() {
                return Ok(connection.clone());
            }
            let connection = self
                .client
                .get_multiplexed_async_connection()
                .await
                .map_err(|error| SharedLimitError(error.to_string()))?;
            *cached = Some(connection.clone());
            Ok(connection)
        }

        async fn forget_connection(&self) {
            *self.connection.lock().await = None;
        }
    }

    impl SharedLimiter for RedisLimiter {
        fn reserve<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Duration, SharedLimitError>> {
            Box::pin(async move {
                let mut connection = self.connection().await?;
                let key = format!("{}:{key}", self.prefix);
                let reply: Result<i64, _> = match self.rate.algorithm {
                    SharedAlgorithm::Gcra => {
                        let (interval, tolerance) = (
                            self.rate.interval().as_micros() as u64,
                            self.rate.tolerance().as_micros() as u64,
                        );
                        GCRA_SCRIPT
                            .key(&key)
                            .arg(interval)
                            .arg(tolerance)
                            .invoke_async(&mut connection)
                            .await
                    }
                    SharedAlgorithm::SlidingLog => {
                        let window = self.rate.window().as_micros() as u64;
                        SLIDING_LOG_SCRIPT
                            .key(&key)
                            .key(format!("{key}:seq"))
                            .arg(window)
                            .arg(self.rate.limit.max(1))
                            .invoke_async(&mut connection)
                            .await
                    }
                };
                match reply {
                    Ok(wait_us) => Ok(Duration::from_micros(wait_us.max(0) as u64)),
                    Err(error) => {
                        self.forget_connection().await;
                        Err(SharedLimitError(error.to_string()))
                    }
                }
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn gcra_spaces_slots_after_a_burst() {
        let rate = SharedRate::gcra(600, 3);
        let mut state = KeyState::default();
        let waits: Vec<u64> = (0..6)
            .map(|_| rate.reserve(&mut state, ms(1_000)).as_millis() as u64)
            .collect();
        assert_eq!(waits, vec![0, 0, 0, 100, 200, 300]);
        // Idle time refills the burst, and no more than the burst.
        let later: Vec<u64> = (0..4)
            .map(|_| rate.reserve(&mut state, ms(10_000)).as_millis() as u64)
            .collect();
        assert_eq!(later, vec![0, 0, 0, 100]);
    }

    #[test]
    fn a_sliding_log_lets_the_window_go_at_once_and_frees_each_slot_a_window_later() {
        let rate = SharedRate::sliding_log(3, 1_000);
        let mut state = KeyState::default();
        let at = |state: &mut KeyState, now: u64| rate.reserve(state, ms(now)).as_millis() as u64;
        assert_eq!(
            (at(&mut state, 0), at(&mut state, 100), at(&mut state, 200)),
            (0, 0, 0)
        );
        // The fourth slot is the first one's, freed at 1000; the fifth the second's, at 1100.
        assert_eq!((at(&mut state, 300), at(&mut state, 300)), (700, 800));
        assert!(state.log.len() <= 3, "bounded by the limit");
        // Never more than 3 slots in any window, whatever the pattern of asks.
        let mut slots = Vec::new();
        let mut state = KeyState::default();
        for now in [
            0u64, 0, 5, 5, 5, 400, 900, 1_000, 1_000, 2_500, 2_500, 2_500, 2_500,
        ] {
            slots.push(now + at(&mut state, now));
        }
        for (index, slot) in slots.iter().enumerate() {
            let in_window = slots
                .iter()
                .filter(|other| **other >= *slot && **other < slot + 1_000)
                .count();
            assert!(in_window <= 3, "window from {slot}: {slots:?} (at {index})");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn instances_sharing_a_memory_limiter_queue_in_order() {
        let clock: Arc<dyn Clock> = Arc::new(crate::clock::TokioClock::with_epoch(std::time::UNIX_EPOCH));
        let limiter = Arc::new(MemoryLimiter::new(SharedRate::gcra(60, 1), clock).with_round_trip(ms(2)));
        let mut waits = Vec::new();
        for _ in 0..3 {
            waits.push(limiter.reserve("herd-app").await.unwrap());
        }
        // The second and third reservations wait for their slots, less the time already spent
        // on the round trips.
        assert_eq!(waits[0], Duration::ZERO);
        assert!(waits[1] > ms(990) && waits[1] <= ms(1_000), "{waits:?}");
        assert!(waits[2] > ms(1_990) && waits[2] <= ms(2_000), "{waits:?}");
        assert_eq!(
            limiter.reserve("other-app").await.unwrap(),
            Duration::ZERO,
            "keys are independent"
        );
    }
}
