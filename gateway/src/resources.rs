//! The resources behind the routes: users (list, get, versioned update, bulk update), quality
//! evaluations and CXone agents (creates, under idempotency keys). Every applied write goes to the
//! ledger and the event stream.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};

use crate::config::PlatformProfile;
use crate::directory::UpdateError;
use crate::events::GatewayEventKind;
use crate::gateway::{Ctx, Gateway};
use crate::http::{Request, Response};
use crate::idempotency::{is_uuid, Lookup};
use crate::jobs::{decode_cursor, encode_cursor, iso8601, Job, JobState};
use crate::ledger::{Write, WriteOp};
use crate::routes::{Route, CXONE_PREFIX};

/// Why a resource refused a request: the status, the platform's error code, a message.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ResourceError {
    status: u16,
    code: &'static str,
    message: String,
}

impl ResourceError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> ResourceError {
        ResourceError {
            status,
            code,
            message: message.into(),
        }
    }
}

impl Gateway {
    pub(crate) fn serve(&mut self, ctx: &Ctx, route: &Route, request: &Request, client: &str) -> Response {
        match route {
            Route::Token | Route::Discovery => {
                unreachable!("the login host's routes are answered before authentication")
            }
            Route::ListUsers => self.list_users(ctx, request),
            Route::QueryUsers => self.query_users(ctx, request),
            Route::CreateUser => self.create_user(ctx, request),
            // CXone answers a single agent as a one-element `agents` list (CJ
            // `AdminAgentsService.ts` `GET /agents/{agentId}`) **[SECONDARY]**.
            Route::GetUser(id) => match (self.directory.get(id), self.config.platform) {
                (Some(user), PlatformProfile::Genesys) => Response::json(200, &self.directory.view(user)),
                (Some(user), PlatformProfile::Cxone) => {
                    Response::json(200, &json!({"agents": [self.directory.view(user)]}))
                }
                (None, _) => self.error_body(ctx, 404, "not.found", "The user was not found"),
            },
            Route::UpdateUser(id) => match parse_json(&request.body) {
                // CXone `PUT /agents/{id}` takes `{"agent": {...}}` (CJ) **[SECONDARY]**; a bare
                // object is taken too.
                Some(Value::Object(mut body)) if self.config.platform == PlatformProfile::Cxone => {
                    let patch = match body.remove("agent") {
                        Some(agent) => agent,
                        None => Value::Object(body),
                    };
                    self.update_user(ctx, id, &patch)
                }
                Some(patch) => self.update_user(ctx, id, &patch),
                None => self.bad_request(ctx, 400, "bad.request", "The body is not valid JSON"),
            },
            Route::BulkUpdateUsers => self.bulk_update_users(ctx, request),
            Route::SubmitJob => self.submit_job(ctx, request, client),
            Route::JobStatus(id) => self.job_status(ctx, id, client),
            Route::JobResults(id) => self.job_results(ctx, request, id, client),
            Route::CreateEvaluation(conversation) => {
                let conversation = conversation.clone();
                self.idempotent(ctx, request, |gateway, ctx, body| {
                    gateway.create_evaluation(ctx, &conversation, body)
                })
            }
            Route::CreateAgents => self.idempotent(ctx, request, Gateway::create_agents),
            Route::LimitNamespaces => self.limit_namespace(ctx, None),
            Route::LimitNamespace(namespace) => self.limit_namespace(ctx, Some(namespace)),
        }
    }

    /// The configured limits as Genesys publishes them: `{"entities":[{key, namespace, value}]}`,
    /// with each rule's limit in force now (PY `LimitsEntityListing.md`, `Limit.md`). The live
    /// counts behind a 429 are never shown here, as on the platform.
    fn limit_namespace(&mut self, ctx: &Ctx, namespace: Option<&str>) -> Response {
        let at_s = ctx.now.as_micros() / 1_000_000;
        let entities: Vec<Value> = self
            .limits
            .rules()
            .filter(|rule| !rule.hidden)
            .map(|rule| (limit_namespace_of(rule), rule))
            .filter(|(rule_namespace, _)| namespace.is_none_or(|wanted| wanted == *rule_namespace))
            .map(|(rule_namespace, rule)| {
                json!({"key": rule.name, "namespace": rule_namespace, "value": rule.limit_at_s(at_s)})
            })
            .collect();
        if entities.is_empty() && namespace.is_some() {
            return self.error_body(ctx, 404, "not.found", "The limit namespace was not found");
        }
        Response::json(200, &json!({"entities": entities}))
    }

