"""Peer (b): FastAPI under uvicorn, each condition evaluated in-process with exec.
EXEC_CACHE=0 (the default, as the issue describes it): every evaluation exec()s the
condition's source, as the original ran a fresh `python3 -c` per condition.
EXEC_CACHE=1: a stronger peer that compiles each distinct text once and calls the
cached function, as evald does with its compiled-condition cache.
Run: uvicorn --app-dir bench/peers --port PORT --log-level warning detector_inprocess:app"""
import os

from fastapi import FastAPI, Request

from detector_common import as_function, evaluate

app = FastAPI()
cache = os.environ.get("EXEC_CACHE", "0") == "1"
compiled = {}


def run_in_process(body, log, text, data):
    fn = compiled.get(body) if cache else None
    if fn is None:
        namespace = {}
        exec(as_function(body), namespace)
        fn = namespace["condition"]
        if cache:
            compiled[body] = fn
    return bool(fn(log, text, data)), data


@app.post("/eval")
async def eval_route(request: Request):
    return evaluate((await request.json())["payload"], run_in_process)
