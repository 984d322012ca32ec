# 1. Decision latency: a monitor rule with duration 20 at time scale 1. The result exists exactly
# 20 s after the emulator created the evaluation (its `created_at`, in epoch ms, from the
# evaluations list); latency = client exit − that moment. Every run has its own emulator, so the
# request counters (X-RateLimit-Remaining of the bench world's huge limits) count one client.
# Then the preconfigured gate `latency` (rules stored on the emulator) for gatepost and datadog-ci,
# with the result on time and PRE_LATE_S late.

section_latency() {
  section_begin 10-latency
  local reps=5 duration=20
  [[ $MODE == quick ]] && reps=2
  local clients=() c
  for c in "${CLIENTS_ALL[@]}"; do client_available "$c" && clients+=("$c"); done

  # Launch every run at once (they mostly sleep), 0.4 s apart so they do not start in lockstep.
  local runs=() r u
  for ((r = 1; r <= reps; r++)); do
    for c in "${clients[@]}"; do
      local id="$c-$r" tls=
      client_tls "$c" && tls=tls
      emu_start "lat-$id" "$BENCH_DIR/worlds/bench.json" 1 $tls || continue
      echo "$EMU_URL" >"$SECTION_RAW/$id.url"
      client "$c" latency "$EMU_URL" 120 || continue
      (
        s=$(now_s)
        "${CMD[@]}" >"$SECTION_RAW/$id.out" 2>&1
        rc=$?
        echo "$s $(now_s) $rc" >"$SECTION_RAW/$id.time"
      ) &
      runs+=("$id:$!")
      track_client "$!"
      sleep 0.4
    done
  done
  # Preconfigured gate `latency` (the same 20 s rule, stored on the emulator): gatepost and
  # datadog-ci, with the result on time and 6 s late (the emulator's `result_late_by`, as the real
  # service's processing makes it). Launched with the runs above.
  local late_world="$SECTION_RAW/bench-late.json" pre_runs=() pcase
  jq 'del(.["$schema"]) | .faults = {"result_late_by": "'"$PRE_LATE_S"'s"}' \
    "$BENCH_DIR/worlds/bench.json" >"$late_world"
  for ((r = 1; r <= reps; r++)); do
    for pcase in ontime late; do
      for c in gatepost datadog-ci; do
        local id="pre-$pcase-$c-$r" tls= w="$BENCH_DIR/worlds/bench.json"
        [[ $pcase == late ]] && w=$late_world
        client_tls "$c" && tls=tls
        emu_start "lat-$id" "$w" 1 $tls || continue
        echo "$EMU_URL" >"$SECTION_RAW/$id.url"
        client_preconfigured "$c" "$EMU_URL" 120 || continue
        (
          s=$(now_s)
          "${CMD[@]}" >"$SECTION_RAW/$id.out" 2>&1
          rc=$?
          echo "$s $(now_s) $rc" >"$SECTION_RAW/$id.time"
        ) &
        pre_runs+=("$id:$!")
        track_client "$!"
        sleep 0.4
      done
    done
  done

  local run
  for run in "${runs[@]}" "${pre_runs[@]}"; do wait "${run#*:}" 2>/dev/null; done

  # Per run: latency, requests, exit code.
  for run in "${runs[@]}"; do
    local id=${run%%:*} url created s e rc counts
    url=$(cat "$SECTION_RAW/$id.url")
    read -r s e rc <"$SECTION_RAW/$id.time"
    created=$(evaluation_created_ms "$url")
    counts=$(requests_made "$url")
    python3 -c '
import sys
e, created, duration = float(sys.argv[1]), sys.argv[2], float(sys.argv[3])
lat = e - (float(created) / 1000 + duration) if created else float("nan")
print(f"{lat:.3f}")' "$e" "$created" "$duration" >"$SECTION_RAW/$id.latency"
    echo "$counts" | awk '{print $1 + $2}' >"$SECTION_RAW/$id.requests"
    echo "$rc" >"$SECTION_RAW/$id.rc"
  done
  # Preconfigured runs: latency after the result exists (created_at + 20 s + lateness) and
  # requests, the rules reads among them.
  for run in "${pre_runs[@]}"; do
    local id=${run%%:*} url created s e rc counts late=0 reads
    [[ $id == pre-late-* ]] && late=$PRE_LATE_S
    url=$(cat "$SECTION_RAW/$id.url")
    read -r s e rc <"$SECTION_RAW/$id.time"
    created=$(evaluation_created_ms "$url")
    counts=$(requests_made "$url")
    reads=$(rules_reads_made "$url" "$LATENCY_GATE_ID")
    python3 -c '
import sys
e, created, due = float(sys.argv[1]), sys.argv[2], float(sys.argv[3])
lat = e - (float(created) / 1000 + due) if created else float("nan")
print(f"{lat:.3f}")' "$e" "$created" "$((duration + late))" >"$SECTION_RAW/$id.latency"
    echo "$counts $reads" | awk '{print $1 + $2 + $3}' >"$SECTION_RAW/$id.requests"
    echo "$reads" >"$SECTION_RAW/$id.reads"
    echo "$rc" >"$SECTION_RAW/$id.rc"
  done
  stop_all_emulators

  md "## 1. Decision latency" ""
  md "A JIT gate with one monitor rule, \`duration: 20\`, emulator time scale 1 (real time); the gate"
  md "passes. Latency is the client's exit minus the moment the result became available (the"
  md "evaluation's \`created_at\` on the emulator + 20 s). Requests are what the emulator answered"
  md "(trigger + result polls). $reps run(s) per client, all in parallel, each against its own emulator."
  md "The curl/jq script cannot send inline rules: it evaluates the preconfigured gate \`latency\`,"
  md "which has the same rule." ""
  md "| client | latency median (min–max), s | requests median (min–max) | exit codes | latency vs gatepost |"
  md "|---|---|---|---|---|"
  local gp_median='' dd_requests='' gp_requests=''
  for c in "${clients[@]}"; do
    local lats reqs rcs median
    lats=$(cat "$SECTION_RAW/$c"-*.latency 2>/dev/null)
    reqs=$(cat "$SECTION_RAW/$c"-*.requests 2>/dev/null)
    rcs=$(cat "$SECTION_RAW/$c"-*.rc 2>/dev/null | sort | uniq -c | awk '{printf "%s%s×%s", (NR>1?", ":""), $1, $2}')
    median=$(stats median <<<"$lats")
    [[ $c == gatepost ]] && gp_median=$median && gp_requests=$(stats median --digits 0 <<<"$reqs")
    [[ $c == datadog-ci ]] && dd_requests=$(stats median --digits 0 <<<"$reqs")
    md "| $c | $(stats range <<<"$lats") | $(stats range --digits 0 <<<"$reqs") | $rcs | $(ratio "$median" "${gp_median:-$median}") |"
  done
  md "" "Commands (URL = the run's emulator; datadog-ci reaches it over TLS as \`api.$DD_SITE_BASE:PORT\`):" ""
  local shown=()
  for c in "${clients[@]}"; do
    local u=http://127.0.0.1:PORT
    client_tls "$c" && u=https://127.0.0.1:PORT
    client "$c" latency "$u" 120
    shown+=("${CMD[*]}")
  done
  md_cmd "$GATEPOST emulator --world bench/worlds/bench.json --port 0 --time-scale 1" "${shown[@]}"
  md ""

  local met=no
  if [[ -n $gp_median && -n $dd_requests ]] &&
    python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) <= 0.5 and float(sys.argv[2]) <= float(sys.argv[3]) else 1)' \
      "$gp_median" "$gp_requests" "$dd_requests"; then
    met=yes
  fi
  target "decision latency ≤ 0.5 s median, requests ≤ datadog-ci's" \
    "${gp_median} s median, ${gp_requests} requests (datadog-ci: ${dd_requests})" "$met"

  md "### Preconfigured gate" ""
  md "The preconfigured gate \`latency\` (the same rule, stored on the emulator; no \`--config\`), with"
  md "the result on time and ${PRE_LATE_S} s late: the emulator's \`result_late_by\` makes the result endpoint"
  md "report each evaluation as it stood ${PRE_LATE_S} s earlier, as the real service's processing does."
  md "Latency is the client's exit minus the moment the result became available (\`created_at\` + 20 s,"
  md "+ ${PRE_LATE_S} s when late). gatepost reads the gate's rules once (counted: the *rules reads* column)."
  md "$reps run(s) per client and case, in parallel with the runs above, each against its own emulator." ""
  md "| case | client | latency median (min–max), s | requests median (min–max) | rules reads | exit codes |"
  md "|---|---|---|---|---|---|"
  local pre_ok=yes pre_text=''
  for pcase in ontime late; do
    local label="result on time" gp_lat='' gp_req='' dd_req=''
    [[ $pcase == late ]] && label="result ${PRE_LATE_S} s late"
    for c in gatepost datadog-ci; do
      local lats reqs reads rcs
      lats=$(cat "$SECTION_RAW/pre-$pcase-$c"-*.latency 2>/dev/null)
      reqs=$(cat "$SECTION_RAW/pre-$pcase-$c"-*.requests 2>/dev/null)
      reads=$(cat "$SECTION_RAW/pre-$pcase-$c"-*.reads 2>/dev/null | stats median --digits 0)
      rcs=$(cat "$SECTION_RAW/pre-$pcase-$c"-*.rc 2>/dev/null | sort | uniq -c | awk '{printf "%s%s×%s", (NR>1?", ":""), $1, $2}')
      [[ $c == gatepost ]] && gp_lat=$(stats median <<<"$lats") && gp_req=$(stats median --digits 0 <<<"$reqs")
      [[ $c == datadog-ci ]] && dd_req=$(stats median --digits 0 <<<"$reqs")
      md "| $label | $c | $(stats range <<<"$lats") | $(stats range --digits 0 <<<"$reqs") | $reads | $rcs |"
    done
    pre_text+="${pre_text:+; }$label: ${gp_lat} s, ${gp_req} requests (datadog-ci ${dd_req})"
    if ! python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) <= 1.5 and float(sys.argv[2]) <= float(sys.argv[3]) + 1 else 1)' \
      "$gp_lat" "$gp_req" "$dd_req" 2>/dev/null; then
      pre_ok=no
    fi
  done
  md "" "Commands:" ""
  local shown=()
  for c in gatepost datadog-ci; do
    local u=http://127.0.0.1:PORT
    client_tls "$c" && u=https://127.0.0.1:PORT
    client_preconfigured "$c" "$u" 120
    shown+=("${CMD[*]}")
  done
  md_cmd "$GATEPOST emulator --world bench/worlds/bench.json --port 0 --time-scale 1" \
    "# late: the same world with \"faults\": {\"result_late_by\": \"${PRE_LATE_S}s\"}" "${shown[@]}"
  md ""
  target "preconfigured gate: verdict ≤ 1.5 s after the result, ≤ datadog-ci's requests + 1 (on time and late)" \
    "$pre_text" "$pre_ok"
}

# How late the late preconfigured result is, in seconds.
PRE_LATE_S=6
