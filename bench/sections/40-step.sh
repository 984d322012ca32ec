# 4. Engine step cost: criterion in Rust, then the same loop through Python (bench/drivers/step.py)
# and through Node and wasm (crates/wasm/bench/step.mjs, the wasm package's own step bench, which
# also drives the native Node addon). Ratios are over the Rust median.

section_step() {
  section_begin 40-step
  local measure=5 warm=2 steps=50000
  if [[ $MODE == quick ]]; then measure=1 warm=0.5 steps=5000; fi
  local name="engine step (handle + polls until wait)"
  log "cargo bench -p gatepost-core --bench step"
  (cd "$ROOT" && cargo bench -p gatepost-core --bench step --quiet -- \
    --warm-up-time "$warm" --measurement-time "$measure" >"$SECTION_RAW/criterion.out" 2>&1)
  local est="$ROOT/target/criterion/$name/new/estimates.json"
  local rust_us='' rust_lo='' rust_hi=''
  if [[ -f $est ]]; then
    rust_us=$(jq -r '.median.point_estimate / 1000' "$est")
    rust_lo=$(jq -r '.median.confidence_interval.lower_bound / 1000' "$est")
    rust_hi=$(jq -r '.median.confidence_interval.upper_bound / 1000' "$est")
    cp "$est" "$SECTION_RAW/estimates.json"
  fi
  local new_est="$ROOT/target/criterion/engine new + trigger + first response/new/estimates.json"

  md "## 4. Engine step cost" ""
  md "One step = one \`handle\` (an \`in_progress\` result while a request is awaited, otherwise the"
  md "\`timeout\` that ends the wait for the next poll) plus the \`poll\`s until \`wait\`, events drained:"
  md "the steady state of a long evaluation, no network. The same loop in every language"
  md "(\`crates/core/benches/step.rs\`, \`bench/drivers/step.py\`, \`crates/wasm/bench/step.mjs\`)."
  md "Rust: criterion's median and its 95 % confidence interval; bindings: mean over $steps steps"
  md "after a 2,000-step warm-up, 3 runs, median (min–max)." ""
  md "| host | µs per step | overhead over Rust |"
  md "|---|---|---|"
  if [[ -n $rust_us ]]; then
    md "| Rust (\`gatepost-core\`, criterion) | $(printf '%.2f (%.2f–%.2f)' "$rust_us" "$rust_lo" "$rust_hi") | 1.0× |"
  else
    md "| Rust (criterion) | failed: see bench/.work/raw/40-step/criterion.out | |"
  fi

  local host
  local i
  for ((i = 0; i < 3; i++)); do
    if [[ -n $PYTHON_BIN ]]; then
      "$PYTHON_BIN" "$BENCH_DIR/drivers/step.py" "$steps" >>"$SECTION_RAW/bindings.out" 2>&1
    fi
    if [[ -f $ROOT/crates/wasm/bench/step.mjs ]]; then
      (cd "$ROOT" && node crates/wasm/bench/step.mjs "$steps") >>"$SECTION_RAW/bindings.out" 2>&1
    fi
  done
  for host in "python" "native addon (Node)" "wasm (Node)"; do
    local vals
    vals=$(grep -F "$host: " "$SECTION_RAW/bindings.out" | grep 'µs per step' | awk -F': ' '{print $2}' | awk '{print $1}')
    if [[ -z $vals ]]; then
      local why="not built"
      [[ $host == python ]] || [[ -f $ROOT/crates/wasm/bench/step.mjs ]] || why="crates/wasm/bench/step.mjs is missing"
      grep -qF "$host: " "$SECTION_RAW/bindings.out" 2>/dev/null && why=$(grep -F "$host: " "$SECTION_RAW/bindings.out" | head -n1 | cut -d: -f2-)
      md "| $host | skipped: $why | |"
      continue
    fi
    local med
    med=$(stats median --digits 2 <<<"$vals")
    md "| $host | $(stats range --digits 2 <<<"$vals") | $(ratio "$med" "$rust_us") |"
  done
  if [[ -f $new_est ]]; then
    md "" "Starting an engine (options parsed, trigger request built, its 202 handled): $(jq -r '.median.point_estimate / 1000 | . * 100 | round / 100' "$new_est") µs in Rust."
  fi
  md "" "Commands:" ""
  md_cmd "cargo bench -p gatepost-core --bench step -- --warm-up-time $warm --measurement-time $measure" \
    ".venv/bin/python bench/drivers/step.py $steps" \
    "node crates/wasm/bench/step.mjs $steps"
  md ""
}
