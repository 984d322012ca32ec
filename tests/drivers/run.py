#!/usr/bin/env python3
"""Play every driver script (tests/drivers/scripts/*.json) through one or more hosts and compare
what each host decided with the script's expected outcome (standard library only).

    python3 tests/drivers/run.py --host cli                  # one host
    python3 tests/drivers/run.py --host python --host node   # several: also checks they agree
    python3 tests/drivers/run.py --host all --script 429-trigger-retry-after
    python3 tests/drivers/run.py --host cli --show 400-error-details   # print the raw result

Hosts: `cli` (target/debug/gatepost), `python` and `python-async` (the gatepost package in
.venv), `node` (crates/node, built), `wasm` (crates/wasm/pkg/node, built). A host that is not
built is skipped, never passed. Each script runs in a fresh process of the host, against its own
scripted server (server.py) on 127.0.0.1, with an environment holding only what the script gives
(plus PATH and HOME). Scripts run `--jobs` at a time (default 4). The last line is
`drivers HOST...: N passed, N failed, N known divergences, N skipped in T s`; the exit status is 1
when anything failed. See README.md for the script format.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

from server import ScriptServer  # noqa: E402

CLI = ROOT / "target" / "debug" / "gatepost"
VENV_PY = ROOT / ".venv" / "bin" / "python"
NODE_PKG = ROOT / "crates" / "node" / "dist" / "index.js"
NODE_NATIVE = ROOT / "crates" / "node" / "native"
WASM_PKG = ROOT / "crates" / "wasm" / "pkg" / "node" / "gatepost.mjs"
HOSTS = ("cli", "python", "python-async", "node", "wasm")

#: The keys every script's environment holds unless it says otherwise (fake, recognisable).
DEFAULT_ENV = {"DD_API_KEY": "drivers-api-key-0a1b2c", "DD_APP_KEY": "drivers-app-key-3d4e5f"}
#: Options every script gets unless it says otherwise: short, so the corpus runs in seconds.
DEFAULT_OPTIONS = {"service": "checkout", "env": "prod", "timeout": 20, "poll_interval": 1,
                   "request_timeout": 5, "trigger_budget": 10, "seed": 7}
#: Outcome fields compared when the script names them.
OUTCOME_FIELDS = ("verdict", "cause", "exit_code", "fail_open", "dry_run", "would_fail", "gate_status")
#: Errors a binding raises before sending anything; the CLI says the same with exit status 2.
USAGE_ERRORS = ("invalid_options", "invalid_config")
CLI_FLAGS = {"service": "--service", "env": "--env", "version": "--version", "identifier": "--identifier",
             "primary_tag": "--primary-tag", "timeout": "--timeout", "poll_interval": "--poll-interval",
             "request_timeout": "--request-timeout", "trigger_budget": "--trigger-budget", "seed": "--seed",
             "api_url": "--api-url", "site": "--site"}
CLI_SWITCHES = {"fail_on_error": "--fail-on-error", "allow_insecure_http": "--allow-insecure-http",
                "allow_unknown_keys": "--allow-unknown-keys"}


# -- hosts ----------------------------------------------------------------------------------------

def unavailable(host: str) -> str | None:
    if host == "cli":
        return None if CLI.exists() else "target/debug/gatepost is not built (cargo build -p gatepost)"
    if host in ("python", "python-async"):
        if not VENV_PY.exists():
            return ".venv/bin/python not found (scripts/suites/50-python.sh builds it)"
        r = subprocess.run([str(VENV_PY), "-c", "import gatepost"], capture_output=True, timeout=60)
        return None if r.returncode == 0 else "the gatepost package is not installed in .venv"
    if not shutil.which("node"):
        return "node is not on PATH"
    if host == "node":
        ok = NODE_PKG.exists() and any(NODE_NATIVE.glob("*.node"))
        return None if ok else "crates/node is not built (dist/ and native/*.node)"
    return None if WASM_PKG.exists() else "crates/wasm/pkg/node is not built"


def base_env(script_env: dict[str, str | None]) -> dict[str, str]:
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR", "SYSTEMROOT") if k in os.environ}
    env["NO_COLOR"] = "1"
    merged: dict[str, str | None] = {**DEFAULT_ENV, **script_env}
    env.update({k: v for k, v in merged.items() if v is not None})
    return env


def run_cli(options: dict[str, Any], env: dict[str, str], tmp: pathlib.Path, timeout: float) -> dict[str, Any]:
    cmd = [str(CLI), "gate", "--output", "json", "--log-format", "json", "--verbose"]
    for name, value in options.items():
        if name in CLI_FLAGS:
            cmd += [CLI_FLAGS[name], str(value)]
        elif name in CLI_SWITCHES:
            if value:
                cmd.append(CLI_SWITCHES[name])
        elif name == "config":
            path = tmp / "config.json"
            path.write_text(value if isinstance(value, str) else json.dumps(value))
            cmd += ["--config", str(path)]
        else:
            raise ValueError(f"option {name!r} has no CLI flag in run.py")
    r = subprocess.run(cmd, capture_output=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL)
    out, err = r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")
    events = []
    for line in err.splitlines():
        try:
            event = json.loads(line).get("event")
        except (ValueError, AttributeError):
            continue
        if isinstance(event, dict):
            events.append(str(event.get("type")))
    outcome = None
    if out.strip():
        try:
            outcome = json.loads(out)
        except ValueError:
            outcome = None
    error = None
    if isinstance(outcome, dict) and "verdict" not in outcome and isinstance(outcome.get("error"), dict):
        # `--output json` prints a JSON document on every exit: an outcome (it has a verdict) or,
        # for a usage or config error, an error document ({"error": {"code", ...}, "exit_code": 2}),
        # whose code is compared with the bindings' like any other.
        error, outcome = outcome["error"], None
    elif outcome is None and r.returncode == 2:
        error = {"code": "usage", "message": err.strip()[-500:]}
    return {"outcome": outcome, "error": error, "events": events, "exit": r.returncode,
            "output": out + err}


def run_binding(host: str, options: dict[str, Any], env: dict[str, str], timeout: float) -> dict[str, Any]:
    if host in ("python", "python-async"):
        cmd = [str(VENV_PY), str(HERE / "host_python.py"), "sync" if host == "python" else "async",
               json.dumps(options)]
    else:
        module = NODE_PKG if host == "node" else WASM_PKG
        cmd = ["node", str(HERE / "host_node.mjs"), str(module), json.dumps(options)]
    r = subprocess.run(cmd, capture_output=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL)
    out, err = r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")
    line = next((ln for ln in reversed(out.splitlines()) if ln.startswith("RESULT ")), None)
    if line is None:
        return {"outcome": None, "error": {"code": "host_crashed", "message": f"exit {r.returncode}"},
                "events": [], "exit": r.returncode, "output": out + err}
    result = json.loads(line[len("RESULT "):])
    result["exit"] = r.returncode
    result["output"] = out + err
    return result


# -- one script in one host -----------------------------------------------------------------------

def unique(kinds: list[str]) -> list[str]:
    seen: list[str] = []
    for k in kinds:
        if k not in seen:
            seen.append(k)
    return seen


def normalize(host: str, raw: dict[str, Any]) -> dict[str, Any]:
    """What is compared: the error code, or the outcome's decision; the event kinds in order."""
    error = raw.get("error")
    if error:
        code = error.get("code")
        if host == "cli" and code == "usage":
            code = "usage_error"
        norm_error: dict[str, Any] = {"error": code, "events": unique(raw.get("events") or [])}
        if host == "cli":
            norm_error["process_exit"] = raw.get("exit")
        return norm_error
    o = raw.get("outcome") or {}
    norm: dict[str, Any] = {"error": None}
    norm.update({f: o.get(f) for f in OUTCOME_FIELDS})
    api_error = o.get("error")
    norm["api_error"] = ({"status": api_error.get("status"), "details": api_error.get("details")}
                         if isinstance(api_error, dict) else None)
    norm["events"] = unique(raw.get("events") or [])
    if host == "cli":
        # The process's exit status is the CLI's decision: it must be the outcome's.
        norm["process_exit"] = raw.get("exit")
    return norm


