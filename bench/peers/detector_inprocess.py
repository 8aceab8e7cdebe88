"""Peer (b): FastAPI under uvicorn, each condition evaluated in-process with exec
(compiled once per distinct text and cached, as evald does).
Run: uvicorn --app-dir bench/peers --port PORT --log-level warning detector_inprocess:app"""
from fastapi import FastAPI, Request

from detector_common import as_function, evaluate

app = FastAPI()
compiled = {}


def run_in_process(body, log, text, data):
    fn = compiled.get(body)
    if fn is None:
        namespace = {}
        exec(as_function(body), namespace)
        fn = compiled[body] = namespace["condition"]
    return bool(fn(log, text, data)), data


@app.post("/eval")
async def eval_route(request: Request):
    return evaluate((await request.json())["payload"], run_in_process)
