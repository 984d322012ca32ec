"""Shared helpers of the cross-host hardening harnesses (stdlib only).

Finds the hosts that are built (the CLI binary, the Python package in .venv, the Node addon, the
wasm package), starts emulators on loopback, and counts results: every check prints one line
(`ok`, `FAIL` or `skipped`) and `summary()` prints `N passed, N failed, N skipped` — a host that
is not built is skipped, never counted as passed.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLI = ROOT / "target" / "debug" / "gatepost"
VENV_PY = ROOT / ".venv" / "bin" / "python"
NODE_PKG = ROOT / "crates" / "node" / "dist" / "index.js"
NODE_NATIVE = ROOT / "crates" / "node" / "native"
WASM_PKG = ROOT / "crates" / "wasm" / "pkg" / "node" / "gatepost.mjs"
HERE = pathlib.Path(__file__).resolve().parent

API_KEY = "gp-secret-api-7c1f29d4e8b6"
APP_KEY = "gp-secret-app-3a90b5f2c7e1"
EVAL_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

_counts = {"passed": 0, "failed": 0, "skipped": 0}


def ok(name: str) -> None:
    _counts["passed"] += 1
    print(f"ok       {name}", flush=True)


def fail(name: str, why: str) -> None:
    _counts["failed"] += 1
    print(f"FAIL     {name}: {why}", flush=True)


def skip(name: str, why: str) -> None:
    _counts["skipped"] += 1
    print(f"skipped: {name}: {why}", flush=True)


def check(name: str, condition: bool, why: str = "") -> bool:
    if condition:
        ok(name)
    else:
        fail(name, why or "condition false")
    return condition


def summary() -> int:
    c = _counts
    print(f"{c['passed']} passed, {c['failed']} failed, {c['skipped']} skipped", flush=True)
    return 1 if c["failed"] else 0


def leaks(*texts: str | bytes | None) -> list[str]:
    """Which key (by name) appears in any of the texts."""
    found = []
    for text in texts:
        if text is None:
            continue
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        for name, key in (("DD_API_KEY", API_KEY), ("DD_APP_KEY", APP_KEY)):
            if key in text and name not in found:
                found.append(name)
    return found


def cli_available() -> str | None:
    return None if CLI.exists() else f"{CLI.relative_to(ROOT)} is not built (cargo build -p gatepost)"


def python_available() -> str | None:
    if not VENV_PY.exists():
        return ".venv/bin/python not found (scripts/suites/50-python.sh builds it)"
    r = subprocess.run([str(VENV_PY), "-c", "import gatepost"], capture_output=True, timeout=60)
    return None if r.returncode == 0 else "the gatepost package is not installed in .venv"


def node_available() -> str | None:
    if not shutil.which("node"):
        return "node not on PATH"
    if not NODE_PKG.exists() or not any(NODE_NATIVE.glob("*.node")):
        return "crates/node is not built (dist/ and native/*.node)"
    return None


def wasm_available() -> str | None:
    if not shutil.which("node"):
        return "node not on PATH"
    return None if WASM_PKG.exists() else "crates/wasm/pkg/node is not built"


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Emulator:
    """`gatepost emulator` for a world file on a free loopback port; keeps its output."""

    def __init__(self, world: pathlib.Path | dict, time_scale: int = 60, extra_args: tuple[str, ...] = ()) -> None:
        self.tmp = tempfile.mkdtemp(prefix="gp-emu-")
        if isinstance(world, dict):
            path = pathlib.Path(self.tmp) / "world.json"
            path.write_text(json.dumps(world))
            world = path
        self.out_path = pathlib.Path(self.tmp) / "emulator.log"
        self.out = open(self.out_path, "wb")
        self.proc = subprocess.Popen(
            [str(CLI), "emulator", "--world", str(world), "--port", "0", "--time-scale", str(time_scale), *extra_args],
            stdout=subprocess.PIPE,
            stderr=self.out,
        )
        line = self.proc.stdout.readline().decode()
        if "http://" not in line:
            self.stop()
            raise RuntimeError(f"the emulator did not start: {line!r}")
        self.url = line.strip().split()[-1]
        self.port = int(self.url.rsplit(":", 1)[1])

    def output(self) -> str:
        self.out.flush()
        return self.out_path.read_text(errors="replace")

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rest = self.proc.stdout.read().decode(errors="replace") if self.proc.stdout else ""
        self.out.close()
        return self.out_path.read_text(errors="replace") + rest

    def __enter__(self) -> "Emulator":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def world(name: str) -> dict:
    return json.loads((ROOT / "examples" / "worlds" / f"{name}.json").read_text())


def key_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DD_", "DATADOG_"))}
    env.update({"DD_API_KEY": API_KEY, "DD_APP_KEY": APP_KEY, "NO_COLOR": "1"})
    env.update(extra)
    return env


def run(cmd: list[str], timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, timeout=timeout, **kw)


def wait_for(predicate, timeout: float = 10.0, step: float = 0.05) -> bool:
    """Poll a condition (a child process's output) with a deadline."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


JIT_CONFIG = {
    "dryRun": False,
    "rules": [
        {"type": "monitor", "name": "checkout monitors",
         "options": {"query": "service:checkout env:prod", "duration": 0}},
    ],
}


def py(script: str, *args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return run([str(VENV_PY), str(HERE / script), *args], timeout=timeout, env=env or key_env())


def node(script: str, *args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return run(["node", str(HERE / script), *args], timeout=timeout, env=env or key_env())


def main_guard(fn) -> None:
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - a harness crash is one failure, not a traceback only
        fail("harness", f"{type(e).__name__}: {e}")
    sys.exit(summary())
