#!/usr/bin/env bash
# The engine now against the engine at an earlier commit, on this machine, the same models and
# rows, in one run — "N× faster than before" measured rather than remembered across machines.
#
#   scripts/bench-baseline.sh [REV]     REV defaults to f9daf82, the engine when issue 14 (the
#                                       engine at the hardware's limit) was filed
#
# Needs the inputs `make bench` generates (target/bench). REV's benches build in a git worktree
# (target/baseline-src, target dir target/baseline); each Rust bench (w1, formats) runs for
# REV and then for the working tree, into separate directories, and a table of rows/s and
# ratios follows. The library peers are not re-run: `make bench` compares against them.
set -euo pipefail
cd "$(dirname "$0")/.."
REV=${1:-f9daf82}
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
# The same harness for both (best of 3 everywhere): today's benches over REV's engine; the
# public API they call has not changed since f9daf82.
git -C "$SRC" checkout -q -- benches
cp benches/w1.rs benches/formats.rs "$SRC/benches/"
run() { # run NAME SRCDIR TARGETDIR
    local out="target/bench-$1"
    mkdir -p "$out"
    for f in w1.json lgb.txt x.csv cw.json cl.txt rf.skops xc.csv xr.csv; do
        ln -sf "$(realpath "$DIR/$f")" "$out/$f"
    done
    for b in w1 formats; do
        (cd "$2" && CARGO_TARGET_DIR="$3" cargo bench -q -p shaplab --bench "$b" -- "$(realpath "$OLDPWD/$out")")
    done
}
echo "== $REV"
run baseline "$SRC" "$(pwd)/target/baseline"
echo "== working tree"
run now . "$(pwd)/target/engine"
python3 - "$REV" <<'PY'
import json, sys
def load(name):
    out = {}
    for f in ("rust.json", "rust_formats.json"):
        try:
            with open(f"target/bench-{name}/{f}") as fh:
                out.update(json.load(fh))
        except FileNotFoundError:
            pass
    return out
base, now = load("baseline"), load("now")
print(f"\nworkload (rows/s)          {sys.argv[1]:>10}  {'now':>10}   now/before")
for key in sorted(now):
    if "shaplab" in key or "interactions" in key or "interventional" in key:
        if key in base and isinstance(now[key], dict):
            b, n = base[key]["rows_per_s"], now[key]["rows_per_s"]
            print(f"{key:<26} {b:>10.1f}  {n:>10.1f}   {n / b:>8.2f}x")
PY
