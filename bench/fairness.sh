#!/usr/bin/env bash
# /healthz latency at a constant rate (open loop, see rate_client.cpp), idle and
# while every worker runs trial division. Target: saturated p99 <= 2 ms and <= 3x idle p99.
# Usage: bash bench/fairness.sh [seconds] [rate]   (needs the release build)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
secs="${1:-5}"
rate="${2:-1000}"
work="$(mktemp -d /tmp/evald-fair.XXXXXX)"
"$root/build/release/evald" --listen 127.0.0.1:18401 --log-level warn >"$work/out" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q listening "$work/out" && break; sleep 0.05; done
rc="$root/build/release/bench/rate_client"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; evald with $(nproc) workers, eval.slice 250us (default)"
echo "command: rate_client 18401 /healthz $rate $secs 4"
echo "idle:      $("$rc" 18401 /healthz "$rate" "$secs" 4)"
# Saturate: one launched batch of 64-bit prime trial items per worker, far longer than the run.
item='{"workload":"prime","n":"18446744073709551557","method":"trial"}'
body="{\"items\":[$item,$item,$item,$item,$item,$item,$item,$item]}"
for _ in $(seq "$(nproc)"); do
  curl -s -X POST -H 'Content-Type: application/json' -d "$body" http://127.0.0.1:18401/eval-launch >/dev/null
done
sleep 0.3
cpu0=$(awk '{print $14+$15}' /proc/$pid/stat)
echo "saturated: $("$rc" 18401 /healthz "$rate" "$secs" 4)"
cpu1=$(awk '{print $14+$15}' /proc/$pid/stat)
echo "server CPU during the saturated run: $(awk -v c=$((cpu1 - cpu0)) -v s="$secs" -v t="$(getconf CLK_TCK)" 'BEGIN{printf "%.2f", c/t/s}') cores"
