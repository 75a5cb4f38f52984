#!/usr/bin/env bash
# Builds the browser bundle into target/site: the hydrate wasm (wasm-bindgen + npm binaryen's
# wasm-opt), the stylesheet and the static assets. This is what `cargo leptos build` does,
# without its 19-minute install (see ../shared/docs/TOOLCHAIN.md, "Two build paths").
set -euo pipefail
cd "$(dirname "$0")/.."

NAME=shaplab                      # = LEPTOS_OUTPUT_NAME in .cargo/config.toml
SITE=target/site
PKG=$SITE/pkg
WASM=target/front/wasm32-unknown-unknown/wasm-release/app.wasm
WASM_OPT=end2end/node_modules/.bin/wasm-opt   # npm binaryen: Debian's breaks hydration

cargo build -p app --lib --target wasm32-unknown-unknown --no-default-features --features hydrate \
  --profile wasm-release --target-dir target/front
mkdir -p "$PKG"
wasm-bindgen --target web --out-dir "$PKG" --out-name "$NAME" --no-typescript "$WASM"
"$WASM_OPT" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
  "$PKG/${NAME}_bg.wasm" -o "$PKG/$NAME.wasm"
rm "$PKG/${NAME}_bg.wasm"
cp style/main.css "$PKG/$NAME.css"
cp -r public/. "$SITE/"
echo "build-site: $(du -h "$PKG/$NAME.wasm" | cut -f1) wasm in $PKG" >&2
