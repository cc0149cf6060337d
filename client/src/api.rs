//! Platform operations on top of [`Worker::execute`]: paging (both platforms), versioned updates,
//! bulk updates and bulk creates in which every item ends with exactly one outcome, and
//! idempotent creates.

use std::collections::{BTreeMap, VecDeque};

use serde_json::{json, Value};

use crate::client::{OpBody, OpResult, Operation, Outcome, Worker};
use crate::gate::Priority;
use crate::platform::{Platform, CXONE_API};
use crate::policy::retry::GiveUp;

/// One item of a bulk update.
#[derive(Clone, Debug, PartialEq)]
pub struct BulkItem {
    pub id: String,
    /// The version the caller read (from a listing); `None` reads it first.
    pub version: Option<u64>,
    pub fields: Value,
}

/// The single outcome of one bulk item.
#[derive(Clone, Debug, PartialEq)]
pub struct ItemResult {
    /// The item's position in the input.
    pub index: usize,
    pub id: String,
    pub outcome: Outcome,
    /// Requests that carried this item.
    pub tries: u32,
    pub status: Option<u16>,
}

/// The array under `key` of a parsed body, taken out of it (the body is the caller's own copy).
fn array_field(mut body: Value, key: &str) -> Option<Vec<Value>> {
    match body.get_mut(key).map(Value::take) {
        Some(Value::Array(items)) => Some(items),
        _ => None,
    }
}