    /// Genesys `GET /api/v2/users?id=a&id=b` (also `id[]=`): the named users that exist, in
    /// the order asked, as one listing (PY `get_users` takes `id` as a list). At most
    /// [`IDS_PER_LISTING_MAX`] ids **[UNVERIFIED]**.
    fn list_users_by_id(&mut self, ctx: &Ctx, ids: &[String]) -> Response {
        if ids.len() > IDS_PER_LISTING_MAX {
            let message = format!("At most {IDS_PER_LISTING_MAX} ids can be listed at a time");
            return self.bad_request(ctx, 400, "bad.request", &message);
        }
        let entities: Vec<Value> = ids
            .iter()
            .filter_map(|id| self.directory.get(id))
            .map(|user| self.directory.view(user))
            .collect();
        let total = entities.len();
        Response::json(
            200,
            &json!({
                "entities": entities, "pageSize": ids.len(), "pageNumber": 1, "total": total, "pageCount": 1,
            }),
        )
    }

    fn list_users(&mut self, ctx: &Ctx, request: &Request) -> Response {
        let pairs = request.query();
        let ids: Vec<String> = pairs
            .iter()
            .filter(|(name, _)| name == "id" || name == "id[]")
            .map(|(_, id)| id.clone())
            .collect();
        if !ids.is_empty() && self.config.platform == PlatformProfile::Genesys {
            return self.list_users_by_id(ctx, &ids);
        }
        let query: BTreeMap<String, String> = pairs.into_iter().collect();
        let number = |name: &str, default: u64| -> Option<u64> {
            query.get(name).map_or(Some(default), |text| text.parse().ok())
        };
        let total = self.directory.len();
        let page_size_max = self.config.data.page_size_max;
        match self.config.platform {
            PlatformProfile::Genesys => {
                let (Some(page_size), Some(page_number)) = (number("pageSize", 25), number("pageNumber", 1))
                else {
                    return self.bad_request(
                        ctx,
                        400,
                        "bad.request",
                        "pageSize and pageNumber must be whole numbers",
                    );
                };
                if page_size == 0 || page_size > page_size_max || page_number == 0 {
                    return self.bad_request(ctx, 400, "bad.request", "pageSize or pageNumber out of range");
                }
                let page_count = total.div_ceil(page_size).max(1);
                let uri = |n: u64| format!("/api/v2/users?pageSize={page_size}&pageNumber={n}");
                let offset = (page_number - 1).saturating_mul(page_size);
                let entities = self.directory.page_views(offset, page_size);
                let mut body = json!({
                    "entities": entities, "pageSize": page_size, "pageNumber": page_number,
                    "total": total, "pageCount": page_count,
                    "firstUri": uri(1), "selfUri": uri(page_number), "lastUri": uri(page_count),
                });
                if page_number < page_count {
                    body["nextUri"] = json!(uri(page_number + 1));
                }
                if page_number > 1 {
                    body["previousUri"] = json!(uri(page_number - 1));
                }
                Response::json(200, &body)
            }
            PlatformProfile::Cxone => {
                let (Some(skip), Some(top)) = (number("skip", 0), number("top", 100)) else {
                    return self.bad_request(ctx, 400, "bad.request", "skip and top must be whole numbers");
                };
                if top == 0 || top > page_size_max {
                    return self.bad_request(ctx, 400, "bad.request", "top out of range");
                }
                let uri = |skip: u64| format!("{CXONE_PREFIX}/agents?skip={skip}&top={top}");
                let agents = self.directory.page_views(skip, top);
                let mut links = json!({"self": uri(skip)});
                if skip.saturating_add(top) < total {
                    links["next"] = json!(uri(skip + top));
                }
                if skip > 0 {
                    links["previous"] = json!(uri(skip.saturating_sub(top)));
                }
                // `lastPollTime` is a string in CJ's generated types **[SECONDARY]**; its format is
                // **[UNVERIFIED]**: ISO-8601 UTC, as the ACD API's `updatedSince` takes.
                Response::json(
                    200,
                    &json!({
                        "businessUnitId": 4_600_001,
                        "lastPollTime": iso8601(self.config.epoch_unix_s, ctx.now),
                        "totalRecords": total,
                        "agents": agents,
                        "_links": links,
                    }),
                )
            }
        }
    }

