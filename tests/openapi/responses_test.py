#!/usr/bin/python3
"""ctest "openapi_responses": real responses of a running evald validated against the
schemas of handlers/openapi/openapi.json (Debian's python3-jsonschema, draft 2020-12).

Every documented operation is exercised at least once, with successes and errors;
each response's status must be documented for its operation, its Content-Type must
be the documented one, and a JSON body must match the documented schema.
Usage: responses_test.py EVALD_BINARY SOURCE_DIR"""
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import time

try:
    import jsonschema
except ImportError:
    print("SKIPPED: python3-jsonschema is not installed (scripts/setup.sh installs it)")
    sys.exit(77)

binary, source = sys.argv[1], sys.argv[2]
doc = json.load(open(os.path.join(source, "handlers", "openapi", "openapi.json")))
failures = []
exercised = set()


def start():
    p = subprocess.Popen([binary, "--listen", "127.0.0.1:0", "--threads", "2", "--log-level", "warn"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    for line in p.stdout:
        if b"listening" in line:
            return p, int(line.split(b":")[-1])
    raise SystemExit("evald did not start")


def operation_for(method, path):
    path = path.split("?")[0]
    for template, item in doc["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in item:
            return template, item[method.lower()]
    return None, None


def resolve(obj):
    while isinstance(obj, dict) and "$ref" in obj:
        node = doc
        for part in obj["$ref"][2:].split("/"):
            node = node[part]
        obj = node
    return obj


def check(port, method, path, body=None, headers=None, expect=None, raw=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    h = dict(headers or {})
    data = raw if raw is not None else (json.dumps(body) if body is not None else None)
    if data is not None and "Content-Type" not in h:
        h["Content-Type"] = "application/json"
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    text = r.read() if method != "GET" or not path.startswith("/stats/stream") else b""
    status, ctype = r.status, (r.getheader("Content-Type") or "").split(";")[0]
    c.close()
    name = f"{method} {path} -> {status}"
    if expect is not None and status != expect:
        failures.append(f"{name}: expected {expect}; body {text[:300]!r}")
    template, op = operation_for(method, path)
    if op is None:
        failures.append(f"{name}: no operation in the document")
        return status, text
    exercised.add((method.lower(), template))
    documented = op["responses"].get(str(status))
    if documented is None:
        failures.append(f"{name}: status {status} is not documented for {method} {template}")
        return status, text
    documented = resolve(documented)
    content = documented.get("content", {})
    if content and ctype not in content:
        failures.append(f"{name}: Content-Type {ctype} is not documented ({list(content)})")
    elif ctype == "application/json":
        schema = dict(content["application/json"]["schema"])
        schema["components"] = doc["components"]
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(json.loads(text)),
                        key=lambda e: list(e.path))
        for e in errors[:3]:
            failures.append(f"{name}: {'/'.join(map(str, e.path))}: {e.message[:200]}")
    print(f"{'ok  ' if not failures or not failures[-1].startswith(name) else 'FAIL'} {name}")
    return status, text


def stream_first_event(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/stats/stream")
    r = c.getresponse()
    assert r.status == 200 and r.getheader("Content-Type") == "text/event-stream", r.status
    buf = b""
    while b"data: " not in buf or not buf.rstrip(b" ").endswith(b"\n\n"):
        buf += r.read1(65536) if hasattr(r, "read1") else r.fp.read1(65536)
    c.close()
    event = buf[buf.index(b"data: ") + 6:].split(b"\n\n")[0]
    schema = {"$ref": "#/components/schemas/Snapshot", "components": doc["components"]}
    for e in jsonschema.Draft202012Validator(schema).iter_errors(json.loads(event)):
        failures.append(f"/stats/stream event: {e.message[:200]}")
    exercised.add(("get", "/stats/stream"))
    print("ok   GET /stats/stream (one event validated as a Snapshot)")


def main():
    p, port = start()
    try:
        check(port, "GET", "/healthz", expect=200)
        check(port, "GET", "/readyz", expect=200)
        check(port, "GET", "/metrics", expect=200)
        check(port, "GET", "/openapi.json", expect=200)
        check(port, "GET", "/", expect=200)
        time.sleep(1.2)  # a snapshot exists after the first second (not a synchronisation)
        check(port, "GET", "/stats", expect=200)
        stream_first_event(port)
        check(port, "GET", "/prime?n=97", expect=200)
        check(port, "GET", "/prime?n=91&method=trial", expect=200)
        check(port, "GET", "/prime?n=abc", expect=400)
        check(port, "GET", "/factor?n=600851475143", expect=200)
        check(port, "GET", "/factor", expect=400)
        check(port, "GET", "/chargen?bytes=100", expect=200)
        check(port, "GET", "/chargen?bytes=100", headers={"Range": "bytes=0-9"}, expect=206)
        check(port, "GET", "/chargen?bytes=100", headers={"Range": "bytes=500-"}, expect=416)
        check(port, "POST", "/eval", {"workload": "prime", "n": "97"}, expect=200)
        check(port, "POST", "/eval", {"workload": "factor", "n": "12"}, expect=200)
        check(port, "POST", "/eval", {"workload": "script", "source": "return input * 2", "input": 21}, expect=200)
        check(port, "POST", "/eval", {"workload": "script", "source": "return input", "inputs": [1, 2, 3]}, expect=200)
        check(port, "POST", "/eval", {"items": [{"workload": "prime", "n": "7"}, {"workload": "nope"}]}, expect=200)
        check(port, "POST", "/eval", {"workload": "script", "source": "error('x')"}, expect=422)
        check(port, "POST", "/eval", {"workload": "script", "source": "return ("}, expect=400)
        check(port, "POST", "/eval", {"payload": {"log": {"Text": "a b"}, "conditions": [
            {"type": "Standard", "numeration": 1, "text": "contains(text, 'a')"}]}}, expect=200)
        check(port, "POST", "/eval", raw="{", expect=400)
        check(port, "POST", "/eval", raw="x=1", headers={"Content-Type": "text/plain"}, expect=415)
        check(port, "POST", "/eval?timeout_ms=50", {"workload": "script", "source": "while true do end"}, expect=504)
        _, body = check(port, "POST", "/eval-launch", {"workload": "prime", "n": "1000000007", "method": "trial"}, expect=202)
        job = json.loads(body)["id"]
        check(port, "POST", "/eval-launch", {"payload": {"log": {"Text": "x"}, "launchCondition": "launch()"}}, expect=200)
        check(port, "POST", "/eval-launch", {"workload": "prime"}, expect=400)
        for _ in range(200):
            if json.loads(check(port, "GET", f"/jobs/{job}", expect=200)[1])["status"] == "done":
                break
            time.sleep(0.05)
        check(port, "GET", "/jobs", expect=200)
        check(port, "GET", "/jobs/ffff", expect=404)
        _, body = check(port, "POST", "/eval-launch", {"workload": "script", "source": "while true do end", "timeout_ms": 60000}, expect=202)
        check(port, "DELETE", "/jobs/" + json.loads(body)["id"], expect=200)
        check(port, "DELETE", "/jobs/ffff", expect=404)
        check(port, "PUT", "/scripts/sq", raw="return input * input", headers={"Content-Type": "text/x-lua"}, expect=201)
        check(port, "PUT", "/scripts/sq", raw="return input ^ 2", headers={"Content-Type": "text/x-lua"}, expect=200)
        check(port, "PUT", "/scripts/sq", raw="return 1", headers={"Content-Type": "text/x-lua", "If-None-Match": "*"}, expect=412)
        check(port, "PUT", "/scripts/bad", raw="return (", headers={"Content-Type": "text/x-lua"}, expect=400)
        check(port, "GET", "/scripts", expect=200)
        check(port, "GET", "/scripts/sq", expect=200)
        check(port, "DELETE", "/scripts/sq", expect=200)
        check(port, "GET", "/scripts/sq", expect=404)
        check(port, "DELETE", "/scripts/sq", expect=404)

    finally:
        p.terminate()
        p.wait(timeout=20)
    every = {(m, path) for path, item in doc["paths"].items() for m in item}
    missing = every - exercised
    if missing:
        failures.append(f"operations never exercised: {sorted(missing)}")
    for f in failures:
        print("FAIL:", f)
    print(f"{len(exercised)} operations exercised, {len(failures)} failures")
    sys.exit(1 if failures else 0)


main()
