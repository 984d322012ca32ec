#!/usr/bin/env bash
# Node (@gatepost/node): the napi addon built with @napi-rs/cli, its committed index.d.ts and the
# generated schema types checked for drift, tsc on the package and the examples, clippy on the
# binding, then node:test — the conformance corpus, the fetch layer, the driver, and end to end
# against the emulator — then the driver corpus (tests/drivers) through evaluate().
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$GATEPOST_ROOT/crates/node"

if ! command -v node >/dev/null 2>&1; then
  echo "node is not installed" >&2
  record node-setup 0 1
  exit 1
fi

# npm ci rejects a lockfile written on this machine kind (docs/toolchain.md): npm install, and only
# when node_modules is missing or older than the lockfile.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] \
   || [ package.json -nt node_modules/.package-lock.json ]; then
  log "npm install (crates/node)"
  npm install --no-audit --no-fund --loglevel=error </dev/null
  record_check node-npm-install $?
fi

log "napi build (debug) and the committed native/index.d.ts"
npx --no-install napi build --platform --output-dir native -- --locked </dev/null
status=$?
if [ "$status" -eq 0 ]; then
  git diff --exit-code -- native/index.d.ts native/index.js
  status=$?
  [ "$status" -eq 0 ] || echo "native/index.d.ts or index.js changed: commit the regenerated files" >&2
fi
record_check node-napi-dts "$status"

log "TypeScript types generated from schemas/ are current"
node scripts/gen-types.mjs --check
record_check node-schema-types $?

log "tsc: build the package (ESM + CommonJS) and check the examples strictly"
npm run --silent build:ts </dev/null
record_check node-tsc-build $?
mkdir -p "$GATEPOST_ROOT/examples/node/node_modules/@gatepost"
ln -sfn ../../../../crates/node "$GATEPOST_ROOT/examples/node/node_modules/@gatepost/node"
node_modules/.bin/tsc -p "$GATEPOST_ROOT/examples/node/tsconfig.json"
record_check node-tsc-examples $?

log "clippy (gatepost-node)"
(cd "$GATEPOST_ROOT" && cargo clippy --locked -p gatepost-node --all-targets -- -D warnings)
record_check node-clippy $?

log "the emulator for the end-to-end tests"
(cd "$GATEPOST_ROOT" && cargo build --locked -p gatepost --features emulator)
record_check node-emulator-build $?

log "node --test"
run_logged node-test node --test --test-reporter=tap test/*.test.mjs </dev/null
status=$?
read -r p f < <(node_counts "$GATEPOST_RESULTS/node-test.log")
[ "$status" -eq 0 ] || [ "$f" -gt 0 ] || f=1
record node-test "$p" "$f"
node_status=$status

run_drivers drivers-node node
drivers=$?
[ "$node_status" -eq 0 ] && [ "$drivers" -eq 0 ]
