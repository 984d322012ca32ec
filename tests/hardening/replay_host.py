"""Replay recorded runs (crates/core/tests/hardening_replay.rs) through the Python engine and
write what it did, in the same shape, for differential.py to compare.

Usage: replay_host.py RECORDED.json OUT.json
"""

import json
import sys

import gatepost


def apply(engine, step, keys):
    now = step["now"]
    record = {}
    if step.get("snapshot_resume"):
        snapshot = json.loads(json.dumps(engine.snapshot()))
        record["snapshot"] = snapshot
        engine = gatepost.Engine.resume(snapshot, keys[0], keys[1], now)
    if "input" in step:
        try:
            engine.handle(step["input"], now)
        except gatepost.GatepostError as e:
            record["error"] = e.code
    actions = []
    while True:
        action = engine.poll(now)
        actions.append(action)
        if action["type"] != "send_request":
            break
    record["actions"] = actions
    record["events"] = engine.drain_events()
    return engine, record


def run(scenario):
    options, start = scenario["options"], scenario["start"]
    keys = (options.get("api_key"), options.get("app_key"))
    try:
        if "attach" in scenario:
            engine = gatepost.Engine.attach(scenario["attach"], options, start)
        else:
            engine = gatepost.Engine(options, start)
    except gatepost.GatepostError as e:
        return {"construction": {"error": e.code}}
    records = []
    for step in scenario["steps"]:
        engine, record = apply(engine, step, keys)
        records.append(record)
    return {"records": records}


def main():
    recorded = json.load(open(sys.argv[1]))["recorded"]
    out = {}
    for scenario in recorded:
        try:
            out[scenario["name"]] = run(scenario)
        except Exception as e:  # noqa: BLE001 - a crash is a disagreement to report
            out[scenario["name"]] = {"crash": f"{type(e).__name__}: {e}"}
    json.dump(out, open(sys.argv[2], "w"))


main()
