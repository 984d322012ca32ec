# Helpers shared by bench/run and its sections (sourced, never run on its own).
# shellcheck disable=SC2034  # CMD, CLIENTS_ALL, GATE_* and the like are read by the sections
#
# Conventions: every section writes its markdown to "$OUT_DIR/NN-name.md" and one line per
# headline target to "$OUT_DIR/targets.tsv" (target, measured, met yes/no/n/a, note); raw data
# goes under "$WORK/raw/<section>/" so a number in RESULTS.md can be traced to its run.

# Seconds since the epoch with microseconds, without forking (bash 5's EPOCHREALTIME).
now_s() { printf '%s' "$EPOCHREALTIME"; }

log() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# Append a markdown line (or several) to the current section's fragment.
md() { printf '%s\n' "$@" >>"$SECTION_MD"; }

# Start a section: its fragment file and its raw-data directory.
section_begin() {
  SECTION_MD="$OUT_DIR/$1.md"
  SECTION_RAW="$WORK/raw/$1"
  rm -rf "$SECTION_RAW"
  mkdir -p "$SECTION_RAW"
  : >"$SECTION_MD"
  log "section $1"
}

# target TEXT MEASURED MET NOTE — a row of the summary table at the top of RESULTS.md.
# Rows are sorted by section (then kept in the order written) whatever order sections ran in.
target() { printf '%s\t%s\t%s\t%s\t%s\n' "${SECTION_MD##*/}" "$1" "$2" "$3" "${4:-}" >>"$OUT_DIR/targets.tsv"; }

# Statistics over numbers on stdin: `stats median|min|max|mean|p99|sum|count|summary`.
stats() { python3 "$BENCH_DIR/lib/stats.py" "$@"; }

