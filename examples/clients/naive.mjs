// A naive Genesys Cloud client in Node (built-in fetch), as tutorials write them: what the
// scorecard of `herdsim serve` fails, on every rule. Run: node naive.mjs URL
//
// Its habits (each one a scorecard rule):
// - a new token for every request;
// - no backoff: it retries at once, up to four times, whatever the error (a 404 included),
//   and a 503's Retry-After means nothing to it;
// - on 429 a worker sleeps exactly the Retry-After, by itself: the others go on sending until
//   they are told too (its lister never waits at all), and then all of them wake together;
// - a create is sent again without an Idempotency-Key when its answer is lost;
// - a listing that fails part-way starts again from the first page.
const BASE = process.argv[2].replace(/\/$/, "");
const [CLIENT_ID, CLIENT_SECRET] = ["herd-app", "herd-secret"];
const MISSING = "6a1f0000-0000-4000-8000-00000000dead";
const DEADLINE = Date.now() + 30_000;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function newToken() {
  const response = await fetch(BASE + "/oauth/token", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: `grant_type=client_credentials&client_id=${CLIENT_ID}&client_secret=${CLIENT_SECRET}`,
  });
  return (await response.json()).access_token;
}

async function send(method, path, body) {
  const response = await fetch(BASE + path, {
    method,
    headers: { authorization: "Bearer " + (await newToken()), "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return [response, response.ok ? await response.json() : await response.text()];
}

async function call(method, path, body) {
  for (let attempt = 0; attempt < 4; attempt++) {
    try {
      const [response, data] = await send(method, path, body);
      if (response.ok) return response.status;
      if (response.status === 429) await sleep(Number(response.headers.get("retry-after") ?? 0) * 1000);
    } catch {
      // the answer was lost: send it again
    }
  }
  return null;
}

const listing = {};

async function listUsers(passes) {
  let done = 0, restarts = 0, laterFailed = false;
  // It lists again until a listing has failed part-way at least once (a fifth of reads fail
  // here), so that its habit of starting over always shows: at most 30 passes and 1 500
  // restarts. While the workers keep the client's limit full its first page is refused again
  // and again; a pause of 20 ms after a refused first page (it still never waits out a
  // Retry-After) spreads those restarts over the whole run instead of spending them all in the
  // first 429 window, which had left it no listing to fail part-way once the workers were done.
  while ((done < passes || !laterFailed) && done < 30 && restarts < 1500 && Date.now() < DEADLINE) {
    for (let page = 1; ; page++) {
      let response, body;
      try {
        [response, body] = await send("GET", `/api/v2/users?pageSize=25&pageNumber=${page}`);
      } catch {
        response = null;
      }
      if (!response?.ok) {
        restarts += 1;
        laterFailed = laterFailed || page > 1;
        if (page === 1) await sleep(20);
        break; // start the whole listing again
      }
      if (page >= body.pageCount) {
        done += 1;
        break;
      }
    }
  }
  Object.assign(listing, { passes: done, restarts, later_page_failed: laterFailed });
}

const tasks = [];
for (let n = 0; n < 8; n++) tasks.push(["POST", `/api/v2/quality/conversations/conv-${String(n).padStart(3, "0")}/evaluations`, { evaluator: "naive" }]);
tasks.push(["GET", "/api/v2/users/" + MISSING]);
for (let n = 1; n < 60; n++) tasks.push(["GET", "/api/v2/users/6a1f0000-0000-4000-8000-" + n.toString(16).padStart(12, "0")]);
const results = [];
async function worker() {
  for (let task = tasks.shift(); task && Date.now() < DEADLINE; task = tasks.shift()) {
    results.push(await call(...task));
  }
}
await Promise.all([...Array.from({ length: 8 }, worker), listUsers(3)]);
console.log(JSON.stringify({ client: "naive.mjs", done: results.filter((s) => s).length, gave_up: results.filter((s) => s === null).length, listing }));
