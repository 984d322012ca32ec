# 7. Fault matrix: each fault of the emulator's fault plans, in each phase (the trigger POST, the
# result GET), with a gate that should pass and one that should fail; every client, each run
# against its own emulator. Recorded: exit code, whether it is the right decision, wall time, and
# how far past --timeout the client ran.

# fault_plan FAULT PHASE — the `faults` object of the world for this cell.
fault_plan() {
  local fault=$1 phase=$2 endpoint=trigger
  [[ $phase == poll ]] && endpoint=result
  case $fault in
    429) echo "{\"$endpoint\": [{\"kind\": \"rate_limited\", \"times\": 2, \"retry_after\": 2}]}" ;;
    5xx) echo "{\"$endpoint\": [{\"kind\": \"status\", \"status\": 503, \"times\": 3}]}" ;;
    reset) echo "{\"$endpoint\": [{\"kind\": \"reset\", \"times\": 2}]}" ;;
    garbage) echo "{\"$endpoint\": [{\"kind\": \"garbage\", \"times\": 2}]}" ;;
    hang) echo "{\"$endpoint\": [{\"kind\": \"hang\", \"times\": 1, \"ms\": $FAULT_HANG_MS}]}" ;;
    outage) echo "{\"$endpoint\": [{\"kind\": \"hang\", \"times\": 100000, \"ms\": $FAULT_HANG_MS}]}" ;;
    404)
      if [[ $phase == poll ]]; then
        echo "{\"result_not_found_for\": \"${FAULT_NOT_READY_S}s\"}"
      else
        echo "{\"trigger\": [{\"kind\": \"not_found\", \"times\": 1000}]}"
      fi
      ;;
  esac
}

fault_label() {
  case $1 in
    429) echo "429 rate limited ×2 (Retry-After 2 s)" ;;
    5xx) echo "503 burst ×3" ;;
    reset) echo "connection reset ×2" ;;
    garbage) echo "garbage 200 body ×2" ;;
    hang) echo "hung connection ×1 ($((FAULT_HANG_MS / 1000)) s, then reset)" ;;
    404) echo "404" ;;
    outage) echo "every request hangs ($((FAULT_HANG_MS / 1000)) s each): an outage past --timeout" ;;
  esac
}

# The right exit code for a cell: the gate's own result, except that a trigger answered 404 on
# every attempt means the gate does not exist — never a pass (docs/wire-protocol.md, docs/architecture.md) — and that an
# outage outlasting --timeout leaves no result to report: every client documents exit 0 then
# (fail-open) unless told to fail on errors.
fault_expected() {
  local fault=$1 phase=$2 gate=$3
  if [[ $fault == 404 && $phase == trigger ]]; then echo 1; return; fi
  if [[ $fault == outage ]]; then echo 0; return; fi
  [[ $gate == pass5 ]] && echo 0 || echo 1
}

