#!/usr/bin/env bash
# Two tenants on one worker (issue 22's figures), with the fair share and with FIFO:
#  1. B's light script evaluations at a fixed rate (rate_client, open loop): p99 alone,
#     then while tenant A floods (16 connections of script maps that loop for ~0.3 s
#     each). Target with "fair": p99 <= 2 ms and <= 3x alone. Tiny ones (return
#     input * 2) run inline and wait only for the slice in progress; 1 ms ones need
#     several slices and wait in the compute queue, where the scheduler decides.
#  2. CPU shares while both flood, for weights 1:1 and 3:1 (from
#     evald_tenant_compute_seconds_total). Target: within +-10 % of the weights.
#  3. A alone: its share of the worker (target >= 95 %: work-conserving).
# evald is pinned to the last core with 1 worker, the clients to core 0.
# Usage: bash bench/tenants.sh [seconds] [rate]   (needs the release build and wrk)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
secs="${1:-5}"
rate="${2:-200}"
evald="$root/build/release/evald"
rc="$root/build/release/bench/rate_client"
work="$(mktemp -d /tmp/evald-tenants.XXXXXX)"
cores=$(nproc)
server_core=$((cores - 1))
port=18402
pid=""
trap '[[ -n $pid ]] && kill $pid 2>/dev/null; rm -rf "$work"' EXIT

newkey() { "$evald" keys new --tenant "$1" --scopes "$2" 2>/dev/null; }
newkey a eval >"$work/a"
newkey b eval >"$work/b"
newkey ops metrics >"$work/ops"
ta=$(sed -n 1p "$work/a")
tb=$(sed -n 1p "$work/b")
tops=$(sed -n 1p "$work/ops")
entries="$(sed -n 2p "$work/a"),$(sed -n 2p "$work/b"),$(sed -n 2p "$work/ops")"

# A map of 16 inputs, each a loop of ~20 ms: one request keeps the worker ~0.3 s.
flood_body='{"workload":"script","source":"local x = 0 for i = 1, 1000000 do x = x + i end return x","inputs":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16],"chunk":1}'
light_body='{"workload":"script","source":"return input * 2","input":21}'
# About 1 ms of Lua: more than one slice, so it waits in the worker's compute queue.
medium_body='{"workload":"script","source":"local x = 0 for i = 1, 60000 do x = x + i end return x","input":0}'
cat >"$work/flood.lua" <<EOF
wrk.method = "POST"
wrk.body = '$flood_body'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
EOF

start() {  # scheduler weight_a weight_b
  cat >"$work/keys.json" <<EOF
{"keys":[$entries],"tenants":{"a":{"weight":$2},"b":{"weight":$3}}}
EOF
  echo "{\"auth\":{\"keys_file\":\"$work/keys.json\"},\"tenants\":{\"scheduler\":\"$1\"}}" >"$work/config.json"
  taskset -c "$server_core" "$evald" --config "$work/config.json" --listen 127.0.0.1:$port \
    --threads 1 --log-level warn >"$work/out" 2>&1 &
  pid=$!
  for _ in $(seq 100); do grep -q listening "$work/out" && break; sleep 0.05; done
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }
compute() {  # tenant -> CPU seconds so far
  curl -s -H "Authorization: Bearer $tops" http://127.0.0.1:$port/metrics |
    awk -v t="evald_tenant_compute_seconds_total{tenant=\"$1\"}" '$1 == t {print $2}'
}
flood() {  # token connections seconds (background)
  TOKEN="$1" taskset -c 0 wrk -t1 -c"$2" -d"$3s" --timeout 60s -s "$work/flood.lua" \
    http://127.0.0.1:$port/eval >/dev/null 2>&1 &
}
light() { taskset -c 0 "$rc" $port /eval "$rate" "$secs" 4 "$light_body" "Authorization: Bearer $tb"; }
medium() { taskset -c 0 "$rc" $port /eval 50 "$secs" 2 "$medium_body" "Authorization: Bearer $tb"; }

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $cores cores;" \
  "evald on core $server_core with 1 worker, clients on core 0"
echo "B: rate_client $rate/s POST /eval (return input * 2); A: wrk -c16 of 16-input script maps"
for mode in fair fifo; do
  echo "== tenants.scheduler \"$mode\""
  start "$mode" 1 1
  echo "B alone, tiny:          $(light)"
  echo "B alone, 1 ms:          $(medium)"
  flood "$ta" 16 $((2 * secs + 3))
  wpid=$!
  sleep 1
  echo "B under A flood, tiny:  $(light)"
  echo "B under A flood, 1 ms:  $(medium)"
  wait $wpid || true
  stop
  for weights in "1 1" "3 1"; do
    set -- $weights
    start "$mode" "$1" "$2"
    flood "$ta" 8 $((secs + 2))
    wa=$!
    flood "$tb" 8 $((secs + 2))
    wb=$!
    sleep 1
    a0=$(compute a) b0=$(compute b)
    sleep "$secs"
    a1=$(compute a) b1=$(compute b)
    wait $wa $wb || true
    stop
    awk -v a="$(echo "$a1 - $a0" | bc -l)" -v b="$(echo "$b1 - $b0" | bc -l)" -v wa="$1" -v wb="$2" \
      'BEGIN { printf "weights %s:%s  CPU a %.2f s, b %.2f s: a %.1f %% (weights say %.1f %%)\n",
               wa, wb, a, b, 100 * a / (a + b), 100 * wa / (wa + wb) }'
  done
done
start fair 1 1
flood "$ta" 16 $((secs + 2))
wa=$!
sleep 1
a0=$(compute a)
sleep "$secs"
a1=$(compute a)
wait $wa || true
stop
echo "A alone: $(echo "($a1 - $a0) / $secs * 100" | bc -l | cut -c1-5) % of the worker"
