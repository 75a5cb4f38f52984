#!/usr/bin/env bash
# The engine now against the engine at an earlier commit, on this machine, the same models and
# rows — "N× faster than before" measured rather than remembered across machines.
#
#   scripts/bench-baseline.sh [REV] [ROUNDS]   REV defaults to f9daf82, the engine when issue 14
#                                              (the engine at the hardware's limit) was filed;
#                                              ROUNDS to 3
#   ONLY=REGEX scripts/bench-baseline.sh …      only the workloads whose name matches (grep -E),
#                                              e.g. ONLY=path
#
# Needs the inputs `make bench` generates (target/bench). Both engines run through
# examples/profile_engine.rs (today's copy, laid over REV in a git worktree at
# target/baseline-src; the public API it calls is unchanged since f9daf82), alternately, run
# by run, for ROUNDS rounds; each keeps its best. A shared machine's speed wanders by tens of
# percent over minutes: alternating runs see the same machine, two whole benches in a row do
# not. Peers (xgboost, LightGBM, shap): `make bench`.
set -euo pipefail
cd "$(dirname "$0")/.."
REV=${1:-f9daf82}
ROUNDS=${2:-3}
DIR=${BENCH_DIR:-target/bench}
for f in w1.json lgb.txt x.csv cw.json cl.txt rf.skops xc.csv xr.csv; do
    [ -e "$DIR/$f" ] || { echo "missing $DIR/$f: run make bench first" >&2; exit 1; }
done
SRC=target/baseline-src
if [ ! -e "$SRC/.git" ] || [ "$(git -C "$SRC" rev-parse HEAD)" != "$(git rev-parse "$REV^{commit}")" ]; then
    git worktree remove --force "$SRC" 2>/dev/null || rm -rf "$SRC"
    git worktree prune
    git worktree add --detach "$SRC" "$REV" >/dev/null
fi
git -C "$SRC" checkout -q -- examples
cp examples/profile_engine.rs "$SRC/examples/"
echo "building $REV and the working tree (release)…"
(cd "$SRC" && CARGO_TARGET_DIR="$OLDPWD/target/baseline" cargo build -q --release -p shaplab --example profile_engine)
CARGO_TARGET_DIR=target/engine cargo build -q --release -p shaplab --example profile_engine
BEFORE=target/baseline/release/examples/profile_engine
NOW=target/engine/release/examples/profile_engine
# name | mode | model | rows file | rows | threads
WORKLOADS="W1-path-1t path w1.json x.csv 10000 1
W1-path-2t path w1.json x.csv 10000 2
LW-path-1t path lgb.txt x.csv 5000 1
LW-path-2t path lgb.txt x.csv 5000 2
CW-path-1t path cw.json xc.csv 5000 1
CL-path-1t path cl.txt xc.csv 5000 1
RF-path-1t path rf.skops xr.csv 2000 1
W1-interactions-1t interactions w1.json x.csv 300 1
W1-interventional-1t interventional w1.json x.csv 500 1"
WORKLOADS=$(grep -E "^[^ ]*(${ONLY:-.})" <<< "$WORKLOADS")
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
for round in $(seq "$ROUNDS"); do
    echo "round $round of $ROUNDS"
    while read -r name mode model rows n threads; do
        for which in before now; do
            bin=$BEFORE; [ "$which" = now ] && bin=$NOW
            rate=$("$bin" "$mode" "$DIR/$model" "$DIR/$rows" "$n" "$threads" | sed -n 's/.* \([0-9]*\) rows\/s.*/\1/p')
            echo "$name $which $rate" >> "$OUT"
        done
    done <<< "$WORKLOADS"
done
python3 - "$REV" "$OUT" <<'PY'
import sys
best = {}
for line in open(sys.argv[2]):
    name, which, rate = line.split()
    best[(name, which)] = max(best.get((name, which), 0), float(rate))
print(f"\nbest of the rounds, rows/s  {sys.argv[1]:>10}  {'now':>10}   now/before")
for name in dict.fromkeys(n for n, _ in best):
    b, n = best[(name, "before")], best[(name, "now")]
    print(f"{name:<26} {b:>10.0f}  {n:>10.0f}   {n / b:>8.2f}x")
PY
