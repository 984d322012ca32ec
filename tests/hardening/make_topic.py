#!/usr/bin/env python3
"""Write tests/scenarios/hardening.json: hostile-server and resource-limit runs as corpus
scenarios, so every runner (Rust, Python, Node, wasm) checks them.

Each scenario is a server script recorded through the Rust engine (hardening_replay.rs), then
trimmed to the fields that state the policy (action types, reasons, wait times, causes, verdicts,
fail-open, request URLs), so a reviewer can read each expectation against docs/architecture.md. Re-run after
an intended engine change and review the diff:

    python3 tests/hardening/make_topic.py
"""

import json
import os
import pathlib
import subprocess
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
EVAL = "e9d2f04f-4f4b-494b-86e5-52f03e10c8e9"
OTHER = "0b6a3c1e-8d7f-4a2b-9c5d-1e2f3a4b5c6d"
TRIGGER = {"status": 202, "body": json.dumps({"data": {"id": EVAL, "attributes": {"evaluation_id": EVAL}}})}


def result(status, ident=EVAL, **extra):
    return {"status": 200, "body": json.dumps({"data": {"attributes": {
        "evaluation_id": ident, "gate_status": status, "rules": [{"name": "r", "status": status}], **extra}}})}


def opts(**extra):
    base = {"service": "checkout", "env": "prod", "api_key": "hard-secret-api-1b7c",
            "app_key": "hard-secret-app-9e04", "seed": 3, "timeout": 600}
    base.update(extra)
    return base


SCENARIOS = [
    ("hardening_retry_after_beyond_trigger_budget",
     "a Retry-After far beyond the trigger budget ends the trigger phase at once (api_unavailable, fail-open) instead of sleeping",
     opts(), [{"latency_ms": 40, "reply": {"status": 503, "headers": [["Retry-After", "99999999999"]]}}]),
    ("hardening_retry_after_beyond_deadline_poll",
     "a 429 whose Retry-After is past the deadline ends polling at once with timeout; fail_on_error makes it a fail",
     opts(fail_on_error=True), [{"latency_ms": 40, "reply": TRIGGER},
                                {"latency_ms": 40, "reply": {"status": 429, "headers": [["Retry-After", "86400"]]}}]),
    ("hardening_retry_after_http_date_far_future",
     "a Retry-After HTTP date in year 9999 (against the response's Date) is past the deadline: the phase ends now",
     opts(), [{"latency_ms": 40, "reply": {"status": 503, "headers": [["Retry-After", "Fri, 31 Dec 9999 23:59:59 GMT"],
                                                                      ["Date", "Sun, 06 Nov 1994 08:49:37 GMT"]]}}]),
    ("hardening_retry_after_zero_raised_to_a_second",
     "Retry-After: 0 cannot make the client hammer the server: the retry waits at least one second",
     opts(), [{"latency_ms": 40, "reply": {"status": 503, "headers": [["Retry-After", "0"]]}}, {"latency_ms": 40, "reply": TRIGGER},
              {"latency_ms": 40, "reply": result("pass")}]),
    ("hardening_retry_after_garbage_uses_backoff",
     "a Retry-After that is neither seconds nor a date (-1, soon) falls back to the seeded backoff",
     opts(), [{"latency_ms": 40, "reply": {"status": 503, "headers": [["Retry-After", "-1"]]}},
              {"latency_ms": 40, "reply": {"status": 503, "headers": [["Retry-After", "soon"]]}}]),
    ("hardening_deeply_nested_trigger_body",
     "a 2xx trigger body nested 5000 levels deep is malformed (past serde_json's recursion limit), retried, not a crash",
     opts(), [{"latency_ms": 40, "reply": {"status": 202, "body": "{\"data\":" + "[" * 5000 + "]" * 5000 + "}"}},
              {"latency_ms": 40, "reply": TRIGGER}, {"latency_ms": 40, "reply": result("pass")}]),
    ("hardening_deeply_nested_result_body",
     "a deeply nested 200 result body is malformed and polled again",
     opts(), [{"latency_ms": 40, "reply": TRIGGER},
              {"latency_ms": 40, "reply": {"status": 200, "body": "{\"data\":{\"attributes\":" + "{\"a\":" * 3000 + "1" + "}" * 3000 + "}}"}},
              {"latency_ms": 40, "reply": result("pass")}]),
    ("hardening_trigger_path_traversal_id",
     "an evaluation id that tries path traversal is not a UUID: the trigger reply is malformed and retried; no request goes to that path",
     opts(), [{"latency_ms": 40, "reply": {"status": 202, "body": json.dumps({"data": {"id": "../../../v1/validate", "attributes": {"evaluation_id": "../../../v1/validate"}}})}},
              {"latency_ms": 40, "reply": {"status": 202, "body": json.dumps({"data": {"id": EVAL + "/../x?y=1", "attributes": {"evaluation_id": EVAL + "/../x?y=1"}}})}},
              {"latency_ms": 40, "reply": TRIGGER}, {"latency_ms": 40, "reply": result("pass")}]),
    ("hardening_result_for_another_evaluation",
     "a pass that names another evaluation id is not believed: it is retried, and the real result decides",
     opts(), [{"latency_ms": 40, "reply": TRIGGER}, {"latency_ms": 40, "reply": result("pass", ident=OTHER)},
              {"latency_ms": 40, "reply": result("fail")},
              {"latency_ms": 40, "reply": {"status": 404, "body": "{\"errors\": [\"Not Found\"]}"}}]),
    ("hardening_redirect_to_another_host_refused",
     "a 302 to another host is never followed (keys never leave the API host): client_error, never fail-open",
     opts(), [{"latency_ms": 40, "reply": TRIGGER},
              {"latency_ms": 40, "reply": {"status": 302, "headers": [["Location", "https://evil.example/steal"]]}}]),
    ("hardening_wrong_certificate",
     "a TLS failure (wrong certificate) is not an outage: client_error at once, no retry, no fail-open",
     opts(), [{"latency_ms": 40, "transport": "tls", "message": "invalid peer certificate: UnknownIssuer"}]),
    ("hardening_body_too_large_retried",
     "a body above max_body_bytes (the host aborts it) is retried like a malformed body",
     opts(), [{"latency_ms": 40, "reply": TRIGGER}, {"latency_ms": 40, "transport": "body_too_large", "message": "body above 1048576 bytes"},
              {"latency_ms": 40, "reply": result("pass")}]),
    ("hardening_in_progress_forever",
     "a server that answers in_progress forever: polling stops by the deadline (60 s) with timeout, fail-open and saying so",
     opts(timeout=60), [{"latency_ms": 40, "reply": TRIGGER}] + [{"latency_ms": 40, "reply": result("in_progress")}] * 20),
    ("hardening_in_progress_forever_fail_on_error",
     "in_progress forever with fail_on_error: timeout and fail",
     opts(timeout=45, fail_on_error=True), [{"latency_ms": 40, "reply": TRIGGER}] + [{"latency_ms": 40, "reply": result("in_progress")}] * 20),
    ("hardening_hung_server_honours_timeout",
     "a server that never answers: every request's timeout fits before the deadline and the run ends by it",
     opts(timeout=20, request_timeout=30), [{"hang": True}] * 10),
]

