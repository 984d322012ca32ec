# 6. Emulator throughput on loopback: evaluation triggers (POST) and result polls (GET) per second,
# with latency percentiles, from wrk. wrk and the emulator share the machine's cores.

section_throughput() {
  section_begin 60-throughput
  local duration=10 conns=32 threads=2
  [[ $MODE == quick ]] && duration=3
  local body="$SECTION_RAW/trigger.json"
  jq -c --slurpfile cfg "$BENCH_DIR/configs/gate-pass-5s.json" -n \
    '{data: {type: "deployment_gates_evaluation_request", attributes: {service: "bench-pass", env: "bench",
      configuration: {dry_run: false, rules: [$cfg[0].rules[] | {type, name, dry_run: false, options}]}}}}' >"$body"

  md "## 6. Emulator throughput" ""
  md "wrk, $threads threads, $conns keep-alive connections, $duration s per endpoint, against a fresh"
  md "\`gatepost emulator\` (time scale 1, plain HTTP on loopback) per endpoint; wrk and the"
  md "emulator share the $(nproc) cores. Polls read one evaluation (in progress, one monitor rule,"
  md "evaluated on every request); triggers send a JIT request with one monitor rule." ""
  md "| endpoint | requests/s | p50 | p90 | p99 | max | errors / non-2xx |"
  md "|---|---|---|---|---|---|---|"
  local what url json
  for what in poll trigger; do
    emu_start "tp-$what" "$BENCH_DIR/worlds/bench.json" 1 || continue
    local id
    id=$(curl -s -X POST -H 'content-type: application/json' --data @"$body" \
      "$EMU_URL/api/v2/deployments/gates/evaluation" | jq -r '.data.attributes.evaluation_id')
    if [[ $what == poll ]]; then
      url="$EMU_URL/api/v2/deployments/gates/evaluation/$id"
      json=$(wrk -t"$threads" -c"$conns" -d"${duration}s" -s "$BENCH_DIR/lib/wrk-report.lua" "$url" 2>&1 | grep '^{')
    else
      url="$EMU_URL/api/v2/deployments/gates/evaluation"
      json=$(WRK_BODY_FILE=$body wrk -t"$threads" -c"$conns" -d"${duration}s" -s "$BENCH_DIR/lib/wrk-report.lua" "$url" 2>&1 | grep '^{')
    fi
    emu_stop "$EMU_PID"
    echo "$json" >"$SECTION_RAW/$what.json"
    if [[ -z $json ]]; then
      md "| $what | wrk failed | | | | | |"
      continue
    fi
    md "$(jq -r --arg what "$what" '
      def ms: (. / 1000 | . * 100 | round / 100 | tostring) + " ms";
      "| \($what) (`\(if $what == "poll" then "GET" else "POST" end)`) | \(.requests / (.duration_us / 1e6) | round) | \(.p50_us | ms) | \(.p90_us | ms) | \(.p99_us | ms) | \(.max_us | ms) | \(.errors) / \(.non_2xx) |"' <<<"$json")"
  done
  md "" "Commands:" ""
  md_cmd "$GATEPOST emulator --world bench/worlds/bench.json --port 0 --time-scale 1" \
    "wrk -t$threads -c$conns -d${duration}s -s bench/lib/wrk-report.lua http://127.0.0.1:PORT/api/v2/deployments/gates/evaluation/ID" \
    "WRK_BODY_FILE=trigger.json wrk -t$threads -c$conns -d${duration}s -s bench/lib/wrk-report.lua http://127.0.0.1:PORT/api/v2/deployments/gates/evaluation"
  md ""
}
