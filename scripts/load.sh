#!/usr/bin/env bash
# Load test on loopback: `shaplab serve` (release build, private Redis, 2 workers) under N
# browsers following a job and N/8 analysts uploading and submitting, for SECONDS per round at
# each concurrency; prints p50/p99 and error rates per endpoint and where p99 doubles.
# Bounded (rounds × SECONDS), loopback only, stops by itself.
#   scripts/load.sh [SECONDS] [CONCURRENCY,...]     (default 10 s; 1,2,4,8,16,32)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_ROUND=${1:-10}
LEVELS=${2:-1,2,4,8,16,32}
cargo build -q -p server --release
BIN=$(pwd)/target/release/shaplab
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
WORK=$(mktemp -d)
# No rate limit here: the test is the server's capacity, not the limiter.
(cd "$WORK" && exec env -u REDIS_URL PORT=$PORT SHAPLAB_RATE_LIMIT=0 "$BIN" serve --workers 2 \
    > "$WORK/server.log" 2>&1) &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
python3 scripts/load.py "http://127.0.0.1:$PORT" fixtures/lgb_reg_d3/model.txt \
    fixtures/lgb_reg_d3/data.csv "$SECONDS_PER_ROUND" "$LEVELS"
