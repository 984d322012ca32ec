"""Run one gatepost.evaluate in Python and print the outcome JSON (or the error) on stdout.

Usage: evaluate_host.py OPTIONS_JSON   (snake_case evaluate() arguments; keys from DD_API_KEY/DD_APP_KEY)
"""

import json
import sys

import gatepost

try:
    outcome = gatepost.evaluate(**json.loads(sys.argv[1]), on_event=lambda e: print(json.dumps(e), file=sys.stderr))
    print(outcome.render("json"))
except gatepost.GatepostError as e:
    print(json.dumps({"error": e.code, "message": str(e)}))
