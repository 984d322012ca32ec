#!/usr/bin/env python3
"""Drive the low-level engine with your own HTTP stack (here: httpx); the README's example."""

from __future__ import annotations

import time
from typing import Any

import gatepost
import httpx
from gatepost.types import Input, SendRequest


def send(client: httpx.Client, action: SendRequest) -> Input:
    """Perform one request (no redirects, the engine's timeout) and describe what happened."""
    rid = action["request_id"]
    try:
        r = client.request(
            action["method"],
            action["url"],
            headers=action["headers"],  # type: ignore[arg-type]
            content=action.get("body"),
            timeout=action["timeout_ms"] / 1000,
        )
    except httpx.TimeoutException as e:
        return {"type": "transport_error", "request_id": rid, "kind": "timeout", "message": str(e)}
    except httpx.HTTPError as e:
        return {"type": "transport_error", "request_id": rid, "kind": "connect", "message": str(e)}
    headers = [[k, v] for k, v in r.headers.multi_items()]
    return {"type": "response", "request_id": rid, "status": r.status_code, "headers": headers,
            "body": r.text}  # fmt: skip


def run(options: dict[str, Any]) -> gatepost.Outcome:
    """The whole host contract: perform what the engine asks, feed back what happened."""
    engine = gatepost.Engine(options)
    with httpx.Client(follow_redirects=False) as client:
        while True:
            action = engine.poll()
            if action["type"] == "send_request":
                engine.handle(send(client, action))
            elif action["type"] == "wait":
                time.sleep(max(0.0, action["until"] / 1000 - time.time()))
                engine.handle({"type": "timeout"})
            else:
                return gatepost.Outcome.from_dict(action["outcome"])


if __name__ == "__main__":
    outcome = run(gatepost.options(service="checkout", env="prod"))
    print(outcome.render("text"))
    raise SystemExit(outcome.exit_code)
