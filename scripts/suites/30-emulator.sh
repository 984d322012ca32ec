#!/usr/bin/env bash
# The emulator against peers nobody here wrote: the published datadog-ci and the documentation's
# curl/jq script must reach the same verdicts, with the same reasons, for every example world; and
# headless Chromium renders the Evaluations page (tests/e2e/peers/run.sh) and draws an evaluation's
# window (tests/e2e/page/run.sh: DOM and screenshot checks; the PNG is kept in the results folder
# as evaluation-page/page.png). The emulator's own unit and HTTP tests run in 10-rust
# (`cargo test`).
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$GATEPOST_ROOT"

DATADOG_CI_VERSION=5.25.0
peers_dir="$GATEPOST_ROOT/.cache/peers/npm"

installed_version() {
  node -p "require('$peers_dir/node_modules/$1/package.json').version" 2>/dev/null
}

log "datadog-ci $DATADOG_CI_VERSION (cached in .cache/peers/npm)"
if [ "$(installed_version @datadog/datadog-ci)" != "$DATADOG_CI_VERSION" ] ||
  [ "$(installed_version @datadog/datadog-ci-plugin-deployment)" != "$DATADOG_CI_VERSION" ]; then
  mkdir -p "$peers_dir"
  [ -f "$peers_dir/package.json" ] || echo '{"name": "gatepost-peers", "private": true}' >"$peers_dir/package.json"
  (cd "$peers_dir" && npm install --no-audit --no-fund \
    "@datadog/datadog-ci@$DATADOG_CI_VERSION" \
    "@datadog/datadog-ci-plugin-deployment@$DATADOG_CI_VERSION")
  record_check datadog-ci-install $?
fi

# Tools the peers need that a fresh machine may lack: Debian packages, installed once.
missing=()
for tool in jq openssl curl; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]} (apt)"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo -n)
  "${sudo_cmd[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq &&
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive \
      apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}"
  record_check emulator-tools-install $?
fi

log "building the emulator server (example 'serve')"
cargo build --locked -p gatepost-emulator --example serve
status=$?
record_check emulator-build "$status"
[ "$status" -eq 0 ] || exit 1

log "the evaluation page's picture in headless Chromium"
GATEPOST_EMULATOR_BIN="$GATEPOST_ROOT/target/debug/examples/serve" \
  run_logged emulator-page bash tests/e2e/page/run.sh "$GATEPOST_RESULTS/evaluation-page"
page_status=$?
read -r p f < <(node_counts "$GATEPOST_RESULTS/emulator-page.log")
[ "$page_status" -eq 0 ] || [ "$f" -gt 0 ] || f=1
record emulator-page "$p" "$f"

log "peers against the emulator"
GATEPOST_EMULATOR_BIN="$GATEPOST_ROOT/target/debug/examples/serve" \
  DATADOG_CI_BIN="$peers_dir/node_modules/.bin/datadog-ci" \
  run_logged emulator-peers bash tests/e2e/peers/run.sh
status=$?
read -r p f < <(node_counts "$GATEPOST_RESULTS/emulator-peers.log")
[ "$status" -eq 0 ] || [ "$f" -gt 0 ] || f=1
record emulator-peers "$p" "$f"
[ "$status" -eq 0 ] && [ "$page_status" -eq 0 ]
