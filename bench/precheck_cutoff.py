#!/usr/bin/env python3
"""Where does fanning trial division out to all workers start to pay?  Times
GET /prime?method=trial for primes with growing sqrt, once with everything in the
serial pre-check and once with everything fanned out; eval.trial_precheck should
sit near the crossover.  Usage: python3 bench/precheck_cutoff.py (release build)."""
import json, statistics, subprocess, urllib.request

def is_prime(n):
    if n < 2: return False
    if n % 2 == 0: return n == 2
    i = 3
    while i * i <= n:
        if n % i == 0: return False
        i += 2
    return True

def prime_near(x):
    while not is_prime(x): x += 1
    return x

cases = [prime_near(r * r + 1) for r in (20000, 70000, 200000, 1000000, 2000000, 8000000)]

def run(precheck, port):
    cfg = f"/tmp/evald-precheck-{port}.json"
    open(cfg, "w").write(json.dumps({"eval": {"trial_precheck": precheck}}))
    p = subprocess.Popen(["./build/release/evald", "--config", cfg, "--listen", f"127.0.0.1:{port}",
                          "--log-level", "warn"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    p.stdout.readline()
    out = {}
    try:
        for n in cases:
            walls = []
            for _ in range(15):
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/prime?n={n}&method=trial") as r:
                    t = dict(x.strip().split(";dur=") for x in r.headers["Server-Timing"].split(","))
                    walls.append(float(t["wall"]))
            out[n] = statistics.median(walls)
    finally:
        p.terminate(); p.wait()
    return out

serial, fan = run(1 << 32, 18432), run(7, 18433)
print("command: python3 bench/precheck_cutoff.py (median of 15, Server-Timing wall)")
print(f"{'n':>16} {'sqrt':>9} {'serial ms':>10} {'fan-out ms':>11}")
for n in cases:
    print(f"{n:>16} {int(n ** 0.5):>9} {serial[n]:>10.3f} {fan[n]:>11.3f}")
