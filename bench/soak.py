#!/usr/bin/env python3
"""Soak: mixed load against one evald for a fixed time (default 10 min), RSS and open
fds sampled every 10 s. Load: /healthz at a constant rate, /prime (both methods),
/factor, /eval batches, chargen streams read for a while then dropped, launched jobs
polled to completion, slow clients that stop reading. Target: after the warm-up RSS
drifts by less than 5 % and the fd count does not grow.
The job store keeps each finished job for jobs.ttl, so it only reaches its steady size
after one TTL: the soak runs evald with jobs.ttl = [ttl_seconds] (default 60) and
counts the warm-up as max(2 min, TTL + 1 min).
Usage: python3 bench/soak.py [seconds [ttl_seconds]]   (release build; not part of CI)"""
import json, os, random, socket, subprocess, sys, tempfile, threading, time, urllib.request

duration = float(sys.argv[1]) if len(sys.argv) > 1 else 600
ttl = float(sys.argv[2]) if len(sys.argv) > 2 else 60
warm_up = max(120, ttl + 60)
port = 18700
config = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
json.dump({"jobs": {"ttl": f"{ttl:.0f}s"}}, config); config.close()
p = subprocess.Popen(["./build/release/evald", "--listen", f"127.0.0.1:{port}", "--log-level", "warn",
                      "--config", config.name], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
p.stdout.readline()
stop = threading.Event()
errors = []
counts = {}

def bump(name):
    counts[name] = counts.get(name, 0) + 1

def http(method, path, body=None, timeout=30):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method, data=body,
                                 headers={"Content-Type": "application/json"} if body else {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read()

def loop(name, fn, pause):
    rng = random.Random(name)
    while not stop.is_set():
        try:
            fn(rng); bump(name)
        except Exception as e:  # an error is a finding: keep it
            errors.append(f"{name}: {e!r}")
        stop.wait(pause)

def healthz(rng): assert http("GET", "/healthz")[0] == 200
def prime(rng):
    n = rng.getrandbits(rng.randint(8, 58)) | 1
    assert http("GET", f"/prime?n={n}&method={rng.choice(['trial', 'miller-rabin'])}")[0] == 200
def factor(rng): assert http("GET", f"/factor?n={rng.getrandbits(62)}")[0] == 200
def batch(rng):
    items = [{"workload": rng.choice(["prime", "factor"]), "n": str(rng.getrandbits(40))} for _ in range(500)]
    assert http("POST", "/eval", json.dumps({"items": items}).encode())[0] == 200
def chargen(rng):
    s = socket.create_connection(("127.0.0.1", port)); s.settimeout(10)
    s.sendall(b"GET /chargen HTTP/1.1\r\nHost: x\r\n\r\n")
    got = 0
    while got < 5_000_000:
        got += len(s.recv(1 << 16))
    s.close()
def job(rng):
    _, body = http("POST", "/eval-launch", json.dumps({"workload": "prime", "n": str(rng.getrandbits(50) | 1), "method": "trial"}).encode())
    jid = json.loads(body)["id"]
    while json.loads(http("GET", f"/jobs/{jid}")[1])["status"] in ("queued", "running"):
        time.sleep(0.05)
def slow_reader(rng):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b"GET /chargen HTTP/1.1\r\nHost: x\r\n\r\n")
    stop.wait(3); s.close()

workers = [("healthz", healthz, 0.002), ("prime", prime, 0.01), ("factor", factor, 0.01),
           ("batch", batch, 0.2), ("chargen", chargen, 0.5), ("job", job, 0.5), ("slow_reader", slow_reader, 0.5)]
threads = [threading.Thread(target=loop, args=w, daemon=True) for w in workers]
for t in threads: t.start()

def sample():
    rss = int([l for l in open(f"/proc/{p.pid}/status") if l.startswith("VmRSS")][0].split()[1])
    return rss, len(os.listdir(f"/proc/{p.pid}/fd"))

print(f"command: python3 bench/soak.py {duration:.0f} {ttl:.0f}   (jobs.ttl {ttl:.0f} s, warm-up {warm_up:.0f} s)")
samples = []
start = time.time()
while time.time() - start < duration:
    time.sleep(10)
    rss, fds = sample()
    samples.append((time.time() - start, rss, fds))
    print(f"t={samples[-1][0]:5.0f}s  RSS {rss} KiB  fds {fds}", flush=True)
stop.set()
for t in threads: t.join(timeout=15)
p.terminate(); p.wait()
os.unlink(config.name)
warm = [s for s in samples if s[0] >= min(warm_up, duration / 3)]
lo, hi = min(s[1] for s in warm), max(s[1] for s in warm)
print(f"requests: {counts}")
print(f"errors: {len(errors)} {errors[:5]}")
print(f"RSS after warm-up: min {lo} KiB, max {hi} KiB, drift {(hi - lo) * 100 / lo:.1f} %; "
      f"fds first {warm[0][2]}, last {warm[-1][2]}")
