//! The idempotency store: responses to creates kept under their `Idempotency-Key` for a day, so
//! that a retried create replays the first response instead of writing twice.

use std::collections::hash_map::DefaultHasher;
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::time::Duration;

use crate::http::Response;
use crate::time::SimTime;

/// How long an idempotency key is remembered.
pub(crate) const IDEMPOTENCY_TTL: Duration = Duration::from_secs(86_400);
/// The most keys remembered at once; beyond it the oldest is forgotten first (a retry of a
/// create that old then runs it again, as after the day's TTL).
pub const IDEMPOTENCY_KEYS_MAX: usize = 10_000;

struct Entry {
    body_hash: u64,
    stored_at: SimTime,
    response: Response,
}

/// What the store says about a key and a body.
pub(crate) enum Lookup {
    /// Not seen (or forgotten): run the create.
    Fresh,
    /// Seen with the same body: the stored response.
    Replay(Response),
    /// Seen with another body.
    Reused,
}

#[derive(Default)]
pub(crate) struct IdempotencyStore {
    entries: BTreeMap<String, Entry>,
    /// Keys in the order they were stored, oldest first.
    order: std::collections::VecDeque<String>,
}

impl IdempotencyStore {
    /// What `key` with `body` gets; a key reused with another body is refused or replayed, as
    /// the gateway is configured (`data.idempotency_reuse`).
    pub(crate) fn lookup(&self, key: &str, body: &[u8], reuse: crate::config::KeyReuse) -> Lookup {
        match self.entries.get(key) {
            None => Lookup::Fresh,
            Some(entry)
                if entry.body_hash != hash_bytes(body) && reuse == crate::config::KeyReuse::Reject =>
            {
                Lookup::Reused
            }
            Some(entry) => Lookup::Replay(entry.response.clone()),
        }
    }

    pub(crate) fn store(&mut self, key: String, body: &[u8], now: SimTime, response: Response) {
        let entry = Entry {
            body_hash: hash_bytes(body),
            stored_at: now,
            response,
        };
        if self.entries.insert(key.clone(), entry).is_none() {
            self.order.push_back(key);
        }
        while self.entries.len() > IDEMPOTENCY_KEYS_MAX {
            match self.order.pop_front() {
                Some(oldest) => {
                    self.entries.remove(&oldest);
                }
                None => break,
            }
        }
    }

    /// Forgets keys older than [`IDEMPOTENCY_TTL`].
    pub(crate) fn prune(&mut self, now: SimTime) {
        self.entries
            .retain(|_, entry| now < entry.stored_at + IDEMPOTENCY_TTL);
        let entries = &self.entries;
        self.order.retain(|key| entries.contains_key(key));
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

/// Bodies are compared within one gateway's life only: the hash never reaches a trace.
fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}

/// The platforms take UUIDs as idempotency keys.
pub(crate) fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(group, len)| group.len() == len && group.chars().all(|c| c.is_ascii_hexdigit()))
}
