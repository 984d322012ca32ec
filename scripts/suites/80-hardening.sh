#!/usr/bin/env bash
# Hardening (tests/hardening/README.md): resource-limit and record/replay tests in core, the
# secrets harness, hostile servers, one decision everywhere (differential), and the emulator
# under load — across every host that is built (the binding suites before this one build them;
# a host that is not built is counted as skipped, never as passed). With cargo-fuzz already
# installed, a 5-second smoke run of each fuzz target; the long fuzzing is `fuzz/run`.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$GATEPOST_ROOT"

# harness NAME SCRIPT ARGS...: run a tests/hardening script and record its "N passed, N failed,
# N skipped" line (a script that died without it counts as one failure).
harness() {
  local name=$1; shift
  log "$name"
  run_logged "$name" python3 "$@"
  local status=$?
  local line
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$GATEPOST_RESULTS/$name.log" | tail -1)
  if [ -z "$line" ]; then
    record "$name" 0 1
    return
  fi
  read -r p _ f _ s _ <<<"$line"
  [ "$status" -eq 0 ] || [ "$f" -gt 0 ] || f=1
  [ "$s" -eq 0 ] || echo "$name: $s skipped (hosts not built), not counted as passed"
  record "$name" "$p" "$f"
}

if [ -x .venv/bin/ruff ]; then
  log "ruff (tests/hardening, fuzz/seeds.py)"
  .venv/bin/ruff check --config tests/hardening/ruff.toml tests/hardening fuzz/seeds.py
  record_check hardening-ruff $?
else
  echo "skipped: ruff on the harnesses (.venv/bin/ruff not installed; 50-python.sh installs it)"
fi

log "the CLI with its emulator (cargo build -p gatepost --features emulator)"
cargo build --locked -p gatepost --features emulator
record_check hardening-cli-build $?

log "core resource limits and record/replay (cargo test -p gatepost-core --test 'hardening_*')"
run_logged hardening-core cargo test --locked -p gatepost-core --test hardening_limits --test hardening_replay
status=$?
read -r p f < <(cargo_counts "$GATEPOST_RESULTS/hardening-core.log")
[ "$status" -eq 0 ] || [ "$f" -gt 0 ] || f=1
record hardening-core "$p" "$f"

harness hardening-secrets tests/hardening/secrets.py
harness hardening-hostile tests/hardening/hostile.py
harness hardening-differential tests/hardening/differential.py --count 300
harness hardening-emulator-load tests/hardening/emulator_load.py --evaluations 10000
harness hardening-binding-limits tests/hardening/binding_limits.py
harness hardening-trust tests/hardening/trust.py

if command -v cargo-fuzz >/dev/null 2>&1 && rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  log "fuzz smoke (5 s per target; the long run is fuzz/run)"
  run_logged hardening-fuzz-smoke fuzz/run 5
  record_check hardening-fuzz-smoke $?
else
  echo "skipped: fuzz smoke (cargo-fuzz or nightly not installed; see fuzz/run)"
fi
