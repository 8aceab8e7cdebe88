#!/usr/bin/env bash
# Chunk size on a skewed batch : 27,000 trial-division items, mostly
# small primes and 27 eighteen-digit primes placed at the end (as in sorted input).
# Makespan with automatic chunking vs chunk = items / W vs chunk = 1, against the
# ideal (total CPU / W). Target: automatic within 1.10x of ideal.
# Usage: bash bench/batch_chunking.sh   (needs the release build)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d /tmp/evald-batch.XXXXXX)"
# 27,000 items are ~1.8 MB of JSON: raise the body limit for this run.
echo '{"limits": {"max_body_size": "8MiB"}}' >"$work/cfg.json"
"$root/build/release/evald" --config "$work/cfg.json" --listen 127.0.0.1:18403 --log-level warn >"$work/out" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q listening "$work/out" && break; sleep 0.05; done
python3 - <<'PY'
import json, os, random, urllib.request
W = os.cpu_count()
random.seed(864)
def is_prime(n):
    if n < 2: return False
    i = 2
    while i * i <= n:
        if n % i == 0: return False
        i += 1
    return True
small = [p for p in range(2, 200000) if is_prime(p)]
big = ["100109100129100151", "100109100129162907"]
items = [{"workload": "prime", "n": str(random.choice(small)), "method": "trial"} for _ in range(27000 - 27)]
items += [{"workload": "prime", "n": big[i % 2], "method": "trial"} for i in range(27)]
def run(chunk):
    body = {"items": items}
    if chunk: body["chunk"] = chunk
    req = urllib.request.Request("http://127.0.0.1:18403/eval", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    s = json.loads(urllib.request.urlopen(req, timeout=600).read())["summary"]
    return s
print(f"machine: {W} cores, evald with {W} workers; 27,000 items (26,973 small primes, 27 18-digit primes last)")
print(f"{'chunking':>22} {'chunks':>7} {'makespan ms':>12} {'cpu ms':>9} {'ideal ms':>9} {'vs ideal':>9}")
for name, chunk in [("automatic", None), (f"items / W = {27000 // W}", 27000 // W), ("1 item", 1)]:
    best = None
    for _ in range(3):
        s = run(chunk)
        if best is None or s["wall_ms"] < best["wall_ms"]: best = s
    ideal = best["cpu_ms"] / W
    print(f"{name:>22} {best['chunks']:>7} {best['wall_ms']:>12.1f} {best['cpu_ms']:>9.1f} {ideal:>9.1f} {best['wall_ms'] / ideal:>8.2f}x")
PY
