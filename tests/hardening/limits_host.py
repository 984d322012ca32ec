"""Binding-level limits, Python: deep host objects, absurd numbers and clocks, corrupt snapshots.
Each probe must end in a value or a GatepostError — never a crash of the interpreter. Prints one
`probe NAME: RESULT` line each, then `done` (the harness treats a missing `done` as a crash).
"""

import json
import sys

import gatepost

OPTS = {"service": "s", "env": "e", "api_key": "k", "app_key": "a"}


def deep(depth, leaf=1):
    v = leaf
    for _ in range(depth):
        v = [v]
    return v


def probe(name, fn):
    try:
        result = fn()
        print(f"probe {name}: ok {str(result)[:60]}", flush=True)
    except gatepost.GatepostError as e:
        print(f"probe {name}: error {e.code}", flush=True)
    except (ValueError, TypeError, OverflowError, RecursionError) as e:
        print(f"probe {name}: {type(e).__name__}", flush=True)


if sys.argv[1] == "cyclic":
    # Self-referencing host objects: a clean error, not endless recursion.
    looped = {"rules": []}
    looped["self"] = looped
    probe("cyclic config", lambda: gatepost.Engine({**OPTS, "config": looped}, 0))
    probe("cyclic validate", lambda: gatepost.validate(looped))
    print("done")
    sys.exit(0)
depth = int(sys.argv[1])
rule = lambda x: {"rules": [{"type": "monitor", "name": "m", "options": {"query": "a:b", "x": x}}]}  # noqa: E731
probe("deep config", lambda: gatepost.Engine({**OPTS, "config": rule(deep(depth))}, 0))
probe("deep validate", lambda: gatepost.validate(rule(deep(depth))))
probe("deep input", lambda: gatepost.Engine(OPTS, 0).handle({"type": "response", "request_id": 1, "status": 200, "headers": deep(depth)}, 1))
probe("deep snapshot", lambda: gatepost.Engine.resume({"schema_version": 1, "x": deep(depth)}, "k", "a", 0))
probe("deep snapshot text", lambda: gatepost.Engine.resume('{"schema_version":1,"x":' + "[" * depth + "]" * depth + "}", "k", "a", 0))
for now in (-1, 2**53, 2**64, 2**70, 1e300, float("nan")):
    probe(f"now {now}", lambda now=now: gatepost.Engine(OPTS, now).poll(now))
    probe(f"poll now {now}", lambda now=now: gatepost.Engine(OPTS, 0).poll(now))
probe("seed 2**64", lambda: gatepost.Engine({**OPTS, "seed": 2**64}, 0))
probe("timeout 1e308", lambda: gatepost.Engine({**OPTS, "timeout": 1e308}, 0))
probe("request_id 2**64", lambda: gatepost.Engine(OPTS, 0).handle({"type": "response", "request_id": 2**64, "status": 200}, 0))
probe("status 70000", lambda: gatepost.Engine(OPTS, 0).handle({"type": "response", "request_id": 1, "status": 70000}, 0))
probe("snapshot tampered", lambda: gatepost.Engine.resume(
    {**json.loads(json.dumps(gatepost.Engine(OPTS, 0).snapshot())), "poll_interval_ms": 0, "next_request_id": 2**64 - 1}, "k", "a", 0))
probe("body 50 MB", lambda: gatepost.Engine(OPTS, 0).handle({"type": "response", "request_id": 1, "status": 200, "body": "x" * 50_000_000}, 1))
print("done")
