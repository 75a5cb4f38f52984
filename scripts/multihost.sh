#!/usr/bin/env bash
# Several machines, for real: the deployment of docs/operations.md ("Several machines") on
# separate network stacks, each a network namespace this script makes, joined by a bridge in
# a "switch" namespace (the root namespace's networking is not touched):
#   redis  redis-server (AOF on)            s3   moto's S3 server (PyPI moto[server], .venv)
#   web    shaplab serve --workers 0        w1, w2  shaplab worker (one worker each)
#   lab    the client: uploads, submits, downloads, kills w1, compares with the CLI
# Jobs are spread over w1 and w2 in small chunks; mid-job the w1 "host" dies (kill -9 of every
# process in its namespace, its cable pulled). Passes when every job succeeds anyway, each SHAP
# CSV download equals `shaplab explain` (the CLI, no Redis) on the same inputs, and the uploads
# and chunk results are objects in the S3 bucket (so BLOB_STORE_URL=s3:// is exercised, not
# only compiled). Prints a report; exits non-zero on failure; bounded (< 3 min), stops by itself.
#
# Needs root (namespaces, veth, bridge), iproute2, redis-server and .venv with moto[server]
# (scripts/install.sh); prints "SKIPPED: ..." and exits 0 without root or `ip netns`.
#   scripts/multihost.sh                 (SHAPLAB_BIN=... to test another build)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN=$(realpath "${SHAPLAB_BIN:-target/debug/shaplab}" 2>/dev/null || echo "${SHAPLAB_BIN:-target/debug/shaplab}")

