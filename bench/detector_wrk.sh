#!/usr/bin/env bash
# The Log Detector contract, same machine, same run, same client (wrk -t1 -c64):
#  1. POST /eval of one ~800-byte record (14-field log, one Timed condition with a
#     substring test that writes one context key) in req/s per server core, with
#     keep-alive and with a new connection per request (Connection: close), against
#     (a) the original design: Flask under gunicorn (2 x CPU + 1 sync workers), each
#         condition in a `python3 -c` subprocess, and
#     (b) FastAPI under uvicorn evaluating the condition in-process with exec, and
#     (b') the same peer compiling each condition once and caching it (as evald does).
#     Per core = req/s ÷ the server's CPU share over the run (utime+stime of the
#     server's processes and of the children they reaped, from /proc).
#     Targets: evald >= 20,000 req/s per core keep-alive; >= 500x (a); >= 10x (b).
#  2. A batch of 10,000 records x 10 conditions: wall time on 1 worker and on all.
# Usage: bash bench/detector_wrk.sh [seconds]   (needs the release build; root for apt)
# EVALD_BINARY=path runs another build (e.g. to compare before and after a change).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
secs="${1:-10}"
bash "$root/scripts/setup.sh" wrk python3-flask gunicorn python3-fastapi uvicorn >/dev/null
py=/usr/bin/python3  # Debian's, where the peers' packages are
work="$(mktemp -d /tmp/evald-detector.XXXXXX)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
tck=$(getconf CLK_TCK)

# CPU ticks of a process and its descendants, including children they reaped.
tree_ticks() {
  local total=0 p
  for p in $1 $(pgrep -P "$1" || true); do
    [[ -r /proc/$p/stat ]] || continue
    total=$((total + $(awk '{print $14+$15+$16+$17}' "/proc/$p/stat")))
  done
  echo "$total"
}

wait_port() {
  for _ in $(seq 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "nothing listens on $1" >&2
  exit 1
}

# run_wrk NAME PID URL LUA: one result line; sets $per_core.
run_wrk() {
  local name=$1 pid=$2 url=$3 lua=$4
  wrk -t1 -c64 -d2s --timeout 30s -s "$lua" "$url" >/dev/null
  local t0; t0=$(tree_ticks "$pid")
  local out; out=$(wrk -t1 -c64 -d"${secs}s" --timeout 30s --latency -s "$lua" "$url")
  local t1; t1=$(tree_ticks "$pid")
  local rps; rps=$(awk '/Requests\/sec/{print $2}' <<<"$out")
  local p99; p99=$(awk '$1=="99%"{print $2}' <<<"$out")
  local bad; bad=$(awk '/Non-2xx/{print $5}' <<<"$out")
  per_core=$(awk -v r="$rps" -v c="$((t1 - t0))" -v s="$secs" -v t="$tck" 'BEGIN{
    share = c / t / s; if (share < 0.01) share = 0.01; printf "%.1f", r / share }')
  awk -v n="$name" -v r="$rps" -v c="$((t1 - t0))" -v s="$secs" -v t="$tck" -v p="$p99" \
    -v e="${bad:-0}" -v k="$per_core" 'BEGIN{
    printf "%-44s %9.1f req/s  cpu %4.2f cores  %9.1f req/s per core  p99 %s  non-2xx %s\n",
      n, r, c / t / s, k, p, e }'
}

wrk_script() { # body-file close(0|1) → lua file
  local lua="$work/$(basename "$1").$2.lua"
  {
    echo 'wrk.method = "POST"'
    echo 'wrk.headers["Content-Type"] = "application/json"'
    [[ $2 == 1 ]] && echo 'wrk.headers["Connection"] = "close"'
    echo "local f = io.open(\"$1\") wrk.body = f:read(\"*a\") f:close()"
  } >"$lua"
  echo "$lua"
}

"$py" "$root/bench/detector_body.py" lua >"$work/lua.json"
"$py" "$root/bench/detector_body.py" python >"$work/python.json"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, kernel $(uname -r)"
echo "command: wrk -t1 -c64 -d${secs}s --timeout 30s (after a 2 s warm-up); body $(wc -c <"$work/lua.json") bytes (Lua), $(wc -c <"$work/python.json") bytes (Python)"

"${EVALD_BINARY:-$root/build/release/evald}" --listen 127.0.0.1:18411 --threads 1 --log-level warn >"$work/evald.out" 2>&1 &
evald_pid=$!
pids+=("$evald_pid")
wait_port 18411
echo "evald answers: $(curl -s -X POST -H 'Content-Type: application/json' --data-binary @"$work/lua.json" http://127.0.0.1:18411/eval)"
run_wrk "evald (1 worker), keep-alive" "$evald_pid" http://127.0.0.1:18411/eval "$(wrk_script "$work/lua.json" 0)"
evald_keep=$per_core
run_wrk "evald (1 worker), new connection per request" "$evald_pid" http://127.0.0.1:18411/eval "$(wrk_script "$work/lua.json" 1)"
evald_close=$per_core

