#!/usr/bin/env bash
# N concurrent client processes (bench/run's fan-out): starts `"$@"` N times at once, waits for all,
# prints "passed=P other=O" (P = processes that exited 0).
n=$1
shift
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; exit 143' TERM INT
for ((i = 0; i < n; i++)); do
  "$@" >/dev/null 2>&1 &
  pids+=($!)
done
passed=0
for pid in "${pids[@]}"; do wait "$pid" && passed=$((passed + 1)); done
echo "passed=$passed other=$((n - passed))"
[[ $passed == "$n" ]]
