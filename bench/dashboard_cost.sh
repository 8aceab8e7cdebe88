#!/usr/bin/env bash
# What the dashboard costs: /healthz per server core with the dashboard off, on with
# nobody watching, and on with dashboard.max_streams (32) /stats/stream subscribers
# open, one worker, same run. The sampler runs once a second and serialises one
# snapshot whatever the number of subscribers, so the three should be within noise.
# Usage: bash bench/dashboard_cost.sh [seconds]   (needs the release build; root for apt)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
secs="${1:-10}"
bash "$root/scripts/setup.sh" wrk >/dev/null
work="$(mktemp -d /tmp/evald-bench.XXXXXX)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
tck=$(getconf CLK_TCK)
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

run() { # name config_json streams
  local name=$1 streams=$3 port=$((18300 + RANDOM % 1000))
  echo "$2" >"$work/config.json"
  "$root/build/release/evald" --config "$work/config.json" --listen "127.0.0.1:$port" --threads 1 \
    --log-level warn >"$work/out" 2>&1 &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 100); do grep -q listening "$work/out" 2>/dev/null && break; sleep 0.05; done
  local sub=()
  for _ in $(seq "$streams"); do
    curl -sN "http://127.0.0.1:$port/stats/stream" >/dev/null &
    sub+=($!)
    pids+=($!)
  done
  wrk -t1 -c64 -d2s "http://127.0.0.1:$port/healthz" >/dev/null
  local t0; t0=$(ticks "$pid")
  local out; out=$(wrk -t1 -c64 -d"${secs}s" --latency "http://127.0.0.1:$port/healthz")
  local t1; t1=$(ticks "$pid")
  local open; open=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^evald_dashboard_streams/{print $2}')
  awk -v n="$name" -v r="$(awk '/Requests\/sec/{print $2}' <<<"$out")" -v c="$((t1 - t0))" \
    -v s="$secs" -v t="$tck" -v p="$(awk '$1=="99%"{print $2}' <<<"$out")" -v o="${open:--}" 'BEGIN{
    share = c / t / s; printf "%-34s %9.0f req/s  cpu %4.2f  %8.0f req/s per core  p99 %-8s streams %s\n", n, r, share, r / share, p, o }'
  for p in "${sub[@]}" "$pid"; do kill "$p" 2>/dev/null || true; done
  wait "$pid" 2>/dev/null || true
}

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
echo "command: bash bench/dashboard_cost.sh $secs (wrk -t1 -c64 /healthz, evald --threads 1)"
run "dashboard off" '{"dashboard":{"enabled":false}}' 0
run "dashboard on, nobody watching" '{}' 0
run "dashboard on, 32 streams open" '{}' 32
