#!/usr/bin/env python3
"""A light request's latency while scripts are busy: Redis EVAL next to evald.

Redis runs a script on its one thread and answers nobody else until it ends; evald
slices scripts so /healthz keeps being answered. Same machine, same run, same client:
a light request every 5 ms (open loop: latency from the scheduled send time, so a
stall is charged to every request it delays) while
  redis:  one EVAL of a busy loop (~2 s)            → PING latency
  evald:  one `while true do end` per worker (2 s)  → GET /healthz latency
Usage: python3 bench/scripts_vs_redis.py [seconds]   (release build; root installs redis-server)
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECS = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
INTERVAL = 0.005


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise SystemExit(f"nothing listening on {port}")


def read_until(sock, marker):
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def probe(port, request, marker, seconds, results):
    """Open-loop light requests on one connection; latencies in ms."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    start = time.perf_counter()
    n = 0
    while True:
        scheduled = start + n * INTERVAL
        if scheduled - start > seconds:
            break
        now = time.perf_counter()
        if now < scheduled:
            time.sleep(scheduled - now)
        sock.sendall(request)
        read_until(sock, marker)
        results.append((time.perf_counter() - scheduled) * 1000)
        n += 1
    sock.close()


def summary(name, lat):
    lat = sorted(lat)
    pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
    print(f"{name:46s} n={len(lat):4d}  p50 {pick(0.5):8.2f} ms  p99 {pick(0.99):8.2f} ms  "
          f"max {lat[-1]:8.2f} ms")


def bench_redis():
    port = free_port()
    work = tempfile.mkdtemp(prefix="evald-redis-")
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", work],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        # Calibrate a busy loop of about SECS seconds.
        c = socket.create_connection(("127.0.0.1", port))
        def eval_loop(n):
            script = f"local i = 0 while i < {n} do i = i + 1 end return i"
            c.sendall(f"*3\r\n$4\r\nEVAL\r\n${len(script)}\r\n{script}\r\n$1\r\n0\r\n".encode())
            read_until(c, b"\r\n")
        t = time.perf_counter(); eval_loop(10_000_000); per = (time.perf_counter() - t) / 1e7
        n = int(SECS / per)
        idle = []
        probe(port, b"*1\r\n$4\r\nPING\r\n", b"+PONG\r\n", 1.0, idle)
        busy = []
        runner = threading.Thread(target=eval_loop, args=(n,))
        runner.start()
        time.sleep(0.05)
        probe(port, b"*1\r\n$4\r\nPING\r\n", b"+PONG\r\n", SECS * 0.9, busy)
        runner.join()
        version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()[2]
        summary(f"redis {version} PING, idle", idle)
        summary("redis PING while one EVAL busy-loops", busy)
    finally:
        proc.terminate()
        proc.wait()


def bench_evald():
    port = free_port()
    workers = os.cpu_count()
    out = tempfile.NamedTemporaryFile(prefix="evald-", delete=False)
    proc = subprocess.Popen([os.path.join(ROOT, "build/release/evald"), "--listen",
                             f"127.0.0.1:{port}", "--log-level", "warn"], stdout=out, stderr=out)
    try:
        wait_port(port)
        req = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        idle = []
        probe(port, req, b'{"status":"ok"}', 1.0, idle)
        body = json.dumps({"workload": "script", "source": "while true do end",
                           "timeout_ms": int(SECS * 1000)}).encode()
        def hostile():
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"POST /eval HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            read_until(s, b"deadline_exceeded")
            s.close()
        # Connections are spread round-robin, so 2 per worker keeps every worker busy.
        runners = [threading.Thread(target=hostile) for _ in range(2 * workers)]
        for r in runners:
            r.start()
        time.sleep(0.05)
        busy = []
        probe(port, req, b'{"status":"ok"}', SECS * 0.9, busy)
        for r in runners:
            r.join()
        summary(f"evald /healthz, idle ({workers} workers)", idle)
        summary(f"evald /healthz while {2 * workers} scripts loop", busy)
    finally:
        proc.terminate()
        proc.wait()
        os.unlink(out.name)


if __name__ == "__main__":
    subprocess.run(["bash", os.path.join(ROOT, "scripts/setup.sh"), "redis-server"],
                   check=True, stdout=subprocess.DEVNULL)
    print(f"machine: {os.cpu_count()} cores; a light request every {INTERVAL * 1000:.0f} ms "
          f"for {SECS * 0.9:.1f} s while the scripts run")
    bench_redis()
    bench_evald()
