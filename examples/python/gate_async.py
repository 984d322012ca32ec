#!/usr/bin/env python3
"""Gate a deploy from asyncio tooling, and survive cancellation.

The gate runs as a task next to other work. If the task is cancelled (a shutdown, a timeout of
the surrounding job), the evaluation stops cleanly and its snapshot is saved; the next run
resumes the same evaluation instead of triggering a new one.

    DD_API_KEY=... DD_APP_KEY=... python gate_async.py checkout prod
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import gatepost

STATE = Path(".gatepost-snapshot.json")


def load_snapshot() -> dict[str, Any] | None:
    """The snapshot a cancelled run left behind, if any (consumed once read)."""
    if not STATE.exists():
        return None
    snapshot: dict[str, Any] = json.loads(STATE.read_text(encoding="utf-8"))
    STATE.unlink()
    return snapshot


def save_snapshot(snapshot: dict[str, Any]) -> None:
    """Keep the state of a cancelled run; it holds no keys, so a workspace or cache is fine."""
    STATE.write_text(json.dumps(snapshot), encoding="utf-8")


def on_cancel(outcome: gatepost.Outcome) -> None:
    """The task was cancelled: keep the snapshot so the next run resumes the same evaluation."""
    if outcome.snapshot is not None:
        save_snapshot(outcome.snapshot)


async def gate(service: str, env: str, snapshot: dict[str, Any] | None) -> gatepost.Outcome:
    """Resume the saved evaluation if there is one, else start a new one."""
    if snapshot is not None:
        return await gatepost.resume_async(snapshot, on_cancel=on_cancel)
    return await gatepost.evaluate_async(
        service=service, env=env, timeout=1800, on_cancel=on_cancel
    )


async def main(service: str, env: str) -> int:
    """Run the gate; print its report; return the exit code."""
    outcome = await gate(service, env, load_snapshot())
    print(outcome.render("text"))
    return outcome.exit_code


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2])))
