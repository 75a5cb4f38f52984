#!/usr/bin/env bash
# Chaos soak on loopback: redis-server (AOF, appendfsync always), `shaplab serve --workers 0`
# and 3 `shaplab worker` processes behind fault-injecting proxies; hundreds of small jobs while
# seeded faults (worker/Redis kill -9 + restart, SIGSTOP/SIGCONT, blackholed connections) hit
# them; then every job must succeed with the values of `shaplab explain`. Prints the seed and a
# table (lost jobs, duplicates, recovery per fault kind); exits 1 on a lost job or a wrong value.
# Bounded (M minutes of faults + at most 3 min of drain), loopback only, cleans up after itself.
#   scripts/soak.sh [--minutes M] [--seed S] [--rate JOBS_PER_S] [--keep-logs DIR]
# Runs $SHAPLAB_BIN, else target/debug/shaplab (`cargo build -p server`); see scripts/soak.py.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${SHAPLAB_BIN:-target/debug/shaplab}
if [[ ! -x $BIN ]]; then
    echo "soak: no executable $BIN: run \`cargo build -p server\` or set SHAPLAB_BIN" >&2
    exit 2
fi
for tool in redis-server redis-cli python3; do
    command -v "$tool" >/dev/null || { echo "soak: $tool is not installed" >&2; exit 2; }
done
exec python3 scripts/soak.py --bin "$BIN" "$@"
