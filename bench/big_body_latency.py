#!/usr/bin/env python3
"""What a big POST /eval body costs the other connections of its worker.

One evald with --threads 1 (so every connection shares the worker that decodes). A
probe sends GET /healthz on one keep-alive connection, one after another, and records
each latency: first alone, then while a second client posts batch bodies of about
1 MiB back to back. The bodies end in a syntax error, so the server decodes the whole
megabyte and answers 400 with no evaluation: what the probe sees is the decode.
Printed: the probe's p50 / p99 / max in each phase, and the posts' mean time.

Usage: python3 bench/big_body_latency.py [seconds per phase]   (needs the release build)
       EVALD=/path/to/evald python3 bench/big_body_latency.py  (another build, to compare)
"""
import http.client
import os
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EVALD = os.environ.get("EVALD", os.path.join(ROOT, "build", "release", "evald"))
SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0


def percentile(sorted_values, p):
    return sorted_values[min(len(sorted_values) - 1, int(p / 100.0 * len(sorted_values)))]


def probe(port, seconds):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    out = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        c.request("GET", "/healthz")
        r = c.getresponse()
        r.read()
        out.append((time.perf_counter() - t) * 1000.0)
    return sorted(out)


def main():
    server = subprocess.Popen([EVALD, "--listen", "127.0.0.1:0", "--threads", "1",
                               "--log-level", "warn"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL)
    port = None
    for line in server.stdout:
        if b"listening" in line:
            port = int(line.split(b":")[-1])
            break
    if port is None:
        raise SystemExit("evald did not start")
    item = b'{"workload":"factor","n":"18446744073709551557","tag":"abcdefghij"},'
    body = b'{"items":[' + item * ((1000 * 1024) // len(item)) + b"x]}"
    try:
        idle = probe(port, SECONDS)
        stop = threading.Event()
        posts = []

        def poster():
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            while not stop.is_set():
                t = time.perf_counter()
                c.request("POST", "/eval", body=body, headers={"Content-Type": "application/json"})
                r = c.getresponse()
                r.read()
                if r.status != 400:
                    raise SystemExit(f"expected 400, got {r.status}")
                posts.append(time.perf_counter() - t)

        th = threading.Thread(target=poster)
        th.start()
        busy = probe(port, SECONDS)
        stop.set()
        th.join()
    finally:
        server.terminate()
        server.wait(timeout=20)
    print(f"command: python3 bench/big_body_latency.py {SECONDS:g}   (evald: {EVALD})")
    print(f"body: {len(body)} bytes, {len(body) // len(item)} items, a syntax error at its end")
    for name, v in (("alone", idle), ("with big bodies", busy)):
        print(f"  /healthz {name:16s} n={len(v):6d}  p50 {percentile(v, 50):6.3f} ms  "
              f"p99 {percentile(v, 99):6.3f} ms  max {v[-1]:6.3f} ms")
    if posts:
        print(f"  big bodies posted: {len(posts)}, {1000.0 * sum(posts) / len(posts):.1f} ms each")


if __name__ == "__main__":
    main()
