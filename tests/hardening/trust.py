#!/usr/bin/env python3
"""Trust boundaries: a state file never decides another request; server text never commands CI.

An attack corpus, one scripted hostile server (fake_server.py) per case, run against the CLI in
every output mode (text report, `--output json`, JSON logs, the GitHub step summary and
`$GITHUB_OUTPUT`, `status`) and against the Python package:

- server text: rule names, reasons, statuses, evaluation URLs and error details holding
  `\\n::warning title=forged::`, `::add-mask::`, `##[error]`, ANSI `ESC[2K ESC[1A`, OSC 8 links, C1
  controls, bidi overrides and markdown breakouts (`)`, newlines, images in URLs). No output line
  of any mode may start a workflow command or hold a raw ESC, C1 or bidi character; the step
  summary must not gain a heading, an image or a foreign link; keys never appear.
- state files: another version, another config, an endpoint edited to a non-loopback name (with
  and without a recomputed digest), a planted passing outcome, the policy flipped, an older
  snapshot schema, an older wrapper. None may yield a pass for this request.
- a 429 whose Retry-After lies past the deadline; plain http to `*.localhost`; a DD_API_KEY that
  is not UTF-8.

    python3 tests/hardening/trust.py
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import tempfile
import time

from common import CLI, HERE, VENV_PY, check, cli_available, key_env, leaks, main_guard, py, python_available, run, skip
from fake_server import FakeApi

EVAL = "e9d2f04f-4f4b-494b-86e5-52f03e10c8e9"
OTHER = "0b6a3c1e-8d7f-4a2b-9c5d-1e2f3a4b5c6d"

#: Server-controlled text an attacker would try (each is one corpus case).
PAYLOADS = {
    "workflow command": "x\n::warning title=forged::the gate passed",
    "add-mask": "\n::add-mask::gp-secret\n::error::owned",
    "legacy command": "ok\r\n##[error]forged",
    "ANSI rewrite": "\x1b[2K\x1b[1A\x1b[32m✅ Gate passed\x1b[0m",
    "OSC 8 link": "\x1b]8;;https://evil.example\x07click here\x1b]8;;\x07",
    "C1 controls": "\x9b2K\x85::notice::next-line \x9d8;;x\x9c",
    "bidi override": "monitor \u202egnp.exe\u2066 \u200fok",
    "markdown breakout": "a | b\n\n# Owned\n![x](https://evil.example/x.png) <img src=x onerror=alert(1)> [c](javascript:alert(1))",
}
#: Evaluation URLs a server might send (the report shows them; the summary may link only the own site).
BAD_URLS = [
    "https://evil.example/x)\n# Owned\n![i](https://evil.example/i.png)",
    "https://app.datadoghq.com/x)](https://evil.example)\n::warning::forged",
]

UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def inert(label: str, text: str) -> None:
    """No line starts a workflow command; no raw control or bidi character; no key."""
    bad_lines = [line for line in text.splitlines() if line.lstrip().startswith(("::", "##["))]
    check(f"{label}: no line starts a workflow command", not bad_lines, repr(bad_lines[:3]))
    raw = sorted({hex(ord(c)) for c in UNSAFE.findall(text)})
    check(f"{label}: no raw control or bidi character", not raw, ", ".join(raw))
    found = leaks(text)
    check(f"{label}: no key", not found, ", ".join(found))


def summary_inert(label: str, markdown: str) -> None:
    def unescaped(needle: str) -> bool:
        return any(not markdown[: m.start()].endswith("\\") for m in re.finditer(re.escape(needle), markdown))

    check(f"{label}: summary gains no heading", not any(line.startswith("#") and "Deployment gate" not in line
                                                         for line in markdown.splitlines()), markdown[:600])
    check(f"{label}: summary gains no image or HTML", not unescaped("![") and not unescaped("<img"), markdown[:600])
    links = re.findall(r"\]\((\S+?)\)", markdown)
    foreign = [u for u in links if not u.startswith("https://app.datadoghq.com/")]
    check(f"{label}: summary links only the own site", not foreign, repr(foreign))


def result_body(text: str, url: str | None = None, status: str = "fail") -> str:
    attrs = {"evaluation_id": EVAL, "gate_status": status, "dry_run": False,
             "rules": [{"name": f"rule {text}", "status": status, "reason": text}]}
    if url is not None:
        attrs["evaluation_url"] = url
    return json.dumps({"data": {"id": EVAL, "attributes": attrs}})


def trigger(ident: str = EVAL):
    return 202, [], json.dumps({"data": {"id": ident, "attributes": {"evaluation_id": ident}}})


def cli(args: list[str], env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return run([str(CLI), *args], timeout=timeout, env=env or key_env())


def gate_args(url: str, *extra: str) -> list[str]:
    timeout = [] if "--timeout" in extra else ["--timeout", "20"]
    return ["gate", "--service", "checkout", "--env", "prod", "--api-url", url, "--poll-interval", "1",
            "--request-timeout", "2", *timeout, *extra]


def text_of(r: subprocess.CompletedProcess) -> str:
    return r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")


# ---------------------------------------------------------------------------------------------
# Server text


def server_text_cases(tmp: str, python: bool) -> int:
    cases = 0
    scripted = [(f"reason: {name}", payload, None) for name, payload in PAYLOADS.items()]
    scripted += [(f"evaluation URL {i + 1}", PAYLOADS["workflow command"], url) for i, url in enumerate(BAD_URLS)]
    for label, payload, url in scripted:
        cases += 1
        body = result_body(payload, url)
        with FakeApi(lambda m, p, n, body=body: trigger() if m == "POST" else (200, [], body)) as api:
            summary = pathlib.Path(tmp) / "summary.md"
            outputs = pathlib.Path(tmp) / "outputs.txt"
            summary.write_text("")
            outputs.write_text("")
            env = key_env(GITHUB_STEP_SUMMARY=str(summary), GITHUB_OUTPUT=str(outputs), GITHUB_ACTIONS="true")
            r = cli(gate_args(api.url, "-v"), env=env)
            check(f"cli {label}: the gate fails as the server said", r.returncode == 1, text_of(r)[-400:])
            inert(f"cli {label} text", text_of(r))
            inert(f"cli {label} step summary", summary.read_text())
            summary_inert(f"cli {label}", summary.read_text())
            out_lines = outputs.read_text().splitlines()
            inert(f"cli {label} GITHUB_OUTPUT", outputs.read_text())
            check(f"cli {label} GITHUB_OUTPUT: five name=value lines", len(out_lines) == 5
                  and all(re.match(r"^[a-z_]+=", line) for line in out_lines), repr(out_lines))
            r = cli(gate_args(api.url, "--output", "json", "--log-format", "json", "-v"))
            inert(f"cli {label} json", text_of(r))
            outcome = json.loads(r.stdout.decode().strip().splitlines()[-1])
            check(f"cli {label} json: the data is kept", outcome["rules"][0]["reason"] == payload,
                  repr(outcome["rules"][0]["reason"]))
            for mode in ("text", "json"):
                r = cli(["status", EVAL, "--api-url", api.url, "--output", mode])
                inert(f"cli {label} status {mode}", text_of(r))
        if python:
            with FakeApi(lambda m, p, n, body=body: trigger() if m == "POST" else (200, [], body)) as api:
                r = py("trust_host.py", "evaluate", json.dumps({"service": "checkout", "env": "prod", "api_url": api.url,
                                                                 "poll_interval": 1, "timeout": 20}))
                out = text_of(r)
                check(f"python {label}: an outcome", '"cause":"gate_failed"' in out, out[-400:])
                inert(f"python {label} (json, text, markdown, events)", out)
    # Error details on a refused request, and retry messages on the way there.
    cases += 1
    detail = PAYLOADS["workflow command"] + PAYLOADS["ANSI rewrite"] + PAYLOADS["bidi override"]
    errors = json.dumps({"errors": [{"detail": detail}, detail]})

    def refusing(m, p, n):
        return (503, [], errors) if n == 0 else (400, [], errors)
    with FakeApi(refusing) as api:
        summary = pathlib.Path(tmp) / "summary.md"
        summary.write_text("")
        r = cli(gate_args(api.url, "-v", "--trigger-budget", "10"), env=key_env(GITHUB_STEP_SUMMARY=str(summary)))
        check("cli error details: refused", r.returncode == 1, text_of(r)[-400:])
        inert("cli error details text", text_of(r))
        inert("cli error details summary", summary.read_text())
        summary_inert("cli error details", summary.read_text())
    # Values the user echoes: service, env, version, skip reason.
    cases += 1
    hostile = PAYLOADS["add-mask"] + PAYLOADS["ANSI rewrite"]
    with FakeApi(lambda m, p, n: trigger() if m == "POST" else (200, [], result_body("r", status="pass"))) as api:
        r = cli(["gate", "--service", "checkout" + hostile, "--env", "prod" + hostile, "--version", "v" + hostile,
                 "--api-url", api.url, "--poll-interval", "1"])
        inert("cli hostile service/env/version", text_of(r))
    summary = pathlib.Path(tmp) / "summary.md"
    summary.write_text("")
    r = cli(["gate", "--service", "checkout", "--env", "prod", "--skip", "hotfix" + hostile],
            env=key_env(GITHUB_STEP_SUMMARY=str(summary)))
    check("cli hostile skip reason: skipped", r.returncode == 0, text_of(r)[-300:])
    inert("cli hostile skip reason", text_of(r) + summary.read_text())
    return cases


# ---------------------------------------------------------------------------------------------
# State files


def fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def request_digest(snapshot: dict) -> str:
    """The documented request digest (crates/core/src/request.rs), recomputed as a forger would."""
    fields = [("api", snapshot["endpoint"]["base_url"]), ("service", snapshot["service"]), ("env", snapshot["env"]),
              ("identifier", snapshot.get("identifier") or "default"), ("version", snapshot.get("version")),
              ("primary_tag", snapshot.get("primary_tag")),
              ("monitors_query_variable", snapshot.get("monitors_query_variable")),
              ("configuration", snapshot.get("configuration"))]
    text = "gatepost-request/1\n" + "".join(f"{name}={canonical(value)}\n" for name, value in fields)
    return f"fnv1a64:{fnv1a64(text.encode()):016x}"


def cancelled_state(url: str, path: pathlib.Path, *extra: str) -> bool:
    """A real state file: start a gate, wait for its evaluation id, SIGTERM it (what CI does)."""
    proc = subprocess.Popen([str(CLI), *gate_args(url, "--state-file", str(path), "--log-format", "json", *extra)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=key_env())
    assert proc.stderr is not None
    for raw in proc.stderr:
        if b'"type":"started"' in raw:
            break
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    return proc.returncode == 143 and path.exists()


class Server:
    """EVAL (the saved evaluation) passes; every new trigger gets OTHER, which fails — so a pass
    can only come from resuming the saved evaluation."""

    def __init__(self, saved: str = "in_progress", fresh: str = "fail", poll_status: int = 200) -> None:
        self.saved, self.fresh, self.poll_status = saved, fresh, poll_status
        self.triggers = 0

    def __call__(self, m: str, p: str, n: int):
        if m == "POST":
            self.triggers += 1
            return trigger(EVAL if self.triggers == 1 and self.saved_phase else OTHER)
        if self.poll_status != 200:
            return self.poll_status, [], "{}"
        ident = p.rsplit("/", 1)[-1]
        status = self.saved if ident == EVAL else self.fresh
        body = json.loads(result_body("r", status=status))
        body["data"]["attributes"]["evaluation_id"] = ident
        return 200, [], json.dumps(body)

    saved_phase = True


def state_cases(tmp: str, python: bool) -> int:
    cases = 0
    config = pathlib.Path(tmp) / "gate.json"
    config.write_text(json.dumps({"rules": [{"type": "monitor", "name": "m",
                                             "options": {"query": "env:prod", "duration": 0}}]}))

    def scenario(label: str, first: list[str], second: list[str], edit=None, expect_exit: int = 1,
                 expect_text: str = "", saved: str = "pass", poll_status: int = 200, python_options: dict | None = None,
                 python_text: str | None = None):
        nonlocal cases
        cases += 1
        server = Server(saved="in_progress")
        with FakeApi(server) as api:
            path = pathlib.Path(tmp) / f"state-{cases}.json"
            if not check(f"state {label}: a cancelled run leaves a state file", cancelled_state(api.url, path, *first)):
                return
            mode = path.stat().st_mode & 0o777
            check(f"state {label}: the file is owner-only", mode == 0o600, oct(mode))
            wrapper = json.loads(path.read_text())
            if edit:
                edit(wrapper, api.url)
                path.write_text(json.dumps(wrapper))
            # From now on the saved evaluation would pass; a new one fails.
            server.saved, server.saved_phase, server.poll_status = saved, False, poll_status
            snapshot_copy = pathlib.Path(tmp) / f"snapshot-{cases}.json"
            snapshot_copy.write_text(json.dumps(wrapper["snapshot"]))
            r = cli(gate_args(api.url, "--state-file", str(path), "--output", "json", *second))
            out = text_of(r)
            check(f"state {label}: exit {expect_exit}", r.returncode == expect_exit, out[-600:])
            check(f"state {label}: says why", expect_text in out, out[-600:])
            inert(f"state {label}", out)
            if python and python_options is not None:
                r = py("trust_host.py", "resume", str(snapshot_copy),
                       json.dumps({"service": "checkout", "env": "prod", "api_url": api.url, "poll_interval": 1,
                                   "request_timeout": 2, "timeout": 20, **python_options}))
                out = text_of(r)
                first_line = out.strip().splitlines()[0] if out.strip() else "{}"
                try:
                    outcome = json.loads(first_line)
                except ValueError:
                    outcome = {}
                check(f"state {label} (python resume): not a pass", outcome.get("verdict") == "fail", out[-600:])
                wanted = expect_text if python_text is None else python_text
                check(f"state {label} (python resume): says why", wanted in out, out[-600:])
                inert(f"state {label} (python resume)", out)

    def set_snapshot(**fields):
        def edit(wrapper, url):
            wrapper["snapshot"].update(fields)
        return edit

    scenario("another version", ["--version", "v1"], ["--version", "v2"],
             expect_text='version: "v1" in the snapshot, "v2" now', python_options={"version": "v2"})
    scenario("another config", [], ["--config", str(config)], expect_text="configuration: none in the snapshot",
             python_options={"config_path": str(config)})

    def endpoint_to_name(wrapper, url):
        port = url.rsplit(":", 1)[1]
        wrapper["snapshot"]["endpoint"] = {"base_url": f"http://api.gates.test:{port}", "site": None}
    scenario("endpoint edited to a name", [], [], edit=endpoint_to_name, expect_text="do not match its request digest",
             python_options={})

    def endpoint_forged(wrapper, url):
        endpoint_to_name(wrapper, url)
        wrapper["snapshot"]["request_digest"] = request_digest(wrapper["snapshot"])
    scenario("endpoint edited, digest recomputed", [], ["--fail-on-error"], edit=endpoint_forged,
             expect_text="it belongs to another request (api: \"http://api.gates.test:", python_options={})

    def planted_pass(wrapper, url):
        wrapper["snapshot"]["outcome"] = {"schema_version": 1, "verdict": "pass", "exit_code": 0, "cause": "gate_passed",
                                          "fail_open": False, "message": "the gate passed", "evaluation_id": EVAL,
                                          "evaluation_url": None, "gate_id": None, "gate_status": "pass",
                                          "dry_run": False, "rules": [], "would_fail": False, "requests": 2,
                                          "elapsed_ms": 10}
    scenario("planted passing outcome", [], [], edit=planted_pass, saved="fail", expect_text="Resuming evaluation",
             python_options={}, python_text="")

    def planted_old_id(wrapper, url):
        # A passing evaluation of an older deploy, planted with its own (other) version.
        wrapper["snapshot"]["version"] = "v0"
        wrapper["snapshot"]["request_digest"] = request_digest(wrapper["snapshot"])
    scenario("planted id of an older deploy", ["--version", "v1"], ["--version", "v1"], edit=planted_old_id,
             expect_text='version: "v0" in the snapshot, "v1" now', python_options={"version": "v1"})
    scenario("policy flipped to fail-open", [], ["--fail-on-error", "--timeout", "6"], edit=set_snapshot(fail_on_error=False),
             saved="in_progress", poll_status=503, expect_text="fail_on_error: false in the snapshot, true now",
             python_options={"fail_on_error": True, "timeout": 12}, python_text="")
    scenario("older snapshot schema", [], [], edit=set_snapshot(schema_version=1),
             expect_text="older gatepost (snapshot schema 1)")

    def old_wrapper(wrapper, url):
        wrapper["gatepost_state"] = 1
    scenario("older state file format", [], [], edit=old_wrapper, expect_text="has format 1")
    return cases


# ---------------------------------------------------------------------------------------------
# Smaller points


def smaller_cases(python: bool) -> int:
    cases = 1
    # 429 with a Retry-After past the deadline: say so, and fast.
    with FakeApi(lambda m, p, n: (429, [("Retry-After", "600")], json.dumps({"errors": ["Too many requests"]}))) as api:
        t0 = time.monotonic()
        r = cli(gate_args(api.url, "--fail-on-error", "--timeout", "15"))
        out = text_of(r)
        check("429 past the deadline: fails at once", r.returncode == 1 and time.monotonic() - t0 < 10, out[-400:])
        check("429 past the deadline: says rate-limited and past the end",
              "rate-limited (HTTP 429): the server asked to retry in 10 min" in out and "past the end of" in out
              and "no result within" not in out, out[-600:])
        if python:
            r = py("trust_host.py", "evaluate", json.dumps({"service": "checkout", "env": "prod", "api_url": api.url,
                                                             "timeout": 15, "fail_on_error": True}))
            check("429 past the deadline (python): says so", "rate-limited (HTTP 429)" in text_of(r), text_of(r)[-400:])
    # Plain http: `localhost` itself is loopback, other `*.localhost` names are not.
    cases += 1
    with FakeApi(lambda m, p, n: trigger() if m == "POST" else (200, [], result_body("r", status="pass"))) as api:
        port = api.url.rsplit(":", 1)[1]
        r = cli(gate_args(f"http://localhost:{port}"))
        check("plain http to localhost: allowed", r.returncode == 0, text_of(r)[-300:])
        r = cli(gate_args(f"http://gates.localhost:{port}"))
        check("plain http to gates.localhost: refused", r.returncode == 2 and "plain http" in text_of(r), text_of(r)[-300:])
    # DD_API_KEY that is not UTF-8: an error naming the variable, not a request without a key.
    cases += 1
    env = {k.encode(): v.encode() for k, v in key_env().items()}
    env[b"DD_API_KEY"] = b"gp-\xff\xfe-key"
    r = subprocess.run([str(CLI), "gate", "--service", "checkout", "--env", "prod"], capture_output=True, env=env, timeout=30)
    check("non-UTF-8 DD_API_KEY: an error naming it", r.returncode == 2 and b"DD_API_KEY is set but is not valid UTF-8"
          in r.stderr, r.stderr.decode(errors="replace")[-300:])
    if python:
        r = subprocess.run([str(VENV_PY), str(HERE / "trust_host.py"), "keys"], capture_output=True, env=env, timeout=60)
        check("non-UTF-8 DD_API_KEY (python): an options error naming it",
              b"invalid_options" in r.stdout and b"DD_API_KEY" in r.stdout, (r.stdout + r.stderr).decode(errors="replace")[-300:])
    return cases


def main() -> None:
    why = cli_available()
    if why:
        skip("trust boundaries", why)
        return
    python = python_available() is None
    if not python:
        skip("trust boundaries in Python", python_available() or "")
    tmp = tempfile.mkdtemp(prefix="gp-trust-")
    try:
        total = server_text_cases(tmp, python) + state_cases(tmp, python) + smaller_cases(python)
        print(f"corpus: {total} hostile cases", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    main_guard(main)
