#!/usr/bin/env bash
# Measures GET /api/health latency with Redis up, then with Redis down (killed), against a
# real redis-server and the built shaplab binary. Loopback only; stops everything it started.
#   usage: scripts/health-latency.sh [path/to/shaplab] [requests per phase]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/release/shaplab}
N=${2:-20}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
RPORT=$(free_port); PORT=$(free_port)
redis-server --bind 127.0.0.1 --port "$RPORT" --save "" --appendonly no >/dev/null & RPID=$!
cleanup() { kill "$SPID" "$RPID" 2>/dev/null || true; }
trap cleanup EXIT
sleep 0.5
REDIS_URL=redis://127.0.0.1:$RPORT REDIS_TIMEOUT=${REDIS_TIMEOUT:-5} SHAPLAB_LOG=warn "$BIN" serve --port "$PORT" & SPID=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done

phase() {
  local label=$1
  for _ in $(seq "$N"); do curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$PORT/api/health"; done |
    sort -n | awk -v label="$label" '{ t[NR] = $1 * 1000 } END {
      printf "%-12s n=%d  p50=%.2f ms  p90=%.2f ms  max=%.2f ms\n", label, NR, t[int(NR*0.5+0.5)], t[int(NR*0.9+0.5)], t[NR] }'
}
phase "redis up"
kill -9 "$RPID"; wait "$RPID" 2>/dev/null || true
phase "redis down"
curl -s "http://127.0.0.1:$PORT/api/health"; echo
