#!/bin/sh
# Evaluate a Datadog Deployment Gate with curl and jq.
#
# A reproduction of the generic POSIX shell script in the Deployment Gates documentation, as
# docs/wire-protocol.md describes it: trigger the evaluation (3 attempts 5 s apart on 5xx or network
# errors, then give up and exit 0), poll the result every 15 s for up to 3 hours (404 and 5xx keep
# polling, any other 4xx exits 1), exit 0 on pass and 1 on fail. Used by the emulator's end-to-end
# suite as an independent peer; the only additions are overrides for the base URL, the waits and
# extra curl arguments, so it can run against a local emulator in seconds.
#
#   DD_API_KEY=... DD_APP_KEY=... gate.sh --service checkout --env prod [--identifier ID] [--version V]
#
# Environment: DD_SITE (default datadoghq.com), DD_API_URL (overrides https://api.$DD_SITE),
# POLL_INTERVAL (15), TRIGGER_RETRY_DELAY (5), GATE_TIMEOUT (10800), CURL_EXTRA_ARGS (e.g.
# "--cacert cert.pem --resolve api.example:443:127.0.0.1").
set -u

service=""
env_name=""
identifier="default"
version=""
while [ $# -gt 0 ]; do
  case "$1" in
    --service) service=$2; shift 2 ;;
    --env) env_name=$2; shift 2 ;;
    --identifier) identifier=$2; shift 2 ;;
    --version) version=$2; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 1 ;;
  esac
done
if [ -z "$service" ] || [ -z "$env_name" ]; then
  echo "usage: gate.sh --service SERVICE --env ENV [--identifier ID] [--version VERSION]" >&2
  exit 1
fi
: "${DD_API_KEY:?DD_API_KEY is required}"
: "${DD_APP_KEY:?DD_APP_KEY is required}"

api_url="${DD_API_URL:-https://api.${DD_SITE:-datadoghq.com}}"
poll_interval="${POLL_INTERVAL:-15}"
retry_delay="${TRIGGER_RETRY_DELAY:-5}"
timeout="${GATE_TIMEOUT:-10800}"
body_file=$(mktemp)
trap 'rm -f "$body_file"' EXIT

# request METHOD PATH [DATA]: prints the HTTP status (000 on a network error), body in $body_file.
request() {
  # shellcheck disable=SC2086
  curl -sS -o "$body_file" -w '%{http_code}' -X "$1" "$api_url$2" \
    -H "DD-API-KEY: $DD_API_KEY" -H "DD-APPLICATION-KEY: $DD_APP_KEY" \
    -H "Content-Type: application/json" ${3:+--data "$3"} ${CURL_EXTRA_ARGS:-} 2>/dev/null ||
    true
}

payload=$(jq -n --arg service "$service" --arg env "$env_name" --arg identifier "$identifier" \
  --arg version "$version" '{data: {type: "deployment_gates_evaluation_request", attributes: (
    {service: $service, env: $env, identifier: $identifier}
    + (if $version == "" then {} else {version: $version} end))}}')

evaluation_id=""
attempt=1
while [ $attempt -le 3 ]; do
  status=$(request POST /api/v2/deployments/gates/evaluation "$payload")
  case "$status" in
    2??)
      evaluation_id=$(jq -r '.data.attributes.evaluation_id // empty' "$body_file" 2>/dev/null)
      break ;;
    5??|000)
      echo "Trigger attempt $attempt failed with status $status" ;;
    *)
      echo "Gate evaluation request failed with status $status:"
      cat "$body_file"; echo
      exit 1 ;;
  esac
  attempt=$((attempt + 1))
  [ $attempt -le 3 ] && sleep "$retry_delay"
done
if [ -z "$evaluation_id" ]; then
  echo "Could not start the gate evaluation; exiting 0 so the deployment is not blocked"
  exit 0
fi
echo "Evaluation ID: $evaluation_id"

print_rules() {
  jq -r '.data.attributes.rules[]? | "- Rule: \(.name)\n  Status: \(.status)"
    + (if .dry_run then " (dry run)" else "" end)
    + (if .reason then "\n  Reason: \(.reason)" else "" end)' "$body_file"
}

start=$(date +%s)
while :; do
  status=$(request GET "/api/v2/deployments/gates/evaluation/$evaluation_id")
  case "$status" in
    200)
      gate_status=$(jq -r '.data.attributes.gate_status' "$body_file" 2>/dev/null)
      case "$gate_status" in
        pass)
          echo "Gate evaluation passed"
          echo "Evaluation URL: $(jq -r '.data.attributes.evaluation_url // empty' "$body_file")"
          print_rules
          exit 0 ;;
        fail)
          echo "Gate evaluation failed"
          echo "Evaluation URL: $(jq -r '.data.attributes.evaluation_url // empty' "$body_file")"
          print_rules
          exit 1 ;;
        *) echo "Gate evaluation in progress" ;;
      esac ;;
    404|5??|000) echo "Result not available yet (status $status)" ;;
    *)
      echo "Gate evaluation result request failed with status $status:"
      cat "$body_file"; echo
      exit 1 ;;
  esac
  if [ $(( $(date +%s) - start )) -ge "$timeout" ]; then
    echo "Timed out waiting for the gate evaluation; exiting 0"
    exit 0
  fi
  sleep "$poll_interval"
done
