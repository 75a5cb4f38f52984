#!/usr/bin/env bash
# Measures the job page on a large job (default 1,000,000 rows of the diabetes fixture, 10
# features): summary size, bytes the page downloads, and how fast the plots appear.
# Starts its own private Redis and server on a free port; stops them when done.
#   scripts/ui-scale.sh [ROWS]        (needs `make site` and target/release/shaplab or debug)
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-1000000}
BIN=${SHAPLAB_BIN:-target/release/shaplab}
[ -x "$BIN" ] || BIN=target/debug/shaplab
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
WORK=$(mktemp -d)
SITE=$(pwd)/target/site
# exec: $! is then the server itself, so the trap stops it (and it stops its private Redis).
(cd "$WORK" && exec env -u REDIS_URL LEPTOS_SITE_ROOT="$SITE" PORT=$PORT "$OLDPWD/$BIN" serve > "$WORK/server.log" 2>&1) &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
cd end2end && BASE="http://127.0.0.1:$PORT" ROWS=$ROWS node perf/large_job.mjs
