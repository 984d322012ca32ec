#!/usr/bin/env bash
# Proof that the emulator is a faithful peer: drive it with clients nobody here wrote.
#
#   GATEPOST_EMULATOR_BIN=target/debug/examples/serve DATADOG_CI_BIN=.../datadog-ci run.sh
#
# 1. The published datadog-ci (`deployment gate`, unmodified) against the emulator over HTTPS: a
#    throwaway self-signed certificate for api.gatepost.test is made here, trusted through
#    NODE_EXTRA_CA_CERTS, and DD_SITE=gatepost.test:PORT; the name resolves to 127.0.0.1 through a
#    preloaded dns.lookup hook (resolve-loopback.cjs) — a hosts entry scoped to that one process,
#    so nothing on the machine changes and no root is needed.
# 2. The documentation's curl/jq script (gate.sh) against the same emulator (curl --resolve).
# Both must reach the same verdict with the same rule statuses and reasons for every example
# world. 3. Headless Chromium renders the Evaluations page and shows a dry-run evaluation's real
# status. Prints TAP-style lines and `# pass N` / `# fail N`.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
serve=${GATEPOST_EMULATOR_BIN:?set GATEPOST_EMULATOR_BIN to the emulator binary}
datadog_ci=${DATADOG_CI_BIN:?set DATADOG_CI_BIN to the datadog-ci binary}
chromium_bin=${CHROMIUM_BIN:-$(command -v chromium || command -v chromium-browser || true)}
time_scale=${TIME_SCALE:-100000}
site_host=gatepost.test
api_key=fake-dd-api-key-for-emulator-tests
app_key=fake-dd-app-key-for-emulator-tests

work=$(mktemp -d)
emulator_pid=""
cleanup() {
  [ -n "$emulator_pid" ] && kill "$emulator_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

passed=0
failed=0
n=0
check() {
  local description=$1
  shift
  n=$((n + 1))
  if "$@"; then
    passed=$((passed + 1))
    echo "ok $n - $description"
  else
    failed=$((failed + 1))
    echo "not ok $n - $description"
  fi
}

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=api.$site_host" \
  -addext "subjectAltName=DNS:api.$site_host,IP:127.0.0.1" \
  -keyout "$work/key.pem" -out "$work/cert.pem" >/dev/null 2>&1 || {
  echo "not ok - openssl could not make a certificate"
  echo "# pass 0"
  echo "# fail 1"
  exit 1
}

# start_emulator WORLD [tls]: serve WORLD, set $base and $port.
start_emulator() {
  local world=$1 tls=${2:-}
  local args=(--world "$world" --port 0 --time-scale "$time_scale")
  [ -n "$tls" ] && args+=(--tls-cert "$work/cert.pem" --tls-key "$work/key.pem")
  : >"$work/emulator.out"
  "$serve" "${args[@]}" >"$work/emulator.out" 2>"$work/emulator.err" &
  emulator_pid=$!
  local line=""
  for _ in $(seq 1 100); do
    line=$(head -n 1 "$work/emulator.out")
    [ -n "$line" ] && break
    sleep 0.1
  done
  case "$line" in
    "gatepost emulator listening on "*) base=${line#gatepost emulator listening on } ;;
    *) echo "# the emulator did not start: $(cat "$work/emulator.err")"; return 1 ;;
  esac
  port=${base##*:}
}

stop_emulator() {
  [ -n "$emulator_pid" ] && kill "$emulator_pid" 2>/dev/null && wait "$emulator_pid" 2>/dev/null
  emulator_pid=""
}

run_datadog_ci() {
  local out=$1
  shift
  DD_BETA_COMMANDS_ENABLED=1 DD_API_KEY=$api_key DD_APP_KEY=$app_key \
    DD_SITE="$site_host:$port" GATEPOST_LOOPBACK_HOST="api.$site_host" \
    NODE_OPTIONS="--require $here/resolve-loopback.cjs" NODE_EXTRA_CA_CERTS="$work/cert.pem" \
    timeout 120 "$datadog_ci" deployment gate --service checkout --env prod --version v2 "$@" \
    >"$out" 2>&1
}