    /// Genesys `GET /api/v2/users/query?cursor=&pageSize=`: `{entities, cursor, nextUri, selfUri}`,
    /// with no `cursor` on the last page (PY `get_users_query`, `user_cursor_entity_listing.py`).
    fn query_users(&mut self, ctx: &Ctx, request: &Request) -> Response {
        let query: BTreeMap<String, String> = request.query().into_iter().collect();
        let (page_size, offset) = match self.cursor_page(ctx, &query, 25, self.directory.len()) {
            Ok(page) => page,
            Err(refused) => return *refused,
        };
        let entities = self.directory.page_views(offset, page_size);
        let self_uri = match query.get("cursor") {
            Some(cursor) => format!("/api/v2/users/query?pageSize={page_size}&cursor={cursor}"),
            None => format!("/api/v2/users/query?pageSize={page_size}"),
        };
        let mut body = json!({"entities": entities, "selfUri": self_uri});
        let next = offset.saturating_add(page_size);
        if next < self.directory.len() {
            let cursor = encode_cursor(next);
            body["nextUri"] = json!(format!(
                "/api/v2/users/query?pageSize={page_size}&cursor={cursor}"
            ));
            body["cursor"] = json!(cursor);
        }
        Response::json(200, &body)
    }

    /// A cursor page's `pageSize` (or `default_size`) and offset over `total` items, or the 400
    /// for a bad size or a cursor that is not one of ours.
    fn cursor_page(
        &mut self,
        ctx: &Ctx,
        query: &BTreeMap<String, String>,
        default_size: u64,
        total: u64,
    ) -> Result<(u64, u64), Box<Response>> {
        let Some(page_size) = query
            .get("pageSize")
            .map_or(Some(default_size), |text| text.parse::<u64>().ok())
        else {
            return Err(Box::new(self.bad_request(
                ctx,
                400,
                "bad.request",
                "pageSize must be a whole number",
            )));
        };
        if page_size == 0 || page_size > self.config.data.page_size_max {
            return Err(Box::new(self.bad_request(
                ctx,
                400,
                "bad.request",
                "pageSize out of range",
            )));
        }
        let offset = match query.get("cursor").filter(|cursor| !cursor.is_empty()) {
            None => 0,
            Some(cursor) => match decode_cursor(cursor) {
                Some(offset) if offset <= total => offset,
                _ => {
                    return Err(Box::new(self.bad_request(
                        ctx,
                        400,
                        "bad.request",
                        "The cursor is not valid",
                    )))
                }
            },
        };
        Ok((page_size, offset))
    }

    /// Genesys `POST /api/v2/users` with `{name, email, …}`: 200 with the new user; 409 when the
    /// email is taken. The 409's code is **[UNVERIFIED]**; the status follows the platform's use
    /// of 409 for conflicts.
    fn create_user(&mut self, ctx: &Ctx, request: &Request) -> Response {
        let Some(Value::Object(body)) = parse_json(&request.body) else {
            return self.bad_request(ctx, 400, "bad.request", "The body must be a JSON object");
        };
        let (Some(name), Some(email)) = (
            body.get("name").and_then(Value::as_str),
            body.get("email").and_then(Value::as_str),
        ) else {
            return self.error_body(ctx, 400, "bad.request", "name and email are required");
        };
        if let Err(UpdateError::Invalid(why)) = crate::directory::validate_fields(&body) {
            return self.error_body(ctx, 400, "bad.request", why);
        }
        let fields: BTreeMap<String, Value> = body
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "name" | "email" | "id" | "version" | "selfUri"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if self.directory.len() >= crate::directory::USERS_MAX {
            return self.error_body(
                ctx,
                400,
                "organization.user.limit",
                "The organization holds as many users as it may",
            );
        }
        let email = email.to_string();
        match self.directory.create(name.to_string(), email.clone(), fields) {
            Ok(id) => {
                self.record_create(ctx, WriteOp::CreateUser, &email);
                let user = self.directory.get(&id).expect("created user exists");
                Response::json(200, &self.directory.view(user))
            }
            Err(existing) => {
                self.stats.conflicts += 1;
                self.error_body(
                    ctx,
                    409,
                    "general.conflict",
                    &format!("A user with the email {email} already exists ({existing})"),
                )
            }
        }
    }

