#!/usr/bin/env python3
"""Cluster mode, same machine, same run (a real redis-server with AOF, appendfsync
always; evald nodes with --threads 1):
  1. jobs per second, launch -> done, of tiny jobs (prime 97): in-memory (1 node),
     cluster with 1 node, cluster with 3 nodes (launches spread over the nodes);
  2. the latency a cluster adds to POST /eval-launch and GET /jobs/<id> (p50, p99 of
     sequential requests on one keep-alive connection) against the in-memory store;
  3. kill -9 of the node running a job: the time until another node has finished it
     (cluster.lease 3 s, heartbeat 500 ms).
Usage: python3 bench/cluster_jobs.py [jobs]   (needs the release build and redis-server)"""
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EVALD = os.path.join(ROOT, "build", "release", "evald")
JOBS = int(sys.argv[1]) if len(sys.argv) > 1 else 600
procs = []


def start(args, wait_line=b"listening"):
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    procs.append(p)
    if wait_line:
        for line in p.stdout:
            if wait_line in line:
                return p, int(line.split(b":")[-1])
        raise SystemExit("evald did not start: " + " ".join(args))
    return p, None


def evald(threads=1, cluster=None, node=None, extra=None):
    args = [EVALD, "--listen", "127.0.0.1:0", "--threads", str(threads), "--log-level", "warn"]
    if cluster:
        cfg = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        json.dump({"cluster": dict({"redis": cluster}, **(extra or {})),
                   "limits": {"max_eval_time": "5m"}}, cfg)
        cfg.close()
        args = [EVALD, "--config", cfg.name] + args[1:] + ["--node-id", node]
    return start(args)


def redis():
    d = tempfile.mkdtemp(prefix="evald-bench-redis.")
    port = 16000 + os.getpid() % 1000
    p, _ = start(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", d,
                  "--save", "", "--appendonly", "yes", "--appendfsync", "always",
                  "--maxmemory-policy", "noeviction"], wait_line=None)
    for _ in range(200):
        if subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout:
            return p, port
        time.sleep(0.05)
    raise SystemExit("redis-server did not start")


class client:
    def __init__(self, port):
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def req(self, method, path, body=None):
        headers = {"Content-Type": "application/json"} if body else {}
        self.c.request(method, path, body=body, headers=headers)
        r = self.c.getresponse()
        return r.status, json.loads(r.read() or b"null")