section_faults() {
  section_begin 70-faults
  FAULT_TIMEOUT=60 FAULT_HANG_MS=90000 FAULT_NOT_READY_S=30
  local grace=60 clients=() c
  if [[ $MODE == quick ]]; then
    FAULT_TIMEOUT=45 FAULT_HANG_MS=50000 grace=30
    for c in gatepost datadog-ci curl-jq; do client_available "$c" && clients+=("$c"); done
  else
    for c in "${CLIENTS_ALL[@]}"; do client_available "$c" && clients+=("$c"); done
  fi
  local faults=(429 5xx reset garbage hang 404 outage) phases=(trigger poll) gates=(pass5 fail5)
  local base="$BENCH_DIR/worlds/bench.json"
  local fault phase gate runs=()

  for fault in "${faults[@]}"; do
    for phase in "${phases[@]}"; do
      local world="$SECTION_RAW/world-$fault-$phase.json"
      jq --argjson faults "$(fault_plan "$fault" "$phase")" '.faults = $faults' "$base" >"$world"
      for gate in "${gates[@]}"; do
        for c in "${clients[@]}"; do
          local id="${fault}_${phase}_${gate}_$c" tls=
          client_tls "$c" && tls=tls
          emu_start "f-$id" "$world" 1 $tls || continue
          client "$c" "$gate" "$EMU_URL" "$FAULT_TIMEOUT" || continue
          (
            s=$(now_s)
            timeout -s KILL $((FAULT_TIMEOUT + grace)) "${CMD[@]}" >"$SECTION_RAW/$id.out" 2>&1
            rc=$?
            echo "$s $(now_s) $rc" >"$SECTION_RAW/$id.time"
          ) 2>/dev/null &
          runs+=("$id:$!")
          track_client "$!"
          # Node's start-up is CPU-heavy: spread those so start-ups do not queue on the cores.
          case $c in datadog-ci) sleep 0.3 ;; node | python) sleep 0.15 ;; *) sleep 0.1 ;; esac
        done
      done
    done
  done
  log "fault matrix: ${#runs[@]} runs started; waiting (up to $((FAULT_TIMEOUT + grace)) s each)"
  local run
  for run in "${runs[@]}"; do wait "${run#*:}" 2>/dev/null; done
  stop_all_emulators

  md "## 7. Fault matrix" ""
  md "Each cell: a fresh emulator (time scale 1) whose world has one fault plan, a gate that should"
  md "pass (\`bench-pass\`, one monitor rule, duration 5 s) or fail (\`bench-fail\`: a monitor in Alert),"
  md "\`--timeout $FAULT_TIMEOUT\` (the curl/jq script: \`GATE_TIMEOUT=$FAULT_TIMEOUT\`), default settings otherwise."
  md "A client still running $grace s after its timeout is killed (\"killed\": it would have run longer). Cell: exit code, ✓ when it"
  md "is the right decision, wall time; **+N s** = how far past \`--timeout\` it ran."
  md "404: in the trigger phase every trigger answers 404 (\"no gate found\"), and the right answer is"
  md "exit 1 whatever the rules say — a gate that does not exist must never pass; in the poll phase"
  md "the result answers 404 for the first $FAULT_NOT_READY_S s after the trigger, as the service does before an"
  md "evaluation has started. The last rows are an outage that outlasts \`--timeout\`: no result can"
  md "be known, every client documents exit 0 (fail-open) for it without \`--fail-on-error\`, and what"
  md "matters is that the client stops at its deadline." ""
  local header="| fault | phase | gate (right exit) |" sep="|---|---|---|"
  for c in "${clients[@]}"; do header+=" $c |"; sep+="---|"; done
  md "$header" "$sep"
  declare -A right=() total=() maxover=() over1=()
  for c in "${clients[@]}"; do right[$c]=0 total[$c]=0 maxover[$c]=0 over1[$c]=0; done
  for fault in "${faults[@]}"; do
    for phase in "${phases[@]}"; do
      for gate in "${gates[@]}"; do
        local expected label
        expected=$(fault_expected "$fault" "$phase" "$gate")
        label=$(fault_label "$fault")
        [[ $fault == 404 && $phase == poll ]] && label="404 for the first $FAULT_NOT_READY_S s"
        [[ $fault == 404 && $phase == trigger ]] && label="404 on every trigger"
        local row="| $label | $phase | ${gate%5} ($expected) |"
        for c in "${clients[@]}"; do
          local id="${fault}_${phase}_${gate}_$c" s e rc
          if [[ ! -f $SECTION_RAW/$id.time ]]; then row+=" not run |"; continue; fi
          read -r s e rc <"$SECTION_RAW/$id.time"
          local wall over mark
          read -r wall over < <(awk -v s="$s" -v e="$e" -v t="$FAULT_TIMEOUT" \
            'BEGIN { w = e - s; o = w - t; if (o < 0) o = 0; printf "%.1f %.1f\n", w, o }')
          total[$c]=$((total[$c] + 1))
          if [[ $rc == "$expected" ]]; then mark=✓; right[$c]=$((right[$c] + 1)); else mark=✗; fi
          maxover[$c]=$(awk -v a="${maxover[$c]}" -v b="$over" 'BEGIN { print (b > a ? b : a) }')
          awk -v o="$over" 'BEGIN { exit !(o > 1) }' && over1[$c]=$((over1[$c] + 1))
          local cell="$rc $mark ${wall} s"
          awk -v o="$over" 'BEGIN { exit !(o > 0) }' && cell+=" **+${over} s**"
          [[ $rc == 137 ]] && cell="killed ✗ ${wall} s **≥ +${over} s**"
          row+=" $cell |"
        done
        md "$row"
      done
    done
  done
  md "" "| client | right decisions | runs past --timeout by > 1 s | largest overrun |" "|---|---|---|---|"
  for c in "${clients[@]}"; do
    md "| $c | ${right[$c]}/${total[$c]} | ${over1[$c]} | $(printf '%.1f' "${maxover[$c]}") s |"
  done
  md ""
  target "fault matrix: gatepost right in every cell" "${right[gatepost]}/${total[gatepost]}" \
    "$([[ ${right[gatepost]} == "${total[gatepost]}" ]] && echo yes || echo no)"
  target "fault matrix: gatepost never > 1 s past --timeout" "largest overrun $(printf '%.1f' "${maxover[gatepost]}") s" \
    "$([[ ${over1[gatepost]} == 0 ]] && echo yes || echo no)"
  md "Commands (per cell; the world is \`bench/worlds/bench.json\` with \`.faults\` set, e.g. \`$(fault_plan 5xx poll)\`):" ""
  local shown=()
  for c in "${clients[@]}"; do
    local u=http://127.0.0.1:PORT
    client_tls "$c" && u=https://127.0.0.1:PORT
    client "$c" pass5 "$u" "$FAULT_TIMEOUT"
    shown+=("timeout -s KILL $((FAULT_TIMEOUT + grace)) ${CMD[*]}")
  done
  md_cmd "$GATEPOST emulator --world WORLD --port 0 --time-scale 1" "${shown[@]}"
  md ""
}
