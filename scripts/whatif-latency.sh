#!/usr/bin/env bash
# What-if latency on workload W1 (XGBoost, 500 trees of depth 6, 50 features, 10,000 rows):
# a W1 job through `shaplab serve` (release build, private Redis), then N what-if requests on
# random rows, each editing 1–3 features. Prints the server's own times (Server-Timing:
# `prepare` on the first request, `explain` on each) and the client's round trip, p50/p95/max.
#   scripts/whatif-latency.sh [N]     (default 200 requests)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200}
DIR=${BENCH_DIR:-target/bench}
PY=${BENCH_PYTHON:-.venv/bin/python}
if ! "$PY" -c "import xgboost, lightgbm, sklearn, pandas" 2>/dev/null; then
    python3 -m venv .venv
    .venv/bin/pip install -q xgboost lightgbm scikit-learn pandas numpy
    PY=.venv/bin/python
fi
mkdir -p "$DIR"
"$PY" scripts/bench_w1.py gen "$DIR"
cargo build -q -p server --release
BIN=$(pwd)/target/release/shaplab
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
WORK=$(mktemp -d)
# exec: $! is then the server itself, so the trap stops it (and it stops its private Redis).
(cd "$WORK" && exec env -u REDIS_URL PORT=$PORT "$BIN" serve --workers 2 > "$WORK/server.log" 2>&1) &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
python3 - "$PORT" "$DIR/w1.json" "$DIR/x.csv" "$N" <<'PY'
import json, random, re, sys, time, urllib.request, uuid
port, model, data, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
base = f"http://127.0.0.1:{port}"

def call(path, body=None, headers=None):
    req = urllib.request.Request(base + path, data=body, method="POST" if body else "GET",
                                 headers=headers or {"content-type": "application/json"})
    r = urllib.request.urlopen(req)
    return json.load(r), r.headers.get("server-timing", "")

def upload(kind, path):
    boundary = uuid.uuid4().hex
    payload = open(path, "rb").read()
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\n{kind}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{path.split('/')[-1]}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + payload + f"\r\n--{boundary}--\r\n".encode()
    return call("/api/uploads", body, {"content-type": f"multipart/form-data; boundary={boundary}"})[0]["id"]

m, d = upload("model", model), upload("data", data)
job, _ = call("/api/jobs", json.dumps({"model": m, "data": d}).encode())
while job["state"] not in ("succeeded", "failed", "cancelled"):
    time.sleep(0.2)
    job, _ = call(f"/api/jobs/{job['id']}")
assert job["state"] == "succeeded", job
rows = job["progress"]["rows_total"]
names = [f["name"] for f in call(f"/api/jobs/{job['id']}/rows/0")[0]["features"]]
rng = random.Random(7)
explain, trip, prepare = [], [], None
for i in range(n):
    values = {f: rng.uniform(-2, 2) for f in rng.sample(names, rng.randint(1, 3))}
    body = json.dumps({"row": rng.randrange(rows), "values": values}).encode()
    t = time.perf_counter()
    _, timing = call(f"/api/jobs/{job['id']}/whatif", body)
    trip.append((time.perf_counter() - t) * 1e3)
    parts = dict(re.findall(r"(\w+);dur=([\d.]+)", timing))
    if i == 0:
        prepare = float(parts["prepare"])
        trip.pop()  # the first request also prepared the job's inputs
    else:
        explain.append(float(parts["explain"]))

def q(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]
print(f"what-if on W1 (500 trees, depth 6, 50 features, {rows} rows), {n} requests:")
print(f"  first request prepared the job's inputs in {prepare:.0f} ms")
print(f"  server explain time  p50 {q(explain, .5):6.2f} ms  p95 {q(explain, .95):6.2f} ms  max {max(explain):6.2f} ms")
print(f"  client round trip    p50 {q(trip, .5):6.2f} ms  p95 {q(trip, .95):6.2f} ms  max {max(trip):6.2f} ms")
PY
