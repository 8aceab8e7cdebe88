#!/usr/bin/env bash
# TLS, evald vs nginx on the same ECDSA P-256 certificate, same machine, same run, each
# server with one worker pinned to the last core and the clients on the first:
#   keep-alive requests over TLS (wrk, 64 connections) in req/s per server core;
#   a new TLS connection per request (wrk with Connection: close): handshakes/s per
#   server core, full and resumed (the servers' own counters say which);
#   memory per idle TLS connection (1,000 connections after their handshake, RSS delta);
#   /chargen over TLS and plain, Gbit/s of one stream;
#   and `openssl speed ecdsap256` on one core, which bounds full handshakes.
# Per core = rate ÷ the server's CPU share over the run (utime+stime from /proc).
# Usage: bash bench/tls_wrk.sh [seconds]   (needs the release build; root for apt)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
secs="${1:-8}"
bash "$root/scripts/setup.sh" wrk nginx-light >/dev/null
bin="${EVALD_BINARY:-$root/build/release/evald}"
work="$(mktemp -d /tmp/evald-tls.XXXXXX)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
tck=$(getconf CLK_TCK)
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
rss_kib() { awk '/VmRSS/{print $2}' "/proc/$1/status"; }
last=$(($(nproc) - 1))

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -keyout "$work/key.pem" -out "$work/cert.pem" -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, kernel $(uname -r), $(openssl version)"
sign=$(taskset -c 0 openssl speed -seconds 3 ecdsap256 2>/dev/null | awk '/256 bits ecdsa \(nistp256\)/{print $(NF-1)}')
echo "openssl speed ecdsap256 (one core): ${sign:-?} signs/s"
echo

mkdir -p "$work/nginx/logs"
cat >"$work/nginx/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log;
events { worker_connections 8192; }
http {
  access_log off;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_certificate $work/cert.pem;
  ssl_certificate_key $work/key.pem;
  ssl_session_cache shared:SSL:10m;
  ssl_session_tickets on;
  server {
    listen 127.0.0.1:18290 ssl;
    location / { default_type application/json; return 200 '{"status":"ok"}'; }
  }
}
NGINX
taskset -c "$last" nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
pids+=($!)
for _ in $(seq 100); do ngx=$(pgrep -f "nginx: worker process" -P "${pids[-1]}" | head -1) && [[ -n $ngx ]] && break; sleep 0.05; done

cat >"$work/evald.json" <<JSON
{"listen": [{"address": "127.0.0.1:18291", "tls": {"cert": "$work/cert.pem", "key": "$work/key.pem"}},
            "127.0.0.1:18292"], "threads": 1, "logging": {"level": "warn"}}
JSON
taskset -c "$last" "$bin" --config "$work/evald.json" >"$work/evald.out" 2>&1 &
evald=$!
pids+=("$evald")
for _ in $(seq 100); do grep -q "listening on http:" "$work/evald.out" 2>/dev/null && break; sleep 0.05; done

handshakes() { curl -s http://127.0.0.1:18292/metrics | awk -v r="$1" '$1=="evald_tls_handshakes_total{result=\""r"\"}"{print $2}'; }

# run NAME PID URL [wrk args...]: one line, rate per server core.
run() {
  local name=$1 pid=$2 url=$3
  shift 3
  taskset -c 0 wrk -t1 -c64 -d2s "$@" "$url" >/dev/null 2>&1
  local t0; t0=$(ticks "$pid")
  local out; out=$(taskset -c 0 wrk -t1 -c64 -d"${secs}s" "$@" "$url" 2>&1)
  local t1; t1=$(ticks "$pid")
  local rps; rps=$(awk '/Requests\/sec/{print $2}' <<<"$out")
  local errors; errors=$(awk '/Socket errors|Non-2xx/{print}' <<<"$out" | tr '\n' ' ')
  awk -v n="$name" -v r="$rps" -v c="$((t1 - t0))" -v s="$secs" -v t="$tck" -v e="$errors" 'BEGIN{
    share = c / t / s; printf "%-44s %9.0f /s  cpu %4.2f  %8.0f /s per core  %s\n", n, r, share, r / share, e }'
}

echo "keep-alive requests over TLS (wrk -t1 -c64, GET /healthz):"
run "nginx 1 worker (return 200)" "$ngx" https://127.0.0.1:18290/healthz
run "evald 1 worker" "$evald" https://127.0.0.1:18291/healthz
echo
echo "a new TLS connection per request (wrk -H 'Connection: close'):"
full0=$(handshakes full)
res0=$(handshakes resumed)
run "nginx 1 worker" "$ngx" https://127.0.0.1:18290/healthz -H "Connection: close"
run "evald 1 worker" "$evald" https://127.0.0.1:18291/healthz -H "Connection: close"
echo "  evald's handshakes in its runs (warm-up included): full $(($(handshakes full) - full0)), resumed $(($(handshakes resumed) - res0))"
echo

# Idle TLS connections: RSS per connection after 1,000 handshakes that then stay open.
idle() { # port pid
  local before; before=$(rss_kib "$2")
  python3 - "$1" "$work/cert.pem" <<'PY' &
import socket, ssl, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[2])
conns = []
for _ in range(1000):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))), server_hostname="localhost")
    conns.append(s)
open("/dev/stdout", "w").write("open\n")
time.sleep(4)
PY
  local py=$!
  sleep 3
  local after; after=$(rss_kib "$2")
  wait "$py" 2>/dev/null || true
  awk -v b="$before" -v a="$after" 'BEGIN{ printf "%.1f KiB per idle TLS connection (RSS %d → %d KiB)\n", (a - b) / 1000, b, a }'
}
ulimit -n 65536 2>/dev/null || true
echo -n "nginx: "; idle 18290 "$ngx" | tail -1
echo -n "evald: "; idle 18291 "$evald" | tail -1
echo

echo "/chargen, one stream of 1 GiB (chargen.max_bytes):"
for scheme in http https; do
  port=18292
  [[ $scheme == https ]] && port=18291
  speed=$(taskset -c 0 curl -s -o /dev/null --cacert "$work/cert.pem" -w '%{speed_download}' \
    "$scheme://127.0.0.1:$port/chargen?bytes=1073741824")
  awk -v s="$scheme" -v b="$speed" 'BEGIN{ printf "  %-6s %6.2f Gbit/s\n", s, b * 8 / 1e9 }'
done
