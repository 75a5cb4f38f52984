"""Load on one `shaplab serve` over loopback: N "browsers" each follow a finished job as the
page does (job status, summary, health) while M "analysts" upload a model and a table and
submit a job, in rounds of rising concurrency. Prints, per round and endpoint, the request
count, p50 / p99 latency and the error rate, then the concurrency at which each endpoint's p99
first reaches twice its value at the lowest concurrency.

Bounded: every round lasts SECONDS; the number of rounds is fixed; loopback only.
Run through scripts/load.sh, which starts the server (release build, private Redis).

    python3 scripts/load.py BASE_URL MODEL DATA [SECONDS] [CONCURRENCY,...]
"""

import json
import statistics
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict

from upload_form import multipart


def request(base, path, body=None, headers=None, method=None):
    req = urllib.request.Request(base + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:
        return 0, b""


def upload(base, kind, name, content):
    body, headers = multipart(kind, name, content)
    status, answer = request(base, "/api/uploads", body, headers)
    return status, (json.loads(answer)["id"] if status == 201 else None)


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.samples = defaultdict(list)  # endpoint -> [(seconds, ok)]

    def timed(self, endpoint, call):
        start = time.perf_counter()
        status, body = call()
        elapsed = time.perf_counter() - start
        with self.lock:
            self.samples[endpoint].append((elapsed, 200 <= status < 300))
        return status, body


def browser(base, job, rec, stop):
    while not stop.is_set():
        rec.timed("GET /api/jobs/{id}", lambda: request(base, f"/api/jobs/{job}"))
        rec.timed("GET /api/jobs/{id}/summary",
                  lambda: request(base, f"/api/jobs/{job}/summary", headers={"Accept-Encoding": "gzip"}))
        rec.timed("GET /api/health", lambda: request(base, "/api/health"))


def analyst(base, model, data, rec, stop):
    while not stop.is_set():
        status, model_id = rec.timed("POST /api/uploads (model)",
                                     lambda: upload(base, "model", "model.json", model))
        status, data_id = rec.timed("POST /api/uploads (data)",
                                    lambda: upload(base, "data", "data.csv", data))
        if model_id and data_id:
            body = json.dumps({"model": model_id, "data": data_id}).encode()
            rec.timed("POST /api/jobs", lambda: request(
                base, "/api/jobs", body, {"Content-Type": "application/json"}))
        time.sleep(0.5)  # an analyst reads the page before the next submit


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main():
    base, model_path, data_path = sys.argv[1], sys.argv[2], sys.argv[3]
    seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 10
    levels = [int(c) for c in (sys.argv[5] if len(sys.argv) > 5 else "1,2,4,8,16,32").split(",")]
    model, data = open(model_path, "rb").read(), open(data_path, "rb").read()

    # One finished job for the browsers to follow.
    _, model_id = upload(base, "model", "model.json", model)
    _, data_id = upload(base, "data", "data.csv", data)
    _, answer = request(base, "/api/jobs", json.dumps({"model": model_id, "data": data_id}).encode(),
                        {"Content-Type": "application/json"})
    job = json.loads(answer)["id"]
    while json.loads(request(base, f"/api/jobs/{job}")[1])["state"] not in ("succeeded", "failed"):
        time.sleep(0.2)

    p99_at = defaultdict(dict)
    print(f"{'browsers':>8} {'analysts':>8}  {'endpoint':<30} {'requests':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for n in levels:
        analysts = max(1, n // 8)
        rec, stop = Recorder(), threading.Event()
        threads = [threading.Thread(target=browser, args=(base, job, rec, stop)) for _ in range(n)]
        threads += [threading.Thread(target=analyst, args=(base, model, data, rec, stop))
                    for _ in range(analysts)]
        for t in threads:
            t.start()
        time.sleep(seconds)
        stop.set()
        for t in threads:
            t.join()
        for endpoint in sorted(rec.samples):
            samples = rec.samples[endpoint]
            times = [s * 1000 for s, _ in samples]
            errors = sum(1 for _, ok in samples if not ok) / len(samples)
            p50, p99 = statistics.median(times), percentile(times, 0.99)
            p99_at[endpoint][n] = p99
            print(f"{n:>8} {analysts:>8}  {endpoint:<30} {len(samples):>8} {p50:>8.1f} {p99:>8.1f} {errors:>6.1%}")
    print()
    for endpoint, by_level in sorted(p99_at.items()):
        first = by_level[levels[0]]
        doubled = next((n for n in levels if by_level.get(n, 0) >= 2 * first), None)
        where = f"{doubled} browsers" if doubled else f"not within {levels[-1]} browsers"
        print(f"p99 of {endpoint} doubles (from {first:.1f} ms) at: {where}")


if __name__ == "__main__":
    main()
