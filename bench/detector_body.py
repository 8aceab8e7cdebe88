#!/usr/bin/env python3
"""Writes the Log Detector benchmark bodies: one record shaped like the original's
(a 14-field log record, one Timed condition that does a substring test and writes
one context key), as evald's Lua and as the Python peers' condition.
Usage: detector_body.py lua|python [records conditions]
  no counts: one {"payload":...} (about 800 bytes)
  records conditions: {"payloads":[...]} with that many records x conditions each"""
import json
import sys

LOG = {
    "Text": "2026-12-01 17:20:03,118 INFO [Thread-7] ControlLoop - Telescope reached park "
            "position after slew; dome shutter closed, tracking off\nsecond line of the record",
    "Thread": "Thread-7", "Level": "INFO", "Logger": "ControlLoop", "Host": "tcs-01.obs",
    "Service": "telescope-control", "Pid": 4211, "Timestamp": 1764609603118,
    "Sequence": 918273, "Component": "mount", "Facility": "local3", "Severity": 6,
    "Site": "paranal", "Source": "/var/log/tcs/telescope-control/control-loop.log",
}

LUA = 'if contains(text, "park position") then data.parked = log.Sequence return true end return false'
PYTHON = 'if "park position" in text:\n    data["parked"] = log["Sequence"]\n    return True\nreturn False'

# The extra conditions of the batch benchmark (Lua, Python), cycling Standard, Timed, Order.
EXTRA_LUA = [
    'return log.Level == "ERROR"',
    'return contains(text, "shutter") and log.Severity < 7',
    'data.seen = (data.seen or 0) + 1 return startswith(log.Component, "mo")',
    'return text:find("slew", 1, true) ~= nil',
    'return #text > 100',
]


def payload(lang, conditions=1, seq=0):
    log = dict(LOG, Sequence=LOG["Sequence"] + seq)
    conds = [{"numeration": 1, "type": "Timed", "timeRange": 60000,
              "text": LUA if lang == "lua" else PYTHON}]
    for i in range(2, conditions + 1):
        if i % 3 == 0:
            conds.append({"numeration": i, "type": "Order", "order": [1, i - 1]})
        else:
            conds.append({"numeration": i, "type": "Standard",
                          "text": EXTRA_LUA[i % len(EXTRA_LUA)]})
    return {"log": log, "conditions": conds, "context": {"machine": "park-watch", "count": 3},
            "trueConditions": [4, 7], "stateTime": 1764609600000,
            "logProcessingTime": 1764609603200}


def main():
    lang = sys.argv[1]
    if len(sys.argv) > 3:
        records, conditions = int(sys.argv[2]), int(sys.argv[3])
        body = {"payloads": [payload(lang, conditions, i) for i in range(records)]}
    else:
        body = {"payload": payload(lang)}
    sys.stdout.write(json.dumps(body, separators=(",", ":")))


if __name__ == "__main__":
    main()