# A fenced block holding a command line as it was run, with the repository root shortened.
md_cmd() {
  md '```sh'
  local line
  for line in "$@"; do
    line=${line//$WORK\/bin\/gatepost/target/release/gatepost}
    line=${line//$ROOT\//}
    md "$(sed -E 's/(127\.0\.0\.1|gatepost-bench\.test):[0-9]+/\1:PORT/g; s/ +$//' <<<"$line")"
  done
  md '```'
}

# Client runs started in the background (subshells around `timeout`/a client), so that an
# interrupted bench stops them too: each subshell's children first (timeout passes the signal on
# to its client), then the subshell.
CLIENT_PIDS=()
track_client() { CLIENT_PIDS+=("$1"); }
stop_clients() {
  local pid child
  for pid in "${CLIENT_PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null || continue
    for child in $(pgrep -P "$pid" 2>/dev/null); do kill "$child" 2>/dev/null; done
    kill "$pid" 2>/dev/null
  done
  CLIENT_PIDS=()
}

# ---------------------------------------------------------------------------------------------
# Emulators. Each one is a `gatepost emulator` process of this run; EMULATOR_PIDS lets the EXIT
# trap stop exactly the processes bench/run started.

EMULATOR_PIDS=()

# emu_start NAME WORLD SCALE [tls] — start an emulator on a free loopback port and wait for its
# "listening on URL" line. Sets EMU_URL (http://127.0.0.1:PORT or https://…) and EMU_PID.
emu_start() {
  local name=$1 world=$2 scale=$3 tls=${4:-}
  local dir="$WORK/emu"
  mkdir -p "$dir"
  local out="$dir/$name.out" err="$dir/$name.err"
  : >"$out"
  local args=(emulator --world "$world" --port 0 --time-scale "$scale")
  if [[ $tls == tls ]]; then args+=(--tls-cert "$TLS_DIR/server.pem" --tls-key "$TLS_DIR/server.key"); fi
  "$GATEPOST" "${args[@]}" >"$out" 2>"$err" &
  EMU_PID=$!
  EMULATOR_PIDS+=("$EMU_PID")
  local i line=''
  for ((i = 0; i < 400; i++)); do
    line=$(head -n1 "$out" 2>/dev/null || true)
    [[ $line == *"listening on "* ]] && break
    if ! kill -0 "$EMU_PID" 2>/dev/null; then
      log "emulator $name died: $(cat "$err")"
      return 1
    fi
    sleep 0.025
  done
  EMU_URL=${line##*listening on }
  EMU_URL=${EMU_URL%%[[:space:]]*}
  [[ $EMU_URL == http* ]] || { log "emulator $name did not start: $(cat "$err")"; return 1; }
}

# Stop emulators of this run: SIGTERM, then SIGKILL for any still alive a second later (an
# emulator holding a `hang` fault's connection may wait for it before it exits).
emu_stop() { stop_pids "$@"; }

stop_pids() {
  local pid i alive
  for pid in "$@"; do kill "$pid" 2>/dev/null || true; done
  for ((i = 0; i < 20; i++)); do
    alive=0
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.05
  done
  for pid in "$@"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
}

stop_all_emulators() {
  ((${#EMULATOR_PIDS[@]})) && stop_pids "${EMULATOR_PIDS[@]}"
  EMULATOR_PIDS=()
}

# requests_made URL — how many trigger and result requests the emulator at URL has answered so
# far, read from the X-RateLimit-Remaining headers of the huge limits in bench worlds: one probe
# request per endpoint (not counted). Prints "TRIGGERS RESULTS".
requests_made() {
  local url=$1 limit=1000000000 t r
  local curl_tls=()
  [[ $url == https* ]] && curl_tls=(--cacert "$TLS_DIR/ca.pem" --resolve "$DD_HOST:${url##*:}:127.0.0.1")
  local base=$url
  [[ $url == https* ]] && base="https://$DD_HOST:${url##*:}"
  t=$(curl -s -o /dev/null -D - "${curl_tls[@]}" -X POST -H 'content-type: application/json' \
    -d '{}' "$base/api/v2/deployments/gates/evaluation" |
    tr -d '\r' | awk -F': ' 'tolower($1)=="x-ratelimit-remaining"{print $2}')
  r=$(curl -s -o /dev/null -D - "${curl_tls[@]}" \
    "$base/api/v2/deployments/gates/evaluation/00000000-0000-4000-8000-000000000000" |
    tr -d '\r' | awk -F': ' 'tolower($1)=="x-ratelimit-remaining"{print $2}')
  if [[ -z $t || -z $r ]]; then
    echo "? ?"
    return
  fi
  echo "$((limit - t - 1)) $((limit - r - 1))"
}

# rules_reads_made URL GATE_ID — how many reads of GATE_ID's rules the emulator at URL has answered,
# from the X-RateLimit-Remaining of the bench worlds' huge `rules` limit (one probe, not counted).
rules_reads_made() {
  local url=$1 gate=$2 limit=1000000000 n
  local curl_tls=() base=$1
  if [[ $url == https* ]]; then
    curl_tls=(--cacert "$TLS_DIR/ca.pem" --resolve "$DD_HOST:${url##*:}:127.0.0.1")
    base="https://$DD_HOST:${url##*:}"
  fi
  n=$(curl -s -o /dev/null -D - "${curl_tls[@]}" "$base/api/v2/deployment_gates/$gate/rules" |
    tr -d '\r' | awk -F': ' 'tolower($1)=="x-ratelimit-remaining"{print $2}')
  if [[ -z $n ]]; then
    echo "?"
    return
  fi
  echo "$((limit - n - 1))"
}

# The newest evaluation's created_at on the emulator at URL, in epoch milliseconds.
evaluation_created_ms() {
  local url=$1 curl_tls=() base=$1
  if [[ $url == https* ]]; then
    curl_tls=(--cacert "$TLS_DIR/ca.pem" --resolve "$DD_HOST:${url##*:}:127.0.0.1")
    base="https://$DD_HOST:${url##*:}"
  fi
  curl -s "${curl_tls[@]}" "$base/api/v2/deployment_gates/evaluations?page%5Bsize%5D=1" |
    jq -r '.data[0].attributes | (.created_at // .started_at // empty)' |
    python3 -c 'import sys,datetime
t=sys.stdin.read().strip()
if t:
    d=datetime.datetime.strptime(t.replace("Z","+0000"),"%Y-%m-%dT%H:%M:%S.%f%z")
    print(round(d.timestamp()*1000))'
}

# ---------------------------------------------------------------------------------------------
# Clients. `client NAME GATE URL TIMEOUT` fills the array CMD with the command line that evaluates
# GATE against the emulator at URL with a --timeout of TIMEOUT seconds. GATE names one of the bench
# gates: JIT clients send the rules of its config file, the curl/jq script (which cannot send
# inline rules) names the preconfigured gate with the same rules in bench/worlds/bench.json. Keys
# are fake and recognisable; the bench worlds accept any key. datadog-ci needs an https emulator.

BENCH_API_KEY=bench-fake-api-key-0000
BENCH_APP_KEY=bench-fake-app-key-0000
CLIENTS_ALL=(gatepost datadog-ci curl-jq python node)

# gate_info GATE — sets GATE_SERVICE, GATE_CONFIG, GATE_IDENTIFIER.
gate_info() {
  case $1 in
    pass5) GATE_SERVICE=bench-pass GATE_CONFIG=gate-pass-5s.json GATE_IDENTIFIER=default ;;
    fail5) GATE_SERVICE=bench-fail GATE_CONFIG=gate-fail-5s.json GATE_IDENTIFIER=default ;;
    latency) GATE_SERVICE=bench-pass GATE_CONFIG=jit-pass-20s.json GATE_IDENTIFIER=latency ;;
    # JIT only (the fan-out section; the curl/jq script is not in it, so no preconfigured twin).
    fanout) GATE_SERVICE=bench-pass GATE_CONFIG=jit-pass-10s.json GATE_IDENTIFIER=latency ;;
    now) GATE_SERVICE=bench-pass GATE_CONFIG=pass-now.json GATE_IDENTIFIER=now ;;
    *) log "unknown gate $1"; return 1 ;;
  esac
  GATE_CONFIG="$BENCH_DIR/configs/$GATE_CONFIG"
}

