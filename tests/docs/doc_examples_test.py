#!/usr/bin/env python3
"""ctest "docs_examples": every `$ curl …` example in docs/ is run against a live evald
and its documented answer compared with today's, ids, times and counts masked.

In a fenced block, a line "$ curl … 127.0.0.1:8080 …" (continued by trailing backslashes)
is a command and the lines after it, up to a blank line or the next "$ ", its documented
output. The examples of one file run in order against one fresh server (so a PUT before a
GET works as the reader would see it). Commands that do not talk to 127.0.0.1:8080 (a
cluster's other nodes) are not run.
Usage: doc_examples_test.py SOURCE_DIR EVALD_BINARY
"""
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

root, binary = sys.argv[1], sys.argv[2]
docs = ["docs/scripts.md", "docs/log-detector.md", "docs/operations.md", "docs/cluster.md"]


def mask(text):
    text = re.sub(r"[0-9a-f]{32}", "<id>", text)
    text = re.sub(r"\d{4}-\d\d-\d\dT[\d:.]+Z", "<time>", text)
    text = re.sub(r'"(wall_ms|cpu_ms|progress|chunks|workers|divisors_checked|instructions)":"?[0-9.e+-]+"?',
                  r'"\1":<n>', text)
    text = re.sub(r"dur=[0-9.]+", "dur=<n>", text)
    return text.rstrip("\n")


def examples(path):
    """(line, command, documented output) for every runnable example of a file."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    out, fence, i = [], False, 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            fence = not fence
            i += 1
            continue
        if fence and line.startswith("$ "):
            start = i + 1
            command = line[2:]
            while command.endswith("\\") and i + 1 < len(lines):
                i += 1
                command = command[:-1] + "\n" + lines[i]
            i += 1
            output = []
            while i < len(lines) and lines[i] != "" and not lines[i].startswith("$ ") \
                    and not lines[i].startswith("```"):
                output.append(lines[i])
                i += 1
            if command.startswith("curl") and "127.0.0.1:8080" in command:
                out.append((start, command, "\n".join(output)))
            continue
        i += 1
    return out


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


failures, ran = [], 0
for doc in docs:
    cases = examples(os.path.join(root, doc))
    if not cases:
        continue
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="evald-doc-", delete=False)
    server = subprocess.Popen([binary, "--config", os.path.join(root, "config/evald.json"),
                               "--listen", f"127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with open(log.name, encoding="utf-8", errors="replace") as f:
                if "listening" in f.read():
                    break
            time.sleep(0.05)
        for line, command, documented in cases:
            real = command.replace("127.0.0.1:8080", f"127.0.0.1:{port}")
            got = subprocess.run(["bash", "-c", real], capture_output=True, text=True, timeout=60)
            actual = got.stdout.replace("\r", "")
            ran += 1
            if mask(actual) != mask(documented):
                failures.append(f"{doc}:{line}: {command.splitlines()[0][:100]}\n"
                                f"  documented: {mask(documented)[:600]}\n"
                                f"  today:      {mask(actual)[:600]}")
    finally:
        server.terminate()
        server.wait(timeout=30)
        os.unlink(log.name)

for f in failures:
    print("FAIL:", f)
if ran == 0:
    print("0 passed, 1 failed (no example found)")
    sys.exit(1)
if failures:
    print(f"0 passed, 1 failed ({len(failures)} of {ran} examples differ)")
    sys.exit(1)
print(f"{ran} documented examples answer as documented")
print("1 passed, 0 failed")
