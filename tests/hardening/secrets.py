#!/usr/bin/env python3
"""Secrets harness: run end-to-end evaluations in every built host with recognisable fake keys,
including error paths, and fail if either key appears in stdout, stderr, log events, outcome JSON,
snapshots/state files, exception messages or panic output.

Hosts: the CLI (target/debug/gatepost), Python (.venv), Node (crates/node), wasm in Node
(crates/wasm/pkg/node). A host that is not built is reported as `skipped: ...`.

    python3 tests/hardening/secrets.py
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import tempfile

from common import (
    API_KEY,
    APP_KEY,
    CLI,
    JIT_CONFIG,
    NODE_PKG,
    ROOT,
    WASM_PKG,
    Emulator,
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
    wait_for,
    wasm_available,
    world,
)


def no_leak(name: str, *texts) -> bool:
    found = leaks(*texts)
    return check(f"{name}: no key in output", not found, f"{', '.join(found)} leaked")


def cli_cases(tmp: pathlib.Path) -> None:
    why = cli_available()
    if why:
        skip("cli", why)
        return
    worlds = ROOT / "examples" / "worlds"
    config = tmp / "gate-config.json"
    config.write_text(json.dumps(JIT_CONFIG))
    bad_config = tmp / "bad-config.json"
    bad_config.write_text('{"rules": [{"type": "moniyor", "name": 1, "dryrun": true}]')
    forbidden = dict(world("healthy"), api_keys=["some-other-api-key"])
    forbidden_path = tmp / "forbidden.json"
    forbidden_path.write_text(json.dumps(forbidden))
    base = [str(CLI), "gate", "--service", "checkout", "--env", "prod", "--version", "v2"]
    state = tmp / "state.json"
    cases = [
        ("cli pass --verbose", base + ["--emulator", str(worlds / "healthy.json"), "--verbose"], 0),
        ("cli pass json output+logs+state", base + ["--emulator", str(worlds / "healthy.json"), "--verbose",
         "--output", "json", "--log-format", "json", "--state-file", str(state)], 0),
        ("cli fail alerting", base + ["--emulator", str(worlds / "alerting.json"), "--verbose", "--output", "json"], 1),
        ("cli jit config", base + ["--emulator", str(worlds / "healthy.json"), "--config", str(config), "-v"], 0),
        ("cli bad config", base + ["--emulator", str(worlds / "healthy.json"), "--config", str(bad_config), "-v"], 2),
        ("cli 403 world", base + ["--emulator", str(forbidden_path), "--verbose", "--log-format", "json"], 1),
        ("cli validate bad config", [str(CLI), "validate", str(bad_config)], 2),
        ("cli api unreachable", base + ["--api-url", "http://127.0.0.1:9", "--timeout", "3", "--trigger-budget", "2",
         "--request-timeout", "1", "--verbose", "--output", "json"], 0),
        ("cli usage error", base + ["--emulator", str(worlds / "healthy.json"), "--timeout", "-5"], 2),
        ("cli status bogus id", [str(CLI), "status", "../../etc/passwd", "--api-url", "http://127.0.0.1:9"], None),
    ]
    for name, cmd, want in cases:
        r = run(cmd, timeout=120, env=key_env())
        state_text = state.read_text() if state.exists() else ""
        no_leak(name, r.stdout, r.stderr, state_text)
        if want is not None:
            check(f"{name}: exit {want}", r.returncode == want, f"exit {r.returncode}: {r.stderr.decode()[-400:]}")
        check(f"{name}: no panic", b"panicked" not in r.stderr, r.stderr.decode()[-400:])
    # Keys with control characters and keys from files.
    bad_env = key_env(DD_API_KEY=API_KEY + "\n", DD_APP_KEY="\x01" + APP_KEY)
    r = run(base + ["--emulator", str(worlds / "healthy.json"), "-v"], env=bad_env)
    no_leak("cli control-char keys", r.stdout, r.stderr)
    check("cli control-char keys: refused", r.returncode != 0, f"exit {r.returncode}")
    kf, af = tmp / "api.key", tmp / "app.key"
    kf.write_text(API_KEY + "\n")
    af.write_text(APP_KEY + "\n")
    env = {k: v for k, v in key_env().items() if k not in ("DD_API_KEY", "DD_APP_KEY")}
    r = run(base + ["--emulator", str(forbidden_path), "--api-key-file", str(kf), "--app-key-file", str(af), "-v"], env=env)
    no_leak("cli key files 403", r.stdout, r.stderr)
    # SIGTERM mid-run: the state file stays resumable and holds no key.
    state2 = tmp / "state-term.json"
    slow = tmp / "slow.json"
    slow.write_text(json.dumps({"rules": [{"type": "monitor", "name": "slow",
                                           "options": {"query": "service:checkout env:prod", "duration": 3600}}]}))
    with Emulator(worlds / "healthy.json", time_scale=1) as emu:
        err_path = tmp / "term.err"
        with open(err_path, "wb") as err:
            p = subprocess.Popen(base + ["--api-url", emu.url, "--config", str(slow), "--verbose", "--log-format", "json",
                                         "--state-file", str(state2), "--poll-interval", "1"],
                                 stdout=subprocess.PIPE, stderr=err, env=key_env())
            started = wait_for(lambda: b"started" in err_path.read_bytes(), timeout=20)
            p.send_signal(signal.SIGTERM)
            out, _ = p.communicate(timeout=20)
        stderr = err_path.read_bytes()
        check("cli SIGTERM: evaluation started first", started, stderr.decode()[-300:])
        check("cli SIGTERM: exit 143", p.returncode == 143, f"exit {p.returncode}")
        state_text = state2.read_text() if state2.exists() else ""
        check("cli SIGTERM: state file kept", bool(state_text), "no state file")
        no_leak("cli SIGTERM", out, stderr, state_text)
        # Resume from the state file after the interruption (a retried job).
        p2 = subprocess.Popen(base + ["--api-url", emu.url, "--config", str(slow), "--state-file", str(state2), "-v"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=key_env())
        try:
            out2, err2 = p2.communicate(timeout=3)
        except subprocess.TimeoutExpired:
            p2.send_signal(signal.SIGINT)
            out2, err2 = p2.communicate(timeout=20)
        check("cli SIGINT after resume: exit 130", p2.returncode == 130, f"exit {p2.returncode}")
        no_leak("cli resume+SIGINT", out2, err2, state2.read_text() if state2.exists() else "")
        no_leak("emulator log (cli runs)", emu.stop())
    # The emulator itself: a world naming the keys must not echo them in its log.
    keyed = dict(world("healthy"), api_keys=[API_KEY], app_keys=[APP_KEY])
    with Emulator(keyed) as emu:
        r = run(base + ["--api-url", emu.url, "-v"], env=key_env())
        check("cli against keyed emulator: exit 0", r.returncode == 0, r.stderr.decode()[-300:])
        r2 = run(base + ["--api-url", emu.url, "-v"], env=key_env(DD_API_KEY=API_KEY + "x"))
        check("cli wrong key: exit 1", r2.returncode == 1, r2.stderr.decode()[-300:])
        no_leak("cli against keyed emulator", r.stdout, r.stderr, r2.stdout, r2.stderr)
        no_leak("emulator log (keyed world)", emu.stop())


def binding_cases(label: str, why: str | None, runner) -> None:
    if why:
        skip(label, why)
        return
    forbidden = dict(world("healthy"), api_keys=["some-other-api-key"])
    with Emulator(world("healthy")) as passing, Emulator(forbidden) as refusing:
        r = runner(passing.url, refusing.url)
        out, err = r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")
        no_leak(f"{label} end to end and error paths", out, err)
        no_leak(f"{label}: emulator logs", passing.output(), refusing.output())
        line = next((ln for ln in out.splitlines() if ln.startswith("RESULTS ")), None)
        if not check(f"{label}: host script finished", line is not None and r.returncode == 0,
                     f"exit {r.returncode}: {err[-600:]} {out[-600:]}"):
            return
        results = json.loads(line[len("RESULTS "):])
        expect = {"pass": "gate_passed", "forbidden": "client_error", "cancelled": "cancelled"}
        for case, cause in expect.items():
            got = results.get(case)
            check(f"{label} {case}: {cause}", got == cause or (case == "cancelled" and got == "cancelled-exception"),
                  f"got {got}")
        for case in ("bad_options", "control_char_key", "bad_config"):
            check(f"{label} {case}: an error", str(results.get(case, "")).startswith(("exception:", "error:")),
                  f"got {results.get(case)}")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="gp-secrets-") as tmp:
        cli_cases(pathlib.Path(tmp))
    if cli_available():
        skip("bindings", "they run against the CLI's emulator, which is not built")
        return
    binding_cases("python", python_available(), lambda a, b: py("secrets_host.py", a, b))
    binding_cases("node", node_available(), lambda a, b: node("secrets_host.mjs", str(NODE_PKG), a, b))
    binding_cases("wasm", wasm_available(), lambda a, b: node("secrets_host.mjs", str(WASM_PKG), a, b))


if __name__ == "__main__":
    os.chdir(ROOT)
    main_guard(main)
