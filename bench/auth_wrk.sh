#!/usr/bin/env bash
# The cost of API keys, same machine, same run: a tiny script through POST /eval and
# GET /prime?n=97 on a server without keys (loopback, anonymous) and on one with a keys
# file, every request carrying Authorization: Bearer (one SHA-256 and a constant-time
# compare per request). In req/s per server core (one worker pinned to the last core,
# wrk to the first). Target: with keys at most 5 % slower.
# Usage: bash bench/auth_wrk.sh [seconds] [rounds]   (needs the release build; root for apt)
# EVALD_BINARY=path runs another build.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
secs="${1:-8}"
rounds="${2:-3}"
bash "$root/scripts/setup.sh" wrk >/dev/null
bin="${EVALD_BINARY:-$root/build/release/evald}"
work="$(mktemp -d /tmp/evald-auth.XXXXXX)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
tck=$(getconf CLK_TCK)
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
last=$(($(nproc) - 1))

"$bin" keys new --tenant bench --scopes eval 2>/dev/null >"$work/key"
token=$(sed -n 1p "$work/key")
printf '{"keys":[%s]}' "$(sed -n 2p "$work/key")" >"$work/keys.json"

start_evald() { # port [extra args...]
  local port=$1
  shift
  taskset -c "$last" "$bin" --listen "127.0.0.1:$port" --threads 1 --log-level warn "$@" \
    >"$work/evald-$port.out" 2>&1 &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 100); do grep -q listening "$work/evald-$port.out" 2>/dev/null && break; sleep 0.05; done
}

# run_wrk NAME PID URL LUA: one result line.
run_wrk() {
  local name=$1 pid=$2 url=$3 lua=$4
  taskset -c 0 wrk -t1 -c64 -d2s -s "$lua" "$url" >/dev/null
  local t0; t0=$(ticks "$pid")
  local out; out=$(taskset -c 0 wrk -t1 -c64 -d"${secs}s" -s "$lua" "$url")
  local t1; t1=$(ticks "$pid")
  local rps; rps=$(awk '/Requests\/sec/{print $2}' <<<"$out")
  local non2xx; non2xx=$(awk '/Non-2xx/{print $5}' <<<"$out")
  awk -v n="$name" -v r="$rps" -v c="$((t1 - t0))" -v s="$secs" -v t="$tck" -v e="${non2xx:-0}" 'BEGIN{
    share = c / t / s; printf "%-40s %9.0f req/s  cpu %4.2f  %8.0f req/s per core  non-2xx %s\n", n, r, share, r / share, e }'
}

lua() { # file method body auth
  {
    echo "wrk.method = \"$2\""
    [[ -n $3 ]] && echo 'wrk.headers["Content-Type"] = "application/json"' && echo "wrk.body = '$3'"
    [[ -n $4 ]] && echo "wrk.headers[\"Authorization\"] = \"Bearer $4\""
    true
  } >"$1"
}
tiny='{"workload":"script","source":"return input.a + input.b","input":{"a":1,"b":2}}'
lua "$work/eval-anon.lua" POST "$tiny" ""
lua "$work/eval-key.lua" POST "$tiny" "$token"
lua "$work/prime-anon.lua" GET "" ""
lua "$work/prime-key.lua" GET "" "$token"

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
echo "command: wrk -t1 -c64 -d${secs}s on core 0, evald 1 worker on core $last, $rounds rounds alternated"
start_evald 18401
anon=$pid
printf '{"auth":{"keys_file":"%s"}}' "$work/keys.json" >"$work/config.json"
start_evald 18402 --config "$work/config.json"
keyed=$pid
for r in $(seq "$rounds"); do
  echo "round $r"
  run_wrk "  POST /eval tiny, no keys" "$anon" http://127.0.0.1:18401/eval "$work/eval-anon.lua"
  run_wrk "  POST /eval tiny, Bearer key" "$keyed" http://127.0.0.1:18402/eval "$work/eval-key.lua"
  run_wrk "  GET /prime?n=97, no keys" "$anon" "http://127.0.0.1:18401/prime?n=97" "$work/prime-anon.lua"
  run_wrk "  GET /prime?n=97, Bearer key" "$keyed" "http://127.0.0.1:18402/prime?n=97" "$work/prime-key.lua"
done
