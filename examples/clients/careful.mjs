// A careful Genesys Cloud client in Node (built-in fetch, no packages): what the scorecard of
// `herdsim serve` passes. Run: node careful.mjs http://127.0.0.1:8080
//
// What makes it careful, rule by rule:
// - one token for the whole process, refreshed ahead of its expiry by one caller at a time; a
//   401 costs one refresh;
// - every worker sends through one gate: a pace below the org's limit, and a Retry-After holds
//   the gate for every worker, not only the one that was told;
// - it retries only what a retry can fix (429, 5xx, no answer), with capped, jittered backoff,
//   never before a Retry-After; any other 4xx is final;
// - a create carries an Idempotency-Key, the same one on each of its retries;
// - a listing that fails on a later page goes on from that page.
import { randomUUID } from "node:crypto";

const BASE = process.argv[2].replace(/\/$/, "");
// The pace the client allows itself: below the org's limit (60 per 5 s here), with headroom.
const RATE_PER_S = Number(process.argv[3] ?? 8);
const [CLIENT_ID, CLIENT_SECRET] = ["herd-app", "herd-secret"];
const DEADLINE = Date.now() + 60_000;
const MISSING = "6a1f0000-0000-4000-8000-00000000dead";
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

// One pace and one Retry-After hold for every worker.
const gate = {
  nextSlot: 0,
  holdUntil: 0,
  async wait() {
    for (;;) {
      const now = Date.now();
      const start = Math.max(now, this.nextSlot, this.holdUntil);
      this.nextSlot = start + 1000 / RATE_PER_S;
      await sleep(start - now);
      if (Date.now() >= this.holdUntil) return;
      // A Retry-After arrived while this worker waited: take a slot after it.
    }
  },
  hold(seconds) {
    this.holdUntil = Math.max(this.holdUntil, Date.now() + seconds * 1000);
  },
};

const backoff = (attempt) => Math.random() * Math.min(5000, 200 * 2 ** attempt);
function retryAfter(response, fallbackS) {
  const seconds = Number(response.headers.get("retry-after"));
  return Number.isFinite(seconds) && response.headers.has("retry-after") ? seconds : fallbackS;
}

// One token, refreshed when less than a fifth of its life is left; concurrent callers share the
// one request in flight.
const token = {
  value: null,
  refreshAt: 0,
  pending: null,
  async get(stale) {
    if (this.value && this.value !== stale && Date.now() < this.refreshAt) return this.value;
    this.pending ??= this.fetch().finally(() => (this.pending = null));
    return this.pending;
  },
  async fetch() {
    for (let attempt = 0; attempt < 8; attempt++) {
      await gate.wait();
      try {
        const response = await fetch(BASE + "/oauth/token", {
          method: "POST",
          headers: {
            authorization: "Basic " + Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString("base64"),
            "content-type": "application/x-www-form-urlencoded",
          },
          body: "grant_type=client_credentials",
        });
        if (response.ok) {
          const body = await response.json();
          this.value = body.access_token;
          this.refreshAt = Date.now() + body.expires_in * 800;
          return this.value;
        }
        await response.arrayBuffer();
        if (![429, 500, 502, 503, 504].includes(response.status)) throw new Error(`token: ${response.status}`);
        gate.hold(retryAfter(response, backoff(attempt) / 1000));
      } catch (error) {
        if (String(error.message).startsWith("token:")) throw error;
        await sleep(backoff(attempt));
      }
    }
    throw new Error("no token");
  },
};

// The status and JSON body of a request, retried while a retry can help.
async function call(method, path, body, idempotencyKey) {
  let failures = 0, refreshed = false, stale = null;
  while (Date.now() < DEADLINE) {
    const bearer = await token.get(stale);
    await gate.wait();
    const headers = { authorization: "Bearer " + bearer };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (idempotencyKey) headers["idempotency-key"] = idempotencyKey;
    let response;
    try {
      response = await fetch(BASE + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch {
      // No answer: the request may have been applied. Safe to resend only because a create
      // carries its Idempotency-Key, and reads are idempotent.
      if (failures >= 6) return [null, null];
      await sleep(backoff(++failures));
      continue;
    }
    if (response.ok) return [response.status, await response.json()];
    await response.arrayBuffer();
    if (response.status === 401 && !refreshed) {
      refreshed = true;
      stale = bearer;
    } else if (response.status === 429) {
      // Rate limiting is not failure: wait as told, and do not spend the retry budget.
      gate.hold(retryAfter(response, 1));
    } else if ([500, 502, 503, 504].includes(response.status) && failures < 6) {
      failures += 1;
      gate.hold(retryAfter(response, backoff(failures) / 1000));
    } else {
      return [response.status, null];
    }
  }
  return [null, null];
}

async function listUsers() {
  const ids = [];
  let page = 1;
  while (Date.now() < DEADLINE) {
    const [status, body] = await call("GET", `/api/v2/users?pageSize=25&pageNumber=${page}`);
    if (status !== 200) continue; // the same page again: resume, never restart
    ids.push(...body.entities.map((user) => user.id));
    if (page >= body.pageCount) break;
    page += 1;
  }
  return ids;
}

const ids = await listUsers();
const tasks = [];
for (let n = 0; n < 8; n++) tasks.push(["POST", `/api/v2/quality/conversations/conv-${String(n).padStart(3, "0")}/evaluations`, { evaluator: "careful" }]);
tasks.push(["GET", "/api/v2/users/" + MISSING, undefined], ...ids.slice(0, 12).map((id) => ["GET", "/api/v2/users/" + id, undefined]));
const results = [];
async function worker() {
  for (let task = tasks.shift(); task; task = tasks.shift()) {
    const [method, path, body] = task;
    const [status] = await call(method, path, body, method === "POST" ? randomUUID() : undefined);
    results.push(status);
  }
}
await Promise.all([worker(), worker(), worker(), worker(), listUsers()]);
console.log(JSON.stringify({
  client: "careful.mjs",
  done: results.filter((s) => s && s < 300).length,
  final_4xx: results.filter((s) => s >= 400 && s < 500).length,
  gave_up: results.filter((s) => s === null).length,
}));