run_gate_sh() {
  local out=$1
  DD_API_KEY=$api_key DD_APP_KEY=$app_key DD_SITE="$site_host:$port" POLL_INTERVAL=0.2 \
    TRIGGER_RETRY_DELAY=0.2 \
    CURL_EXTRA_ARGS="--cacert $work/cert.pem --resolve api.$site_host:$port:127.0.0.1" \
    timeout 120 sh "$here/gate.sh" --service checkout --env prod --version v2 >"$out" 2>&1
}

# rule_lines FILE: "Rule: …", "Status: …" (lower case) and "Reason: …" lines, normalised so the
# two peers' summaries compare equal when they say the same thing.
rule_lines() {
  grep -E '^[[:space:]]*(- )?(Rule|Status|Reason): ' "$1" |
    sed -E 's/^[[:space:]]*(- )?//; s/ \(dry run\)$//' |
    awk '/^Status: / { print tolower($0); next } { print }'
}

same_rules() {
  rule_lines "$1" >"$1.rules"
  rule_lines "$2" >"$2.rules"
  [ -s "$1.rules" ] && diff -u "$1.rules" "$2.rules" >&2
}

has() { grep -qF -- "$2" "$1"; }
lacks() { ! grep -qF -- "$2" "$1"; }

# The example worlds with keys required (listed keys are checked even in a world that says "open"),
# so the peers must send the headers the way the real API expects them.
with_keys() {
  jq --arg api "$api_key" --arg app "$app_key" '. + {api_keys: [$api], app_keys: [$app]}' \
    "$root/examples/worlds/$1.json" >"$work/$1.json"
  echo "$work/$1.json"
}

for case in healthy:0 alerting:1 faulty-version:1 dry-run:0; do
  world=${case%%:*}
  expected=${case##*:}
  if ! start_emulator "$(with_keys "$world")" tls; then
    check "$world: emulator starts with TLS" false
    continue
  fi
  run_datadog_ci "$work/$world.dci"
  dci_status=$?
  run_gate_sh "$work/$world.sh"
  sh_status=$?
  echo "# $world: datadog-ci exit $dci_status, gate.sh exit $sh_status"
  sed 's/^/#   datadog-ci | /' "$work/$world.dci"
  sed 's/^/#   gate.sh    | /' "$work/$world.sh"
  check "$world: datadog-ci exits $expected" [ "$dci_status" -eq "$expected" ]
  check "$world: curl/jq script exits $expected" [ "$sh_status" -eq "$expected" ]
  check "$world: both peers report the same rules, statuses and reasons" \
    same_rules "$work/$world.dci" "$work/$world.sh"
  case "$world" in
    alerting)
      check "alerting: the reason links the alerting monitor" \
        has "$work/$world.dci" "One or more monitors in ALERT state: https://127.0.0.1:$port/monitors/101" ;;
    faulty-version)
      check "faulty-version: the reason names the new error type and resource" \
        has "$work/$world.sh" "new error type NullPointerException on POST /checkout" ;;
    dry-run)
      check "dry-run: datadog-ci shows dry-run mode" has "$work/$world.dci" "Dry run" ;;
    healthy)
      check "healthy: datadog-ci shows the emulator's evaluation URL" \
        has "$work/$world.dci" "https://127.0.0.1:$port/evaluations/" ;;
  esac
  stop_emulator
done

# Transient trouble both peers must ride out: a 503 on the first trigger and a 404 ("not started
# yet") on the first poll of each evaluation. Costs datadog-ci one 5 s trigger backoff and one 15 s
# poll interval.
jq '.faults = {trigger: [{kind: "status", status: 503}, {kind: "pass"}, {kind: "status", status: 503}],
               result: [{kind: "not_found"}, {kind: "pass"}, {kind: "not_found"}]}' \
  "$(with_keys healthy)" >"$work/transient.json"
