#!/usr/bin/env bash
# The evaluation page's picture in headless Chromium: start the emulator on loopback with the
# alerting example world, run its gate to the end (time scale 100000: the 5-minute window takes
# 3 ms), load /evaluations/{id}, dump its DOM and take a PNG screenshot, then check both
# (check_page.py: the SVG's rule bands and monitor rows, and ALERT-red pixels where minute two
# is on the axis of monitor 101's row).
#
#   GATEPOST_EMULATOR_BIN=target/debug/examples/serve run.sh [OUT_DIR]
#
# OUT_DIR (default: a temporary directory) keeps page.html and page.png for people to look at.
# Prints TAP-style lines and `# pass N` / `# fail N`.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
serve=${GATEPOST_EMULATOR_BIN:?set GATEPOST_EMULATOR_BIN to the emulator binary}
chromium_bin=${CHROMIUM_BIN:-$(command -v chromium || command -v chromium-browser || true)}
work=$(mktemp -d)
out=${1:-$work}
mkdir -p "$out"
emulator_pid=""
cleanup() {
  [ -n "$emulator_pid" ] && kill "$emulator_pid" 2>/dev/null && wait "$emulator_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "not ok 1 - page: $*"
  echo "# pass 0"
  echo "# fail 1"
  exit 1
}

[ -n "$chromium_bin" ] || fail "chromium is not installed"

"$serve" --world "$root/examples/worlds/alerting.json" --port 0 --time-scale 100000 \
  >"$work/emulator.out" 2>"$work/emulator.err" &
emulator_pid=$!
base=""
for _ in $(seq 1 100); do
  line=$(head -n 1 "$work/emulator.out")
  case "$line" in "gatepost emulator listening on "*) base=${line#gatepost emulator listening on }; break ;; esac
  sleep 0.1
done
[ -n "$base" ] || fail "the emulator did not start: $(cat "$work/emulator.err")"

# Trigger the preconfigured gate, then read the result until it is final (a bounded loop: the
# evaluation is over after 3 ms of real time, so this ends at the first or second read).
body='{"data":{"type":"deployment_gates_evaluation_request","attributes":{"service":"checkout","env":"prod","version":"v2"}}}'
curl -sf -X POST -H 'Content-Type: application/json' -d "$body" \
  "$base/api/v2/deployments/gates/evaluation" >"$work/trigger.json" || fail "the trigger failed"
id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["data"]["id"])' "$work/trigger.json")
status=""
for _ in $(seq 1 50); do
  status=$(curl -sf "$base/api/v2/deployments/gates/evaluation/$id" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["attributes"]["gate_status"])' 2>/dev/null)
  [ "$status" = "pass" ] || [ "$status" = "fail" ] && break
  sleep 0.1
done
[ "$status" = "fail" ] || fail "the alerting gate ended as '$status', expected fail"

chromium() {
  timeout 90 "$chromium_bin" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --disable-background-networking --disable-quic --no-first-run --disable-component-update \
    --disable-sync --user-data-dir="$work/chromium-$1" --force-device-scale-factor=1 \
    --hide-scrollbars --window-size=1100,1100 "${@:2}" 2>>"$work/chromium.err"
}
chromium dom --dump-dom "$base/evaluations/$id" >"$out/page.html" || true
(cd "$work" && chromium shot --screenshot="$out/page.png" "$base/evaluations/$id" >/dev/null) || true
[ -s "$out/page.html" ] || fail "chromium dumped no DOM: $(tail -n 5 "$work/chromium.err")"
[ -s "$out/page.png" ] || fail "chromium took no screenshot: $(tail -n 5 "$work/chromium.err")"
echo "# screenshot: $out/page.png"
python3 "$here/check_page.py" "$out/page.html" "$out/page.png"