    /// Submits an analytics conversation-detail job: `{jobId}` with 202. The query's `interval`
    /// is the business key of the ledger: submitting the same interval twice is a duplicate.
    fn submit_job(&mut self, ctx: &Ctx, request: &Request, client: &str) -> Response {
        let Some(body) = parse_json(&request.body) else {
            return self.bad_request(ctx, 400, "bad.request", "The body is not valid JSON");
        };
        let Some(interval) = body.get("interval").and_then(Value::as_str) else {
            return self.error_body(ctx, 400, "bad.request", "interval is required");
        };
        if !interval.contains('/') {
            return self.error_body(ctx, 400, "bad.request", "interval must be start/end (ISO-8601)");
        }
        let interval = interval.to_string();
        let id = self.uuid();
        let job = Job {
            client: client.to_string(),
            submitted_at: ctx.now,
            duration: Duration::from_secs(self.config.data.job_duration_s),
            conversations: self.config.data.job_conversations,
        };
        self.jobs.insert(id.clone(), job);
        self.record_create(ctx, WriteOp::SubmitJob, &interval);
        Response::json(202, &json!({"jobId": id}))
    }

    fn job_status(&mut self, ctx: &Ctx, id: &str, client: &str) -> Response {
        let Some(job) = self.jobs.get(id, client) else {
            return self.error_body(ctx, 404, "not.found", "The job was not found");
        };
        let epoch = self.config.epoch_unix_s;
        let state = job.state(ctx.now);
        let mut body = json!({
            "state": state.name(),
            "submissionDate": iso8601(epoch, job.submitted_at),
            "expirationDate": iso8601(epoch, job.submitted_at + crate::jobs::JOB_TTL),
        });
        if state == JobState::Fulfilled {
            body["completionDate"] = json!(iso8601(epoch, job.fulfilled_at()));
        }
        Response::json(200, &body)
    }

    /// A page of a fulfilled job's results; before then 400 **[UNVERIFIED]**, after expiry 404.
    fn job_results(&mut self, ctx: &Ctx, request: &Request, id: &str, client: &str) -> Response {
        let Some(job) = self.jobs.get(id, client).cloned() else {
            return self.error_body(ctx, 404, "not.found", "The job was not found");
        };
        match job.state(ctx.now) {
            JobState::Fulfilled => {}
            JobState::Expired => return self.error_body(ctx, 404, "not.found", "The job's results expired"),
            JobState::Queued | JobState::Pending => {
                return self.error_body(ctx, 400, "bad.request", "The job is not FULFILLED yet")
            }
        }
        let query: BTreeMap<String, String> = request.query().into_iter().collect();
        let (page_size, offset) = match self.cursor_page(ctx, &query, 100, job.conversations) {
            Ok(page) => page,
            Err(refused) => return *refused,
        };
        let end = offset.saturating_add(page_size).min(job.conversations);
        let epoch = self.config.epoch_unix_s;
        let conversations: Vec<Value> = (offset..end)
            .map(|n| {
                json!({
                    "conversationId": format!("{}-{n:06}", &id[..id.len().min(8)]),
                    "conversationStart": iso8601(epoch, job.submitted_at),
                })
            })
            .collect();
        let mut body = json!({
            "conversations": conversations,
            "dataAvailabilityDate": iso8601(epoch, job.submitted_at),
        });
        if end < job.conversations {
            body["cursor"] = json!(encode_cursor(end));
        }
        Response::json(200, &body)
    }