KEEP_ACTION = {
    "send_request": ["type", "request_id", "method", "url", "timeout_ms"],
    "wait": ["type", "until", "reason"],
    "done": ["type", "outcome"],
}
KEEP_OUTCOME = ["verdict", "cause", "exit_code", "fail_open", "evaluation_id", "gate_status", "requests", "elapsed_ms"]
KEEP_EVENT = ["type", "phase", "attempt", "status", "delay_ms", "evaluation_id", "code", "cause", "verdict"]


def trim_action(a):
    out = {k: a[k] for k in KEEP_ACTION[a["type"]] if k in a}
    if a["type"] == "done":
        out["outcome"] = {k: a["outcome"][k] for k in KEEP_OUTCOME if k in a["outcome"]}
    return out


def main():
    gen = [{"name": n, "options": o, "start": 0, "script": s} for n, _, o, s in SCENARIOS]
    with tempfile.TemporaryDirectory() as tmp:
        gin, gout = pathlib.Path(tmp, "in.json"), pathlib.Path(tmp, "out.json")
        gin.write_text(json.dumps({"scenarios": gen}))
        env = dict(os.environ, GATEPOST_RECORD_IN=str(gin), GATEPOST_RECORD_OUT=str(gout))
        subprocess.run(["cargo", "test", "-q", "-p", "gatepost-core", "--test", "hardening_replay"],
                       cwd=ROOT, env=env, check=True, capture_output=True)
        recorded = json.loads(gout.read_text())["recorded"]
    scenarios = []
    for (name, description, _, _), rec in zip(SCENARIOS, recorded, strict=True):
        steps = []
        for s, r in zip(rec["steps"], rec["records"], strict=True):
            step = dict(s)
            step["expect"] = [trim_action(a) for a in r["actions"]]
            step["events"] = [{k: e[k] for k in KEEP_EVENT if k in e} for e in r["events"]]
            steps.append(step)
        scenarios.append({"name": name, "description": description, "options": rec["options"], "steps": steps})
    doc = {"topic": "hardening",
           "description": "hostile or broken servers and resource limits: each ends in the right outcome, bounded in time",
           "scenarios": scenarios}
    path = ROOT / "tests" / "scenarios" / "hardening.json"
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    for sc in scenarios:
        last = sc["steps"][-1]["expect"][-1]
        print(f"{sc['name']}: {len(sc['steps'])} steps -> {last.get('outcome', last)}")


main()
