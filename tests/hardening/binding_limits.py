#!/usr/bin/env python3
"""Limits at the binding boundary: deep host objects (configs, inputs, snapshots nested thousands
of levels), absurd clocks and numbers, tampered snapshots and state files. Every probe must end
in a value or a clean error in every built host — never a crashed interpreter or a Rust panic.

    python3 tests/hardening/binding_limits.py
"""

from __future__ import annotations

import json
import os
import pathlib
import resource
import signal
import subprocess
import tempfile

from common import (
    CLI,
    NODE_PKG,
    WASM_PKG,
    check,
    cli_available,
    fail,
    key_env,
    main_guard,
    node,
    node_available,
    py,
    python_available,
    run,
    skip,
    wait_for,
    wasm_available,
)
from fake_server import FakeApi


def probes(label: str, runner) -> None:
    for depth in ("depth 100", "depth 5000", "depth 100000", "cyclic"):
        r = runner(depth.split()[-1])
        out = r.stdout.decode(errors="replace")
        lines = [ln for ln in out.splitlines() if ln.startswith("probe ")]
        finished = out.rstrip().endswith("done") and r.returncode == 0
        crashed_at = ""
        if not finished:
            crashed_at = f"exit {r.returncode} after {len(lines)} probes (last: {lines[-1] if lines else 'none'}); " \
                         f"{r.stderr.decode(errors='replace')[-300:]}"
        check(f"{label} {depth}: every probe ends cleanly ({len(lines)} probes)", finished, crashed_at)
        panics = [ln for ln in out.splitlines() if "panic" in ln.lower()]
        check(f"{label} {depth}: no panic", not panics and b"panicked" not in r.stderr, str(panics[:3]))


def cli_state_files() -> None:
    why = cli_available()
    if why:
        skip("cli state files", why)
        return
    evaluation = "e9d2f04f-4f4b-494b-86e5-52f03e10c8e9"
    # in_progress until the first run is interrupted; then pass, so every resumed run can end.
    gate = {"status": "in_progress"}

    def api(method: str, path: str, n: int):
        if method == "POST":
            return 202, [], json.dumps({"data": {"id": evaluation, "attributes": {"evaluation_id": evaluation}}})
        return 200, [], json.dumps({"data": {"attributes": {"evaluation_id": evaluation, "gate_status": gate["status"]}}})

    with tempfile.TemporaryDirectory() as tmp, FakeApi(api) as server:
        state = pathlib.Path(tmp) / "state.json"
        common = [str(CLI), "gate", "--service", "checkout", "--env", "prod", "--api-url", server.url,
                  "--poll-interval", "1", "--request-timeout", "1", "--output", "json", "--state-file", str(state)]
        base = common + ["--timeout", "4"]
        # A real state file to tamper with: interrupt a run once it has its evaluation id.
        p = subprocess.Popen(common + ["--timeout", "15"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=key_env())
        wait_for(lambda: state.exists() and evaluation in state.read_text(), timeout=20)
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=20)
        good = state.read_text() if state.exists() else ""
        gate["status"] = "pass"
        if not check("cli state file written by an interrupted run", evaluation in good, good[:200]):
            return
        variants = {
            "not JSON": "{{{",
            "empty": "",
            "deep": "[" * 100_000 + "]" * 100_000,
            "wrong version": json.dumps({"schema_version": 99}),
        }

        def tamper(doc, field, value):
            # The snapshot may be the document itself or nested in it: set the field wherever it is.
            if isinstance(doc, dict):
                if field in doc:
                    doc[field] = value
                for v in doc.values():
                    tamper(v, field, value)
            return doc

        for field, value in (("poll_interval_ms", 0), ("request_timeout_ms", 0), ("next_request_id", 2**64 - 1),
                             ("deadline", 2**64 - 1), ("clock", 2**64 - 1), ("timeout_ms", 2**64 - 1),
                             ("evaluation_id", "../../etc/passwd"), ("schema_version", "1")):
            text = json.dumps(tamper(json.loads(good), field, value))
            if text != json.dumps(json.loads(good)):
                variants[f"tampered {field}"] = text
        for name, text in variants.items():
            state.write_text(text)
            try:
                r = run(base, env=key_env(), timeout=30)
            except subprocess.TimeoutExpired:
                fail(f"cli state file {name}", "still running after 30 s against a server that answers pass (killed)")
                continue
            err = r.stderr.decode(errors="replace")
            try:
                cause = json.loads(r.stdout)["cause"]
            except ValueError:
                cause = None
            # The server answers pass: a usable state resumes to gate_passed, an unusable one is
            # refused and a new evaluation passes too. Anything else trusted a corrupt number —
            # except a clock past the deadline, which the engine reads as "the deadline has
            # passed" (clocks are clamped, not refused: a host may really resume that late).
            allowed = ("gate_passed", "timeout") if name == "tampered clock" else ("gate_passed",)
            check(f"cli state file {name}: {' or '.join(allowed)}, no panic (exit {r.returncode}, {cause})",
                  "panicked" not in err and r.returncode == 0 and cause in allowed,
                  f"exit {r.returncode}, cause {cause}: {err[-400:]}")


def cli_unbounded_inputs() -> None:
    """A config or key file that never ends (/dev/zero) must be refused with bounded memory."""
    why = cli_available()
    if why:
        skip("cli unbounded input files", why)
        return

    def limit() -> None:
        # A safety net for this shared machine (reading /dev/zero unbounded would take all of
        # it): the check itself is on the peak RSS below.
        resource.setrlimit(resource.RLIMIT_AS, (768 << 20, 768 << 20))

    base = [str(CLI), "gate", "--service", "s", "--env", "e", "--api-url", "http://127.0.0.1:9", "--timeout", "2"]
    for flag in ("--config", "--api-key-file", "--app-key-file"):
        env = key_env()
        p = subprocess.Popen(base + [flag, "/dev/zero"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             env=env, preexec_fn=limit)
        err = p.stderr.read().decode(errors="replace") if p.stderr else ""
        _, status, usage = os.wait4(p.pid, 0)
        peak_mb = usage.ru_maxrss / 1024
        code = os.waitstatus_to_exitcode(status)
        check(f"cli {flag} /dev/zero: refused (exit {code}) with bounded memory (peak {peak_mb:.0f} MB < 256 MB)",
              code == 2 and peak_mb < 256, f"exit {code}, peak {peak_mb:.0f} MB: {err[-200:]}")


def main() -> None:
    cli_unbounded_inputs()
    cli_state_files()
    for label, why, runner in (
        ("python", python_available(), lambda d: py("limits_host.py", d)),
        ("node", node_available(), lambda d: node("limits_host.mjs", str(NODE_PKG), d)),
        ("wasm", wasm_available(), lambda d: node("limits_host.mjs", str(WASM_PKG), d)),
    ):
        if why:
            skip(f"binding limits {label}", why)
        else:
            probes(label, runner)


if __name__ == "__main__":
    main_guard(main)
