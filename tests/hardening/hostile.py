#!/usr/bin/env python3
"""Hostile or broken servers, over real loopback sockets, in the CLI and the bindings.

Each case is a scripted fake API (fake_server.py) — a TLS server with a wrong certificate, a
redirect to another host, an evaluation id that tries path traversal, a pass for another
evaluation id, a server that answers in_progress forever — run through every built host. Checks:
the outcome (cause, exit code, fail-open), the time taken, and that no key reached anything but
the configured API host (the redirect target records every request it gets).

    python3 tests/hardening/hostile.py
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time

from common import (
    CLI,
    NODE_PKG,
    WASM_PKG,
    check,
    cli_available,
    key_env,
    leaks,
    main_guard,
    node,
    node_available,
    py,
    python_available,
    run,
    skip,
    wasm_available,
)
from fake_server import ENDLESS, FakeApi, Sink, self_signed

EVAL = "e9d2f04f-4f4b-494b-86e5-52f03e10c8e9"
OTHER = "0b6a3c1e-8d7f-4a2b-9c5d-1e2f3a4b5c6d"
TRIGGER_PATH = "/api/v2/deployments/gates/evaluation"


def trigger(ident: str = EVAL, hint: bool = False):
    headers = [("Retry-After", "1")] if hint else []
    return 202, headers, json.dumps({"data": {"id": ident, "attributes": {"evaluation_id": ident}}})


def result(status: str, ident: str = EVAL, hint: bool = False):
    headers = [("Retry-After", "1")] if hint else []
    return 200, headers, json.dumps({"data": {"attributes": {
        "evaluation_id": ident, "gate_status": status, "rules": [{"name": "r", "status": status}]}}})


def run_host(host: str, url: str, extra: dict, ca: str | None = None) -> tuple[dict | None, str, float]:
    """One evaluation against `url`; returns (outcome or error JSON, all output, seconds)."""
    base = {"timeout": extra.get("timeout", 30), "poll_interval": 1, "trigger_budget": extra.get("trigger_budget", 20),
            "fail_on_error": extra.get("fail_on_error", False), "request_timeout": 2}
    t0 = time.monotonic()
    if host == "cli":
        cmd = [str(CLI), "gate", "--service", "checkout", "--env", "prod", "--api-url", url, "--output", "json", "-v",
               "--timeout", str(base["timeout"]), "--poll-interval", "1", "--trigger-budget", str(base["trigger_budget"]),
               "--request-timeout", "2"]
        if base["fail_on_error"]:
            cmd.append("--fail-on-error")
        if ca:
            cmd += ["--ca-cert", ca]
        r = run(cmd, timeout=120, env=key_env())
    elif host == "python":
        r = py("evaluate_host.py", json.dumps({"service": "checkout", "env": "prod", "api_url": url, **base}))
    else:
        camel = {"timeout": base["timeout"], "pollInterval": 1, "triggerBudget": base["trigger_budget"],
                 "failOnError": base["fail_on_error"], "requestTimeout": 2}
        module = NODE_PKG if host == "node" else WASM_PKG
        r = node("evaluate_host.mjs", str(module), json.dumps({"service": "checkout", "env": "prod", "apiUrl": url, **camel}))
    took = time.monotonic() - t0
    out, err = r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")
    outcome = None
    for line in reversed(out.strip().splitlines()):
        try:
            outcome = json.loads(line)
            break
        except ValueError:
            continue
    if host == "cli" and outcome is not None:
        outcome["_exit"] = r.returncode
    return outcome, out + err, took


def expect(label: str, outcome: dict | None, output: str, cause: str, exit_code: int, fail_open: bool = False) -> None:
    if not check(f"{label}: an outcome", outcome is not None and "cause" in outcome, output[-800:]):
        return
    check(f"{label}: cause {cause}", outcome["cause"] == cause, f"got {outcome['cause']}: {outcome.get('message')}")
    check(f"{label}: exit {exit_code}", outcome["exit_code"] == exit_code and outcome.get("_exit", exit_code) == exit_code,
          f"outcome {outcome['exit_code']}, process {outcome.get('_exit')}")
    check(f"{label}: fail_open {fail_open}", outcome["fail_open"] == fail_open, str(outcome["fail_open"]))
    found = leaks(output)
    check(f"{label}: no key in output", not found, ", ".join(found))


def hosts() -> list[str]:
    out = []
    for name, why in (("cli", cli_available()), ("python", python_available()), ("node", node_available()),
                      ("wasm", wasm_available())):
        if why:
            skip(f"hostile {name}", why)
        else:
            out.append(name)
    return out


def tls_cases(host: str, untrusted: tuple[str, str], wrong_name: tuple[str, str]) -> None:
    # TLS with a certificate nobody trusts: refused at the handshake, never fail-open.
    with FakeApi(lambda m, p, n: trigger(), cert=untrusted) as api:
        o, output, _ = run_host(host, api.url, {})
        expect(f"{host} untrusted certificate", o, output, "client_error", 1)
        check(f"{host} untrusted certificate: no request completed", not api.requests, str(api.requests))
    if host == "cli":
        # Trusted via --ca-cert, but issued for another name.
        with FakeApi(lambda m, p, n: trigger(), cert=wrong_name) as api:
            o, output, _ = run_host(host, api.url, {}, ca=wrong_name[0])
            expect(f"{host} certificate for another name", o, output, "client_error", 1)
            check(f"{host} certificate for another name: no request completed", not api.requests, str(api.requests))


def main() -> None:
    tmp = tempfile.mkdtemp(prefix="gp-hostile-")
    try:
        cases(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def cases(tmp: str) -> None:
    certs = None
    if shutil.which("openssl"):
        certs = (self_signed(tmp, "localhost"), self_signed(tmp, "evil.example"))
    else:
        skip("hostile TLS cases", "openssl is not installed (it makes the test certificates)")
    for host in hosts():
        # 1. Wrong certificates.
        if certs:
            tls_cases(host, *certs)
        # 2. Redirects to another host, on the trigger and on a poll: never followed.
        for phase in ("trigger", "poll"):
            with Sink() as sink:
                def behaviour(m, p, n, sink=sink, phase=phase):
                    if phase == "poll" and m == "POST":
                        return trigger()
                    return 307 if m == "POST" else 302, [("Location", f"{sink.url}/steal{p}")], ""
                with FakeApi(behaviour) as api:
                    o, output, _ = run_host(host, api.url, {})
                    expect(f"{host} redirect on {phase}", o, output, "client_error", 1)
                    check(f"{host} redirect on {phase}: the other host got nothing", not sink.requests, str(sink.requests))
        # 3. An evaluation id that tries path traversal / injection, then a good one.
        hostile_ids = ["../../../v1/steal", f"{EVAL}/../../steal?x=", "%2e%2e%2fsteal"]
        def traversal(m, p, n, hostile_ids=hostile_ids):
            if m == "POST":
                return trigger(hostile_ids[n], hint=True) if n < len(hostile_ids) else trigger()
            return result("pass")
        with FakeApi(traversal) as api:
            o, output, _ = run_host(host, api.url, {})
            expect(f"{host} path-traversal evaluation id", o, output, "gate_passed", 0)
            allowed = {TRIGGER_PATH, f"{TRIGGER_PATH}/{EVAL}"}
            stray = [p for p in api.paths() if p not in allowed]
            check(f"{host} path-traversal evaluation id: only API paths requested", not stray, str(stray))
        # 4. A pass for another evaluation id is not believed; the real result (fail) decides.
        def other(m, p, n):
            if m == "POST":
                return trigger()
            return result("pass", ident=OTHER, hint=True) if n < 3 else result("fail")
        with FakeApi(other) as api:
            o, output, _ = run_host(host, api.url, {})
            expect(f"{host} pass for another evaluation", o, output, "gate_failed", 1)
        # 5. Bodies above the cap (an endless stream, then a 5 MB one): aborted, retried, then the
        # real answer decides.
        def oversized(m, p, n):
            if m == "POST":
                return trigger() if n >= 1 else (202, [], ENDLESS)
            return result("pass") if n >= 3 else (200, [], json.dumps({"data": {"pad": "x" * 5_000_000}}))
        with FakeApi(oversized) as api:
            o, output, took = run_host(host, api.url, {})
            expect(f"{host} endless and 5 MB bodies", o, output, "gate_passed", 0)
            check(f"{host} endless and 5 MB bodies: retried each", len(api.requests) >= 4, str(len(api.requests)))
        # 6. in_progress forever: the timeout is honoured (fail-open unless fail_on_error).
        # Both policies in the CLI; the bindings share its engine, so one policy each is enough.
        for fail_on_error in (False, True) if host == "cli" else (host != "python",):
            with FakeApi(lambda m, p, n: trigger() if m == "POST" else result("in_progress")) as api:
                o, output, took = run_host(host, api.url, {"timeout": 8, "fail_on_error": fail_on_error})
                label = f"{host} in_progress forever{' --fail-on-error' if fail_on_error else ''}"
                expect(label, o, output, "timeout", 1 if fail_on_error else 0, fail_open=not fail_on_error)
                check(f"{label}: ends within the timeout (+2 s)", took < 10.0, f"{took:.1f} s")
                check(f"{label}: polled more than once", len(api.requests) >= 3, str(len(api.requests)))


if __name__ == "__main__":
    main_guard(main)