def count_ok(want: Any, got: int) -> bool:
    if isinstance(want, list):
        return want[0] <= got <= want[1]
    return got == want


def compare(host: str, script: dict[str, Any], norm: dict[str, Any], server: ScriptServer,
            sink: ScriptServer) -> list[str]:
    """Every way the host's result differs from the script's expectation."""
    want = script["expect"]
    problems = []
    if "error" in want:
        if host == "cli" and want["error"] in USAGE_ERRORS:
            # The CLI names the code in its JSON error document; an argument the parser refuses
            # before any document exists is a bare usage error. Either way it exits 2.
            if norm.get("error") not in ("usage_error", want["error"]) or norm.get("process_exit") != 2:
                problems.append(f"expected {want['error']} or a usage error (exit 2), got {norm}")
        elif norm.get("error") != want["error"]:
            problems.append(f"error: expected {want['error']}, got {norm.get('error')}")
    else:
        if norm.get("error"):
            problems.append(f"expected an outcome, got error {norm['error']}")
        for f in OUTCOME_FIELDS:
            if f in want and norm.get(f) != want[f]:
                problems.append(f"{f}: expected {want[f]!r}, got {norm.get(f)!r}")
        if host == "cli" and "exit_code" in want and norm.get("process_exit") != want["exit_code"]:
            problems.append(f"process exit: expected {want['exit_code']}, got {norm.get('process_exit')}")
        if "api_error" in want:
            got = norm.get("api_error")
            exp = want["api_error"]
            if exp is None or got is None:
                if exp != got:
                    problems.append(f"api_error: expected {exp}, got {got}")
            else:
                for k, v in exp.items():
                    if got.get(k) != v:
                        problems.append(f"api_error.{k}: expected {v!r}, got {got.get(k)!r}")
    if "events" in want and norm.get("events") != want["events"]:
        problems.append(f"events: expected {want['events']}, got {norm.get('events')}")
    requests = want.get("requests")
    if isinstance(requests, dict):
        for route, n in requests.items():
            got_n = server.count(route)
            if not count_ok(n, got_n):
                problems.append(f"{route} requests: expected {n}, got {got_n}")
    elif requests is not None and not count_ok(requests, server.count()):
        problems.append(f"requests: expected {requests}, got {server.count()}")
    if sink.count():
        problems.append(f"the other origin received {sink.count()} request(s): {[r['path'] for r in sink.requests]}")
    if "proxied" in want:
        flags = {r["proxied"] for r in server.requests if r["route"] != "connect"}
        if flags and flags != {want["proxied"]}:
            problems.append(f"proxied: expected {want['proxied']}, got {sorted(flags)}")
    if "sent_keys" in want:
        for kind in ("api", "app"):
            got_k = {r[f"{kind}_key"] for r in server.requests if r["route"] != "connect"}
            if got_k and got_k != {want["sent_keys"][kind]}:
                problems.append(f"{kind} key sent: expected {want['sent_keys'][kind]}, got {sorted(map(str, got_k))}")
    if "connect" in want:
        got_c = [r["path"] for r in server.requests if r["route"] == "connect"]
        if want["connect"] not in got_c:
            problems.append(f"CONNECT: expected {want['connect']}, got {got_c}")
    if "trigger_body" in want:
        bodies = [r["body"] for r in server.requests if r["route"] == "trigger"]
        attrs = [((b or {}).get("data") or {}).get("attributes") if isinstance(b, dict) else b for b in bodies]
        if not attrs or any(a != want["trigger_body"] for a in attrs):
            problems.append(f"trigger attributes: expected {want['trigger_body']}, got {attrs}")
    return problems


