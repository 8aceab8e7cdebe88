#!/usr/bin/env bash
# Scripts in the running server, same machine, same run:
#  1. a tiny script through POST /eval next to GET /healthz, in req/s per server core
#     (one worker; per core = req/s ÷ the server's CPU share). Target: >= 0.4x /healthz.
#  2. a CPU-heavy map on 1 worker and on all workers: the speed-up (target >= 0.9 x W).
# Usage: bash bench/scripts_wrk.sh [seconds]   (needs the release build; root for apt)
# EVALD_BINARY=path runs another build (e.g. to compare before and after a change).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
secs="${1:-10}"
bash "$root/scripts/setup.sh" wrk >/dev/null
work="$(mktemp -d /tmp/evald-scripts.XXXXXX)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
tck=$(getconf CLK_TCK)
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

start_evald() { # threads port
  "${EVALD_BINARY:-$root/build/release/evald}" --listen "127.0.0.1:$2" --threads "$1" --log-level warn \
    >"$work/evald-$2.out" 2>&1 &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 100); do grep -q listening "$work/evald-$2.out" 2>/dev/null && break; sleep 0.05; done
}

# run_wrk NAME PID URL [LUA]: one result line.
run_wrk() {
  local name=$1 pid=$2 url=$3 lua=${4:-}
  local args=(-t1 -c64)
  [[ -n $lua ]] && args+=(-s "$lua")
  wrk "${args[@]}" -d2s "$url" >/dev/null
  local t0; t0=$(ticks "$pid")
  local out; out=$(wrk "${args[@]}" -d"${secs}s" --latency "$url")
  local t1; t1=$(ticks "$pid")
  local rps; rps=$(awk '/Requests\/sec/{print $2}' <<<"$out")
  local p99; p99=$(awk '$1=="99%"{print $2}' <<<"$out")
  local non2xx; non2xx=$(awk '/Non-2xx/{print $5}' <<<"$out")
  awk -v n="$name" -v r="$rps" -v c="$((t1 - t0))" -v s="$secs" -v t="$tck" -v p="$p99" -v e="${non2xx:-0}" 'BEGIN{
    share = c / t / s; printf "%-34s %9.0f req/s  cpu %4.2f cores  %8.0f req/s per core  p99 %s  non-2xx %s\n", n, r, share, r / share, p, e }'
}

cat >"$work/tiny.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"workload":"script","source":"return input.a + input.b","input":{"a":1,"b":2}}'
LUA

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, kernel $(uname -r)"
echo "command: wrk -t1 -c64 -d${secs}s (after a 2 s warm-up), evald with 1 worker"
start_evald 1 18301
run_wrk "GET /healthz" "$pid" http://127.0.0.1:18301/healthz
run_wrk "POST /eval tiny script" "$pid" http://127.0.0.1:18301/eval "$work/tiny.lua"
echo

# A map whose every input is CPU-bound (about 40 ms each here), 4 inputs per worker.
workers=$(nproc)
inputs=$(python3 -c "import json; print(json.dumps(list(range(4 * $workers))))")
body="{\"workload\":\"script\",\"source\":\"local s = 0 for i = 1, 4e6 do s = s + i % 7 end return s + input\",\"inputs\":$inputs,\"chunk\":1,\"timeout_ms\":60000}"
map_ms() { # port: wall ms of the map, best of 3
  local best=""
  for _ in 1 2 3; do
    local t; t=$(curl -s -o /dev/null -w '%{time_total}' -X POST -H 'Content-Type: application/json' \
      -d "$body" "http://127.0.0.1:$1/eval")
    best=$(awk -v a="$t" -v b="$best" 'BEGIN{ if (b == "" || a < b) print a; else print b }')
  done
  awk -v t="$best" 'BEGIN{printf "%.0f", t * 1000}'
}
start_evald 1 18302
one=$(map_ms 18302)
start_evald "$workers" 18303
all=$(map_ms 18303)
echo "CPU-heavy map, $((4 * workers)) inputs of 4e6 loop iterations (best of 3):"
awk -v a="$one" -v b="$all" -v w="$workers" 'BEGIN{
  printf "  1 worker %d ms, %d workers %d ms: speed-up %.2fx (%.2f x W)\n", a, w, b, a / b, a / b / w }'
