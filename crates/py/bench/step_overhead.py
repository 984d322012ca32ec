#!/usr/bin/env python3
"""Per-step overhead of the binding: one ``handle`` + the ``poll`` calls after it, in microseconds.

A step here is what a driver does for each poll of the result while an evaluation is in
progress: feed the ``timeout`` that ends the wait, poll (``send_request``), poll (``wait``), feed
the ``in_progress`` response, poll (``wait``). Run it with the package installed in the venv:

    .venv/bin/python crates/py/bench/step_overhead.py
"""

from __future__ import annotations

import json
import statistics
import time

import gatepost

EVALUATION_ID = "e9d2f04f-4f4b-494b-86e5-52f03e10c8e9"
IN_PROGRESS = json.dumps(
    {
        "data": {
            "id": EVALUATION_ID,
            "type": "deployment_gates_evaluation_result_response",
            "attributes": {
                "dry_run": False,
                "evaluation_id": EVALUATION_ID,
                "gate_status": "in_progress",
                "rules": [{"name": "monitors", "status": "in_progress", "dry_run": False}],
            },
        }
    }
)
OPTIONS = {
    "service": "checkout",
    "env": "prod",
    "api_key": "bench-api-key",
    "app_key": "bench-app-key",
    "seed": 1,
    "poll_interval": 1,
}
HEADERS = [["Content-Type", "application/json"], ["Date", "Sun, 22 Nov 2026 01:00:00 GMT"]]


def run(steps: int) -> float:
    """Microseconds per step over ``steps`` polls of one long evaluation."""
    engine = gatepost.Engine.attach(EVALUATION_ID, {**OPTIONS, "timeout": 10**9}, 0)
    now = 0
    started = time.perf_counter()
    for _ in range(steps):
        action = engine.poll(now)
        assert action["type"] == "send_request"
        assert engine.poll(now)["type"] == "wait"
        response = {
            "type": "response",
            "request_id": action["request_id"],
            "status": 200,
            "headers": HEADERS,
            "body": IN_PROGRESS,
        }
        engine.handle(response, now + 10)  # type: ignore[arg-type]
        wait = engine.poll(now + 10)
        assert wait["type"] == "wait"
        engine.drain_events()
        now = wait["until"]
        engine.handle({"type": "timeout"}, now)
    return (time.perf_counter() - started) / steps * 1e6


def main() -> None:
    """Print the median of a few runs."""
    run(200)
    samples = [run(2000) for _ in range(5)]
    print(f"per step (handle + 3 polls + drain): median {statistics.median(samples):.1f} us")


if __name__ == "__main__":
    main()
