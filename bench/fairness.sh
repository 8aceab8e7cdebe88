#!/usr/bin/env bash
# /healthz latency at a constant rate (open loop, see rate_client.cpp), idle and
# while every worker runs trial division (load=trial) or hostile `while true do end`
# scripts (load=script). Target: saturated p99 <= 2 ms and <= 3x idle p99.
# Usage: bash bench/fairness.sh [seconds] [rate] [trial|script]   (needs the release build)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
secs="${1:-5}"
rate="${2:-1000}"
load="${3:-trial}"
work="$(mktemp -d /tmp/evald-fair.XXXXXX)"
"$root/build/release/evald" --listen 127.0.0.1:18401 --log-level warn >"$work/out" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q listening "$work/out" && break; sleep 0.05; done
rc="$root/build/release/bench/rate_client"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; evald with $(nproc) workers, eval.slice 250us (default)"
echo "command: rate_client 18401 /healthz $rate $secs 4"
echo "idle:      $("$rc" 18401 /healthz "$rate" "$secs" 4)"
if [[ $load == script ]]; then
  # Saturate: endless loops, two per worker, as one launched map (it fans out to every
  # worker) with a deadline far past the run.
  body='{"workload":"script","source":"while true do end","inputs":[1,2,3,4,5,6,7,8],"chunk":1,"timeout_ms":600000}'
  curl -s -X POST -H 'Content-Type: application/json' -d "$body" http://127.0.0.1:18401/eval-launch >/dev/null
  echo "load: a launched map of 8 'while true do end' scripts"
else
  # Saturate: one launched batch of 64-bit prime trial items per worker, far longer than the run.
  item='{"workload":"prime","n":"18446744073709551557","method":"trial"}'
  body="{\"items\":[$item,$item,$item,$item,$item,$item,$item,$item]}"
  for _ in $(seq "$(nproc)"); do
    curl -s -X POST -H 'Content-Type: application/json' -d "$body" http://127.0.0.1:18401/eval-launch >/dev/null
  done
  echo "load: launched batches of trial division"
fi
sleep 0.3
cpu0=$(awk '{print $14+$15}' /proc/$pid/stat)
echo "saturated: $("$rc" 18401 /healthz "$rate" "$secs" 4)"
cpu1=$(awk '{print $14+$15}' /proc/$pid/stat)
echo "server CPU during the saturated run: $(awk -v c=$((cpu1 - cpu0)) -v s="$secs" -v t="$(getconf CLK_TCK)" 'BEGIN{printf "%.2f", c/t/s}') cores"
