//! The gateway's own work on a schedule: background consumers (the platform's UI, other
//! integrations) that draw from the same buckets at a fixed rate, and scheduled revocations of
//! every live token. [`Schedule::next_due`] is what `Gateway::next_wakeup` reports.

use std::time::Duration;

use crate::config::BackgroundConsumer;
use crate::time::SimTime;

struct Consumer {
    name: String,
    client: String,
    family: String,
    token_seq: u64,
    next_at: SimTime,
    interval: Duration,
    until: SimTime,
}

impl Consumer {
    fn is_due_by(&self, now: SimTime) -> bool {
        self.next_at <= now && self.next_at < self.until
    }
}

/// One draw of a background consumer, due at `at`.
pub(crate) struct Draw {
    pub(crate) at: SimTime,
    pub(crate) consumer: String,
    pub(crate) client: String,
    pub(crate) family: String,
    pub(crate) token_seq: u64,
}

pub(crate) struct Schedule {
    consumers: Vec<Consumer>,
    revocations: Vec<SimTime>,
    revocations_done: usize,
}

impl Schedule {
    pub(crate) fn new(consumers: &[BackgroundConsumer], revocations: Vec<SimTime>) -> Schedule {
        debug_assert!(revocations.is_sorted(), "revocations are in time order");
        let consumers = consumers
            .iter()
            .enumerate()
            .map(|(index, consumer)| {
                debug_assert!(consumer.rate_per_min > 0, "validated with the config");
                Consumer {
                    name: consumer.name.clone(),
                    client: consumer.client.clone(),
                    family: consumer.family.clone(),
                    // Background consumers hold tokens of their own, numbered from the top.
                    token_seq: u64::MAX - index as u64,
                    next_at: SimTime::from_secs(consumer.from_s),
                    interval: Duration::from_micros(60_000_000 / consumer.rate_per_min),
                    until: consumer.until_s.map_or(SimTime::NEVER, SimTime::from_secs),
                }
            })
            .collect();
        Schedule {
            consumers,
            revocations,
            revocations_done: 0,
        }
    }

    /// When the next scheduled thing is due, if anything is.
    pub(crate) fn next_due(&self) -> Option<SimTime> {
        let revocation = self.revocations.get(self.revocations_done).copied();
        let background = self
            .consumers
            .iter()
            .filter(|consumer| consumer.next_at < consumer.until)
            .map(|consumer| consumer.next_at)
            .min();
        [revocation, background].into_iter().flatten().min()
    }

    /// The next revocation due by `now`, taken off the schedule.
    pub(crate) fn take_revocation(&mut self, now: SimTime) -> Option<SimTime> {
        let at = *self.revocations.get(self.revocations_done)?;
        if at > now {
            return None;
        }
        self.revocations_done += 1;
        Some(at)
    }

    /// The earliest draw due by `now` (ties by consumer order), taken off the schedule.
    pub(crate) fn take_draw(&mut self, now: SimTime) -> Option<Draw> {
        let index = self
            .consumers
            .iter()
            .enumerate()
            .filter(|(_, consumer)| consumer.is_due_by(now))
            .min_by_key(|(index, consumer)| (consumer.next_at, *index))
            .map(|(index, _)| index)?;
        let consumer = &mut self.consumers[index];
        let at = consumer.next_at;
        consumer.next_at = at + consumer.interval;
        debug_assert!(consumer.next_at > at, "a consumer's draws move forward");
        Some(Draw {
            at,
            consumer: consumer.name.clone(),
            client: consumer.client.clone(),
            family: consumer.family.clone(),
            token_seq: consumer.token_seq,
        })
    }
}
