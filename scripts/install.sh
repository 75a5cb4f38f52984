#!/usr/bin/env bash
# Installs what building and testing shaplab needs, from the registries this machine reaches.
# Idempotent: each step checks first, so a second run installs nothing.
# Why each pin: ../shared/docs/TOOLCHAIN.md (wasm-bindgen-cli must equal the crate in Cargo.lock;
# Debian's wasm-opt breaks hydration, so wasm-opt comes from npm binaryen).
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/"/, "", $3); print $3; exit}' Cargo.lock 2>/dev/null || true)
WASM_BINDGEN_VERSION=${WASM_BINDGEN_VERSION:-0.2.130}
want_e2e=${1:-all}   # "all" also installs Chromium and the Playwright npm packages

say() { echo "install: $*" >&2; }

# Debian packages: redis-server for the zero-config private Redis and the tests; chromium for e2e;
# iproute2 (`ip netns`, veth, bridge) for the several-machines test, scripts/multihost.sh.
apt_pkgs=()
command -v redis-server >/dev/null || apt_pkgs+=(redis-server)
command -v ip >/dev/null || apt_pkgs+=(iproute2)
# The Python client's tests run in .venv (Debian splits venv and ensurepip out of python3).
command -v python3 >/dev/null || apt_pkgs+=(python3)
python3 -c "import venv, ensurepip" 2>/dev/null || apt_pkgs+=(python3-venv)
if [ "$want_e2e" = all ] && [ ! -x /usr/bin/chromium ]; then apt_pkgs+=(chromium); fi
if [ ${#apt_pkgs[@]} -gt 0 ]; then
  say "apt-get install ${apt_pkgs[*]}"
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${apt_pkgs[@]}" >/dev/null
fi

# Rust: the browser target.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

# wasm-bindgen-cli, same version as the crate (without --locked: its lockfile names a
# webpki-roots version the registry here lacks).
if ! wasm-bindgen --version 2>/dev/null | grep -q " ${WASM_BINDGEN_VERSION}\$"; then
  say "cargo install wasm-bindgen-cli ${WASM_BINDGEN_VERSION} (~3 min, once)"
  cargo install wasm-bindgen-cli --version "${WASM_BINDGEN_VERSION}" --force
fi

# npm tools (sass, binaryen's wasm-opt, Playwright) pinned in end2end/package-lock.json.
if [ ! -x end2end/node_modules/.bin/wasm-opt ] || [ ! -x end2end/node_modules/.bin/sass ] \
   || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
  say "npm ci in end2end/"
  (cd end2end && npm ci --no-audit --no-fund --loglevel=error)
fi

# cargo-fuzz for the fuzz smoke run, where a nightly toolchain exists (crates.io).
if rustup run nightly rustc --version >/dev/null 2>&1 && ! command -v cargo-fuzz >/dev/null; then
  say "cargo install cargo-fuzz (~2 min, once)"
  cargo install cargo-fuzz --locked
fi

# The Python client (python/) and what its tests train and compare with, moto's S3 server
# (with boto3) for scripts/multihost.sh and schemathesis for scripts/api-contract.sh, from PyPI,
# once per change of python/pyproject.toml or of a pin (all are in the stamp).
MOTO_VERSION=5.2.6
SCHEMATHESIS_VERSION=4.32.5
stamp=.venv/.shaplab-python-deps
want="$(sha256sum python/pyproject.toml | cut -d' ' -f1) moto=$MOTO_VERSION st=$SCHEMATHESIS_VERSION"
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "python venv .venv: ./python[test], moto[server]==$MOTO_VERSION, schemathesis==$SCHEMATHESIS_VERSION (PyPI)"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check './python[test]' \
    "moto[server]==$MOTO_VERSION" "schemathesis==$SCHEMATHESIS_VERSION"
  echo "$want" > "$stamp"
fi
