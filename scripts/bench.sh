#!/usr/bin/env bash
# `make bench`: workload W1 (XGBoost, 500 trees, depth 6, 50 features, 10,000 rows) and LW
# (LightGBM, 500 trees, 63 leaves) — shaplab, the `treeshap` crate's linear backend, and the
# libraries' own pred_contribs, at 1 and 2 threads, in one run. Prints rows/s and ratios.
# Then the format workloads (scripts/bench_formats.py, benches/formats.rs): CW (XGBoost with
# categorical partition splits), CL (LightGBM categorical) and RF (scikit-learn random forest
# from skops, against shap's TreeExplainer), in a second table.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${BENCH_DIR:-target/bench}
PY=${BENCH_PYTHON:-.venv/bin/python}
if ! "$PY" -c "import xgboost, lightgbm, sklearn, pandas, skops, shap" 2>/dev/null; then
    echo "setting up .venv with xgboost, lightgbm, scikit-learn, pandas, skops, shap (PyPI)…"
    python3 -m venv .venv
    .venv/bin/pip install -q xgboost lightgbm scikit-learn pandas numpy shap skops
    PY=.venv/bin/python
fi
mkdir -p "$DIR"
"$PY" scripts/bench_w1.py gen "$DIR"
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/engine} cargo bench -q -p shaplab --bench w1 -- "$DIR"
"$PY" scripts/bench_w1.py peers "$DIR"
"$PY" scripts/bench_w1.py report "$DIR"
"$PY" scripts/bench_formats.py gen "$DIR"
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/engine} cargo bench -q -p shaplab --bench formats -- "$DIR"
"$PY" scripts/bench_formats.py peers "$DIR"
"$PY" scripts/bench_formats.py report "$DIR"
