#!/usr/bin/env bash
# Python: the `gatepost` package (crates/py) built into .venv with `maturin develop` (dev profile),
# then the drift check of the generated types (scripts/gen_types.py --check), ruff, mypy --strict
# (package, examples, tests, scripts), stubtest against the compiled module, and pytest (the
# conformance corpus, the HTTP drivers, end to end against the emulator), then the driver corpus
# (tests/drivers) through evaluate() and evaluate_async().
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$GATEPOST_ROOT"

VENV="$GATEPOST_ROOT/.venv"
PY="$VENV/bin/python"
PYPROJECT=crates/py/pyproject.toml
# Tool caches go under target/, never into the working tree.
export MYPY_CACHE_DIR="$GATEPOST_RESULTS/mypy-cache" RUFF_CACHE_DIR="$GATEPOST_RESULTS/ruff-cache"
failed=0

log "python environment (.venv)"
if [ ! -x "$PY" ]; then
  python3 -m venv "$VENV" || { record py-setup 0 1; exit 1; }
fi
if ! "$PY" -c 'import maturin, pytest, mypy, ruff, httpx' >/dev/null 2>&1; then
  "$PY" -m pip install --quiet --disable-pip-version-check maturin pytest mypy ruff httpx \
    || { record py-setup 0 1; exit 1; }
fi

log "the emulator binary for the end-to-end tests (cargo build -p gatepost)"
cargo build --locked -p gatepost
record_check py-emulator-build $?

log "maturin develop (gatepost._core into .venv)"
VIRTUAL_ENV="$VENV" PATH="$VENV/bin:$PATH" "$VENV/bin/maturin" develop --locked --manifest-path crates/py/Cargo.toml
build=$?
record_check py-maturin-develop "$build"
[ "$build" -eq 0 ] || exit 1

log "cargo clippy (gatepost-py; not a default member, so 10-rust does not lint it)"
cargo clippy --locked -p gatepost-py --all-targets -- -D warnings
status=$?; record_check py-clippy "$status"; [ "$status" -eq 0 ] || failed=1

log "generated types (crates/py/scripts/gen_types.py --check: _schema_types.py against schemas/)"
"$PY" crates/py/scripts/gen_types.py --check
status=$?; record_check py-gen-types "$status"; [ "$status" -eq 0 ] || failed=1

log "ruff"
# From crates/py: with --config, ruff resolves the config's per-file paths against the cwd.
(cd crates/py && "$VENV/bin/ruff" check --config pyproject.toml . ../../examples/python \
  && "$VENV/bin/ruff" format --check --config pyproject.toml . ../../examples/python)
status=$?; record_check py-ruff "$status"; [ "$status" -eq 0 ] || failed=1
"$VENV/bin/ruff" check --config tests/drivers/ruff.toml tests/drivers
status=$?; record_check drivers-ruff "$status"; [ "$status" -eq 0 ] || failed=1

log "mypy --strict (package, examples, tests, bench, scripts)"
"$VENV/bin/mypy" --config-file "$PYPROJECT" crates/py/python/gatepost examples/python \
  crates/py/tests crates/py/bench crates/py/scripts
status=$?; record_check py-mypy "$status"; [ "$status" -eq 0 ] || failed=1

log "stubtest (gatepost._core against its .pyi)"
(cd "$GATEPOST_RESULTS" && "$PY" -m mypy.stubtest --mypy-config-file "$GATEPOST_ROOT/$PYPROJECT" gatepost._core)
status=$?; record_check py-stubtest "$status"; [ "$status" -eq 0 ] || failed=1

log "pytest"
run_logged pytest "$PY" -m pytest -q -p no:cacheprovider crates/py/tests
status=$?
read -r p f < <(pytest_counts "$GATEPOST_RESULTS/pytest.log")
# Exit 5 (no tests collected) and crashes count as a failure, never as a pass.
[ "$status" -eq 0 ] || [ "$f" -gt 0 ] || f=1
record pytest "$p" "$f"
[ "$status" -eq 0 ] || failed=1

run_drivers drivers-python python python-async || failed=1

# The abi3 wheel on the oldest supported CPython (3.9), when this machine has one: the same
# native module, built once as a wheel, under the unit, corpus and driver tests.
PY39=""
for candidate in "$(command -v python3.9 2>/dev/null)" "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.9*/bin/python3.9; do
  if [ -x "$candidate" ] && "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 9)' 2>/dev/null; then
    PY39=$candidate
    break
  fi
done
if [ -n "$PY39" ]; then
  log "CPython 3.9 ($PY39): the abi3 wheel under the unit, corpus and driver tests"
  VENV39="$GATEPOST_ROOT/target/py39-venv"
  WHEELS="$GATEPOST_ROOT/target/py-wheels-dev"
  [ -x "$VENV39/bin/python" ] || "$PY39" -m venv "$VENV39"
  "$VENV39/bin/python" -c 'import pytest, httpx' >/dev/null 2>&1 \
    || "$VENV39/bin/python" -m pip install --quiet --disable-pip-version-check pytest httpx
  rm -rf "$WHEELS"
  "$VENV/bin/maturin" build --locked --manifest-path crates/py/Cargo.toml -o "$WHEELS" \
    && "$VENV39/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall \
      --no-deps "$WHEELS"/gatepost-*.whl
  run_logged pytest-py39 "$VENV39/bin/python" -m pytest -q -p no:cacheprovider crates/py/tests \
    --ignore=crates/py/tests/test_e2e.py
  status=$?
  read -r p f < <(pytest_counts "$GATEPOST_RESULTS/pytest-py39.log")
  [ "$status" -eq 0 ] || [ "$f" -gt 0 ] || f=1
  record pytest-py39 "$p" "$f"
  [ "$status" -eq 0 ] || failed=1
else
  log "no CPython 3.9 on this machine: the oldest-Python run is skipped"
fi

exit "$failed"
