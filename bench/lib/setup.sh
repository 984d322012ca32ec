# Set-up (idempotent installs, the release build, TLS, which optional packages exist) and the
# final report. Sourced by bench/run.

DATADOG_CI_VERSION=5.25.0

apt_install() {
  local pkgs=("$@")
  if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
    log "please install: ${pkgs[*]} (bench/run installs them itself only as root on Debian)"
    return 1
  fi
  if [[ ! -f $WORK/.apt-updated ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 && touch "$WORK/.apt-updated"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null 2>&1
}

setup_tools() {
  local missing=()
  command -v hyperfine >/dev/null || missing+=(hyperfine)
  command -v wrk >/dev/null || missing+=(wrk)
  [[ -x /usr/bin/time ]] || missing+=(time)
  command -v jq >/dev/null || missing+=(jq)
  command -v curl >/dev/null || missing+=(curl)
  command -v openssl >/dev/null || missing+=(openssl)
  if ((${#missing[@]})); then
    log "installing ${missing[*]} from Debian"
    apt_install "${missing[@]}" || true
  fi
  if ! command -v hyperfine >/dev/null; then
    log "hyperfine is not in apt here: cargo install hyperfine --locked"
    cargo install hyperfine --locked >/dev/null 2>&1 || true
  fi
  local t
  for t in hyperfine wrk jq curl openssl python3 node npm cargo; do
    command -v "$t" >/dev/null || { log "missing tool: $t"; return 1; }
  done
  [[ -x /usr/bin/time ]] || { log "missing /usr/bin/time (GNU time)"; return 1; }
}

# The published datadog-ci and its deployment plugin, pinned, in a gitignored directory.
setup_datadog_ci() {
  local dir="$WORK/peers"
  DATADOG_CI="$dir/node_modules/.bin/datadog-ci"
  local have
  have=$(node -p "require('$dir/node_modules/@datadog/datadog-ci-plugin-deployment/package.json').version" 2>/dev/null || true)
  if [[ $have != "$DATADOG_CI_VERSION" || ! -x $DATADOG_CI ]]; then
    log "installing @datadog/datadog-ci@$DATADOG_CI_VERSION from npm"
    mkdir -p "$dir"
    [[ -f $dir/package.json ]] || echo '{"name":"gatepost-bench-peers","private":true}' >"$dir/package.json"
    (cd "$dir" && npm install --no-audit --no-fund --loglevel=error \
      "@datadog/datadog-ci@$DATADOG_CI_VERSION" "@datadog/datadog-ci-plugin-deployment@$DATADOG_CI_VERSION" >/dev/null) ||
      { log "npm install of datadog-ci failed"; return 1; }
  fi
}

# The release CLI with the emulator built in, copied out of the shared target/ at once: another
# build of the same package with other features (a test suite, a colleague) would replace the
# binary under a running bench.
setup_gatepost() {
  log "cargo build --release -p gatepost --features emulator"
  (cd "$ROOT" && cargo build --release -p gatepost --features emulator --quiet) ||
    { log "the release build failed"; return 1; }
  mkdir -p "$WORK/bin"
  cp "$ROOT/target/release/gatepost" "$WORK/bin/gatepost.tmp" && mv "$WORK/bin/gatepost.tmp" "$WORK/bin/gatepost"
  GATEPOST="$WORK/bin/gatepost"
  "$GATEPOST" emulator --help >/dev/null 2>&1 && "$GATEPOST" emulator --world /nonexistent 2>&1 | grep -q 'built without the emulator' &&
    { log "target/release/gatepost was rebuilt without the emulator meanwhile; run bench/run again"; return 1; }
  return 0
}

# The one-process Rust host of the fan-out section (bench/fanout, its own workspace), built into
# the gitignored work directory. Optional: the section says so when it is missing.
setup_fanout_host() {
  FANOUT_HOST=
  log "cargo build --release --manifest-path bench/fanout/Cargo.toml"
  if (cd "$ROOT" && cargo build --release --quiet --manifest-path bench/fanout/Cargo.toml \
    --target-dir "$WORK/fanout"); then
    FANOUT_HOST="$WORK/fanout/release/gatepost-bench-fanout"
  else
    log "the fan-out host did not build; its row is skipped"
  fi
}

# Optional hosts: measured when their packages are set up in the work tree, skipped with a note
# otherwise (scripts/suites/50-python.sh, 60-node.sh and 70-wasm.sh set them up). The test suites
# build the Python and Node bindings in the dev profile; users get release builds, so those two are
# rebuilt here in release before anything is measured (the wasm suite already builds for size).
setup_optional() {
  if [[ -x $ROOT/.venv/bin/maturin ]]; then
    log "the Python binding in release (maturin develop --release)"
    VIRTUAL_ENV="$ROOT/.venv" PATH="$ROOT/.venv/bin:$PATH" "$ROOT/.venv/bin/maturin" develop --release --locked \
      --manifest-path "$ROOT/crates/py/Cargo.toml" >/dev/null 2>&1 || log "the release Python build failed; measuring what is installed"
  fi
  if [[ -d $ROOT/crates/node/node_modules ]]; then
    log "the Node addon in release (napi build --release)"
    (cd "$ROOT/crates/node" && npx --no-install napi build --platform --release --output-dir native -- --locked </dev/null >/dev/null 2>&1) \
      || log "the release Node build failed; measuring what is built"
  fi
  PYTHON_BIN=
  if [[ -x $ROOT/.venv/bin/python ]] && "$ROOT/.venv/bin/python" -c 'import gatepost' >/dev/null 2>&1; then
    PYTHON_BIN="$ROOT/.venv/bin/python"
  fi
  NODE_PKG=
  if [[ -f $ROOT/crates/node/dist/index.js ]] && node -e "require('$ROOT/crates/node')" >/dev/null 2>&1; then
    NODE_PKG="$ROOT/crates/node"
  fi
  WASM_PKG=
  local d
  for d in "$ROOT"/crates/wasm/pkg/node "$ROOT"/crates/wasm/pkg/web "$ROOT"/crates/wasm/pkg/bundler "$ROOT"/crates/wasm/pkg; do
    if compgen -G "$d/*.wasm" >/dev/null; then WASM_PKG=$d; break; fi
  done
  CURLJQ=
  if [[ -f $ROOT/tests/e2e/peers/gate.sh ]]; then CURLJQ="$ROOT/tests/e2e/peers/gate.sh"; fi
  log "optional: python=${PYTHON_BIN:+yes} node=${NODE_PKG:+yes} wasm=${WASM_PKG:+yes} curl/jq script=${CURLJQ:+yes}"
}

setup_all() {
  setup_tools || return 1
  setup_datadog_ci || return 1
  setup_gatepost || return 1
  make_tls
  setup_optional
  if [[ " ${SECTIONS[*]} " == *" fanout "* ]]; then setup_fanout_host; fi
  export GATEPOST DATADOG_CI TLS_DIR PYTHON_BIN NODE_PKG WASM_PKG CURLJQ FANOUT_HOST
}

# ---------------------------------------------------------------------------------------------

machine_description() {
  local cpu mem os kernel
  cpu=$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)
  mem=$(awk '/^MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo)
  os=$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")
  kernel=$(uname -sr)
  echo "| CPU | $cpu |"
  echo "| cores (nproc) | $(nproc) |"
  echo "| memory | $mem |"
  echo "| OS | $os, $kernel |"
  echo "| load average at start | ${LOAD_AT_START:-?} (1/5/15 min; other work shared the machine) |"
}

tool_versions() {
  local v
  echo "| gatepost | $("$GATEPOST" --version 2>/dev/null) (commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet HEAD -- crates 2>/dev/null || echo ', with local changes')) |"
  echo "| datadog-ci | $("$DATADOG_CI" version 2>/dev/null | tail -n1 || echo "?"), deployment plugin $DATADOG_CI_VERSION |"
  local script="(not present)"
  [[ -n $CURLJQ ]] && script=${CURLJQ#"$ROOT"/}
  echo "| curl/jq script | $script, $(curl --version | head -n1 | cut -d' ' -f1-2), $(jq --version) |"
  echo "| rustc | $(rustc --version) |"
  echo "| node | $(node --version) |"
  echo "| python | $(python3 --version 2>&1 | cut -d' ' -f2)${PYTHON_BIN:+ (venv: $("$PYTHON_BIN" --version 2>&1 | cut -d' ' -f2))} |"
  echo "| hyperfine | $(hyperfine --version | cut -d' ' -f2) |"
  v=$(wrk -v 2>&1 | head -n1 | cut -d' ' -f2)
  echo "| wrk | $v |"
  echo "| GNU time | $(dpkg-query -W -f '${Version}' time 2>/dev/null || /usr/bin/time --version 2>&1 | head -n1) |"
}

write_report() {
  local file=$1 took=$2 tmp
  tmp=$(mktemp)
  {
    echo "# gatepost benchmarks"
    echo
    echo "Generated by \`bench/run$([[ $MODE == quick ]] && echo ' --quick')\` on $(date -u '+%Y-%m-%d %H:%M UTC') in $((took / 60)) min $((took % 60)) s."
    if [[ $MODE == quick ]]; then
      echo "**Quick mode**: fewer iterations and a smaller fan-out; use a full run for numbers to quote."
    fi
    echo "Every number below was measured in this one run, on this machine, against the gatepost"
    echo "emulator on loopback; peers ran against the same emulator build and the same worlds."
    echo "Comparisons are ratios within the run. How to read it: [README.md](README.md)."
    echo
    echo "## Machine and tools"
    echo
    echo "| | |"
    echo "|---|---|"
    machine_description
    tool_versions
    echo
    echo "## gatepost's targets (issue 8)"
    echo
    echo "| target | measured | met | note |"
    echo "|---|---|---|---|"
    if [[ -s $OUT_DIR/targets.tsv ]]; then
      sort -s -t$'\t' -k1,1 "$OUT_DIR/targets.tsv" |
        awk -F'\t' '{printf "| %s | %s | %s | %s |\n", $2, $3, $4, $5}'
    else
      echo "| (no section with a target ran) | | | |"
    fi
    local f
    for f in "$OUT_DIR"/*.md; do
      [[ -f $f ]] || continue
      echo
      cat "$f"
    done
  } >"$tmp"
  mkdir -p "$(dirname "$file")"
  mv "$tmp" "$file"
}
