//! What the live page and the HTML report draw: answers per second, and each request's time and
//! answer for a zoomable timeline. Both bounded: a server may run for days.

use std::collections::VecDeque;

use serde::Serialize;

/// The answer classes, in the order counts are kept.
pub const CLASSES: [&str; 5] = ["2xx", "429", "5xx", "4xx", "no answer"];

/// The class of an answer: an index into [`CLASSES`].
pub fn class_of(status: Option<u16>) -> u8 {
    match status {
        None => 4,
        Some(429) => 1,
        Some(status) if status >= 500 => 2,
        Some(status) if status >= 400 => 3,
        Some(_) => 0,
    }
}

/// Seconds of per-second counts kept (a day); older seconds are dropped.
pub const SERIES_SECONDS_MAX: usize = 86_400;
/// Requests kept for the timeline; older ones are dropped.
pub const TIMELINE_MAX: usize = 500_000;

/// Answers per second, by class.
#[derive(Clone, Debug, Default, Serialize)]
pub struct AnswerSeries {
    /// `(second, counts by class)`, oldest first, seconds with no request left out.
    pub seconds: VecDeque<(u64, [u64; 5])>,
}

impl AnswerSeries {
    pub fn add(&mut self, t_us: u64, class: u8) {
        let second = t_us / 1_000_000;
        match self.seconds.back_mut() {
            Some((last, counts)) if *last == second => counts[usize::from(class)] += 1,
            // Answers arrive in time order; a late one joins the latest second.
            Some((last, counts)) if *last > second => counts[usize::from(class)] += 1,
            _ => {
                let mut counts = [0; 5];
                counts[usize::from(class)] += 1;
                self.seconds.push_back((second, counts));
                if self.seconds.len() > SERIES_SECONDS_MAX {
                    self.seconds.pop_front();
                }
            }
        }
    }

    /// The last `count` seconds up to `now_s`, with empty seconds filled in.
    pub fn recent(&self, now_s: u64, count: u64) -> Vec<(u64, [u64; 5])> {
        let from = now_s.saturating_sub(count.saturating_sub(1));
        (from..=now_s)
            .map(|second| {
                let counts = self
                    .seconds
                    .iter()
                    .rev()
                    .take_while(|(at, _)| *at >= from)
                    .find(|(at, _)| *at == second)
                    .map_or([0; 5], |(_, counts)| *counts);
                (second, counts)
            })
            .collect()
    }
}

/// Each request's time (µs) and class, for the HTML timeline.
#[derive(Clone, Debug, Default)]
pub struct Timeline {
    pub points: VecDeque<(u64, u8)>,
    /// Requests dropped because the timeline was full.
    pub dropped: u64,
}

impl Timeline {
    pub fn add(&mut self, t_us: u64, class: u8) {
        self.points.push_back((t_us, class));
        if self.points.len() > TIMELINE_MAX {
            self.points.pop_front();
            self.dropped += 1;
        }
    }
}
