#!/usr/bin/env bash
# Rust: formatting, lints, every pure-Rust crate's tests (core, emulator, CLI), and core built for
# wasm32 (proof that the engine stays sans-IO).
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$GATEPOST_ROOT"

log "cargo fmt --check"
cargo fmt --all -- --check
record_check fmt $?

log "cargo clippy (default members, all targets)"
cargo clippy --all-targets --locked -- -D warnings
record_check clippy $?

log "cargo test (default members)"
run_logged cargo-test cargo test --locked
status=$?
read -r p f < <(cargo_counts "$GATEPOST_RESULTS/cargo-test.log")
[ "$status" -eq 0 ] || [ "$f" -gt 0 ] || f=1
record cargo-test "$p" "$f"

log "gatepost-core for wasm32-unknown-unknown"
rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || true
cargo build --locked -p gatepost-core --target wasm32-unknown-unknown
record_check core-wasm32 $?
