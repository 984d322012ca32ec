# 5. Fan-out: N concurrent evaluations of one gate (a JIT monitor rule that passes after D s at
# time scale 1, so all N are in flight together), driven from one process where the host allows
# it, and as N separate processes otherwise. CPU seconds (user + sys of the whole process tree,
# from GNU time) and peak memory of the tree (sampled every 0.5 s from /proc: RSS and PSS summed).

# fanout_row LABEL COUNT CMD... — run one fan-out, sampling its tree; appends a line to
# $SECTION_RAW/rows.tsv: label count wall cpu peak_rss_kib peak_pss_kib summary
fanout_row() {
  local label=$1 count=$2
  shift 2
  local tag=${label//[^a-zA-Z0-9]/_}
  log "fan-out: $label ($count)"
  /usr/bin/time -f '%e %U %S' -o "$SECTION_RAW/$tag.time" "$@" >"$SECTION_RAW/$tag.out" 2>"$SECTION_RAW/$tag.err" &
  local pid=$!
  track_client "$pid"
  python3 "$BENCH_DIR/lib/memsample.py" "$pid" "$SECTION_RAW/$tag.mem.json" 0.5 &
  local sampler=$!
  track_client "$sampler"
  wait "$pid"
  wait "$sampler"
  local wall user sys summary
  read -r wall user sys < <(tail -n1 "$SECTION_RAW/$tag.time")
  summary=$(grep -E '^passed=' "$SECTION_RAW/$tag.out" | tail -n1)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$count" "$wall" \
    "$(python3 -c 'import sys; print(float(sys.argv[1]) + float(sys.argv[2]))' "$user" "$sys")" \
    "$(jq -r .peak_rss_kib "$SECTION_RAW/$tag.mem.json")" "$(jq -r .peak_pss_kib "$SECTION_RAW/$tag.mem.json")" \
    "${summary:-?}" >>"$SECTION_RAW/rows.tsv"
}

section_fanout() {
  section_begin 50-fanout
  local n=1000 n_dd=50 gate=latency duration=20
  if [[ $MODE == quick ]]; then n=100 n_dd=5 gate=pass5 duration=5; fi
  gate_info "$gate"
  local cfg=$GATE_CONFIG svc=$GATE_SERVICE timeout=300
  : >"$SECTION_RAW/rows.tsv"
  local cmds=()

  emu_start fan-http "$BENCH_DIR/worlds/bench.json" 1 || return 1
  local url=$EMU_URL
  client gatepost "$gate" "$url" "$timeout"
  fanout_row "gatepost CLI, $n processes" "$n" "$BENCH_DIR/drivers/fanout-procs.sh" "$n" "${CMD[@]}"
  cmds+=("bench/drivers/fanout-procs.sh $n ${CMD[*]}")

  if [[ -n ${FANOUT_HOST:-} ]]; then
    fanout_row "Rust host (gatepost-core, a thread each), 1 process" "$n" env "DD_API_KEY=$BENCH_API_KEY" "DD_APP_KEY=$BENCH_APP_KEY" \
      "$FANOUT_HOST" "$n" "$svc" "$cfg" "$url" "$timeout"
    cmds+=("bench/.work/fanout/release/gatepost-bench-fanout $n $svc ${cfg#"$ROOT"/} $url $timeout   # bench/fanout")
  fi
  if [[ -n $NODE_PKG ]]; then
    fanout_row "Node driver (@gatepost/node), 1 process" "$n" env "GATEPOST_NODE_PKG=$NODE_PKG" \
      "DD_API_KEY=$BENCH_API_KEY" "DD_APP_KEY=$BENCH_APP_KEY" node "$BENCH_DIR/drivers/fanout.cjs" "$n" "$svc" "$cfg" "$url" "$timeout"
    cmds+=("node bench/drivers/fanout.cjs $n $svc ${cfg#"$ROOT"/} $url $timeout")
  fi
  emu_stop "$EMU_PID"

  emu_start fan-tls "$BENCH_DIR/worlds/bench.json" 1 tls || return 1
  client datadog-ci "$gate" "$EMU_URL" "$timeout"
  fanout_row "datadog-ci, $n_dd processes" "$n_dd" "$BENCH_DIR/drivers/fanout-procs.sh" "$n_dd" "${CMD[@]}"
  cmds+=("bench/drivers/fanout-procs.sh $n_dd ${CMD[*]}")
  emu_stop "$EMU_PID"

  md "## 5. Fan-out" ""
  md "$n concurrent evaluations of one JIT gate (one monitor rule that passes after $duration s, time scale 1,"
  md "so they are all in flight together) against one emulator on loopback. CPU = user + sys of the"
  md "whole process tree (GNU time, 10 ms resolution); memory = the tree's peak, sampled every 0.5 s from"
  md "\`/proc/*/smaps_rollup\`: RSS summed (shared pages counted once per process) and PSS summed (shared"
  md "pages split between their users — the better total for many copies of one program)."
  md "datadog-ci ran as $n_dd processes, and its totals are **extrapolated linearly** to $n (×$((n / n_dd))):"
  md "a linear extrapolation assumes the machine could hold all $n at once (see the memory column)." ""
  md "| host | evaluations | passed | wall, s | CPU, s | CPU per evaluation, ms | peak RSS sum, MiB | peak PSS sum, MiB | PSS per evaluation, MiB |"
  md "|---|---|---|---|---|---|---|---|---|"
  local label count wall cpu rss pss summary gp_cpu='' gp_pss='' host_cpu='' host_pss='' node_cpu='' node_pss=''
  while IFS=$'\t' read -r label count wall cpu rss pss summary; do
    local per_cpu per_pss
    per_cpu=$(python3 -c 'import sys; print(f"{float(sys.argv[1]) / int(sys.argv[2]) * 1000:.1f}")' "$cpu" "$count")
    per_pss=$(python3 -c 'import sys; print(f"{int(sys.argv[1]) / 1024 / int(sys.argv[2]):.2f}")' "$pss" "$count")
    local passed
    passed=$(sed -n 's/^passed=\([0-9]*\).*/\1/p' <<<"$summary")
    md "| $label | $count | ${passed:-?} | $wall | $(printf '%.2f' "$cpu") | $per_cpu | $((rss / 1024)) | $((pss / 1024)) | $per_pss |"
    if [[ $label == datadog-ci* ]]; then
      local f=$((n / count))
      md "| **datadog-ci, extrapolated to $n** | $n | | | $(python3 -c 'import sys; print(f"{float(sys.argv[1]) * int(sys.argv[2]):.0f}")' "$cpu" "$f") | $per_cpu | $((rss * f / 1024)) | $((pss * f / 1024)) | $per_pss |"
      echo "$label	$((pss * f))	$(python3 -c 'import sys; print(float(sys.argv[1]) * int(sys.argv[2]))' "$cpu" "$f")" >"$SECTION_RAW/dd-extrapolated.tsv"
    fi
    if [[ $label == "gatepost CLI"* ]]; then gp_cpu=$cpu gp_pss=$pss; fi
    if [[ $label == "Rust host"* ]]; then host_cpu=$cpu host_pss=$pss; fi
    if [[ $label == "Node driver"* ]]; then node_cpu=$cpu node_pss=$pss; fi
  done <"$SECTION_RAW/rows.tsv"
  if [[ -s $SECTION_RAW/dd-extrapolated.tsv && -n $gp_cpu ]]; then
    local dd_pss dd_cpu
    IFS=$'\t' read -r _ dd_pss dd_cpu <"$SECTION_RAW/dd-extrapolated.tsv"
    md "" "For $n evaluations, datadog-ci (extrapolated) needs $(ratio "$dd_cpu" "$gp_cpu") the CPU time and $(ratio "$dd_pss" "$gp_pss") the memory (PSS) of $n gatepost processes."
    [[ -n $node_cpu ]] && md "Against the Node driver in one process: $(ratio "$dd_cpu" "$node_cpu") the CPU time, $(ratio "$dd_pss" "$node_pss") the memory."
    [[ -n $host_cpu ]] && md "Against the one-process Rust host: $(ratio "$dd_cpu" "$host_cpu") the CPU time, $(ratio "$dd_pss" "$host_pss") the memory."
  fi
  md "" "Commands:" ""
  md_cmd "$GATEPOST emulator --world bench/worlds/bench.json --port 0 --time-scale 1" "${cmds[@]}"
  md ""
}