# client_preconfigured NAME URL TIMEOUT — like `client`, for the preconfigured gate `latency` of
# bench/worlds/bench.json (rules stored on the emulator, no --config): gatepost and datadog-ci only.
LATENCY_GATE_ID=00000000-0000-4000-8000-000000000003
client_preconfigured() {
  local name=$1 url=$2 timeout=$3
  local keys=("DD_API_KEY=$BENCH_API_KEY" "DD_APP_KEY=$BENCH_APP_KEY")
  case $name in
    gatepost)
      CMD=(env "${keys[@]}" "$GATEPOST" gate --service bench-pass --env bench --identifier latency
        --api-url "$url" --timeout "$timeout" --quiet) ;;
    datadog-ci)
      CMD=(env "${keys[@]}" DD_BETA_COMMANDS_ENABLED=1 "DD_SITE=$DD_SITE_BASE:${url##*:}"
        "NODE_EXTRA_CA_CERTS=$TLS_DIR/ca.pem" "GATEPOST_LOOPBACK_HOST=$DD_HOST"
        "NODE_OPTIONS=--require $ROOT/tests/e2e/peers/resolve-loopback.cjs"
        "$DATADOG_CI" deployment gate --service bench-pass --env bench --identifier latency
        --timeout "$timeout") ;;
    *) log "no preconfigured command for client $name"; return 1 ;;
  esac
}

# Is this client available in this run?
client_available() {
  case $1 in
    gatepost | datadog-ci) return 0 ;;
    curl-jq) [[ -n $CURLJQ ]] ;;
    python) [[ -n $PYTHON_BIN ]] ;;
    node) [[ -n $NODE_PKG ]] ;;
    *) return 1 ;;
  esac
}

# Does this client talk to the TLS emulator?
client_tls() { [[ $1 == datadog-ci ]]; }

