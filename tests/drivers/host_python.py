"""The Python host of the driver corpus: one evaluation through `gatepost.evaluate` (sync) or
`gatepost.evaluate_async` (asyncio), keys and site from the environment as a user's would be.

Usage: host_python.py sync|async OPTIONS_JSON   (snake_case evaluate() arguments, seconds)
Prints `RESULT {"outcome": ..., "error": ..., "events": [...]}` as its last line.
"""

import asyncio
import json
import sys
from typing import Any

import gatepost


def main() -> None:
    mode, options = sys.argv[1], json.loads(sys.argv[2])
    events: list[str] = []

    def on_event(event: Any) -> None:
        events.append(str(event.get("type")))

    result: dict[str, Any] = {"outcome": None, "error": None}
    try:
        if mode == "sync":
            outcome = gatepost.evaluate(**options, on_event=on_event)
        else:
            outcome = asyncio.run(gatepost.evaluate_async(**options, on_event=on_event))
        result["outcome"] = outcome.to_dict()
    except gatepost.GatepostError as e:
        result["error"] = {"code": e.code, "message": str(e)}
    result["events"] = events
    print("RESULT " + json.dumps(result, default=str), flush=True)


if __name__ == "__main__":
    main()
