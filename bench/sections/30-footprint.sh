# 3. Footprint: what each artifact weighs on disk (and gzipped where that is how it travels).

bytes() { stat -c %s "$1" 2>/dev/null || echo 0; }
gz_bytes() { gzip -9 -c "$1" | wc -c; }
human() {
  python3 -c '
import sys
n = float(sys.argv[1])
for unit in ("B", "KiB", "MiB", "GiB"):
    if n < 1024 or unit == "GiB":
        print(f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}")
        break
    n /= 1024' "$1"
}

section_footprint() {
  section_begin 30-footprint
  md "## 3. Footprint" ""
  md "Sizes as built in this work tree (the CLI from this run's \`cargo build --release\`; the wheel,"
  md "the npm package and the wasm package as their suites last built them — a package that is not"
  md "built is listed as such)." ""
  md "| artifact | size | gzipped | vs datadog-ci installed |"
  md "|---|---|---|---|"
  local dd_bytes
  dd_bytes=$(du -sb "$WORK/peers/node_modules" | cut -f1)

  local bin=$GATEPOST b
  b=$(bytes "$bin")
  md "| CLI binary \`gatepost\` (release, with the emulator built in) | $(human "$b") | $(human "$(gz_bytes "$bin")") | $(ratio "$b" "$dd_bytes") |"
  strip -o "$SECTION_RAW/gatepost.stripped" "$bin" 2>/dev/null &&
    {
      b=$(bytes "$SECTION_RAW/gatepost.stripped")
      md "| CLI binary, stripped (\`strip\`) | $(human "$b") | $(human "$(gz_bytes "$SECTION_RAW/gatepost.stripped")") | $(ratio "$b" "$dd_bytes") |"
    }

  local wheel
  wheel=$(ls -t "$ROOT"/target/py-wheels/*.whl "$ROOT"/target/wheels/*.whl "$ROOT"/dist/*.whl 2>/dev/null | head -n1)
  if [[ -n $wheel ]]; then
    b=$(bytes "$wheel")
    md "| Python wheel \`${wheel##*/}\` | $(human "$b") | (a wheel is a zip) | $(ratio "$b" "$dd_bytes") |"
  else
    md "| Python wheel | not built | | |"
  fi

  if [[ -n $NODE_PKG ]]; then
    local pack
    pack=$(cd "$NODE_PKG" && npm pack --dry-run --json --loglevel=error 2>/dev/null)
    local size unpacked node_file
    size=$(jq -r '.[0].size // empty' <<<"$pack")
    unpacked=$(jq -r '.[0].unpackedSize // empty' <<<"$pack")
    node_file=$(ls "$NODE_PKG"/native/*.node 2>/dev/null | head -n1)
    if [[ -n $size ]]; then
      md "| npm \`@gatepost/node\` (linux-x64 addon + JS), installed | $(human "$unpacked") | $(human "$size") (npm tarball) | $(ratio "$unpacked" "$dd_bytes") |"
      if [[ -n $node_file ]]; then
        local note=''
        file "$node_file" 2>/dev/null | grep -q 'not stripped' && note=' (as built: not stripped)'
        md "| … of which the native addon \`${node_file##*/}\`$note | $(human "$(bytes "$node_file")") | $(human "$(gz_bytes "$node_file")") | |"
      fi
    fi
  else
    md "| npm \`@gatepost/node\` | not built | | |"
  fi

  local wasm_ok=n/a wasm_note="wasm package not built"
  if [[ -n $WASM_PKG ]]; then
    local wasm
    wasm=$(ls "$WASM_PKG"/*.wasm | head -n1)
    b=$(bytes "$wasm")
    local gz
    gz=$(gz_bytes "$wasm")
    md "| wasm module \`${wasm#"$ROOT"/}\` | $(human "$b") | $(human "$gz") | $(ratio "$b" "$dd_bytes") |"
    local js_total=0 f
    for f in "$WASM_PKG"/*.js "$WASM_PKG"/*.mjs; do [[ -f $f ]] && js_total=$((js_total + $(bytes "$f"))); done
    md "| … plus its JS glue and driver (\`${WASM_PKG#"$ROOT"/}/*.js\`) | $(human "$js_total") | | |"
    wasm_ok=no
    ((gz <= 150000)) && wasm_ok=yes
    wasm_note="$(human "$b") raw"
    target "wasm ≤ 150 KB gzipped" "$((gz / 1000)) KB gzipped ($gz bytes)" "$wasm_ok" "$wasm_note"
  else
    target "wasm ≤ 150 KB gzipped" "—" "n/a" "$wasm_note"
  fi

  if [[ -n $CURLJQ ]]; then
    md "| curl/jq script \`${CURLJQ#"$ROOT"/}\` | $(human "$(bytes "$CURLJQ")") | | (needs curl and jq installed) |"
  fi
  md "| **datadog-ci 5.25 + deployment plugin, installed** (\`node_modules\`) | $(human "$dd_bytes") | | 1.0× |"
  md ""
  md "Commands:" ""
  md_cmd "stat -c %s target/release/gatepost; gzip -9 -c FILE | wc -c" \
    "(cd crates/node && npm pack --dry-run --json)" \
    "du -sb bench/.work/peers/node_modules   # npm install @datadog/datadog-ci@$DATADOG_CI_VERSION @datadog/datadog-ci-plugin-deployment@$DATADOG_CI_VERSION"
  md ""
}
