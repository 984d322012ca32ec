"""One gatepost run in Python for trust.py; prints the outcome in every format, events on stderr.

Usage: trust_host.py evaluate OPTIONS_JSON
       trust_host.py resume SNAPSHOT_FILE OPTIONS_JSON   (resume(snapshot, options=...))
       trust_host.py keys                                (options() with the environment's keys)

Stdout: the outcome as JSON, then as text, then as markdown (each from core's renderers), or the
error as JSON. Options are gatepost.options() arguments; keys come from DD_API_KEY/DD_APP_KEY.
"""

import json
import sys

import gatepost


def show(outcome: gatepost.Outcome) -> None:
    print(outcome.to_json())
    print(outcome.render("text"))
    print(outcome.render("markdown"))


def on_event(event: dict) -> None:
    # What a Python user's logging shows: core's log line.
    print(event.get("message", ""), file=sys.stderr)


try:
    mode = sys.argv[1]
    if mode == "evaluate":
        show(gatepost.evaluate(**json.loads(sys.argv[2]), on_event=on_event))
    elif mode == "resume":
        with open(sys.argv[2]) as f:
            snapshot = json.load(f)
        options = gatepost.options(**json.loads(sys.argv[3]))
        show(gatepost.resume(snapshot, options=options, on_event=on_event))
    else:
        gatepost.options(service="checkout", env="prod")
        print(json.dumps({"error": None}))
except gatepost.GatepostError as e:
    print(json.dumps({"error": e.code, "message": str(e)}))
