#!/usr/bin/env bash
# WebAssembly package (@gatepost/wasm): set-up (idempotent: skips what is installed), lints, the
# release build with its size, then the tests — the conformance corpus, the import-list check, the
# driver, the edge example and tsc in Node, the driver corpus (tests/drivers) in Node; the corpus and
# the browser example in headless Chromium.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$GATEPOST_ROOT"
crate=crates/wasm
export DEBIAN_FRONTEND=noninteractive

log "wasm set-up"
setup_ok=0
rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || setup_ok=1
# The wasm-bindgen CLI must be exactly the wasm-bindgen in Cargo.lock.
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $want" ]; then
  cargo install wasm-bindgen-cli --version "$want" --locked || setup_ok=1
fi
# wasm-opt (npm binaryen, never Debian's), tsc and miniflare (the Workers runtime, workerd, for the
# edge example), under crates/wasm.
for tool in wasm-opt tsc miniflare; do
  if [ ! -e "$crate/node_modules/.bin/$tool" ] && [ ! -d "$crate/node_modules/$tool" ]; then
    (cd "$crate" && npm install --no-audit --no-fund) || setup_ok=1
    break
  fi
done
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  { apt-get update && apt-get install -y chromium chromium-driver; } || setup_ok=1
fi
record_check wasm-setup "$setup_ok"

log "wasm lints (fmt, clippy for wasm32 and the host)"
cargo fmt -p gatepost-wasm -- --check
record_check wasm-fmt $?
{ cargo clippy --locked -p gatepost-wasm --target wasm32-unknown-unknown -- -D warnings &&
  cargo clippy --locked -p gatepost-wasm --all-targets -- -D warnings; }
record_check wasm-clippy $?

log "wasm release build (cargo + wasm-bindgen, wasm-release profile, wasm-opt -Oz)"
run_logged wasm-build "$crate/scripts/build.sh"
build=$?
record_check wasm-build "$build"
if [ "$build" -ne 0 ]; then
  log "wasm build failed: skipping the wasm tests"
  exit 1
fi

log "gatepost CLI with the emulator (for the end-to-end tests)"
cargo build --locked -p gatepost --features emulator
record_check wasm-emulator-build $?

log "wasm tests in Node: corpus, imports, targets, driver, edge example (Node and workerd), tsc"
(cd "$crate" && run_logged wasm-node node --test test/corpus.test.mjs test/queries.test.mjs test/imports.test.mjs test/targets.test.mjs \
  test/driver.test.mjs test/edge.test.mjs test/workerd.test.mjs test/typescript.test.mjs test/resolution.test.mjs \
  test/env.test.mjs)
status=$?
read -r p f < <(node_counts "$GATEPOST_RESULTS/wasm-node.log")
[ "$status" -eq 0 ] || [ "$f" -gt 0 ] || f=1
record wasm-node "$p" "$f"

run_drivers drivers-wasm wasm

log "wasm tests in headless Chromium: corpus, browser example against the emulator"
export CHROMEDRIVER=/usr/bin/chromedriver
(cd "$crate" && run_logged wasm-chromium node --test --test-concurrency=1 test/browser.test.mjs test/e2e-browser.test.mjs)
status=$?
read -r p f < <(node_counts "$GATEPOST_RESULTS/wasm-chromium.log")
[ "$status" -eq 0 ] || [ "$f" -gt 0 ] || f=1
record wasm-chromium "$p" "$f"

log "wasm size and per-step overhead"
cat "$GATEPOST_RESULTS/wasm-size.txt"
node "$crate/bench/step.mjs" 20000 | tee "$GATEPOST_RESULTS/wasm-step.txt"
exit 0