if start_emulator "$work/transient.json" tls; then
  run_datadog_ci "$work/transient.dci"
  dci_status=$?
  run_gate_sh "$work/transient.sh"
  sh_status=$?
  sed 's/^/#   datadog-ci | /' "$work/transient.dci"
  sed 's/^/#   gate.sh    | /' "$work/transient.sh"
  check "transient 503 and 404: datadog-ci retries and passes" [ "$dci_status" -eq 0 ]
  check "transient 503 and 404: the curl/jq script retries and passes" [ "$sh_status" -eq 0 ]
  check "transient 503 and 404: same rules and statuses" \
    same_rules "$work/transient.dci" "$work/transient.sh"
  stop_emulator
fi

# Inline (JIT) rules from a datadog-ci config file, camelCase as pipelines write it: the dry-run
# rule fails (no monitor matches) without failing the gate.
cat >"$work/gate-config.json" <<'JSON'
{"dryRun": false, "rules": [
  {"type": "monitor", "name": "Checkout monitors", "options": {"query": "service:checkout env:prod", "duration": 60}},
  {"type": "monitor", "name": "Shadow rule", "dryRun": true, "options": {"query": "service:nothing", "duration": 0}}]}
JSON
if start_emulator "$(with_keys healthy)" tls; then
  run_datadog_ci "$work/jit.dci" --config "$work/gate-config.json"
  status=$?
  sed 's/^/#   datadog-ci | /' "$work/jit.dci"
  check "inline rules from a config file: datadog-ci exits 0" [ "$status" -eq 0 ]
  check "inline rules: the dry-run rule's real failure is reported" \
    has "$work/jit.dci" "Reason: No monitors match the query: service:nothing"
  stop_emulator
fi

# A key the world does not accept: both peers stop with exit 1 on the 403.
if start_emulator "$(with_keys healthy)" tls; then
  api_key=wrong-key run_datadog_ci "$work/forbidden.dci"
  check "a rejected key makes datadog-ci exit 1" [ $? -eq 1 ]
  DD_API_KEY=wrong-key DD_APP_KEY=$app_key DD_SITE="$site_host:$port" \
    CURL_EXTRA_ARGS="--cacert $work/cert.pem --resolve api.$site_host:$port:127.0.0.1" \
    timeout 60 sh "$here/gate.sh" --service checkout --env prod >"$work/forbidden.sh" 2>&1
  check "a rejected key makes the curl/jq script exit 1" [ $? -eq 1 ]
  check "the 403 body is the API's" has "$work/forbidden.sh" '{"errors":["Forbidden"]}'
  stop_emulator
fi

# The Evaluations page in headless Chromium, over plain HTTP (DD_API_URL override). The world
# requires keys, so the page does too: the browser signs in with HTTP Basic credentials.
if [ -z "$chromium_bin" ]; then
  check "chromium is installed" false
elif start_emulator "$(with_keys dry-run)"; then
  DD_API_KEY=$api_key DD_APP_KEY=$app_key DD_API_URL="$base" POLL_INTERVAL=0.2 \
    timeout 60 sh "$here/gate.sh" --service checkout --env prod --version v2 >"$work/page.sh" 2>&1
  check "dry-run over plain HTTP: the API answers pass" [ $? -eq 0 ]
  evaluation_id=$(sed -n 's/^Evaluation ID: //p' "$work/page.sh")
  chromium_page() {
    timeout 90 "$chromium_bin" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
      --disable-background-networking --disable-quic --no-first-run --disable-component-update \
      --disable-sync --user-data-dir="$work/chromium" --dump-dom "$1" 2>"$work/chromium.err"
  }
  chromium_page "$base/" >"$work/page-nokey.html"
  check "without keys, chromium gets no Evaluations page" \
    lacks "$work/page-nokey.html" "Deployment Gates evaluations"
  chromium_page "http://$api_key:$app_key@${base#http://}/" >"$work/page.html"
  check "chromium renders the Evaluations page" has "$work/page.html" "Deployment Gates evaluations"
  check "the page lists the evaluation" has "$work/page.html" "data-evaluation-id=\"$evaluation_id\""
  check "the page shows the dry run's real status (fail)" \
    has "$work/page.html" 'data-real-status="fail"'
  check "the page shows the failing rule's reason with its monitor link" \
    has "$work/page.html" "$base/monitors/101"
  stop_emulator
fi

echo "# pass $passed"
echo "# fail $failed"
[ "$failed" -eq 0 ]