    /// One versioned update, recorded in the ledger when applied.
    fn apply_update(&mut self, ctx: &Ctx, id: &str, patch: &Value) -> Result<Value, ResourceError> {
        let require_version = self.config.platform == PlatformProfile::Genesys;
        match self.directory.update(id, patch, require_version) {
            Ok(version) => {
                let view = self
                    .directory
                    .view(self.directory.get(id).expect("updated user exists"));
                self.ledger.record(Write {
                    at: ctx.now,
                    request: ctx.request,
                    op: WriteOp::UpdateUser,
                    key: id.to_string(),
                    version: Some(version),
                });
                self.emit(
                    ctx,
                    GatewayEventKind::WriteApplied {
                        op: WriteOp::UpdateUser.as_str().into(),
                        key: id.to_string(),
                        version: Some(version),
                    },
                );
                Ok(view)
            }
            Err(UpdateError::Conflict { sent, current }) => {
                self.stats.conflicts += 1;
                self.emit(
                    ctx,
                    GatewayEventKind::Conflict {
                        key: id.to_string(),
                        sent,
                        current,
                    },
                );
                Err(ResourceError {
                    status: 409,
                    code: "conflict",
                    message: format!(
                        "The version supplied ({sent}) does not match the current version ({current})"
                    ),
                })
            }
            Err(UpdateError::NotFound) => Err(ResourceError::new(404, "not.found", "The user was not found")),
            Err(UpdateError::MissingVersion) => {
                Err(ResourceError::new(400, "bad.request", "version is required"))
            }
            Err(UpdateError::Invalid(why)) => Err(ResourceError::new(400, "bad.request", why)),
        }
    }

    fn update_user(&mut self, ctx: &Ctx, id: &str, patch: &Value) -> Response {
        match self.apply_update(ctx, id, patch) {
            Ok(view) => Response::json(200, &view),
            Err(error) => self.error_body(ctx, error.status, error.code, &error.message),
        }
    }

