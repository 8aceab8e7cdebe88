"""The Log Detector contract as the original implemented it, for the benchmark peers:
Standard, Timed and Order conditions over one record. `run` evaluates one condition
body (Python) and returns (truthy, data)."""
import copy


def evaluate(payload, run):
    log = payload["log"]
    text = log["Text"].replace("\n", " ")
    log["Text"] = text
    context = payload.get("context") or {}
    earlier = payload.get("trueConditions") or []
    found = []
    for c in payload["conditions"]:
        kind = c["type"]
        if kind == "Order":
            seq = earlier + found
            order = c["order"]
            if any(seq[i:i + len(order)] == order for i in range(len(seq) - len(order) + 1)):
                found.append(c["numeration"])
            continue
        if kind == "Timed" and payload["logProcessingTime"] - payload["stateTime"] > c["timeRange"]:
            continue
        ok, data = run(c["text"], log, text, copy.deepcopy(context))
        if ok:
            context = data
            found.append(c["numeration"])
    return {"trueConditions": found, "context": context}


def as_function(body):
    return "def condition(log, text, data):\n" + "".join(
        "    " + line + "\n" for line in body.splitlines())
