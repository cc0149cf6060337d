//! Asynchronous analytics jobs, as Genesys has them (platform-facts §1f): submit
//! `POST /api/v2/analytics/conversations/details/jobs` → `{jobId}`; poll
//! `GET …/jobs/{jobId}` → `{state: QUEUED|PENDING|FULFILLED|EXPIRED, …}`; page
//! `GET …/jobs/{jobId}/results?cursor=` → `{conversations, cursor}`. How long a job takes is
//! **[UNVERIFIED]** (`data.job_duration_s`); results expire after a day.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::time::SimTime;

/// How long a job's results are kept after it is submitted.
pub(crate) const JOB_TTL: Duration = Duration::from_secs(86_400);
/// Jobs held at once; beyond it the oldest is forgotten (its id then answers 404).
pub(crate) const JOBS_MAX: usize = 10_000;

/// A job's state, as the platform names them (`async_query_status.py` allowed values).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum JobState {
    Queued,
    Pending,
    Fulfilled,
    Expired,
}

impl JobState {
    pub(crate) fn name(self) -> &'static str {
        match self {
            JobState::Queued => "QUEUED",
            JobState::Pending => "PENDING",
            JobState::Fulfilled => "FULFILLED",
            JobState::Expired => "EXPIRED",
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Job {
    pub(crate) client: String,
    pub(crate) submitted_at: SimTime,
    pub(crate) duration: Duration,
    pub(crate) conversations: u64,
}

impl Job {
    pub(crate) fn fulfilled_at(&self) -> SimTime {
        self.submitted_at + self.duration
    }

    /// Queued for the first half of its run, pending for the second, then fulfilled.
    pub(crate) fn state(&self, now: SimTime) -> JobState {
        if now >= self.submitted_at + JOB_TTL {
            JobState::Expired
        } else if now >= self.fulfilled_at() {
            JobState::Fulfilled
        } else if now >= self.submitted_at + self.duration / 2 {
            JobState::Pending
        } else {
            JobState::Queued
        }
    }
}

/// The jobs a gateway holds, by id.
#[derive(Default)]
pub(crate) struct Jobs {
    jobs: BTreeMap<String, Job>,
    /// Ids in submission order, for eviction and pruning.
    order: std::collections::VecDeque<String>,
}

impl Jobs {
    pub(crate) fn insert(&mut self, id: String, job: Job) {
        if self.order.len() >= JOBS_MAX {
            if let Some(oldest) = self.order.pop_front() {
                self.jobs.remove(&oldest);
            }
        }
        self.order.push_back(id.clone());
        self.jobs.insert(id, job);
    }

    /// The job, if it exists and belongs to `client` (another client's job is a 404 to it).
    pub(crate) fn get(&self, id: &str, client: &str) -> Option<&Job> {
        self.jobs.get(id).filter(|job| job.client == client)
    }

    /// Forgets jobs whose results have expired for a day more.
    pub(crate) fn prune(&mut self, now: SimTime) {
        while let Some(oldest) = self.order.front() {
            let expired = self
                .jobs
                .get(oldest)
                .is_none_or(|job| now >= job.submitted_at + JOB_TTL + JOB_TTL);
            if !expired {
                break;
            }
            let id = self.order.pop_front().expect("front exists");
            self.jobs.remove(&id);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.jobs.len()
    }
}

/// Opaque cursors over an offset: the offset, scrambled, with a check digit, so that a client
/// that builds its own cursor or edits one gets 400 rather than a silent page.
pub(crate) fn encode_cursor(offset: u64) -> String {
    let scrambled = offset ^ 0x5eed_c0de_0bad_f00d;
    format!("{scrambled:016x}{:x}", check_digit(scrambled))
}

pub(crate) fn decode_cursor(cursor: &str) -> Option<u64> {
    if cursor.len() != 17 || !cursor.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let scrambled = u64::from_str_radix(&cursor[..16], 16).ok()?;
    let check = u64::from_str_radix(&cursor[16..], 16).ok()?;
    (check == check_digit(scrambled)).then_some(scrambled ^ 0x5eed_c0de_0bad_f00d)
}

fn check_digit(value: u64) -> u64 {
    value.to_le_bytes().iter().map(|&b| u64::from(b)).sum::<u64>() % 16
}

/// An ISO-8601 UTC timestamp with milliseconds (`2026-01-01T00:00:00.000Z`), as Genesys writes
/// dates in bodies.
pub(crate) fn iso8601(epoch_unix_s: u64, at: SimTime) -> String {
    let wall = std::time::UNIX_EPOCH + Duration::from_secs(epoch_unix_s) + at.as_duration();
    humantime::format_rfc3339_millis(wall).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_runs_through_its_states() {
        let job = Job {
            client: "c".into(),
            submitted_at: SimTime::from_secs(10),
            duration: Duration::from_secs(20),
            conversations: 5,
        };
        let states: Vec<&str> = [10, 19, 20, 29, 30, 86_409, 86_410]
            .iter()
            .map(|&s| job.state(SimTime::from_secs(s)).name())
            .collect();
        assert_eq!(
            states,
            [
                "QUEUED",
                "QUEUED",
                "PENDING",
                "PENDING",
                "FULFILLED",
                "FULFILLED",
                "EXPIRED"
            ]
        );
    }

    #[test]
    fn cursors_round_trip_and_refuse_edits() {
        for offset in [0, 1, 25, 1_000_000, u64::MAX] {
            assert_eq!(decode_cursor(&encode_cursor(offset)), Some(offset));
        }
        let cursor = encode_cursor(25);
        let mut edited = cursor.clone().into_bytes();
        edited[15] = if edited[15] == b'0' { b'1' } else { b'0' };
        assert_eq!(decode_cursor(std::str::from_utf8(&edited).unwrap()), None);
        assert_eq!(decode_cursor("25"), None);
        assert_eq!(decode_cursor(""), None);
    }

    #[test]
    fn the_store_is_bounded_and_private_to_its_client() {
        let mut jobs = Jobs::default();
        for n in 0..(JOBS_MAX + 5) {
            let job = Job {
                client: "c".into(),
                submitted_at: SimTime::ZERO,
                duration: Duration::ZERO,
                conversations: 0,
            };
            jobs.insert(format!("j{n}"), job);
        }
        assert_eq!(jobs.len(), JOBS_MAX);
        assert!(jobs.get("j0", "c").is_none(), "the oldest was evicted");
        assert!(jobs.get("j10", "c").is_some());
        assert!(jobs.get("j10", "other").is_none());
        jobs.prune(SimTime::from_secs(3 * 86_400));
        assert_eq!(jobs.len(), 0);
        assert_eq!(
            iso8601(1_767_225_600, SimTime::from_secs(1)),
            "2026-01-01T00:00:01.000Z"
        );
    }
}