    fn bulk_update_users(&mut self, ctx: &Ctx, request: &Request) -> Response {
        let Some(Value::Array(items)) = parse_json(&request.body) else {
            return self.bad_request(
                ctx,
                400,
                "bad.request",
                "The body must be a JSON array of user updates",
            );
        };
        if items.is_empty() || items.len() as u64 > self.config.data.bulk_max {
            let message = format!("Max {} users can be updated at a time", self.config.data.bulk_max);
            return self.bad_request(ctx, 400, "bad.request", &message);
        }
        let mut results = Vec::with_capacity(items.len());
        let mut error_indexes = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let id = item.get("id").and_then(Value::as_str).unwrap_or("").to_string();
            match self.apply_update(ctx, &id, item) {
                Ok(view) => results.push(json!({"id": id, "success": true, "status": 200, "entity": view})),
                Err(error) => {
                    error_indexes.push(index);
                    results.push(json!({
                        "id": id, "success": false, "status": error.status,
                        "error": {"code": error.code, "message": error.message},
                    }));
                }
            }
        }
        let mut response = Response::json(
            200,
            &json!({"results": results, "errorCount": error_indexes.len(), "errorIndexes": error_indexes}),
        );
        self.bulk_time(&mut response, items.len());
        response
    }

    /// A bulk request takes `bulk_item_ms` per item on top of the round trip.
    fn bulk_time(&self, response: &mut Response, items: usize) {
        let own_ms = self.config.data.bulk_item_ms * items as u64;
        if own_ms > 0 {
            response.delivery = crate::http::Delivery::DelayedMs(own_ms);
        }
    }

    fn create_evaluation(&mut self, ctx: &Ctx, conversation: &str, body: &Value) -> Response {
        if !body.is_object() {
            return self.bad_request(ctx, 400, "bad.request", "The body must be a JSON object");
        }
        let id = self.uuid();
        self.record_create(ctx, WriteOp::CreateEvaluation, conversation);
        Response::json(
            200,
            &json!({
                "id": id,
                "conversation": {"id": conversation},
                "status": "PENDING",
                "selfUri": format!("/api/v2/quality/conversations/{conversation}/evaluations/{id}"),
            }),
        )
    }

    fn create_agents(&mut self, ctx: &Ctx, body: &Value) -> Response {
        let Some(agents) = body.get("agents").and_then(Value::as_array) else {
            return self.bad_request(ctx, 400, "bad.request", "The body must be {\"agents\": [...]}");
        };
        if agents.is_empty() || agents.len() as u64 > self.config.data.bulk_max {
            let message = format!(
                "Between 1 and {} agents can be created at a time",
                self.config.data.bulk_max
            );
            return self.bad_request(ctx, 400, "bad.request", &message);
        }
        let agents = agents.clone();
        let mut results = Vec::with_capacity(agents.len());
        let mut error_count = 0;
        for agent in &agents {
            let valid = agent.as_object().map_or(
                Err(UpdateError::Invalid("an agent is a JSON object")),
                crate::directory::validate_fields,
            );
            match agent.get("userName").and_then(Value::as_str) {
                _ if self.directory.len() >= crate::directory::USERS_MAX => {
                    error_count += 1;
                    results.push(json!({"agentId": null, "success": false, "error": "the business unit holds as many agents as it may"}));
                }
                _ if valid.is_err() => {
                    error_count += 1;
                    let why = match valid {
                        Err(UpdateError::Invalid(why)) => why,
                        _ => "invalid agent",
                    };
                    results.push(json!({"agentId": null, "success": false, "error": why}));
                }
                Some(user_name) if !user_name.is_empty() => {
                    let fields: BTreeMap<String, Value> = agent
                        .as_object()
                        .map(|object| {
                            object
                                .iter()
                                .filter(|(k, _)| *k != "userName")
                                .map(|(k, v)| (k.clone(), v.clone()))
                                .collect()
                        })
                        .unwrap_or_default();
                    let id = self.directory.insert(user_name.to_string(), fields);
                    self.record_create(ctx, WriteOp::CreateAgent, user_name);
                    results.push(json!({"agentId": id.parse::<u64>().unwrap_or(0), "userName": user_name, "success": true, "error": null}));
                }
                _ => {
                    error_count += 1;
                    results.push(json!({"agentId": null, "success": false, "error": "userName is required"}));
                }
            }
        }
        let mut response = Response::json(200, &json!({"errorCount": error_count, "agentResults": results}));
        self.bulk_time(&mut response, agents.len());
        response
    }

    fn record_create(&mut self, ctx: &Ctx, op: WriteOp, key: &str) {
        self.ledger.record(Write {
            at: ctx.now,
            request: ctx.request,
            op,
            key: key.to_string(),
            version: None,
        });
        self.emit(
            ctx,
            GatewayEventKind::WriteApplied {
                op: op.as_str().into(),
                key: key.to_string(),
                version: None,
            },
        );
    }

    /// Runs a create under the request's `Idempotency-Key`, when the gateway honours them: the same
    /// key with the same body replays the stored response; with another body it is refused (422).
    fn idempotent(
        &mut self,
        ctx: &Ctx,
        request: &Request,
        create: impl FnOnce(&mut Gateway, &Ctx, &Value) -> Response,
    ) -> Response {
        let Some(body) = parse_json(&request.body) else {
            return self.bad_request(ctx, 400, "bad.request", "The body is not valid JSON");
        };
        let key = match request.header_value("idempotency-key") {
            Some(key) if self.config.data.idempotency_keys => key.to_string(),
            _ => return create(self, ctx, &body),
        };
        if !is_uuid(&key) {
            return self.bad_request(ctx, 400, "bad.request", "Idempotency-Key must be a UUID");
        }
        match self
            .idempotency
            .lookup(&key, &request.body, self.config.data.idempotency_reuse)
        {
            Lookup::Reused => self.error_body(
                ctx,
                422,
                "idempotency.key.reused",
                "The Idempotency-Key was used with another body",
            ),
            Lookup::Replay(stored) => {
                self.emit(ctx, GatewayEventKind::IdempotentReplay { key });
                stored.with_header("Idempotent-Replayed", "true")
            }
            Lookup::Fresh => {
                let response = create(self, ctx, &body);
                if (200..300).contains(&response.status) {
                    self.idempotency
                        .store(key, &request.body, ctx.now, response.clone());
                }
                response
            }
        }
    }
}

/// The most ids one `GET /api/v2/users?id=…` may name **[UNVERIFIED]**: 100, as Genesys' other
/// id-list parameters take.
pub const IDS_PER_LISTING_MAX: usize = 100;

fn parse_json(body: &[u8]) -> Option<Value> {
    serde_json::from_slice(body).ok()
}

/// The namespace a rule is published under: the token endpoint's under `authorization`, the rest
/// under `platform.api` (the namespace of `client.credentials.token.rate.per.minute`).
fn limit_namespace_of(rule: &crate::config::LimitRule) -> &'static str {
    if rule.families.iter().any(|family| family == "oauth") {
        "authorization"
    } else {
        "platform.api"
    }
}