client() {
  local name=$1 gate=$2 url=$3 timeout=$4
  gate_info "$gate" || return 1
  local keys=("DD_API_KEY=$BENCH_API_KEY" "DD_APP_KEY=$BENCH_APP_KEY")
  case $name in
    gatepost)
      CMD=(env "${keys[@]}" "$GATEPOST" gate --service "$GATE_SERVICE" --env bench
        --config "$GATE_CONFIG" --api-url "$url" --timeout "$timeout" --quiet) ;;
    datadog-ci)
      CMD=(env "${keys[@]}" DD_BETA_COMMANDS_ENABLED=1 "DD_SITE=$DD_SITE_BASE:${url##*:}"
        "NODE_EXTRA_CA_CERTS=$TLS_DIR/ca.pem" "GATEPOST_LOOPBACK_HOST=$DD_HOST"
        "NODE_OPTIONS=--require $ROOT/tests/e2e/peers/resolve-loopback.cjs"
        "$DATADOG_CI" deployment gate --service "$GATE_SERVICE" --env bench
        --config "$GATE_CONFIG" --timeout "$timeout") ;;
    curl-jq)
      CMD=(env "${keys[@]}" "DD_API_URL=$url" "GATE_TIMEOUT=$timeout"
        sh "$CURLJQ" --service "$GATE_SERVICE" --env bench --identifier "$GATE_IDENTIFIER") ;;
    python)
      CMD=(env "${keys[@]}" "$PYTHON_BIN" "$BENCH_DIR/drivers/gate.py"
        "$GATE_SERVICE" "$GATE_CONFIG" "$url" "$timeout") ;;
    node)
      CMD=(env "${keys[@]}" "GATEPOST_NODE_PKG=$NODE_PKG" node "$BENCH_DIR/drivers/gate.cjs"
        "$GATE_SERVICE" "$GATE_CONFIG" "$url" "$timeout") ;;
    *) log "unknown client $name"; return 1 ;;
  esac
}

# ---------------------------------------------------------------------------------------------
# TLS for datadog-ci: a throwaway CA (trusted only through NODE_EXTRA_CA_CERTS) and a server
# certificate for the bench host name. Made once per work directory.
DD_SITE_BASE=gatepost-bench.test
DD_HOST=api.$DD_SITE_BASE

make_tls() {
  TLS_DIR="$WORK/tls"
  [[ -s $TLS_DIR/server.pem && -s $TLS_DIR/ca.pem ]] && return 0
  mkdir -p "$TLS_DIR"
  (
    cd "$TLS_DIR" || exit 1
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj '/CN=gatepost bench CA' \
      -keyout ca.key -out ca.pem \
      -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign' 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=$DD_HOST" -keyout server.key -out server.csr 2>/dev/null
    printf 'subjectAltName=DNS:%s,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' "$DD_HOST" >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
      -extfile server.ext -out server.pem 2>/dev/null
  )
}

# ---------------------------------------------------------------------------------------------
# Measuring one command.

# hf NAME RUNS WARMUP CMD... — hyperfine without a shell; prints "median min max" in ms and keeps
# the JSON export in the section's raw directory.
hf() {
  local name=$1 runs=$2 warmup=$3
  shift 3
  local json="$SECTION_RAW/hyperfine-$name.json"
  hyperfine -N --style none --warmup "$warmup" --runs "$runs" --export-json "$json" \
    --command-name "$name" -- "$(printf '%q ' "$@")" >/dev/null 2>"$SECTION_RAW/hyperfine-$name.err" ||
    { echo "n/a n/a n/a"; return 1; }
  jq -r '.results[0] | [.median, .min, .max] | map(. * 1000) | map(tostring) | join(" ")' "$json" |
    awk '{printf "%.2f %.2f %.2f\n", $1, $2, $3}'
}

# peak_rss_mib N CMD... — GNU time's maximum resident set size over N runs: "median min max" MiB.
# For a process tree this is the largest single process of the tree, not their sum.
peak_rss_mib() {
  local n=$1
  shift
  local i f="$SECTION_RAW/rss-$$-$RANDOM"
  : >"$f"
  for ((i = 0; i < n; i++)); do
    /usr/bin/time -f '%M' -o "$f.one" "$@" >/dev/null 2>&1
    tail -n1 "$f.one" >>"$f"
  done
  awk '{print $1/1024}' "$f" | tr '\n' ' ' | {
    read -r -a v
    printf '%s\n' "${v[@]}" | stats median --digits 1 | tr '\n' ' '
    printf '%s\n' "${v[@]}" | stats min --digits 1 | tr '\n' ' '
    printf '%s\n' "${v[@]}" | stats max --digits 1
  }
  rm -f "$f" "$f.one"
}

# ratio A B — A/B with two significant-ish digits ("12×", "0.8×"), or n/a.
ratio() {
  python3 -c '
import sys
try:
    a, b = float(sys.argv[1]), float(sys.argv[2])
    r = a / b
    print(f"{r:.0f}×" if r >= 10 else f"{r:.1f}×" if r >= 1 else f"{r:.2f}×")
except (ValueError, ZeroDivisionError):
    print("n/a")' "$1" "$2"
}
