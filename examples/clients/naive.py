"""A naive Genesys Cloud client, as tutorials write them, in the Python standard library only:
what the scorecard of `herdsim serve` fails, on every rule. Run: python3 naive.py URL

Its habits (each one a scorecard rule):
- a new token for every request;
- no backoff: it retries at once, up to four times, whatever the error (a 404 included),
  and a 503's Retry-After means nothing to it;
- on 429 a thread sleeps exactly the Retry-After, by itself: the others go on sending until
  they are told too (its lister never waits at all), and then all of them wake together;
- a create is sent again without an Idempotency-Key when its answer is lost;
- a listing that fails part-way starts again from the first page.
"""
import json
import sys
import threading
import time
import urllib.error
import urllib.request

BASE = sys.argv[1].rstrip("/")
CLIENT_ID, CLIENT_SECRET = "herd-app", "herd-secret"
MISSING = "6a1f0000-0000-4000-8000-00000000dead"
DEADLINE = time.monotonic() + 30


def new_token():
    request = urllib.request.Request(
        BASE + "/oauth/token",
        data=("grant_type=client_credentials&client_id=%s&client_secret=%s" % (CLIENT_ID, CLIENT_SECRET)).encode(),
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["access_token"]


def send(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(BASE + path, data=data, method=method)
    request.add_header("Authorization", "Bearer " + new_token())
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.load(response)


def call(method, path, body=None):
    for _ in range(4):
        try:
            return send(method, path, body)
        except urllib.error.HTTPError as error:
            if error.code == 429:
                time.sleep(float(error.headers.get("Retry-After") or 0))
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
    return None, None


LISTING = {}


def list_users(passes):
    # It lists again until a listing has failed part-way at least once (a fifth of reads fail
    # here), so that its habit of starting over always shows: at most 30 passes and 1 500
    # restarts. While the workers keep the client's limit full its first page is refused again
    # and again; a pause of 20 ms after a refused first page (it still never waits out a
    # Retry-After) spreads those restarts over the whole run instead of spending them all in the
    # first 429 window, which had left it no listing to fail part-way once the workers were done.
    done, restarts, later_failed = 0, 0, False
    while (done < passes or not later_failed) and done < 30 and restarts < 1500 and time.monotonic() < DEADLINE:
        page = 1
        while True:
            try:
                status, body = send("GET", "/api/v2/users?pageSize=25&pageNumber=%d" % page)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                restarts += 1
                later_failed = later_failed or page > 1
                if page == 1:
                    time.sleep(0.02)
                break  # start the whole listing again
            if page >= body["pageCount"]:
                done += 1
                break
            page += 1
    LISTING.update(passes=done, restarts=restarts, later_page_failed=later_failed)


def main():
    tasks = [("POST", "/api/v2/quality/conversations/conv-%03d/evaluations" % n, {"evaluator": "naive"}) for n in range(8)]
    tasks += [("GET", "/api/v2/users/" + MISSING, None)] * 1
    tasks += [("GET", "/api/v2/users/6a1f0000-0000-4000-8000-%012x" % n, None) for n in range(1, 60)]
    results, lock = [], threading.Lock()

    def worker():
        while time.monotonic() < DEADLINE:
            with lock:
                if not tasks:
                    return
                method, path, body = tasks.pop(0)
            status, _ = call(method, path, body)
            with lock:
                results.append(status)

    threads = [threading.Thread(target=worker) for _ in range(8)] + [threading.Thread(target=list_users, args=(3,))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps({"client": "naive.py", "done": sum(1 for s in results if s), "gave_up": sum(1 for s in results if s is None), "listing": LISTING}))


main()
