#!/usr/bin/env python3
"""What a big POST /eval body costs the other connections of its worker.

One evald with --threads 1 (so every connection shares the worker that reads the
body). A probe sends GET /healthz on one keep-alive connection, one after another,
and records each latency: alone, then while a second client posts bodies of about
1 MiB back to back:
  - a batch that ends in a syntax error: the server decodes the whole megabyte and
    answers 400 with no evaluation, so what the probe sees is the decode (and the
    freeing of what it built);
  - a valid batch of as many /prime items: decode, items, evaluation, the response.
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
    count = (1000 * 1024) // len(item)
    bad = b'{"items":[' + item * count + b"x]}"
    good_items = b",".join(b'{"workload":"prime","n":"%d"}' % (10**12 + i) for i in range(count))
    good = b'{"items":[' + good_items + b"]}"
    phases = []
    try:
        phases.append(("alone", probe(port, SECONDS), []))
        for name, body, status in (("syntax error at end", bad, 400), ("valid batch", good, 200)):
            stop = threading.Event()
            posts = []

            def poster(body=body, status=status, posts=posts, stop=stop):
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                while not stop.is_set():
                    t = time.perf_counter()
                    c.request("POST", "/eval", body=body,
                              headers={"Content-Type": "application/json"})
                    r = c.getresponse()
                    r.read()
                    if r.status != status:
                        raise SystemExit(f"expected {status}, got {r.status}")
                    posts.append(time.perf_counter() - t)

            th = threading.Thread(target=poster)
            th.start()
            phases.append((name, probe(port, SECONDS), posts))
            stop.set()
            th.join()
    finally:
        server.terminate()
        server.wait(timeout=20)
    print(f"command: python3 bench/big_body_latency.py {SECONDS:g}   (evald: {EVALD})")
    print(f"bodies: {len(bad)} bytes ({count} items, a syntax error at the end); "
          f"{len(good)} bytes ({count} /prime items)")
    for name, v, posts in phases:
        line = (f"  /healthz {name:20s} n={len(v):6d}  p50 {percentile(v, 50):6.3f} ms  "
                f"p99 {percentile(v, 99):6.3f} ms  max {v[-1]:6.3f} ms")
        if posts:
            line += f"   ({len(posts)} bodies, {1000.0 * sum(posts) / len(posts):.1f} ms each)"
        print(line)


if __name__ == "__main__":
    main()
