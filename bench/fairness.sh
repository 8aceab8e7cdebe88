#!/usr/bin/env bash
# /healthz latency at a constant rate (open loop, see rate_client.cpp), idle and while
# every worker runs trial division (load=trial), endless `while true do end` scripts
# (load=script), or hostile library calls (load=hostile: string.rep("", maxinteger),
# table.move over 2^63 slots, a backtracking find on 4 MB, a sort of 512 equal 4 MB
# strings, utf8.len of 4 MB, each stopped by the cost meter at the burst limit).
# Server and client are pinned to different cores (server on the last core with one
# worker, client on core 0): unpinned on 2 cores the client competes with the workers
# and its own scheduling shows up as ~100 ms stalls.
# Target: saturated p99 <= 2 ms for trial and script. Under the hostile load a light
# request can wait for one call's whole allowance (the burst limit, 20 ms by default):
# the fourth argument sets scripts.burst for the run to show that knob.
# Usage: bash bench/fairness.sh [seconds] [rate] [trial|script|hostile] [burst, e.g. 2ms]
#        (needs the release build)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
secs="${1:-5}"
rate="${2:-1000}"
load="${3:-trial}"
burst="${4:-20ms}"
work="$(mktemp -d /tmp/evald-fair.XXXXXX)"
cores=$(nproc)
server_core=$((cores - 1))
echo "{\"scripts\":{\"burst\":\"$burst\"}}" >"$work/config.json"
taskset -c "$server_core" "$root/build/release/evald" --config "$work/config.json" \
  --listen 127.0.0.1:18401 --threads 1 --log-level warn >"$work/out" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q listening "$work/out" && break; sleep 0.05; done
rc=(taskset -c 0 "$root/build/release/bench/rate_client")
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $cores cores;" \
  "evald pinned to core $server_core with 1 worker, client on core 0;" \
  "eval.slice 250us, scripts.burst $burst"
echo "command: rate_client 18401 /healthz $rate $secs 4"
echo "idle:      $("${rc[@]}" 18401 /healthz "$rate" "$secs" 4)"
launch() { curl -s -X POST -H 'Content-Type: application/json' -d "$1" http://127.0.0.1:18401/eval-launch >/dev/null; }
case $load in
  script)
    # Endless loops as one launched map with a deadline far past the run.
    launch '{"workload":"script","source":"while true do end","inputs":[1,2,3,4,5,6,7,8],"chunk":1,"timeout_ms":600000}'
    echo "load: a launched map of 8 'while true do end' scripts"
    ;;
  hostile)
    # Each input loops on one hostile call; the meter stops it at the burst limit, the
    # input fails and the next one starts: 5,000 inputs keep the worker busy.
    src='local s = (\"x\"):rep(4e6) local k = input % 5 while true do if k == 0 then pcall(string.rep, \"\", math.maxinteger) elseif k == 1 then pcall(table.move, {}, 1, math.maxinteger, 1, {}) elseif k == 2 then pcall(string.find, s, \".-y\") elseif k == 3 then local t = {} for i = 1, 512 do t[i] = s end pcall(table.sort, t) else pcall(utf8.len, s) end end'
    inputs=$(seq -s, 1 5000)
    launch "{\"workload\":\"script\",\"source\":\"$src\",\"inputs\":[$inputs],\"chunk\":1,\"timeout_ms\":600000}"
    echo "load: a launched map of 5,000 hostile-call scripts"
    ;;
  *)
    # One launched batch of 64-bit prime trial items, far longer than the run.
    item='{"workload":"prime","n":"18446744073709551557","method":"trial"}'
    launch "{\"items\":[$item,$item,$item,$item,$item,$item,$item,$item]}"
    echo "load: a launched batch of trial division"
    ;;
esac
sleep 0.3
cpu0=$(awk '{print $14+$15}' /proc/$pid/stat)
echo "saturated: $("${rc[@]}" 18401 /healthz "$rate" "$secs" 4)"
cpu1=$(awk '{print $14+$15}' /proc/$pid/stat)
echo "server CPU during the saturated run: $(awk -v c=$((cpu1 - cpu0)) -v s="$secs" -v t="$(getconf CLK_TCK)" 'BEGIN{printf "%.2f", c/t/s}') cores"
