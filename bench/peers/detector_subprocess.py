"""Peer (a): the original design. Flask, run by gunicorn with 2 x CPU + 1 sync
workers; each condition runs in a new `python3 -c` process with the record spliced
into its source (here with repr(), so the benchmark's text cannot break it).
Run: gunicorn -w 5 -b 127.0.0.1:PORT --chdir bench/peers detector_subprocess:app"""
import json
import subprocess
import sys

from flask import Flask, jsonify, request

from detector_common import as_function, evaluate

app = Flask(__name__)


def run_in_subprocess(body, log, text, data):
    source = (
        "import json\n"
        f"log = {log!r}\ntext = {text!r}\ndata = {data!r}\n"
        + as_function(body)
        + "r = condition(log, text, data)\n"
        "print(json.dumps([bool(r), data]))\n"
    )
    out = subprocess.run([sys.executable, "-c", source], capture_output=True, check=True)
    ok, data = json.loads(out.stdout)
    return ok, data


@app.post("/eval")
def eval_route():
    return jsonify(evaluate(request.get_json()["payload"], run_in_subprocess))
