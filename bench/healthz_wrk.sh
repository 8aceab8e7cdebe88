#!/usr/bin/env bash
# /healthz throughput per server core, evald vs nginx `return 200` (one worker),
# same machine, same run. Per core = req/s ÷ the server's CPU share over the run
# (utime+stime of its process from /proc, so wrk's own CPU is not counted).
# Usage: bash bench/healthz_wrk.sh [seconds]   (needs the release build; root for apt)
# EVALD_BINARY=path runs another build (e.g. to compare before and after a change).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
secs="${1:-10}"
bash "$root/scripts/setup.sh" wrk nginx-light >/dev/null
work="$(mktemp -d /tmp/evald-bench.XXXXXX)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
tck=$(getconf CLK_TCK)

ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

# run_wrk NAME PID URL: prints one result line.
run_wrk() {
  local name=$1 pid=$2 url=$3
  wrk -t1 -c64 -d2s "$url" >/dev/null  # warm-up
  local t0; t0=$(ticks "$pid")
  local out; out=$(wrk -t1 -c64 -d"${secs}s" --latency "$url")
  local t1; t1=$(ticks "$pid")
  local rps; rps=$(awk '/Requests\/sec/{print $2}' <<<"$out")
  local p99; p99=$(awk '$1=="99%"{print $2}' <<<"$out")
  awk -v n="$name" -v r="$rps" -v c="$((t1 - t0))" -v s="$secs" -v t="$tck" -v p="$p99" 'BEGIN{
    share = c / t / s; printf "%-28s %10.0f req/s  cpu %4.2f cores  %8.0f req/s per core  p99 %s\n", n, r, share, r / share, p }'
}

# Sets $pid (not echoed: a $(...) subshell would hide the PID from the cleanup).
start_evald() { # binary threads port
  "$1" --listen "127.0.0.1:$3" --threads "$2" --log-level warn >"$work/evald-$3.out" 2>&1 &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 100); do grep -q listening "$work/evald-$3.out" 2>/dev/null && break; sleep 0.05; done
}

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, kernel $(uname -r)"
echo "command: wrk -t1 -c64 -d${secs}s http://127.0.0.1:PORT/healthz (after a 2 s warm-up)"
echo

mkdir -p "$work/nginx/logs"
cat >"$work/nginx/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  server {
    listen 127.0.0.1:18190;
    location / { default_type application/json; return 200 '{"status":"ok"}'; }
  }
}
NGINX
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
pids+=($!)
sleep 0.5
ngx_worker=$(pgrep -f "nginx: worker process" -P "${pids[-1]}" | head -1)
run_wrk "nginx 1 worker (return 200)" "$ngx_worker" http://127.0.0.1:18190/healthz

start_evald "${EVALD_BINARY:-$root/build/release/evald}" 1 18191
run_wrk "evald io_uring, 1 worker" "$pid" http://127.0.0.1:18191/healthz
start_evald "${EVALD_BINARY:-$root/build/release/evald}" 2 18192
run_wrk "evald io_uring, 2 workers" "$pid" http://127.0.0.1:18192/healthz
if [[ -x "$root/build/release-epoll/evald" ]]; then
  start_evald "$root/build/release-epoll/evald" 1 18193
  run_wrk "evald epoll, 1 worker" "$pid" http://127.0.0.1:18193/healthz
fi