skip() { echo "SKIPPED: $*"; exit 0; }
die() { echo "multihost: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || skip "network namespaces need root (run as root for the multi-host test)"
command -v ip >/dev/null && ip netns list >/dev/null 2>&1 || skip "ip netns is unavailable (install iproute2)"
# A container without CAP_SYS_ADMIN lists namespaces but cannot make one.
probe=mhprobe$$
ip netns add "$probe" 2>/dev/null || skip "cannot create a network namespace here (no CAP_SYS_ADMIN?)"
ip netns del "$probe"
[ -x "$BIN" ] || die "no shaplab binary at $BIN (cargo build -p server, or set SHAPLAB_BIN)"
command -v redis-server >/dev/null || die "redis-server is missing (scripts/install.sh)"
[ -x .venv/bin/moto_server ] || die "no .venv/bin/moto_server (scripts/install.sh installs moto[server])"

RUN=mh$$                 # unique per run: several runs (or a stale one) never collide
SWITCH=$RUN-sw
NET=10.231.0             # private: it exists only inside this run's namespaces
declare -A IP=([redis]=$NET.11 [s3]=$NET.12 [web]=$NET.13 [w1]=$NET.21 [w2]=$NET.22 [lab]=$NET.30)
HOSTS=(redis s3 web w1 w2 lab)
WORK=$(mktemp -d /tmp/multihost.XXXXXX)
BUCKET=shaplab-multihost
S3_URL=http://${IP[s3]}:9000
WEB_URL=http://${IP[web]}:3000
REDIS_URL=redis://${IP[redis]}:6379/0

# Everything this run started lives in its namespaces: killing each namespace's processes by
# pid and deleting the namespaces (which takes their veths and the bridge along) leaves nothing.
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ "$rc" -ne 0 ] && [ -d "$WORK/logs" ]; then
    for log in "$WORK"/logs/*.log; do
      echo "--- last lines of $(basename "$log")" >&2
      tail -n 15 "$log" | sed 's/\x1b\[[0-9;]*m//g' >&2
    done
  fi
  for h in "${HOSTS[@]}"; do
    local ns=$RUN-$h
    [ -e "/run/netns/$ns" ] || continue
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
  done
  for h in "${HOSTS[@]}"; do ip netns del "$RUN-$h" 2>/dev/null || true; done
  ip netns del "$SWITCH" 2>/dev/null || true
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- the network: one bridge in the switch namespace, one veth "cable" per host ---------------
ip netns add "$SWITCH"
ip -n "$SWITCH" link set lo up
ip -n "$SWITCH" link add br0 type bridge
ip -n "$SWITCH" link set br0 up
for h in "${HOSTS[@]}"; do
  ns=$RUN-$h
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  # Made inside the switch, with the far end moved straight into the host: no veth ever
  # appears in the root namespace.
  ip -n "$SWITCH" link add "p-$h" type veth peer name eth0 netns "$ns"
  ip -n "$SWITCH" link set "p-$h" master br0 up
  ip -n "$ns" addr add "${IP[$h]}/24" dev eth0
  ip -n "$ns" link set eth0 up
done

mkdir -p "$WORK/logs" "$WORK/redis" "$WORK/web" "$WORK/w1" "$WORK/w2" "$WORK/lab"
# Runs "$@" on host $1 in the background, output to logs/$2.log.
start() {
  local host=$1 name=$2; shift 2
  ip netns exec "$RUN-$host" "$@" >"$WORK/logs/$name.log" 2>&1 &
  disown  # cleanup ends it by namespace; no "Killed" notices from the shell
}
# Waits (bounded) until host:port accepts a TCP connection, as seen from the lab host.
wait_port() {
  local addr=$1 port=$2 what=$3
  for _ in $(seq 150); do
    ip netns exec "$RUN-lab" bash -c "exec 3<>/dev/tcp/$addr/$port" 2>/dev/null && return 0
    sleep 0.1
  done
  die "$what did not listen on $addr:$port within 15 s"
}
# The environment of every shaplab process, and nothing else: a stray AWS_PROFILE or
# AWS_SESSION_TOKEN from the caller would reach object_store (blobs.rs passes every AWS_*).
# AWS_ENDPOINT + AWS_ALLOW_HTTP point object_store at the plain-HTTP S3 host (path-style
# requests are its default); moto accepts any credentials, but they must be present or
# object_store asks the instance metadata service for some. object_store ignores AWS_* names
# it does not know (a misspelt AWS_ENDPOINT means real AWS), hence the bucket check after.
SHAPLAB_ENV=(
  env -i PATH="$PATH" HOME="$WORK" NO_COLOR=1
  REDIS_URL="$REDIS_URL"
  BLOB_STORE_URL="s3://$BUCKET"
  AWS_ENDPOINT="$S3_URL" AWS_ALLOW_HTTP=true AWS_REGION=us-east-1
  AWS_ACCESS_KEY_ID=multihost AWS_SECRET_ACCESS_KEY=multihost-secret
  # Small chunks: each job has dozens, so both hosts take part and w1 dies holding one.
  CHUNK_ROWS=1000
  # "claimed" lines (debug) show which host ran which chunk.
  SHAPLAB_LOG=info,server::queue::worker=debug
)

# --- the hosts ------------------------------------------------------------------------------
start redis redis redis-server --bind "${IP[redis]}" --port 6379 --protected-mode no \
  --dir "$WORK/redis" --appendonly yes --save '' --maxmemory-policy noeviction
# moto runs with AWS's own limits (5-MiB minimum multipart part, ...): a clean environment,
# so an S3_UPLOAD_PART_MIN_SIZE from the caller cannot relax them.
start s3 s3 env -i PATH="$PATH" HOME="$WORK" "$ROOT/.venv/bin/moto_server" -H "${IP[s3]}" -p 9000
wait_port "${IP[redis]}" 6379 redis-server
wait_port "${IP[s3]}" 9000 "moto_server"
ip netns exec "$RUN-lab" "$ROOT/.venv/bin/python" scripts/multihost.py bucket "$S3_URL" "$BUCKET"

# Non-loopback serve requires sign-in: a user and an API key for the lab's requests.
echo "multihost password $RANDOM$RANDOM" | ip netns exec "$RUN-web" "${SHAPLAB_ENV[@]}" \
  SHAPLAB_AUTH=users "$BIN" user add lab --admin --data-dir "$WORK/web" \
  >>"$WORK/logs/accounts.log" 2>&1
KEY=$(ip netns exec "$RUN-web" "${SHAPLAB_ENV[@]}" SHAPLAB_AUTH=users "$BIN" key create \
  --user lab --label multihost --data-dir "$WORK/web" 2>>"$WORK/logs/accounts.log" \
  | grep -o 'shk_[A-Za-z0-9_-]*' | head -n1 || true)
[ -n "$KEY" ] || die "shaplab key create printed no key"

start web web "${SHAPLAB_ENV[@]}" SHAPLAB_AUTH=users SHAPLAB_HOST="${IP[web]}" PORT=3000 \
  SHAPLAB_DATA_DIR="$WORK/web" LEPTOS_SITE_ROOT="$WORK/web/site" "$BIN" serve --workers 0
for w in w1 w2; do
  start "$w" "$w" "${SHAPLAB_ENV[@]}" SHAPLAB_WORKERS=1 SHAPLAB_DATA_DIR="$WORK/$w" "$BIN" worker
done
wait_port "${IP[web]}" 3000 "shaplab serve"

echo "hosts (namespaces $RUN-*, bridge br0 in $SWITCH, subnet $NET.0/24):"
printf '  %-6s %-12s %s\n' \
  redis "${IP[redis]}" "redis-server :6379 (appendonly yes)" \
  s3 "${IP[s3]}" "moto_server :9000, bucket $BUCKET" \
  web "${IP[web]}" "shaplab serve --workers 0 :3000 (SHAPLAB_AUTH=users)" \
  w1 "${IP[w1]}" "shaplab worker (1 worker)" \
  w2 "${IP[w2]}" "shaplab worker (1 worker)" \
  lab "${IP[lab]}" "client: uploads, submits, kills w1, compares with shaplab explain"

# The client drives the rest; `timeout` keeps the whole run bounded whatever happens. It runs
# in the background because bash defers a trap until a foreground command ends, while `wait`
# returns at once on INT/TERM (the client is in the lab namespace, so cleanup ends it too).
timeout 120 ip netns exec "$RUN-lab" "$ROOT/.venv/bin/python" scripts/multihost.py run \
  --base "$WEB_URL" --key "$KEY" --s3 "$S3_URL" --bucket "$BUCKET" --bin "$BIN" \
  --work "$WORK" --fixtures "$ROOT/fixtures" \
  --kill-ns "$RUN-w1" --switch "$SWITCH" --kill-link p-w1 &
wait $! || {
  rc=$?
  [ "$rc" -ne 124 ] || echo "multihost: FAIL: the client did not finish within 120 s" >&2
  exit "$rc"
}
