"""Per-step cost of driving the engine from Python (bench/run), on the loop of
crates/wasm/bench/step.mjs and crates/core/benches/step.rs: one step = one ``handle`` (an
``in_progress`` result while a request is awaited, else the ``timeout`` ending the wait for the
next poll) plus the ``poll``s until ``wait``, and the events drained. No network.

usage: step.py [STEPS] — prints "python: X µs per step ..." like step.mjs.
"""

import json
import sys
import time

from gatepost import Engine

ID = "e9d2f04f-4f4b-494b-86e5-52f03e10c8e9"
TRIGGERED = json.dumps(
    {
        "data": {
            "id": ID,
            "type": "deployment_gates_evaluation_response",
            "attributes": {"evaluation_id": ID},
        }
    }
)
IN_PROGRESS = json.dumps(
    {
        "data": {
            "id": ID,
            "type": "deployment_gates_evaluation_result_response",
            "attributes": {
                "dry_run": False,
                "evaluation_id": ID,
                "gate_status": "in_progress",
                "rules": [
                    {
                        "name": "Service monitors",
                        "status": "in_progress",
                        "dry_run": False,
                    }
                ],
            },
        }
    }
)
HEADERS = [
    ["content-type", "application/json"],
    ["date", "Sun, 22 Nov 2026 00:00:00 GMT"],
]


def run(count: int) -> float:
    now = 0
    engine = Engine(
        {
            "service": "checkout",
            "env": "prod",
            "api_key": "bench-api-key",
            "app_key": "bench-app-key",
            "seed": 1,
            "timeout": 1e9,
        },
        now,
    )
    pending = engine.poll(now)["request_id"]

    def drain() -> dict:
        nonlocal pending
        while True:
            action = engine.poll(now)
            if action["type"] == "send_request":
                pending = action["request_id"]
            else:
                return action

    now += 10
    engine.handle(
        {
            "type": "response",
            "request_id": pending,
            "status": 202,
            "headers": HEADERS,
            "body": TRIGGERED,
        },
        now,
    )
    wait = drain()
    engine.drain_events()
    started = time.perf_counter()
    for _ in range(count):
        if wait["reason"] == "awaiting_response":
            now += 20
            engine.handle(
                {
                    "type": "response",
                    "request_id": pending,
                    "status": 200,
                    "headers": HEADERS,
                    "body": IN_PROGRESS,
                },
                now,
            )
        else:
            now = wait["until"]
            engine.handle({"type": "timeout"}, now)
        wait = drain()
        if wait["type"] == "done":
            raise RuntimeError(f"the evaluation ended: {wait['outcome']['cause']}")
        engine.drain_events()
    return (time.perf_counter() - started) / count * 1e6


def main() -> None:
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    run(min(2_000, steps))
    print(
        f"python: {run(steps):.2f} µs per step (handle + polls until wait), {steps} steps"
    )


if __name__ == "__main__":
    main()
