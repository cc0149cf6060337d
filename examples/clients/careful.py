"""A careful Genesys Cloud client, in the Python standard library only: what the scorecard of
`herdsim serve` passes. Run: python3 careful.py http://127.0.0.1:8080

What makes it careful, rule by rule:
- one token for the whole process, fetched once and refreshed ahead of its expiry (one request
  at a time asks); a 401 costs one refresh;
- every thread sends through one gate: a pace below the org's limit, and any Retry-After holds
  the gate for every thread, not only the one that was told;
- retries only what a retry can fix (429, 5xx, no answer), with capped, jittered backoff, never
  before a Retry-After; a 4xx other than 401/408/429 is final;
- a create carries an Idempotency-Key, the same one on each of its retries;
- a listing that fails on a later page goes on from that page.
"""
import json
import random
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

BASE = sys.argv[1].rstrip("/")
# The pace the client allows itself: below the org's limit (60 per 5 s here), with headroom.
RATE_PER_S = float(sys.argv[2]) if len(sys.argv) > 2 else 8.0
CLIENT_ID, CLIENT_SECRET = "herd-app", "herd-secret"
DEADLINE = time.monotonic() + 60
MISSING = "6a1f0000-0000-4000-8000-00000000dead"


class Gate:
    """One pace and one Retry-After hold, shared by every thread."""

    def __init__(self, rate_per_s):
        self.lock = threading.Lock()
        self.interval = 1.0 / rate_per_s
        self.next_slot = 0.0
        self.hold_until = 0.0

    def wait(self):
        while True:
            with self.lock:
                now = time.monotonic()
                start = max(now, self.next_slot, self.hold_until)
                self.next_slot = start + self.interval
            time.sleep(max(0.0, start - now))
            with self.lock:
                if time.monotonic() >= self.hold_until:
                    return
            # A Retry-After arrived while this thread waited: take a slot after it.

    def hold(self, seconds):
        with self.lock:
            self.hold_until = max(self.hold_until, time.monotonic() + seconds)


class Token:
    """One token, refreshed when less than a fifth of its life is left, by one thread."""

    def __init__(self):
        self.lock = threading.Lock()
        self.value, self.refresh_at = None, 0.0

    def get(self, gate, stale=None):
        with self.lock:
            if self.value is None or self.value == stale or time.monotonic() >= self.refresh_at:
                self.value, lifetime = self._fetch(gate)
                self.refresh_at = time.monotonic() + lifetime * 0.8
            return self.value

    def _fetch(self, gate):
        for attempt in range(8):
            gate.wait()
            request = urllib.request.Request(
                BASE + "/oauth/token",
                data=b"grant_type=client_credentials",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            request.add_header("Authorization", basic(CLIENT_ID, CLIENT_SECRET))
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    body = json.load(response)
                    return body["access_token"], float(body["expires_in"])
            except urllib.error.HTTPError as error:
                if error.code not in (429, 500, 502, 503, 504):
                    raise
                gate.hold(retry_after(error.headers, backoff(attempt)))
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(backoff(attempt))
        raise RuntimeError("no token")


def basic(user, password):
    import base64

    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


def backoff(attempt):
    """Full jitter over a capped exponential: 0.2 s, 0.4 s, … up to 5 s."""
    return random.uniform(0, min(5.0, 0.2 * 2**attempt))


def retry_after(headers, default):
    value = headers.get("Retry-After") if headers else None
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return default


gate, token = Gate(RATE_PER_S), Token()


def call(method, path, body=None, idempotency_key=None):
    """The status and JSON body of a request, retried while a retry can help."""
    failures, refreshed, stale = 0, False, None
    while time.monotonic() < DEADLINE:
        bearer = token.get(gate, stale)
        gate.wait()
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(BASE + path, data=data, method=method)
        request.add_header("Authorization", "Bearer " + bearer)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if idempotency_key:
            request.add_header("Idempotency-Key", idempotency_key)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            if error.code == 401 and not refreshed:
                refreshed, stale = True, bearer
                continue
            if error.code == 429:
                # Rate limiting is not failure: wait as told, and do not spend the retry budget.
                gate.hold(retry_after(error.headers, 1.0))
                continue
            if error.code in (500, 502, 503, 504) and failures < 6:
                failures += 1
                gate.hold(retry_after(error.headers, backoff(failures)))
                continue
            return error.code, None
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            # No answer: the request may have been applied. Safe to resend only because a create
            # carries its Idempotency-Key and reads and PATCHes are idempotent.
            if failures >= 6:
                return None, None
            failures += 1
            time.sleep(backoff(failures))
    return None, None


def list_users(passes):
    ids = []
    for _ in range(passes):
        page, ids = 1, []
        while time.monotonic() < DEADLINE:
            status, body = call("GET", "/api/v2/users?pageSize=25&pageNumber=%d" % page)
            if status != 200:
                continue  # the same page again: resume, never restart
            ids += [user["id"] for user in body["entities"]]
            if page >= body["pageCount"]:
                break
            page += 1
    return ids


def main():
    ids = list_users(1)
    tasks = [("POST", "/api/v2/quality/conversations/conv-%03d/evaluations" % n, {"evaluator": "careful"}) for n in range(8)]
    tasks += [("GET", "/api/v2/users/" + MISSING, None)] + [("GET", "/api/v2/users/" + i, None) for i in ids[:12]]
    results, lock = [], threading.Lock()

    def worker():
        while True:
            with lock:
                if not tasks:
                    return
                method, path, body = tasks.pop(0)
            key = str(uuid.uuid4()) if method == "POST" else None
            status, _ = call(method, path, body, key)
            with lock:
                results.append(status)

    threads = [threading.Thread(target=worker) for _ in range(4)] + [threading.Thread(target=list_users, args=(1,))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps({"client": "careful.py", "done": sum(1 for s in results if s and s < 300), "final_4xx": sum(1 for s in results if s and 400 <= s < 500), "gave_up": sum(1 for s in results if s is None)}))


main()
