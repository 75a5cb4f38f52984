#!/usr/bin/env bash
# Cohort latency on 1,000,000 rows: the diabetes regression fixture (XGBoost, 20 trees of
# depth 3, 10 features) with its 442 rows repeated to ROWS rows, through `shaplab serve`
# (release build, private Redis, 2 workers). Once the job has succeeded, times (uncached,
# then cached) a cohort summary on a feature value, one on prediction and SHAP ranges, a
# ranking within a cohort, and a two-cohort comparison with bootstrap intervals.
#   scripts/cohort-latency.sh [ROWS]     (default 1,000,000)
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-1000000}
DIR=${BENCH_DIR:-target/bench}
mkdir -p "$DIR"
cargo build -q -p server --release
BIN=$(pwd)/target/release/shaplab
DATA="$DIR/diabetes-$ROWS.csv"
[ -f "$DATA" ] || python3 - fixtures/xgb_reg_d3/data.csv "$DATA" "$ROWS" <<'PY'
import sys
src, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
lines = open(src).read().splitlines()
with open(out, "w") as f:
    f.write(lines[0] + "\n")
    for i in range(n):
        f.write(lines[1 + i % (len(lines) - 1)] + "\n")
PY
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
WORK=$(mktemp -d)
# exec: $! is then the server itself, so the trap stops it (and it stops its private Redis).
(cd "$WORK" && exec env -u REDIS_URL PORT=$PORT MAX_UPLOAD_BYTES=1073741824 "$BIN" serve --workers 2 > "$WORK/server.log" 2>&1) &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
python3 - "$PORT" fixtures/xgb_reg_d3/model.json "$DATA" <<'PY'
import json, sys, time, urllib.parse, urllib.request, uuid
port, model, data = sys.argv[1:]
base = f"http://127.0.0.1:{port}"

def call(path, body=None, headers=None):
    req = urllib.request.Request(base + path, data=body, method="POST" if body else "GET",
                                 headers=headers or {"content-type": "application/json"})
    return json.load(urllib.request.urlopen(req, timeout=600))

def upload(kind, path):
    boundary = uuid.uuid4().hex
    payload = open(path, "rb").read()
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\n{kind}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{path.split('/')[-1]}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + payload + f"\r\n--{boundary}--\r\n".encode()
    return call("/api/uploads", body, {"content-type": f"multipart/form-data; boundary={boundary}"})["id"]

t = time.time()
job = call("/api/jobs", json.dumps({"model": upload("model", model), "data": upload("data", data)}).encode())
while job["state"] not in ("succeeded", "failed", "cancelled"):
    time.sleep(0.5)
    job = call(f"/api/jobs/{job['id']}")
assert job["state"] == "succeeded", job
rows = job["progress"]["rows_total"]
print(f"cohorts on {rows:,} rows (job of {job['progress']['chunks_total']} chunks done in {time.time() - t:.1f} s)")
q = urllib.parse.quote
cases = [
    ("summary, cohort on a feature value", f"/summary?cohort={q('age>=0.02')}"),
    ("summary, prediction and SHAP ranges", f"/summary?cohort={q('prediction>150; shap(bmi)>0')}"),
    ("ranking within a cohort", f"/ranked?limit=20&cohort={q('age>=0.02')}"),
    ("two cohorts with intervals", f"/cohorts?a={q('sex>0')}&b={q('sex<0')}"),
]
for name, path in cases:
    times = []
    for _ in range(2):
        t = time.perf_counter()
        answer = call(f"/api/jobs/{job['id']}{path}")
        times.append(time.perf_counter() - t)
    rows_in = (answer.get("cohort") or {}).get("rows") or answer.get("a", {}).get("rows") or len(answer.get("rows", []))
    print(f"  {name:38s} first {times[0]:6.2f} s   again {times[1]:6.2f} s   ({rows_in:,} rows in the cohort/answer)")
PY
