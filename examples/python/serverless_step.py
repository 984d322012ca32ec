#!/usr/bin/env python3
"""Deployment Gates from a short-lived runtime (a serverless function, a scheduled job).

Nothing waits: ``start`` triggers the evaluation and returns a snapshot; each later invocation
calls ``check`` with it, which sends only what is due and returns the outcome or a new snapshot.
Store the snapshot wherever the runtime keeps state (here: a file); it holds no keys.

    python serverless_step.py start checkout prod    # once
    python serverless_step.py check                  # on every tick, until it prints a verdict
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import gatepost

STATE = Path("gate-state.json")


def save_or_report(result: gatepost.Outcome | gatepost.Pending) -> int:
    """Keep a pending evaluation for the next tick; report a finished one."""
    if isinstance(result, gatepost.Pending):
        STATE.write_text(json.dumps(result.snapshot), encoding="utf-8")
        wait = result.seconds_until_next_check()
        print(f"evaluation {result.evaluation_id} pending; check again in {wait:.0f} s")
        return 0
    STATE.unlink(missing_ok=True)
    print(result.render("text"))
    return result.exit_code


def main(argv: list[str]) -> int:
    """``start SERVICE ENV`` or ``check``."""
    if argv[:1] == ["start"] and len(argv) == 3:
        return save_or_report(gatepost.start(service=argv[1], env=argv[2]))
    if argv == ["check"]:
        return save_or_report(gatepost.check(STATE.read_text(encoding="utf-8")))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
