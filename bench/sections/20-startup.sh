# 2. Startup and memory: `--help` (or importing the package) with hyperfine, peak RSS with GNU
# time; `validate` of a 20-rule config; the peak RSS of one whole evaluation per client.

section_startup() {
  section_begin 20-startup
  local fast_runs=200 slow_runs=10 rss_runs=5 warm=3
  if [[ $MODE == quick ]]; then fast_runs=30 slow_runs=3 rss_runs=2 warm=1; fi
  export DD_BETA_COMMANDS_ENABLED=1

  # name | runs | argv, arguments separated by ";"
  local rows=(
    "gatepost --help|$fast_runs|$GATEPOST;--help"
    "gatepost gate --help|$fast_runs|$GATEPOST;gate;--help"
    "datadog-ci deployment gate --help|$slow_runs|$DATADOG_CI;deployment;gate;--help"
  )
  [[ -n $PYTHON_BIN ]] && rows+=("python: import gatepost|$slow_runs|$PYTHON_BIN;-c;import gatepost")
  [[ -n $NODE_PKG ]] && rows+=("node: require('@gatepost/node')|$slow_runs|node;-e;require('$NODE_PKG')")
  rows+=("baseline: node -e 0|$slow_runs|node;-e;0")
  [[ -n $PYTHON_BIN ]] && rows+=("baseline: python -c pass|$slow_runs|$PYTHON_BIN;-c;pass")

  md "## 2. Startup and memory" ""
  md "Wall time from hyperfine (\`-N\`, no shell; $warm warm-up runs), peak resident set size (RSS) from"
  md "GNU time's \`%M\` over $rss_runs runs. Python and Node are libraries, not CLIs: their row is"
  md "starting the interpreter and importing the package; the bare interpreter is shown for scale." ""
  md "| command | wall median (min–max), ms | vs gatepost --help | peak RSS median (min–max), MiB | vs gatepost --help |"
  md "|---|---|---|---|---|"
  local row name runs cmd gp_ms='' gp_rss='' cmds=()
  for row in "${rows[@]}"; do
    IFS='|' read -r name runs cmd <<<"$row"
    local argv t m
    IFS=';' read -r -a argv <<<"$cmd"
    read -r -a t < <(hf "${name//[^a-z0-9]/_}" "$runs" "$warm" "${argv[@]}")
    read -r -a m < <(peak_rss_mib "$rss_runs" "${argv[@]}")
    if [[ $name == "gatepost --help" ]]; then gp_ms=${t[0]}; gp_rss=${m[0]}; fi
    md "| \`$name\` | ${t[0]} (${t[1]}–${t[2]}) | $(ratio "${t[0]}" "$gp_ms") | ${m[0]} (${m[1]}–${m[2]}) | $(ratio "${m[0]}" "$gp_rss") |"
    cmds+=("hyperfine -N --warmup $warm --runs $runs $(printf '%q ' "${argv[@]}")" "/usr/bin/time -f %M $(printf '%q ' "${argv[@]}")")
  done
  md ""
  local ok_ms=no ok_rss=no
  python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) <= 5 else 1)' "$gp_ms" 2>/dev/null && ok_ms=yes
  python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) <= 12 else 1)' "$gp_rss" 2>/dev/null && ok_rss=yes
  target "CLI \`--help\` ≤ 5 ms" "$gp_ms ms median" "$ok_ms"
  target "CLI \`--help\` ≤ 12 MiB peak RSS" "$gp_rss MiB median" "$ok_rss"

  # validate: a 20-rule config, offline. datadog-ci has no offline check.
  md "### validate a 20-rule config (\`bench/configs/rules20.json\`)" ""
  md "| validator | wall median (min–max), ms | peak RSS median, MiB |"
  md "|---|---|---|"
  local vrows=("gatepost validate|$fast_runs|$GATEPOST;validate;--config;$BENCH_DIR/configs/rules20.json;--version;v1")
  [[ -n $PYTHON_BIN ]] && vrows+=("python: gatepost.validate|$slow_runs|$PYTHON_BIN;$BENCH_DIR/drivers/validate.py;$BENCH_DIR/configs/rules20.json")
  [[ -n $NODE_PKG ]] && vrows+=("node: validate|$slow_runs|node;$BENCH_DIR/drivers/validate.cjs;$BENCH_DIR/configs/rules20.json")
  for row in "${vrows[@]}"; do
    IFS='|' read -r name runs cmd <<<"$row"
    local argv t m
    IFS=';' read -r -a argv <<<"$cmd"
    read -r -a t < <(hf "${name//[^a-z0-9]/_}" "$runs" "$warm" env "GATEPOST_NODE_PKG=$NODE_PKG" "${argv[@]}")
    read -r -a m < <(peak_rss_mib "$rss_runs" env "GATEPOST_NODE_PKG=$NODE_PKG" "${argv[@]}")
    md "| $name | ${t[0]} (${t[1]}–${t[2]}) | ${m[0]} |"
    cmds+=("hyperfine -N --warmup $warm --runs $runs $(printf '%q ' "${argv[@]}")")
  done
  md "| datadog-ci | — (no offline validation: it checks only that \`rules\` is a non-empty array, when it runs) | — |"
  md ""

  # One whole evaluation (trigger, poll, report) of a gate that passes at once.
  md "### peak RSS of one whole evaluation" ""
  md "A gate whose rule passes at once (\`bench/configs/pass-now.json\`, duration 0), against a fresh"
  md "emulator per client; $rss_runs runs. For the curl/jq script GNU time reports the largest single"
  md "process of its tree (sh, curl or jq), not their sum." ""
  md "| client | peak RSS median (min–max), MiB | vs gatepost | wall median, s (GNU time, 10 ms resolution) | exit codes |"
  md "|---|---|---|---|---|"
  local c gp_eval=''
  for c in "${CLIENTS_ALL[@]}"; do
    client_available "$c" || continue
    local tls=
    client_tls "$c" && tls=tls
    emu_start "rss-$c" "$BENCH_DIR/worlds/bench.json" 1 $tls || continue
    local i f="$SECTION_RAW/eval-$c"
    : >"$f.rss"; : >"$f.wall"; : >"$f.rc"
    for ((i = 0; i < rss_runs; i++)); do
      client "$c" now "$EMU_URL" 60
      /usr/bin/time -f '%M %e %x' -o "$f.one" "${CMD[@]}" >/dev/null 2>&1
      local line
      line=$(tail -n1 "$f.one")
      awk '{print $1/1024}' <<<"$line" >>"$f.rss"
      awk '{print $2}' <<<"$line" >>"$f.wall"
      awk '{print $3}' <<<"$line" >>"$f.rc"
    done
    emu_stop "$EMU_PID"
    local med
    med=$(stats median --digits 1 <"$f.rss")
    [[ $c == gatepost ]] && gp_eval=$med
    md "| $c | $(stats range --digits 1 <"$f.rss") | $(ratio "$med" "$gp_eval") | $(stats median --digits 2 <"$f.wall") | $(sort "$f.rc" | uniq -c | awk '{printf "%s%s×%s", (NR>1?", ":""), $1, $2}') |"
  done
  md ""
  local ok_eval=no
  python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) <= 15 else 1)' "$gp_eval" 2>/dev/null && ok_eval=yes
  target "CLI whole evaluation ≤ 15 MiB peak RSS" "$gp_eval MiB median" "$ok_eval"
  md "Commands:" ""
  md_cmd "${cmds[@]}"
  md ""
  unset DD_BETA_COMMANDS_ENABLED
}
