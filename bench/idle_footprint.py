#!/usr/bin/env python3
"""Idle footprint: evald's RSS at start, and per idle keep-alive connection with
10,000 of them open (each served one request first). Targets: <= 10 MiB at start,
<= 8 KiB per idle connection. Usage: python3 bench/idle_footprint.py (release build)."""
import os, resource, socket, subprocess, time

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

def rss(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1])

p = subprocess.Popen(["./build/release/evald", "--listen", "127.0.0.1:18600", "--log-level", "warn"],
                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
p.stdout.readline()
time.sleep(0.5)
start = rss(p.pid)
print(f"command: python3 bench/idle_footprint.py; evald with {os.cpu_count()} workers")
print(f"RSS at start: {start} KiB ({start / 1024:.1f} MiB)")
conns = []
try:
    for i in range(10000):
        s = socket.create_connection(("127.0.0.1", 18600))
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        conns.append(s)
    for s in conns:
        s.recv(1024)
    time.sleep(1.0)
    idle = rss(p.pid)
    print(f"RSS with 10,000 idle keep-alive connections: {idle} KiB; "
          f"{(idle - start) * 1024 / 10000:.0f} bytes per connection")
finally:
    for s in conns:
        s.close()
    p.terminate(); p.wait()
