#!/usr/bin/env bash
# Cooperative parallel trial division through the running server vs the serial
# kernel, on five reference numbers (below; median of 5 runs each).
# Targets: parallel <= serial for all; primes: speed-up >= 0.9 x W; large non-primes:
# parallel <= serial-to-factor / W x 1.2.
# Usage: bash bench/trial_speedup.sh   (needs the release build)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d /tmp/evald-trial.XXXXXX)"
"$root/build/release/evald" --listen 127.0.0.1:18402 --log-level warn >"$work/out" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q listening "$work/out" && break; sleep 0.05; done
"$root/build/release/bench/bench_kernels" serial-trial >"$work/serial"
python3 - "$work/serial" <<'PY'
import json, statistics, subprocess, sys, urllib.request, os
serial = {}
for line in open(sys.argv[1]):
    n, ms = line.split()
    serial[n] = float(ms)
W = os.cpu_count()
print(f"machine: {W} cores; serial = 1 thread of the kernel; parallel = GET /prime?method=trial on evald with {W} workers")
print(f"{'n':>22} {'serial ms':>10} {'parallel ms':>12} {'speed-up':>9} {'cpu ms':>8} {'workers':>8}")
for n in serial:
    walls, cpus = [], []
    for _ in range(5):
        with urllib.request.urlopen(f"http://127.0.0.1:18402/prime?n={n}&method=trial") as r:
            body = json.loads(r.read())
            timing = dict(part.strip().split(";dur=") for part in r.headers["Server-Timing"].split(","))
            walls.append(float(timing["wall"])); cpus.append(float(timing["cpu"]))
    wall = statistics.median(walls)
    print(f"{n:>22} {serial[n]:>10.3f} {wall:>12.3f} {(serial[n]/wall if wall else 0):>9.2f} {statistics.median(cpus):>8.1f} {body['workers']:>8}")
PY