/// Per-item statuses worth another try in a later chunk.
fn item_retryable(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

impl Worker {
    /// Every item of a listing, following `nextUri` (Genesys) or `_links.next` (CXone).
    /// Pages are operations `{op_prefix}#page{n}`; a page that fails ends the listing with its result.
    pub async fn list_all(&mut self, op_prefix: &str, priority: Priority) -> Result<Vec<Value>, OpResult> {
        let platform = self.client().config().platform;
        let page_size = u64::from(self.client().config().page_size);
        let mut next = Some(platform.first_page(page_size));
        let mut items = Vec::new();
        // Bounded: a gateway that links pages in a cycle cannot keep us forever.
        for page in 0..1_000_000u64 {
            let Some(path) = next.take() else { return Ok(items) };
            let op =
                Operation::get(format!("{op_prefix}#page{page}"), path, "users.read").with_priority(priority);
            let result = self.execute(op).await;
            let Some(body) = result.json().filter(|_| result.is_ok()) else {
                return Err(result);
            };
            let (page_items, link) = platform.page(&body);
            if page_items.is_empty() && link.is_some() {
                return Err(OpResult {
                    outcome: Outcome::Failed,
                    ..result
                });
            }
            items.extend(page_items);
            next = link;
        }
        Err(OpResult {
            outcome: Outcome::GaveUp(GiveUp::AttemptsExhausted),
            attempts: 0,
            status: None,
            body: None,
        })
    }

    /// A versioned update of one user (Genesys `PATCH`, CXone `PUT`).
    pub async fn update_user(
        &mut self,
        op_id: &str,
        id: &str,
        fields: Value,
        version: Option<u64>,
        priority: Priority,
    ) -> OpResult {
        let platform = self.client().config().platform;
        let op = Operation {
            id: op_id.into(),
            priority,
            method: platform.update_method().into(),
            path: platform.user_path(id).into(),
            family: "users.write".into(),
            body: Some(OpBody::Versioned { fields, version }),
            create: false,
        };
        self.execute(op).await
    }

    /// A Genesys quality evaluation for a conversation: a create, with an idempotency key.
    pub async fn create_evaluation(
        &mut self,
        op_id: &str,
        conversation_id: &str,
        body: Value,
        priority: Priority,
    ) -> OpResult {
        let op = Operation {
            id: op_id.into(),
            priority,
            method: "POST".into(),
            path: format!("/api/v2/quality/conversations/{conversation_id}/evaluations").into(),
            family: "evaluations".into(),
            body: Some(OpBody::Json(body)),
            create: true,
        };
        self.execute(op).await
    }

    /// Genesys `POST /api/v2/users`: a create whose natural key is the email. The platform does
    /// not deduplicate it by `Idempotency-Key`; it refuses a second user with the same email
    /// (409). So a 409 after a retry means an earlier attempt of this operation was applied and
    /// its answer lost: the user exists, and the item is done. A 409 on the first attempt is
    /// someone else's user: a failure.
    pub async fn create_user(&mut self, op_id: &str, user: Value, priority: Priority) -> OpResult {
        let op = Operation {
            id: op_id.into(),
            priority,
            method: "POST".into(),
            path: "/api/v2/users".into(),
            family: "users.write".into(),
            body: Some(OpBody::Json(user)),
            create: false,
        };
        let result = self.execute(op).await;
        if result.outcome == Outcome::Failed && result.status == Some(409) && result.attempts > 1 {
            return OpResult {
                outcome: Outcome::Ok,
                ..result
            };
        }
        result
    }

    /// A Genesys analytics conversation-detail job, to its last page of results: submit
    /// `query` (unless `known_job` names one already submitted, as after a restart), poll its
    /// state until `FULFILLED`, then page its results by cursor. Polls wait `poll_every` at
    /// first and half as long again each time, up to 8×; every poll spends quota. `on_submitted`
    /// hears the job id as soon as it is known, so a crashed caller resumes polling instead of
    /// submitting twice. Requests are operations `{op_id}#submit`, `#poll{n}`, `#page{n}`; the
    /// result is the first that fails, or the last page with `attempts` = every request made.
    pub async fn analytics_job(
        &mut self,
        op_id: &str,
        query: Value,
        known_job: Option<String>,
        poll_every: std::time::Duration,
        on_submitted: impl FnOnce(&str),
        priority: Priority,
    ) -> OpResult {
        const JOBS: &str = "/api/v2/analytics/conversations/details/jobs";
        let mut requests = 0u32;
        let job = match known_job {
            Some(job) => job,
            None => {
                let op = Operation {
                    id: format!("{op_id}#submit").into(),
                    priority,
                    method: "POST".into(),
                    path: JOBS.into(),
                    family: "analytics".into(),
                    body: Some(OpBody::Json(query)),
                    create: true,
                };
                let result = self.execute(op).await;
                requests += result.attempts;
                let job = result
                    .json()
                    .as_ref()
                    .and_then(|body| body["jobId"].as_str())
                    .map(str::to_string);
                match job {
                    Some(job) if result.is_ok() => {
                        on_submitted(&job);
                        job
                    }
                    _ => return result,
                }
            }
        };
        let mut wait = poll_every;
        for poll in 0..10_000u32 {
            let op = Operation::get(
                format!("{op_id}#poll{poll}"),
                format!("{JOBS}/{job}"),
                "analytics",
            )
            .with_priority(priority);
            let result = self.execute(op).await;
            requests += result.attempts;
            let body = result.json();
            let state = body.as_ref().and_then(|body| body["state"].as_str());
            match state {
                Some("FULFILLED") if result.is_ok() => break,
                Some("QUEUED" | "PENDING") if result.is_ok() => {
                    tokio::time::sleep(wait).await;
                    wait = (wait + wait / 2).min(poll_every * 8);
                }
                _ if result.is_ok() => {
                    // FAILED, CANCELLED, EXPIRED or no state: the job is over without results.
                    return OpResult {
                        outcome: Outcome::Failed,
                        attempts: requests,
                        ..result
                    };
                }
                _ => {
                    return OpResult {
                        attempts: requests,
                        ..result
                    }
                }
            }
        }
        let mut cursor: Option<String> = None;
        for page in 0..1_000_000u64 {
            let path = match &cursor {
                Some(cursor) => format!("{JOBS}/{job}/results?cursor={cursor}"),
                None => format!("{JOBS}/{job}/results"),
            };
            let op = Operation::get(format!("{op_id}#page{page}"), path, "analytics").with_priority(priority);
            let result = self.execute(op).await;
            requests += result.attempts;
            if !result.is_ok() {
                return OpResult {
                    attempts: requests,
                    ..result
                };
            }
            cursor = result
                .json()
                .as_ref()
                .and_then(|body| body["cursor"].as_str())
                .map(str::to_string);
            if cursor.is_none() {
                return OpResult {
                    attempts: requests,
                    body: None,
                    ..result
                };
            }
        }
        OpResult {
            outcome: Outcome::GaveUp(GiveUp::AttemptsExhausted),
            attempts: requests,
            status: None,
            body: None,
        }
    }

    /// Genesys `PATCH /api/v2/users/bulk` in chunks of `bulk_max`. Items that fail with a
    /// retryable status, or conflict, go into a later chunk (conflicts re-read first); each item
    /// ends with exactly one outcome, none lost or doubled.
    pub async fn bulk_update_users(
        &mut self,
        op_prefix: &str,
        items: Vec<BulkItem>,
        priority: Priority,
    ) -> Vec<ItemResult> {
        let config = self.client().config().clone();
        assert_eq!(
            config.platform,
            Platform::Genesys,
            "bulk user updates are a Genesys endpoint"
        );
        let max_tries = config.retry.max_attempts;
        let mut pending: VecDeque<(usize, BulkItem, u32)> = items
            .iter()
            .cloned()
            .enumerate()
            .map(|(index, item)| (index, item, 0))
            .collect();
        let mut done: BTreeMap<usize, ItemResult> = BTreeMap::new();
        let mut chunk_number = 0u64;
        while !pending.is_empty() {
            let take = pending.len().min(config.bulk_max as usize);
            let mut chunk: Vec<(usize, BulkItem, u32)> = pending.drain(..take).collect();
            for (_, _, tries) in &mut chunk {
                *tries += 1;
            }
            self.read_versions(op_prefix, chunk_number, &mut chunk, priority, &mut done)
                .await;
            chunk.retain(|(index, _, _)| !done.contains_key(index));
            if chunk.is_empty() {
                continue;
            }
            let body: Vec<Value> = chunk
                .iter()
                .map(|(_, item, _)| {
                    let mut object = item.fields.as_object().cloned().unwrap_or_default();
                    object.insert("id".into(), json!(item.id));
                    object.insert("version".into(), json!(item.version));
                    Value::Object(object)
                })
                .collect();
            let op = Operation {
                id: format!("{op_prefix}#chunk{chunk_number}").into(),
                priority,
                method: "PATCH".into(),
                path: "/api/v2/users/bulk".into(),
                family: "users.bulk".into(),
                body: Some(OpBody::Json(Value::Array(body))),
                create: false,
            };
            chunk_number += 1;
            let result = self.execute(op).await;
            let results = result
                .json()
                .filter(|_| result.is_ok())
                .and_then(|body| array_field(body, "results"));
            let Some(results) = results else {
                for (index, item, tries) in chunk {
                    done.insert(
                        index,
                        ItemResult {
                            index,
                            id: item.id,
                            outcome: result.outcome,
                            tries,
                            status: result.status,
                        },
                    );
                }
                continue;
            };
            for (position, (index, mut item, tries)) in chunk.into_iter().enumerate() {
                let entry = results
                    .get(position)
                    .filter(|entry| entry["id"].as_str() == Some(item.id.as_str()));
                let status = entry.and_then(|entry| entry["status"].as_u64()).map(|s| s as u16);
                let success = entry.is_some_and(|entry| entry["success"].as_bool() == Some(true));
                let retry = match status {
                    _ if success => false,
                    Some(409) if config.retry.reread_on_conflict => {
                        item.version = None;
                        true
                    }
                    Some(status) => item_retryable(status),
                    None => true,
                };
                if retry && tries < max_tries {
                    pending.push_back((index, item, tries));
                    continue;
                }
                let outcome = match (success, retry) {
                    (true, _) => Outcome::Ok,
                    (false, true) => Outcome::GaveUp(GiveUp::AttemptsExhausted),
                    (false, false) => Outcome::Failed,
                };
                done.insert(
                    index,
                    ItemResult {
                        index,
                        id: item.id,
                        outcome,
                        tries,
                        status,
                    },
                );
            }
        }
        assert_eq!(
            done.len(),
            items.len(),
            "every bulk item ends with exactly one outcome"
        );
        done.into_values().collect()
    }

    /// Reads the versions of the chunk's items that need one, in listings of up to 100 ids
    /// (`GET /api/v2/users?id=…`): one request where one per item would spend the quota 50
    /// times. An item that already holds its fields is done (its write landed, its answer was
    /// lost); an item the listing does not return does not exist (404, final).
    async fn read_versions(
        &mut self,
        op_prefix: &str,
        chunk_number: u64,
        chunk: &mut [(usize, BulkItem, u32)],
        priority: Priority,
        done: &mut BTreeMap<usize, ItemResult>,
    ) {
        const IDS_PER_READ: usize = 100;
        let unknown: Vec<usize> = (0..chunk.len())
            .filter(|&at| chunk[at].1.version.is_none())
            .collect();
        for (read, positions) in unknown.chunks(IDS_PER_READ).enumerate() {
            let ids: Vec<String> = positions
                .iter()
                .map(|&at| format!("id={}", form_encode(&chunk[at].1.id)))
                .collect();
            let op = Operation::get(
                format!("{op_prefix}#read{chunk_number}.{read}"),
                format!("/api/v2/users?pageSize={}&{}", positions.len(), ids.join("&")),
                "users.read",
            )
            .with_priority(priority);
            let result = self.execute(op).await;
            let listed: BTreeMap<String, Value> = result
                .json()
                .filter(|_| result.is_ok())
                .and_then(|body| array_field(body, "entities"))
                .map(|users| {
                    users
                        .into_iter()
                        .filter_map(|user| Some((user["id"].as_str()?.to_string(), user)))
                        .collect()
                })
                .unwrap_or_default();
            for &at in positions {
                let (index, item, tries) = &mut chunk[at];
                let finish = |outcome: Outcome, status: Option<u16>| ItemResult {
                    index: *index,
                    id: item.id.clone(),
                    outcome,
                    tries: *tries,
                    status,
                };
                if !result.is_ok() {
                    done.insert(*index, finish(result.outcome, result.status));
                    continue;
                }
                let Some(current) = listed.get(&item.id) else {
                    done.insert(*index, finish(Outcome::Failed, Some(404)));
                    continue;
                };
                let applied = item.fields.as_object().is_some_and(|fields| {
                    fields
                        .iter()
                        .all(|(name, value)| current.get(name) == Some(value))
                });
                if applied {
                    done.insert(*index, finish(Outcome::Ok, Some(200)));
                } else {
                    item.version = current["version"].as_u64();
                }
            }
        }
    }

    /// CXone `POST /agents` in chunks of `bulk_max` with per-item results; each chunk carries an
    /// idempotency key (when configured), so a retried chunk whose response was lost is not
    /// applied twice by a gateway that honours keys.
    pub async fn create_agents(
        &mut self,
        op_prefix: &str,
        agents: Vec<Value>,
        priority: Priority,
    ) -> Vec<ItemResult> {
        let config = self.client().config().clone();
        let mut results = Vec::with_capacity(agents.len());
        for (chunk_number, chunk) in agents.chunks(config.bulk_max as usize).enumerate() {
            let first = chunk_number * config.bulk_max as usize;
            let op = Operation {
                id: format!("{op_prefix}#agents{chunk_number}").into(),
                priority,
                method: "POST".into(),
                path: format!("{CXONE_API}/agents").into(),
                family: "users.bulk".into(),
                body: Some(OpBody::Json(json!({"agents": chunk}))),
                create: true,
            };
            let result = self.execute(op).await;
            let item_results = result
                .json()
                .filter(|_| result.is_ok())
                .and_then(|body| array_field(body, "agentResults"));
            for (offset, agent) in chunk.iter().enumerate() {
                let id = agent["userName"].as_str().unwrap_or("").to_string();
                let entry = item_results.as_ref().and_then(|entries| entries.get(offset));
                let outcome = match entry {
                    Some(entry) if entry["success"].as_bool() == Some(true) => Outcome::Ok,
                    Some(_) => Outcome::Failed,
                    None if result.is_ok() => Outcome::Failed,
                    None => result.outcome,
                };
                results.push(ItemResult {
                    index: first + offset,
                    id,
                    outcome,
                    tries: result.attempts,
                    status: result.status,
                });
            }
        }
        assert_eq!(
            results.len(),
            agents.len(),
            "every agent ends with exactly one outcome"
        );
        results
    }
}

/// A query parameter's value, percent-encoded.
fn form_encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