workers=$((2 * $(nproc) + 1))
/usr/bin/gunicorn -w "$workers" -b 127.0.0.1:18412 --chdir "$root/bench/peers" --log-level warning \
  detector_subprocess:app >"$work/gunicorn.out" 2>&1 &
gunicorn_pid=$!
pids+=("$gunicorn_pid")
wait_port 18412
echo "(a) answers:   $(curl -s -X POST -H 'Content-Type: application/json' --data-binary @"$work/python.json" http://127.0.0.1:18412/eval)"
run_wrk "(a) Flask+gunicorn $workers sync, python3 -c" "$gunicorn_pid" http://127.0.0.1:18412/eval "$(wrk_script "$work/python.json" 1)"
sub=$per_core
kill "$gunicorn_pid"

start_uvicorn() { # EXEC_CACHE port
  EXEC_CACHE=$1 /usr/bin/uvicorn --app-dir "$root/bench/peers" --host 127.0.0.1 --port "$2" \
    --log-level warning detector_inprocess:app >"$work/uvicorn-$2.out" 2>&1 &
  uvicorn_pid=$!
  pids+=("$uvicorn_pid")
  wait_port "$2"
}
start_uvicorn 0 18413
echo "(b) answers:   $(curl -s -X POST -H 'Content-Type: application/json' --data-binary @"$work/python.json" http://127.0.0.1:18413/eval)"
run_wrk "(b) FastAPI+uvicorn, exec, keep-alive" "$uvicorn_pid" http://127.0.0.1:18413/eval "$(wrk_script "$work/python.json" 0)"
inproc=$per_core
run_wrk "(b) FastAPI+uvicorn, exec, new connection" "$uvicorn_pid" http://127.0.0.1:18413/eval "$(wrk_script "$work/python.json" 1)"
inproc_close=$per_core
kill "$uvicorn_pid"
start_uvicorn 1 18414
run_wrk "(b') as (b), compiled once and cached" "$uvicorn_pid" http://127.0.0.1:18414/eval "$(wrk_script "$work/python.json" 0)"
cached=$per_core
kill "$uvicorn_pid"
echo
awk -v e="$evald_keep" -v ec="$evald_close" -v a="$sub" -v b="$inproc" -v bc="$inproc_close" -v c="$cached" 'BEGIN{
  printf "per core: evald keep-alive / (a) = %.0fx (target >= 500x); evald keep-alive / (b) keep-alive = %.1fx (target >= 10x)\n", e / a, e / b
  printf "          new connection per request: evald / (a) = %.0fx; evald / (b) = %.1fx\n", ec / a, ec / bc
  printf "          evald keep-alive / (b\x27) with cached compiled conditions = %.1fx\n", e / c }'
echo

# 2. The batch: 10,000 records x 10 conditions in one request (about 19 MB of JSON).
"$py" "$root/bench/detector_body.py" lua 10000 10 >"$work/batch.json"
echo '{"limits":{"max_body_size":"64MiB"}}' >"$work/batch-config.json"
batch_ms() { # port → "server wall ms, client total ms" (best of 3 by server wall)
  local best=""
  for _ in 1 2 3; do
    local out; out=$(curl -s -w ' %{time_total}' -X POST -H 'Content-Type: application/json' \
      --data-binary @"$work/batch.json" "http://127.0.0.1:$1/eval")
    local line; line=$("$py" -c 'import json,sys
t = sys.stdin.read(); body, total = t.rsplit(" ", 1); j = json.loads(body)
s = j["summary"]; assert s["failed"] == 0 and s["items"] == 10000, s
print(s["wall_ms"], float(total) * 1000, s["workers"], s["chunks"])' <<<"$out")
    best=$(awk -v a="$line" -v b="$best" 'BEGIN{ split(a, x, " "); split(b, y, " ");
      if (b == "" || x[1] + 0 < y[1] + 0) print a; else print b }')
  done
  echo "$best"
}
for t in 1 "$(nproc)"; do
  port=$((18420 + t))
  "${EVALD_BINARY:-$root/build/release/evald}" --config "$work/batch-config.json" --listen "127.0.0.1:$port" \
    --threads "$t" --log-level warn >"$work/evald-$t.out" 2>&1 &
  pids+=($!)
  wait_port "$port"
  read -r wall total used chunks <<<"$(batch_ms "$port")"
  printf "batch 10,000 records x 10 conditions, %d worker(s): evaluation %.0f ms (%d chunks on %d workers), request %.0f ms with parsing\n" \
    "$t" "$wall" "$chunks" "$used" "$total"
  eval "wall_$t=$wall"
done
awk -v a="$wall_1" -v b="$(eval echo "\$wall_$(nproc)")" -v w="$(nproc)" 'BEGIN{
  printf "batch speed-up: %.2fx on %d workers (%.0f records/s)\n", a / b, w, 10000 / b * 1000 }'
