#!/usr/bin/env bash
# Overhead of the queue path on workload W1 (XGBoost, 500 trees of depth 6, 50 features):
# the wall time of a job (upload → submit → all chunks done, 2 embedded workers, private
# Redis) divided by `shaplab explain` on the same inputs, same release binary, same run.
#   scripts/queue-overhead.sh [ROWS]     (default 100,000 rows: W1's rows repeated)
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-100000}
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
DATA="$DIR/w1-$ROWS.csv"
[ -f "$DATA" ] || python3 - "$DIR/x.csv" "$DATA" "$ROWS" <<'PY'
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
(cd "$WORK" && exec env -u REDIS_URL PORT=$PORT "$BIN" serve --workers 2 > "$WORK/server.log" 2>&1) &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
python3 - "$PORT" "$DIR/w1.json" "$DATA" "$BIN" "$WORK" <<'PY'
import json, subprocess, sys, time, urllib.request, uuid
port, model, data, binary, work = sys.argv[1:]
base = f"http://127.0.0.1:{port}"

def upload(kind, path):
    boundary = uuid.uuid4().hex
    with open(path, "rb") as f:
        payload = f.read()
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\n{kind}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{path.split('/')[-1]}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + payload + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(f"{base}/api/uploads", data=body, method="POST",
                                 headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    return json.load(urllib.request.urlopen(req))["id"]

t0 = time.time()
m, d = upload("model", model), upload("data", data)
t_up = time.time() - t0
req = urllib.request.Request(f"{base}/api/jobs", data=json.dumps({"model": m, "data": d}).encode(),
                             method="POST", headers={"content-type": "application/json"})
job = json.load(urllib.request.urlopen(req))
t1 = time.time()
while job["state"] not in ("succeeded", "failed", "cancelled"):
    time.sleep(0.05)
    job = json.load(urllib.request.urlopen(f"{base}/api/jobs/{job['id']}"))
t_job = time.time() - t1
t2 = time.time()
urllib.request.urlopen(f"{base}/api/jobs/{job['id']}/shap.csv").read()
t_dl = time.time() - t2
t3 = time.time()
subprocess.run([binary, "explain", "--model", model, "--data", data, "--out", f"{work}/cli.csv"],
               check=True, capture_output=True)
t_cli = time.time() - t3
rows = job["progress"]["rows_total"]
print(f"W1, {rows} rows, {job['progress']['chunks_total']} chunks, 2 workers, release build")
print(f"upload {t_up:.2f} s · job {t_job:.2f} s (state {job['state']}) · download {t_dl:.2f} s · shaplab explain {t_cli:.2f} s")
print(f"overhead: job / explain = {t_job / t_cli:.3f}×; job + download / explain = {(t_job + t_dl) / t_cli:.3f}×")
PY