def throughput(ports, jobs):
    """Launch `jobs` tiny jobs over the nodes (4 clients per node), then wait for all."""
    ids = []
    lock = threading.Lock()
    t0 = time.perf_counter()

    def launcher(port, n):
        c = client(port)
        mine = []
        for _ in range(n):
            s, body = c.req("POST", "/eval-launch", '{"workload":"prime","n":"97"}')
            assert s == 202, (s, body)
            mine.append(body["id"])
        with lock:
            ids.extend(mine)

    workers = [threading.Thread(target=launcher, args=(p, jobs // (4 * len(ports))))
               for p in ports for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    c = client(ports[0])
    for i in ids:
        while c.req("GET", "/jobs/" + i)[1]["status"] != "done":
            time.sleep(0.002)
    return len(ids) / (time.perf_counter() - t0)


def latency(port, n=400):
    c = client(port)
    launch, read = [], []
    for _ in range(n):
        t = time.perf_counter()
        s, body = c.req("POST", "/eval-launch", '{"workload":"prime","n":"97"}')
        launch.append(time.perf_counter() - t)
        t = time.perf_counter()
        c.req("GET", "/jobs/" + body["id"])
        read.append(time.perf_counter() - t)
    q = lambda xs, f: sorted(xs)[int(f * (len(xs) - 1))] * 1000
    return q(launch, 0.5), q(launch, 0.99), q(read, 0.5), q(read, 0.99)


def main():
    print(f"machine: {os.cpu_count()} cores; redis-server "
          + subprocess.run(["redis-server", "--version"], capture_output=True,
                           text=True).stdout.split()[2])
    print(f"command: python3 bench/cluster_jobs.py {JOBS}")
    mem, mem_port = evald()
    rp, rport = redis()
    url = f"redis://127.0.0.1:{rport}"
    n1, n1_port = evald(cluster=url, node="bench-1")
    print(f"\n1. tiny jobs (prime 97), launch -> done, {JOBS} jobs:")
    print(f"   in-memory, 1 node            {throughput([mem_port], JOBS):8.0f} jobs/s")
    print(f"   cluster,   1 node            {throughput([n1_port], JOBS):8.0f} jobs/s")
    n2, p2 = evald(cluster=url, node="bench-2")
    n3, p3 = evald(cluster=url, node="bench-3")
    print(f"   cluster,   3 nodes           {throughput([n1_port, p2, p3], JOBS):8.0f} jobs/s")
    print("\n2. latency on one keep-alive connection (ms):")
    for name, port in (("in-memory", mem_port), ("cluster  ", n1_port)):
        l50, l99, r50, r99 = latency(port)
        print(f"   {name}  POST /eval-launch p50 {l50:6.3f} p99 {l99:6.3f}   "
              f"GET /jobs/<id> p50 {r50:6.3f} p99 {r99:6.3f}")
    for p in (n1, n2, n3):
        p.terminate()
    # 3. kill -9 of the runner.
    extra = {"lease": "3s", "heartbeat": "500ms", "split_time": "0s"}
    nodes = {name: evald(cluster=url, node=name, extra=extra) for name in ("k-1", "k-2", "k-3")}
    c = client(nodes["k-1"][1])
    s, body = c.req("POST", "/eval-launch",
                    '{"workload":"prime","n":"18446744073709551557","method":"trial",'
                    '"timeout_ms":300000}')
    job = body["id"]
    while True:
        j = c.req("GET", "/jobs/" + job)[1]
        if j["status"] == "running" and j["node"]:
            break
        time.sleep(0.01)
    owner = j["node"]
    survivor = next(port for name, (_, port) in nodes.items() if name != owner)
    os.kill(nodes[owner][0].pid, signal.SIGKILL)
    t0 = time.perf_counter()
    c = client(survivor)
    while c.req("GET", "/jobs/" + job)[1]["status"] != "done":
        time.sleep(0.02)
    took = time.perf_counter() - t0
    j = c.req("GET", "/jobs/" + job)[1]
    print(f"\n3. kill -9 of the running node ({owner}): done on {j['node']} {took:.2f} s later "
          f"(lease 3 s + the job again from the start: "
          f"{(j['result'] or {}).get('divisors_checked')} divisors)")
    for name, (p, _) in nodes.items():
        if p.poll() is None:
            p.terminate()
            p.wait()
    # 4. One big trial division: whole on one node of one worker, then split into
    # parts over N such nodes (one per core).
    big = '{"workload":"prime","n":"18446744073709551557","method":"trial","timeout_ms":300000}'

    def big_job(ports):
        c = client(ports[0])
        t = time.perf_counter()
        job = c.req("POST", "/eval-launch", big)[1]["id"]
        while (j := c.req("GET", "/jobs/" + job)[1])["status"] not in ("done", "failed"):
            time.sleep(0.01)
        return time.perf_counter() - t, j

    solo = evald(cluster=url, node="whole", extra={"split_time": "0s"})
    whole_s, _ = big_job([solo[1]])
    solo[0].terminate()
    solo[0].wait()
    width = os.cpu_count() or 2
    split_nodes = [evald(cluster=url, node=f"part-{i}") for i in range(width)]
    split_s, j = big_job([port for _, port in split_nodes])
    print(f"\n4. one big trial division (2^64-59, prime), launch -> done:")
    print(f"   whole, 1 node x 1 worker        {whole_s:6.2f} s")
    print(f"   split, {width} nodes x 1 worker       {split_s:6.2f} s  "
          f"({whole_s / split_s:.2f}x; {j['chunks']} parts on {len(j['nodes'])} nodes)")


try:
    main()
finally:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
