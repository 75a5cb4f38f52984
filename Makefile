# shaplab — the two commands a newcomer needs are `make run` and `make test` (see README.md).
# Everything else here is what those two are made of.

SHELL := /bin/bash
PORT ?= 3000
CARGO ?= cargo

.PHONY: run test install site release check fmt-check clippy unit python contract fuzz-smoke e2e bench multihost soak clean

## make run: install what is missing, build, and serve http://127.0.0.1:$(PORT)
run: install site release
	PORT=$(PORT) LEPTOS_SITE_ROOT=target/site ./target/release/shaplab serve

## make test: install what is missing, then formatting, lints, unit + integration tests, e2e
test: install fmt-check clippy unit python contract multihost soak fuzz-smoke site e2e

install:
	@./scripts/install.sh

site:
	./scripts/build-site.sh

release:
	$(CARGO) build -p server --release

fmt-check:
	$(CARGO) fmt --all -- --check

# Both Leptos feature sets: code that compiles under only one cfg is the classic Leptos bug.
clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy -p app --lib --no-default-features --features hydrate \
		--target wasm32-unknown-unknown --target-dir target/front -- -D warnings

# Also builds target/debug/shaplab, which the end-to-end suite runs. The job suites then run
# again on a loopback Redis Cluster (server/tests/support/backend.rs); the queue scenarios and
# crash tests have cluster suites of their own (server/tests/cluster_*.rs).
CLUSTER_SUITES := jobs_api jobs_summary jobs_ranked jobs_interactions jobs_events jobs_expiry \
	jobs_worker_process dead_requeue uploads_expiry metrics
unit:
	$(CARGO) test --workspace
	SHAPLAB_TEST_REDIS=cluster $(CARGO) test -p server $(addprefix --test ,$(CLUSTER_SUITES))

# The Python client (python/) against a real `shaplab serve` (the source tree, not the copy
# pip installed into .venv, so an edit is tested at once).
python:
	$(CARGO) build -p server
	PYTHONPATH=python SHAPLAB_BIN=target/debug/shaplab .venv/bin/python -m pytest python/tests -q -p no:warnings

# Every libFuzzer target for 10 s (nightly + cargo-fuzz; skipped without nightly). The corpora
# and past crashes are also replayed on stable by `cargo test` (tests/fuzz_replay.rs).
fuzz-smoke:
	./scripts/fuzz.sh 10

## make bench: the engine against xgboost/LightGBM pred_contribs and the treeshap crate (W1, LW),
## then categorical XGBoost/LightGBM (CW, CL) and a skops random forest against shap (RF)
bench:
	./scripts/bench.sh

# The API against /api/openapi.json with schemathesis (two bounded passes, ~30 s): no 5xx, every
# answer (errors included) as the document says.
contract:
	$(CARGO) build -p server
	./scripts/api-contract.sh

## make multihost: several machines in network namespaces (root; prints SKIPPED otherwise):
## Redis, an S3 server (moto), serve and two workers; one worker host dies mid-job, nothing is lost
multihost:
	./scripts/multihost.sh

## make soak: a minute of seeded chaos (workers and Redis killed, paused, cut off) under a stream
## of jobs; every job must succeed with the values of `shaplab explain` (needs target/debug/shaplab)
soak:
	./scripts/soak.sh --minutes 1

e2e:
	cd end2end && npx tsc --noEmit -p . && SHAPLAB_BIN=../target/debug/shaplab npx playwright test

clean:
	rm -rf target end2end/node_modules
