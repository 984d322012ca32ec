#!/usr/bin/env bash
# CLI terminal behaviour that `cargo test` cannot see: a real terminal under tmux (live status
# line, colour, NO_COLOR, Ctrl-C printing the resume command), plain output in a pipe, and the
# README's main-job commands, then the driver corpus (tests/drivers) through the CLI. (`cargo test
# -p gatepost` itself runs in 10-rust.sh.)
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$GATEPOST_ROOT"

if ! command -v tmux >/dev/null 2>&1; then
  log "installing tmux"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux; } >/dev/null 2>&1 \
    || echo "could not install tmux"
fi

log "cargo build -p gatepost"
cargo build --locked -p gatepost
build=$?
record_check cli-build "$build"
[ "$build" -eq 0 ] || exit 1
# The slim build (what the GitHub Action installs) must stay clean too. clippy, not build: a build
# would swap target/debug/gatepost under tests that may be running.
log "cargo clippy -p gatepost --no-default-features"
cargo clippy --locked -p gatepost --no-default-features --all-targets -- -D warnings
record_check cli-slim-clippy $?

BIN="$GATEPOST_ROOT/target/debug/gatepost"
WORLDS="$GATEPOST_ROOT/examples/worlds"

passed=0
failed=0
check() { # check NAME CONDITION-STATUS [DETAILS-FILE]
  if [ "$2" -eq 0 ]; then
    passed=$((passed + 1)); echo "ok   $1"
  else
    failed=$((failed + 1)); echo "FAIL $1"
    [ -n "${3:-}" ] && [ -f "$3" ] && sed 's/^/     | /' "$3"
  fi
}

tmpdir=$(mktemp -d)
session="gatepost-cli-$$"
cleanup() { tmux kill-session -t "$session" 2>/dev/null; rm -rf "$tmpdir"; }
trap cleanup EXIT

# wait_for FILE PATTERN SECONDS: poll a captured pane until PATTERN shows (no fixed sleeps).
capture() { tmux capture-pane -p -e -t "$session" >"$1" 2>/dev/null; }
wait_for() {
  local deadline=$(( $(date +%s) + $3 ))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    capture "$1"
    grep -q -- "$2" "$1" && return 0
    sleep 0.2
  done
  return 1
}

# run_in_tmux CMD: start CMD in a fresh 120x30 terminal; its exit status lands in $tmpdir/status.
run_in_tmux() {
  tmux kill-session -t "$session" 2>/dev/null
  rm -f "$tmpdir/status"
  tmux new-session -d -s "$session" -x 120 -y 30 \
    "cd '$GATEPOST_ROOT' && env -u NO_COLOR -u CI TERM=xterm-256color DD_API_KEY=tmux-fake-api-key DD_APP_KEY=tmux-fake-app-key $1; echo \$? >'$tmpdir/status'; sleep 600"
}
wait_status() {
  local deadline=$(( $(date +%s) + $1 ))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    [ -s "$tmpdir/status" ] && { cat "$tmpdir/status"; return 0; }
    sleep 0.2
  done
  echo timeout
}

if command -v tmux >/dev/null 2>&1; then
  log "tmux: live status line and colour on a terminal"
  run_in_tmux "$BIN gate --emulator $WORLDS/healthy.json --service checkout --env prod --version v2 --time-scale 30"
  wait_for "$tmpdir/live" "rules completed" 30
  check "tty: live status line shows elapsed, time left and rules completed" \
    "$(grep -q 'elapsed.*left.*rules completed' "$tmpdir/live"; echo $?)" "$tmpdir/live"
  code=$(wait_status 60)
  capture "$tmpdir/final"
  check "tty: healthy world passes (exit 0)" "$([ "$code" = 0 ]; echo $?)" "$tmpdir/final"
  check "tty: the report is coloured" "$(grep -q $'\x1b\[[0-9;]*32m' "$tmpdir/final"; echo $?)" "$tmpdir/final"
  check "tty: the status line is gone once the report is printed" \
    "$(! grep -q 'rules completed' "$tmpdir/final"; echo $?)" "$tmpdir/final"

  log "tmux: NO_COLOR on a terminal"
  run_in_tmux "env NO_COLOR=1 $BIN gate --emulator $WORLDS/alerting.json --service checkout --env prod --version v2"
  code=$(wait_status 60)
  capture "$tmpdir/nocolor"
  check "tty + NO_COLOR: alerting world fails (exit 1)" "$([ "$code" = 1 ]; echo $?)" "$tmpdir/nocolor"
  check "tty + NO_COLOR: no colour codes" \
    "$(! grep -q $'\x1b\[[0-9;]*3[0-9]m' "$tmpdir/nocolor"; echo $?)" "$tmpdir/nocolor"
  check "tty + NO_COLOR: the failed rule's reason is shown" \
    "$(grep -q 'Reason: ' "$tmpdir/nocolor"; echo $?)" "$tmpdir/nocolor"

  log "tmux: Ctrl-C prints the evaluation id and the resume command"
  run_in_tmux "$BIN gate --emulator $WORLDS/healthy.json --service checkout --env prod --version v2 --time-scale 1"
  wait_for "$tmpdir/started" "evaluation started" 30
  tmux send-keys -t "$session" C-c
  code=$(wait_status 30)
  capture "$tmpdir/interrupted"
  check "tty: Ctrl-C exits 130" "$([ "$code" = 130 ]; echo $?)" "$tmpdir/interrupted"
  check "tty: Ctrl-C prints the gatepost wait command" \
    "$(grep -q 'gatepost wait [0-9a-f-]\{36\} --service checkout --env prod' "$tmpdir/interrupted"; echo $?)" "$tmpdir/interrupted"
  check "tty: keys never shown" "$(! grep -q 'tmux-fake' "$tmpdir/interrupted" "$tmpdir/final" "$tmpdir/live"; echo $?)"
  tmux kill-session -t "$session" 2>/dev/null