def play(host: str, script: dict[str, Any]) -> dict[str, Any]:
    expect = script["expect"]
    env = base_env(script.get("env") or {})
    keys = {name: env[name] for name in env if name.endswith(("_API_KEY", "_APP_KEY"))}
    accept = expect.get("keys", {"api": "DD_API_KEY", "app": "DD_APP_KEY"})
    started = time.monotonic()
    with ScriptServer() as sink, tempfile.TemporaryDirectory(prefix="gp-drivers-") as tmp:
        server = ScriptServer(script.get("server") or {}, keys=keys, accept=accept or {}, sink_url=sink.url)
        # `{origin}` in a variable: the script server itself (e.g. as HTTPS_PROXY).
        env = {k: v.replace("{origin}", server.url) for k, v in env.items()}
        try:
            options = {**DEFAULT_OPTIONS, **(script.get("options") or {})}
            if "api_url" not in options:
                options["api_url"] = server.url
            options = {k: (v.replace("{origin}", server.url).replace("{port}", str(server.port))
                           if isinstance(v, str) else v) for k, v in options.items() if v is not None}
            limit = float(options.get("timeout", 60)) + 30
            if host == "cli":
                raw = run_cli(options, env, pathlib.Path(tmp), limit)
            else:
                raw = run_binding(host, options, env, limit)
        except subprocess.TimeoutExpired:
            raw = {"outcome": None, "error": {"code": "host_timed_out", "message": ""}, "events": [],
                   "output": ""}
        finally:
            server.stop()
        norm = normalize(host, raw)
        if norm.get("api_error") and norm["api_error"].get("details"):
            # Server text names this run's ports: the same for every host once written as placeholders.
            norm["api_error"]["details"] = [str(d).replace(server.url, "{origin}").replace(sink.url, "{sink}")
                                            for d in norm["api_error"]["details"]]
        problems = compare(host, script, norm, server, sink)
        leaked = sorted(name for name, value in keys.items()
                        if len(value.strip()) >= 8 and value.strip() in raw.get("output", ""))
        if leaked:
            problems.append(f"the host printed a key ({', '.join(leaked)})")
        requests = [{k: r[k] for k in ("method", "route", "path", "proxied", "api_key", "app_key")}
                    for r in server.requests]
    return {"host": host, "script": script["name"], "norm": norm, "problems": problems, "raw": raw,
            "requests": requests, "seconds": time.monotonic() - started}


