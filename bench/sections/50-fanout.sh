# 5. Fan-out: N concurrent evaluations of one gate (a JIT monitor rule that passes after D s at
# time scale 1, so all N are in flight together), driven from one process where the host allows
# it, and as N separate processes otherwise. CPU seconds (user + sys of the whole process tree,
# from GNU time) and peak memory of the tree (sampled every 0.5 s from /proc: RSS and PSS summed).
# One-process hosts also say when each evaluation's outcome was in hand; bench/lib/lateness.py
# compares that with the moment its result existed on the emulator (created_at + D s).
#
# BENCH_FANOUT_HOSTS=python,node (a comma list of cli, rust, node, python, datadog-ci) runs only
# those rows: datadog-ci's alone costs ~45 CPU-seconds, which a shared machine may not spare.

# fanout_wanted HOST — is this row kind in BENCH_FANOUT_HOSTS (or is that unset)?
fanout_wanted() { [[ -z ${BENCH_FANOUT_HOSTS:-} || ",$BENCH_FANOUT_HOSTS," == *",$1,"* ]]; }

# fanout_row LABEL COUNT CMD... — run one fan-out, sampling its tree; appends a line to
# $SECTION_RAW/rows.tsv: label count wall cpu peak_rss_kib peak_pss_kib summary late_p50 late_max
# exit_after_last_result. FANOUT_URL and FANOUT_DURATION name the emulator and the rule's length.
fanout_row() {
  local label=$1 count=$2
  shift 2
  local tag=${label//[^a-zA-Z0-9]/_}
  local done_file="$SECTION_RAW/$tag.done" started ended
  rm -f "$done_file"
  log "fan-out: $label ($count)"
  started=$(now_s)
  GATEPOST_FANOUT_DONE=$done_file /usr/bin/time -f '%e %U %S' -o "$SECTION_RAW/$tag.time" "$@" \
    >"$SECTION_RAW/$tag.out" 2>"$SECTION_RAW/$tag.err" &
  local pid=$!
  track_client "$pid"
  python3 "$BENCH_DIR/lib/memsample.py" "$pid" "$SECTION_RAW/$tag.mem.json" 0.5 &
  local sampler=$!
  track_client "$sampler"
  wait "$pid"
  ended=$(now_s)
  wait "$sampler"
  local wall user sys summary late='{}'
  read -r wall user sys < <(tail -n1 "$SECTION_RAW/$tag.time")
  summary=$(grep -E '^passed=' "$SECTION_RAW/$tag.out" | tail -n1)
  if [[ -s $done_file ]]; then
    late=$(python3 "$BENCH_DIR/lib/lateness.py" "$FANOUT_URL" "$done_file" "$FANOUT_DURATION" "$started" "$ended" 2>>"$SECTION_RAW/$tag.err" || echo '{}')
    printf '%s\n' "$late" >"$SECTION_RAW/$tag.late.json"
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$count" "$wall" \
    "$(python3 -c 'import sys; print(float(sys.argv[1]) + float(sys.argv[2]))' "$user" "$sys")" \
    "$(jq -r .peak_rss_kib "$SECTION_RAW/$tag.mem.json")" "$(jq -r .peak_pss_kib "$SECTION_RAW/$tag.mem.json")" \
    "${summary:-?}" "$(jq -r '.late_p50_s // "–"' <<<"$late")" "$(jq -r '.late_max_s // "–"' <<<"$late")" \
    "$(jq -r '.exit_after_last_result_s // "–"' <<<"$late")" >>"$SECTION_RAW/rows.tsv"
}

section_fanout() {
  section_begin 50-fanout
  local n=1000 n_dd=50 n_threads=100 gate=fanout duration=10
  if [[ $MODE == quick ]]; then n=100 n_dd=5 n_threads=100 gate=pass5 duration=5; fi
  gate_info "$gate"
  local cfg=$GATE_CONFIG svc=$GATE_SERVICE timeout=300
  : >"$SECTION_RAW/rows.tsv"
  local cmds=()
  local keys=("DD_API_KEY=$BENCH_API_KEY" "DD_APP_KEY=$BENCH_APP_KEY")

  emu_start fan-http "$BENCH_DIR/worlds/bench.json" 1 || return 1
  local url=$EMU_URL
  FANOUT_URL=$url FANOUT_DURATION=$duration
  if fanout_wanted cli; then
    client gatepost "$gate" "$url" "$timeout"
    fanout_row "gatepost CLI, $n processes" "$n" "$BENCH_DIR/drivers/fanout-procs.sh" "$n" "${CMD[@]}"
    cmds+=("bench/drivers/fanout-procs.sh $n ${CMD[*]}")
  fi

  if [[ -n ${FANOUT_HOST:-} ]] && fanout_wanted rust; then
    fanout_row "Rust host (gatepost-core, a thread each), 1 process" "$n" env "${keys[@]}" \
      "$FANOUT_HOST" "$n" "$svc" "$cfg" "$url" "$timeout"
    cmds+=("bench/.work/fanout/release/gatepost-bench-fanout $n $svc ${cfg#"$ROOT"/} $url $timeout   # bench/fanout")
  fi
  if [[ -n $NODE_PKG ]] && fanout_wanted node; then
    fanout_row "Node driver (@gatepost/node), 1 process" "$n" env "GATEPOST_NODE_PKG=$NODE_PKG" \
      "${keys[@]}" node "$BENCH_DIR/drivers/fanout.cjs" "$n" "$svc" "$cfg" "$url" "$timeout"
    cmds+=("node bench/drivers/fanout.cjs $n $svc ${cfg#"$ROOT"/} $url $timeout")
  fi
  if [[ -n $PYTHON_BIN ]] && fanout_wanted python; then
    local mode label
    for mode in async async-nohttpx async-httpx async-httpx-client "threads-$n_threads"; do
      local count=$n
      case $mode in
        async) label="Python asyncio.gather of evaluate_async, default (built-in asyncio transport), httpx installed, 1 process" ;;
        async-nohttpx) label="Python asyncio.gather of evaluate_async, default (built-in asyncio transport), without httpx, 1 process" ;;
        async-httpx) label="Python asyncio.gather of evaluate_async, use_httpx=True (one shared httpx client), 1 process" ;;
        async-httpx-client) label="Python asyncio.gather of evaluate_async, client= (the program's httpx.AsyncClient, 20 connections), 1 process" ;;
        *) label="Python ThreadPoolExecutor($n_threads) of blocking evaluate, 1 process" count=$n_threads ;;
      esac
      fanout_row "$label" "$count" env "${keys[@]}" "$PYTHON_BIN" "$BENCH_DIR/drivers/fanout.py" \
        "$mode" "$count" "$svc" "$cfg" "$url" "$timeout"
      cmds+=(".venv/bin/python bench/drivers/fanout.py $mode $count $svc ${cfg#"$ROOT"/} $url $timeout")
    done
  fi
  emu_stop "$EMU_PID"

  if fanout_wanted datadog-ci; then
    emu_start fan-tls "$BENCH_DIR/worlds/bench.json" 1 tls || return 1
    client datadog-ci "$gate" "$EMU_URL" "$timeout"
    fanout_row "datadog-ci, $n_dd processes" "$n_dd" "$BENCH_DIR/drivers/fanout-procs.sh" "$n_dd" "${CMD[@]}"
    cmds+=("bench/drivers/fanout-procs.sh $n_dd ${CMD[*]}")
    emu_stop "$EMU_PID"
  fi

  md "## 5. Fan-out" ""
  md "$n concurrent evaluations of one JIT gate (one monitor rule that passes after $duration s, time scale 1,"
  md "so they are all in flight together) against one emulator on loopback. CPU = user + sys of the"
  md "whole process tree (GNU time, 10 ms resolution); memory = the tree's peak, sampled every 0.5 s from"
  md "\`/proc/*/smaps_rollup\`: RSS summed (shared pages counted once per process) and PSS summed (shared"
  md "pages split between their users — the better total for many copies of one program)."
  md "*Late* (one-process hosts): when each evaluation's outcome was in the program's hands minus when"
  md "its result existed (the emulator's \`created_at\` + $duration s), median / largest; *exit − last result*:"
  md "the process's exit minus the last result's existence (it includes interpreter teardown)."
  md "The Python thread pool runs $n_threads blocking evaluations on $n_threads workers (one evaluation holds a"
  md "worker for its whole ${duration} s)."
  md "datadog-ci ran as $n_dd processes, and its totals are **extrapolated linearly** to $n (×$((n / n_dd))):"
  md "a linear extrapolation assumes the machine could hold all $n at once (see the memory column)." ""
  md "| host | evaluations | passed | wall, s | late p50 / max, s | exit − last result, s | CPU, s | CPU per evaluation, ms | peak RSS sum, MiB | peak PSS sum, MiB | PSS per evaluation, MiB |"
  md "|---|---|---|---|---|---|---|---|---|---|---|"
  local label count wall cpu rss pss summary late50 latemax exitlate gp_cpu='' gp_pss='' host_cpu='' host_pss='' node_cpu='' node_pss=''
  while IFS=$'\t' read -r label count wall cpu rss pss summary late50 latemax exitlate; do
    local per_cpu per_pss
    per_cpu=$(python3 -c 'import sys; print(f"{float(sys.argv[1]) / int(sys.argv[2]) * 1000:.1f}")' "$cpu" "$count")
    per_pss=$(python3 -c 'import sys; print(f"{int(sys.argv[1]) / 1024 / int(sys.argv[2]):.2f}")' "$pss" "$count")
    local passed late_cell='–'
    passed=$(sed -n 's/^passed=\([0-9]*\).*/\1/p' <<<"$summary")
    [[ $late50 != – ]] && late_cell="$late50 / $latemax"
    md "| $label | $count | ${passed:-?} | $wall | $late_cell | $exitlate | $(printf '%.2f' "$cpu") | $per_cpu | $((rss / 1024)) | $((pss / 1024)) | $per_pss |"
    if [[ $label == datadog-ci* ]]; then
      local f=$((n / count))
      md "| **datadog-ci, extrapolated to $n** | $n | | | | | $(python3 -c 'import sys; print(f"{float(sys.argv[1]) * int(sys.argv[2]):.0f}")' "$cpu" "$f") | $per_cpu | $((rss * f / 1024)) | $((pss * f / 1024)) | $per_pss |"
      echo "$label	$((pss * f))	$(python3 -c 'import sys; print(float(sys.argv[1]) * int(sys.argv[2]))' "$cpu" "$f")" >"$SECTION_RAW/dd-extrapolated.tsv"
    fi
    if [[ $label == "gatepost CLI"* ]]; then gp_cpu=$cpu gp_pss=$pss; fi
    if [[ $label == "Rust host"* ]]; then host_cpu=$cpu host_pss=$pss; fi
    if [[ $label == "Node driver"* ]]; then node_cpu=$cpu node_pss=$pss; fi
    if [[ $label == "Python asyncio"* && $MODE == full ]]; then
      # Issue 19: 1,000 concurrent evaluate_async within 1 s of their results, ≤ 5 CPU-s, ≤ 150 MB.
      local transport=httpx met=no
      [[ $label == *built-in* && $label == *"without httpx"* ]] && transport="default, without httpx"
      [[ $label == *built-in* && $label == *"httpx installed"* ]] && transport="default, httpx installed"
      [[ $label == *client=* ]] && transport="the program's httpx client"
      [[ $label == *use_httpx=True* ]] && transport="use_httpx=True"
      python3 -c 'import sys; late, cpu, rss = sys.argv[1:4]; sys.exit(0 if late != "–" and float(late) <= 1 and float(cpu) <= 5 and int(rss) <= 150 * 1000 * 1000 / 1024 else 1)' \
        "$latemax" "$cpu" "$rss" && met=yes
      target "Python: $n concurrent evaluate_async ($transport) ≤ 1 s late, ≤ 5 CPU-s, ≤ 150 MB (issue 19)" \
        "$latemax s late at most, $(printf '%.2f' "$cpu") CPU-s, $((rss * 1024 / 1000000)) MB peak RSS" "$met"
    fi
  done <"$SECTION_RAW/rows.tsv"
  if [[ -s $SECTION_RAW/dd-extrapolated.tsv && -n $gp_cpu ]]; then
    local dd_pss dd_cpu
    IFS=$'\t' read -r _ dd_pss dd_cpu <"$SECTION_RAW/dd-extrapolated.tsv"
    md "" "For $n evaluations, datadog-ci (extrapolated) needs $(ratio "$dd_cpu" "$gp_cpu") the CPU time and $(ratio "$dd_pss" "$gp_pss") the memory (PSS) of $n gatepost processes."
    [[ -n $node_cpu ]] && md "Against the Node driver in one process: $(ratio "$dd_cpu" "$node_cpu") the CPU time, $(ratio "$dd_pss" "$node_pss") the memory."
    [[ -n $host_cpu ]] && md "Against the one-process Rust host: $(ratio "$dd_cpu" "$host_cpu") the CPU time, $(ratio "$dd_pss" "$host_pss") the memory."
  fi
  [[ -n ${BENCH_FANOUT_HOSTS:-} ]] && md "" "Rows run: $BENCH_FANOUT_HOSTS (\`BENCH_FANOUT_HOSTS\`)."
  md "" "Commands (\`GATEPOST_FANOUT_DONE=FILE\` in the environment makes a one-process host write when each outcome was in hand; \`bench/lib/lateness.py\` reads it):" ""
  md_cmd "$GATEPOST emulator --world bench/worlds/bench.json --port 0 --time-scale 1" "${cmds[@]}"
  md ""
}
