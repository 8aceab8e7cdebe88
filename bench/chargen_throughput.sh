#!/usr/bin/env bash
# chargen goodput vs the loopback ceiling measured by iperf3 in the same run, and
# evald's resident memory per streaming client.
# Usage: bash bench/chargen_throughput.sh [seconds]   (needs the release build)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
secs="${1:-5}"
bash "$root/scripts/setup.sh" iperf3 >/dev/null
work="$(mktemp -d /tmp/evald-chargen.XXXXXX)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, kernel $(uname -r)"
iperf3 -s -1 -B 127.0.0.1 -p 18201 >/dev/null 2>&1 &
pids+=($!)
sleep 0.3
ceiling=$(iperf3 -c 127.0.0.1 -p 18201 -t "$secs" -f g | awk '/receiver/{print $(NF-2)}')
echo "iperf3 loopback ceiling (1 stream): ${ceiling} Gbit/s   [iperf3 -c 127.0.0.1 -t $secs]"

echo '{"chargen": {"max_bytes": "1TiB"}}' >"$work/cfg.json"
"$root/build/release/evald" --config "$work/cfg.json" --listen 127.0.0.1:18202 --log-level warn >"$work/out" 2>&1 &
pids+=($!)
evald_pid=$!
for _ in $(seq 100); do grep -q listening "$work/out" 2>/dev/null && break; sleep 0.05; done
rss0=$(awk '/VmRSS/{print $2}' "/proc/$evald_pid/status")
for clients in 1 4 16; do
  line=$("$root/build/release/bench/chargen_reader" 18202 "$clients" "$secs")
  echo "evald /chargen, $line   [chargen_reader 18202 $clients $secs]"
done
# Memory per client: RSS with 200 connected, slow (non-reading) chargen clients.
python3 - "$evald_pid" <<'PY'
import socket, sys, time
pid = sys.argv[1]
def rss():
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmRSS"):
            return int(l.split()[1])
before = rss()
socks = []
for _ in range(200):
    s = socket.create_connection(("127.0.0.1", 18202))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b"GET /chargen HTTP/1.1\r\nHost: x\r\n\r\n")
    socks.append(s)
time.sleep(1.0)
after = rss()
print(f"RSS with 200 stalled chargen clients: {after} KiB (+{after - before} KiB, {(after - before) * 1024 / 200:.0f} bytes per client)")
PY
echo "RSS at start: ${rss0} KiB"
