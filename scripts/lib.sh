# Shared helpers for scripts/test and the suites in scripts/suites/. Source it; do not run it.
# A suite prints its runner's output and calls `record NAME PASSED FAILED` once per runner.

GATEPOST_ROOT="${GATEPOST_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
export GATEPOST_ROOT
: "${GATEPOST_RESULTS:=$GATEPOST_ROOT/target/test-results}"
export GATEPOST_RESULTS
mkdir -p "$GATEPOST_RESULTS"

log() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }

# record NAME PASSED FAILED: the counts of one runner, summed by scripts/test.
record() {
  printf '%s %s %s\n' "$1" "${2:-0}" "${3:-0}" >>"$GATEPOST_RESULTS/counts"
}

# record_check NAME STATUS: a check that is one test (fmt, clippy, a build).
record_check() {
  if [ "$2" -eq 0 ]; then record "$1" 1 0; else record "$1" 0 1; fi
}

# cargo_counts FILE: "PASSED FAILED" summed over every `test result:` line of cargo test output.
cargo_counts() {
  awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
       END { printf "%d %d\n", p, f }' "$1"
}

# pytest_counts FILE: "PASSED FAILED" from pytest's closing line (errors count as failed).
pytest_counts() {
  tail -n 5 "$1" | awk '{ for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^(failed|errors?)/) f += $i } }
       END { printf "%d %d\n", p, f }'
}

# node_counts FILE: "PASSED FAILED" from node --test's TAP summary (`# pass N`, `# fail N`).
node_counts() {
  awk '/^# pass / { p += $3 } /^# fail / { f += $3 } END { printf "%d %d\n", p, f }' "$1"
}

# drivers_counts FILE: "PASSED FAILED" from tests/drivers/run.py's last line (known divergences and
# skipped scripts are neither).
drivers_counts() {
  awk '/^drivers .*: [0-9]+ passed, [0-9]+ failed/ { sub(/^[^:]*: /, ""); p = $1; f = $3 }
       END { printf "%d %d\n", p, f }' "$1"
}

# run_drivers NAME HOST...: play the driver corpus (tests/drivers) through these hosts and record
# its counts as NAME; returns run.py's status.
run_drivers() {
  local name=$1; shift
  local args=()
  for host in "$@"; do args+=(--host "$host"); done
  log "driver corpus (tests/drivers) through: $*"
  run_logged "$name" python3 "$GATEPOST_ROOT/tests/drivers/run.py" "${args[@]}"
  local status=$? p f
  read -r p f < <(drivers_counts "$GATEPOST_RESULTS/$name.log")
  [ "$status" -eq 0 ] || [ "$f" -gt 0 ] || f=1
  record "$name" "$p" "$f"
  return "$status"
}

# run_logged NAME CMD...: run CMD with output shown and kept in $GATEPOST_RESULTS/NAME.log;
# returns CMD's status.
run_logged() {
  local name=$1; shift
  set +e
  "$@" 2>&1 | tee "$GATEPOST_RESULTS/$name.log"
  local status=${PIPESTATUS[0]}
  return "$status"
}

# free_port: a free TCP port on loopback.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
