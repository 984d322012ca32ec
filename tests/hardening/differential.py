#!/usr/bin/env python3
"""One decision everywhere: random scenarios through every built engine, byte-for-byte.

Generates random scenarios (a random config and options + a random server script of statuses,
bodies, headers, transport faults, hangs, latencies, cancels and snapshot/resume) from a seed,
records each through the Rust engine (crates/core/tests/hardening_replay.rs), replays the
recorded run through Python, Node and wasm when built, and requires identical actions, events and
outcomes (each compared as canonical JSON: sorted keys, no spaces). A disagreement is printed and,
with --save, stored in tests/scenarios/regressions.json with the Rust result as the expectation.

    python3 tests/hardening/differential.py [--seed N] [--count N] [--save]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import random
import subprocess
import tempfile

from common import (
    HERE,
    NODE_PKG,
    ROOT,
    VENV_PY,
    WASM_PKG,
    check,
    fail,
    main_guard,
    node_available,
    ok,
    python_available,
    skip,
    wasm_available,
)

EVAL = "e9d2f04f-4f4b-494b-86e5-52f03e10c8e9"
OTHER = "0b6a3c1e-8d7f-4a2b-9c5d-1e2f3a4b5c6d"
STATUSES = [200] * 14 + [202] * 8 + [301, 400, 401, 403, 404, 404, 408, 413, 418, 429, 429, 500, 502, 503, 503, 504]
GATE = ["pass", "fail", "in_progress", "in_progress", "weird"]
REGRESSIONS = ROOT / "tests" / "scenarios" / "regressions.json"


def body(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.6:
        ident = EVAL if rng.random() < 0.85 else rng.choice([OTHER, "../../x", EVAL.upper(), "", "e9d2f04f"])
        status = rng.choice(GATE)
        rules = [{"name": f"rule {i}", "status": rng.choice(GATE), "dry_run": rng.random() < 0.2,
                  **({"reason": "monitor 7 in ALERT"} if rng.random() < 0.3 else {})}
                 for i in range(rng.randint(0, 3))]
        attrs = {"evaluation_id": ident, "gate_status": status, "dry_run": rng.random() < 0.15, "rules": rules}
        if rng.random() < 0.3:
            attrs["gate_id"] = "e140302e-0cba-40d2-978c-6780647f8f1c"
        return json.dumps({"data": {"id": ident, "type": "x", "attributes": attrs}})
    if kind < 0.75:
        return json.dumps({"errors": rng.choice([["Forbidden"], [{"status": "404", "detail": "no gate found"}], []])})
    return rng.choice(["", "<html>502</html>", "{", "null", '{"data": null}', "[" * 200 + "]" * 200, "\ufffd\x00"])


def headers(rng: random.Random) -> list[list[str]]:
    out = []
    if rng.random() < 0.25:
        out.append(["Retry-After", rng.choice(["0", "1", "3", "30", "120", "99999999999", "-1", "soon",
                                               "Sun, 06 Nov 1994 08:49:40 GMT"])])
        if rng.random() < 0.5:
            out.append(["Date", "Sun, 06 Nov 1994 08:49:37 GMT"])
    if rng.random() < 0.1:
        out.append(["X-RateLimit-Reset", str(rng.randint(0, 90))])
    if rng.random() < 0.1:
        out.append(["Location", "https://evil.example/steal"])
    return out


def script_item(rng: random.Random) -> dict:
    latency = rng.choice([0, 5, 40, 250, 1_000, 4_000, rng.randint(0, 40_000)])
    r = rng.random()
    if r < 0.75:
        reply = {"status": rng.choice(STATUSES), "body": body(rng)}
        h = headers(rng)
        if h:
            reply["headers"] = h
        return {"latency_ms": latency, "reply": reply}
    if r < 0.85:
        return {"latency_ms": latency, "transport": rng.choice(["connect", "timeout", "reset", "tls", "body_too_large", "other"]),
                "message": rng.choice(["", "connection reset by peer", "x" * 300])}
    if r < 0.91:
        return {"hang": True}
    return {"latency_ms": latency, "host": rng.choice(["cancel", "snapshot_resume", "snapshot_resume", "stale_reply"])}


def scenario(rng: random.Random, name: str) -> dict:
    options = {
        "service": "checkout", "env": "prod", "api_key": "diff-secret-api-51c0", "app_key": "diff-secret-app-a7e3",
        "seed": rng.randrange(2**53), "timeout": rng.choice([20, 60, 300, 900]),
        "poll_interval": rng.choice([1, 2, 5, 15]), "request_timeout": rng.choice([1, 5, 30]),
        "trigger_budget": rng.choice([5, 30, 60]), "fail_on_error": rng.random() < 0.3,
    }
    if rng.random() < 0.5:
        options["config"] = {"dryRun": rng.random() < 0.2, "rules": [
            {"type": "monitor", "name": f"r{i}", "dryRun": rng.random() < 0.2,
             "options": {"query": "service:checkout env:prod", "duration": rng.choice([0, 5, 30, 300])}}
            for i in range(rng.randint(1, 3))]}
    if rng.random() < 0.2:
        options["version"] = "v2"
    s = {"name": name, "options": options, "start": 1_700_000_000_000 + rng.randrange(10**6),
         "script": [script_item(rng) for _ in range(rng.randint(0, 25))]}
    if rng.random() < 0.15:
        s["attach"] = EVAL
    return s


def canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_rust(gen: pathlib.Path, out: pathlib.Path) -> None:
    env = dict(os.environ, GATEPOST_RECORD_IN=str(gen), GATEPOST_RECORD_OUT=str(out))
    r = subprocess.run(["cargo", "test", "-q", "-p", "gatepost-core", "--test", "hardening_replay"],
                       cwd=ROOT, env=env, capture_output=True, timeout=900)
    if r.returncode != 0:
        raise RuntimeError("the Rust recorder failed:\n" + r.stdout.decode()[-3000:] + r.stderr.decode()[-3000:])


def first_difference(rust: dict, other: dict) -> str:
    if "crash" in other:
        return f"host crashed: {other['crash']}"
    if "construction" in rust or "construction" in other:
        return f"construction: rust {rust.get('construction')} vs {other.get('construction')}"
    for i, (a, b) in enumerate(zip(rust["records"], other.get("records", []), strict=False)):
        if canonical(a) != canonical(b):
            for part in ("error", "snapshot", "actions", "events"):
                if canonical(a.get(part)) != canonical(b.get(part)):
                    return f"step {i} {part}:\n    rust: {canonical(a.get(part))[:600]}\n    host: {canonical(b.get(part))[:600]}"
    return f"{len(rust['records'])} records vs {len(other.get('records', []))}"


def to_corpus(rec: dict, host: str, seed: int) -> dict:
    steps = []
    for s, r in zip(rec["steps"], rec["records"], strict=True):
        step = dict(s)
        step["expect"] = r["actions"]
        step["events"] = r["events"]
        if "error" in r:
            step["expect_error"] = {"code": r["error"]}
        steps.append(step)
    out = {"name": f"regression_{rec['name']}",
           "description": f"{host} disagreed with Rust on this generated run (differential.py --seed {seed}); "
                          "the Rust result is the expectation",
           "options": rec["options"], "steps": steps}
    if "attach" in rec:
        out["attach"] = rec["attach"]
    return out


def save_regressions(new: list[dict]) -> None:
    doc = json.loads(REGRESSIONS.read_text()) if REGRESSIONS.exists() else {
        "topic": "regressions", "description": "runs that once broke a host or a binding", "scenarios": []}
    names = {s["name"] for s in doc["scenarios"]}
    doc["scenarios"].extend(s for s in new if s["name"] not in names)
    REGRESSIONS.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=int(os.environ.get("GATEPOST_DIFF_SEED", "20261122")))
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--save", action="store_true", help="store disagreements in tests/scenarios/regressions.json")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    scenarios = [scenario(rng, f"gen_{args.seed}_{i}") for i in range(args.count)]
    with tempfile.TemporaryDirectory(prefix="gp-diff-") as tmp:
        tmp = pathlib.Path(tmp)
        gen, rec_path = tmp / "gen.json", tmp / "rec.json"
        gen.write_text(json.dumps({"scenarios": scenarios}))
        record_rust(gen, rec_path)
        recorded = json.loads(rec_path.read_text())["recorded"]
        steps = sum(len(r["steps"]) for r in recorded)
        causes: dict[str, int] = {}
        for r in recorded:
            last = r["records"][-1]["actions"][-1] if r["records"] else {}
            cause = last.get("outcome", {}).get("cause", "construction" if "construction" in r else "?")
            causes[cause] = causes.get(cause, 0) + 1
        ok(f"rust recorded {len(recorded)} scenarios, {steps} steps (seed {args.seed}); causes {dict(sorted(causes.items()))}")
        hosts = [
            ("python", python_available(), lambda o: [str(VENV_PY), str(HERE / "replay_host.py"), str(rec_path), str(o)]),
            ("node", node_available(), lambda o: ["node", str(HERE / "replay_host.mjs"), str(NODE_PKG), str(rec_path), str(o)]),
            ("wasm", wasm_available(),
             lambda o: ["node", str(HERE / "replay_host.mjs"), str(WASM_PKG), str(rec_path), str(o)]),
        ]
        regressions = []
        for host, why, cmd in hosts:
            if why:
                skip(f"differential {host}", why)
                continue
            out = tmp / f"{host}.json"
            r = subprocess.run(cmd(out), capture_output=True, timeout=600)
            if r.returncode != 0 or not out.exists():
                fail(f"differential {host}", f"replay failed: {r.stderr.decode()[-1500:]}")
                continue
            results = json.loads(out.read_text())
            bad = 0
            for rec in recorded:
                mine = {k: rec[k] for k in ("construction", "records") if k in rec}
                if "construction" in mine:
                    mine = {"construction": mine["construction"]}
                else:
                    mine = {"records": mine["records"]}
                theirs = results.get(rec["name"], {"crash": "missing"})
                if canonical(mine) != canonical(theirs):
                    bad += 1
                    if bad <= 5:
                        print(f"  {host} disagrees on {rec['name']}: {first_difference(mine, theirs)}")
                    if "construction" not in rec:
                        regressions.append(to_corpus(rec, host, args.seed))
            check(f"differential {host}: {len(recorded)} scenarios identical to Rust", bad == 0, f"{bad} disagreed")
        if regressions and args.save:
            save_regressions(regressions)
            print(f"saved {len(regressions)} regression scenario(s) to {REGRESSIONS.relative_to(ROOT)}")


if __name__ == "__main__":
    main_guard(main)
