#!/usr/bin/env bash
# Runs each libFuzzer target (fuzz/fuzz_targets/*.rs) for SECONDS (default 60) with cargo-fuzz on
# the nightly toolchain, and prints libFuzzer's last status line (execs, coverage) per target.
#
#   scripts/fuzz.sh 600        # ten minutes each
#
# New inputs go to target/fuzz-corpus/<target> (seeded from fuzz/corpus/<target>, which is
# committed); a crash stops the run and is saved under fuzz/artifacts/<target>/: fix it, then
# copy the input into fuzz/regressions/<target>/ so tests/fuzz_replay.rs keeps it fixed.
# `make test` runs this for 10 s a target when a nightly toolchain is present (fuzz-smoke).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "fuzz: skipped, no nightly toolchain (rustup toolchain install nightly)" >&2
  exit 0
fi
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
for target in model table upload api; do
  mkdir -p "target/fuzz-corpus/$target"
  log="target/fuzz-$target.log"
  echo "fuzz: $target for ${secs}s (log: $log)" >&2
  if ! cargo +nightly fuzz run "$target" "target/fuzz-corpus/$target" "fuzz/corpus/$target" -- \
      -max_total_time="$secs" -rss_limit_mb=4096 -max_len=131072 -timeout=20 >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "fuzz: $target FAILED (input saved under fuzz/artifacts/$target/)" >&2
    exit 1
  fi
  grep -E "^#[0-9]+\s+DONE|Done [0-9]+ runs" "$log" | tail -n 2
done