# -- the corpus -----------------------------------------------------------------------------------

def load_scripts(names: list[str]) -> list[dict[str, Any]]:
    scripts = []
    for path in sorted((HERE / "scripts").glob("*.json")):
        script = json.loads(path.read_text())
        script["name"] = path.stem
        if names and path.stem not in names:
            continue
        for field in ("description", "expect"):
            if field not in script:
                raise SystemExit(f"{path.relative_to(ROOT)}: no {field!r}")
        scripts.append(script)
    missing = set(names) - {s["name"] for s in scripts}
    if missing:
        raise SystemExit(f"no such script: {', '.join(sorted(missing))}")
    return scripts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", action="append", choices=(*HOSTS, "all"), required=True)
    parser.add_argument("--script", action="append", default=[], help="run only this script (repeatable)")
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--show", action="append", default=[], help="print the raw result of this script")
    args = parser.parse_args()
    hosts = list(HOSTS) if "all" in args.host else list(dict.fromkeys(args.host))
    scripts = load_scripts(args.script + args.show)
    started = time.monotonic()
    counts = {"passed": 0, "failed": 0, "known": 0, "skipped": 0}
    runnable = []
    for host in hosts:
        why = unavailable(host)
        if why:
            print(f"skipped: {host}: {why}", flush=True)
            counts["skipped"] += len(scripts)
        else:
            runnable.append(host)
    jobs = []
    for host in runnable:
        for script in scripts:
            skip_why = (script.get("skip_hosts") or {}).get(host)
            if skip_why:
                print(f"skipped: {script['name']} [{host}]: {skip_why}", flush=True)
                counts["skipped"] += 1
            else:
                jobs.append((host, script))
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(lambda job: play(*job), jobs))
    by_script: dict[str, list[dict[str, Any]]] = {}
    for res, (host, script) in zip(results, jobs, strict=True):
        known = script.get("known_divergence") or {}
        divergent = host in (known.get("hosts") or [])
        label = f"{script['name']} [{host}] ({res['seconds']:.1f} s)"
        if res["problems"] and divergent:
            counts["known"] += 1
            print(f"known    {label}: {known.get('reason')}; {'; '.join(res['problems'])}", flush=True)
        elif res["problems"]:
            counts["failed"] += 1
            print(f"FAIL     {label}: {'; '.join(res['problems'])}", flush=True)
            print(f"         requests: {json.dumps(res['requests'])}")
            print("         | " + res["raw"].get("output", "").replace("\n", "\n         | ")[-1500:])
        else:
            counts["passed"] += 1
            note = " (listed in known_divergence but agrees now: remove it there)" if divergent else ""
            print(f"ok       {label}{note}", flush=True)
            by_script.setdefault(script["name"], []).append(res)
        if script["name"] in args.show:
            print(json.dumps({"norm": res["norm"], "requests": res["requests"], "raw": res["raw"]}, indent=2))
    # Identical results across hosts: every host that matched the script also matches each other.
    if len(runnable) > 1:
        for name, group in by_script.items():
            shapes = {json.dumps({k: ("usage_error" if k == "error" and v in USAGE_ERRORS else v)
                                  for k, v in r["norm"].items() if k != "process_exit"}, sort_keys=True)
                      for r in group}
            if len(shapes) > 1:
                counts["failed"] += 1
                hosts_list = ", ".join(r["host"] for r in group)
                print(f"FAIL     {name}: hosts {hosts_list} disagree: {sorted(shapes)}", flush=True)
    took = time.monotonic() - started
    print(f"drivers {' '.join(hosts)}: {counts['passed']} passed, {counts['failed']} failed, "
          f"{counts['known']} known divergences, {counts['skipped']} skipped in {took:.1f} s", flush=True)
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