else
  check "tmux available" 1
fi

log "pipe: plain lines, no terminal codes"
CI=true DD_API_KEY=pipe-fake-api-key DD_APP_KEY=pipe-fake-app-key \
  "$BIN" gate --emulator "$WORLDS/healthy.json" --service checkout --env prod --version v2 \
  >"$tmpdir/pipe.out" 2>"$tmpdir/pipe.err" </dev/null
code=$?
cat "$tmpdir/pipe.err" "$tmpdir/pipe.out" >"$tmpdir/pipe.all"
check "pipe: healthy world passes (exit 0)" "$([ "$code" = 0 ]; echo $?)" "$tmpdir/pipe.all"
check "pipe: no escape sequences" "$(! grep -q $'\x1b' "$tmpdir/pipe.all"; echo $?)" "$tmpdir/pipe.all"
check "pipe: progress is printed as lines" "$(grep -q 'evaluation started' "$tmpdir/pipe.err"; echo $?)" "$tmpdir/pipe.all"
check "pipe: keys never shown" "$(! grep -q 'pipe-fake' "$tmpdir/pipe.all"; echo $?)"

log "README main job: the datadog-ci spelling against the alerting world"
DD_API_KEY=x DD_APP_KEY=y "$BIN" deployment gate --emulator "$WORLDS/alerting.json" \
  --service checkout --env prod --version v2 >"$tmpdir/dd.out" 2>&1 </dev/null
code=$?
check "deployment gate: alerting world fails (exit 1)" "$([ "$code" = 1 ]; echo $?)" "$tmpdir/dd.out"

log "action.yml: the gate step's script against a served emulator"
# The composite action's last `run: |` block, dedented, run as GitHub would run it.
awk '/^      run: \|/ { block = ""; inrun = 1; next }
     inrun && /^        / { block = block substr($0, 9) "\n"; next }
     inrun { inrun = 0 }
     END { printf "%s", block }' action.yml >"$tmpdir/action-gate.sh"
"$BIN" emulator --port 0 --time-scale 60 --world "$WORLDS/healthy.json" >"$tmpdir/emu.out" 2>/dev/null &
emu_pid=$!
for _ in $(seq 1 100); do grep -q listening "$tmpdir/emu.out" 2>/dev/null && break; sleep 0.1; done
emu_url=$(sed -n '1s/^gatepost emulator listening on //p' "$tmpdir/emu.out")
: >"$tmpdir/gh_output"; : >"$tmpdir/gh_summary"
PATH="$(dirname "$BIN"):$PATH" GITHUB_OUTPUT="$tmpdir/gh_output" GITHUB_STEP_SUMMARY="$tmpdir/gh_summary" \
  DD_API_KEY=action-fake-api-key DD_APP_KEY=action-fake-app-key \
  IN_SERVICE=checkout IN_ENV=prod IN_VERSION=v2 IN_TIMEOUT=120 IN_API_URL="$emu_url" \
  IN_IDENTIFIER= IN_PRIMARY_TAG= IN_CONFIG= IN_FAIL_ON_ERROR=true IN_SITE= IN_SKIP= \
  bash -e "$tmpdir/action-gate.sh" >"$tmpdir/action.out" 2>&1 </dev/null
code=$?
kill "$emu_pid" 2>/dev/null; wait "$emu_pid" 2>/dev/null
cat "$tmpdir/action.out" "$tmpdir/gh_output" >"$tmpdir/action.all"
check "action: gate step passes against the healthy world" "$([ "$code" = 0 ]; echo $?)" "$tmpdir/action.all"
check "action: outputs status, fail_open, evaluation_id, evaluation_url" \
  "$(grep -q '^status=pass$' "$tmpdir/gh_output" && grep -q '^fail_open=false$' "$tmpdir/gh_output" \
     && grep -q '^evaluation_id=[0-9a-f-]\{36\}$' "$tmpdir/gh_output" && grep -q '^evaluation_url=http' "$tmpdir/gh_output"; echo $?)" "$tmpdir/action.all"
check "action: step summary written" "$(grep -q 'Deployment gate' "$tmpdir/gh_summary"; echo $?)" "$tmpdir/gh_summary"

log "startup: --help and --version"
"$BIN" --help >/dev/null && "$BIN" gate --help >/dev/null && "$BIN" --version >/dev/null
check "--help and --version exit 0" $?

echo "$passed passed, $failed failed"
record cli-terminal "$passed" "$failed"

run_drivers drivers-cli cli
drivers=$?
[ "$failed" -eq 0 ] && [ "$drivers" -eq 0 ]
