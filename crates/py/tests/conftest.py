"""Shared fixtures: a scriptable HTTP server on loopback, and the emulator."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Union
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[3]

# Recognisable fake keys: every test that could leak them asserts they never appear.
API_KEY = "fake-api-key-0123456789abcdef"
APP_KEY = "fake-app-key-fedcba9876543210"

Handler = Callable[[BaseHTTPRequestHandler], None]


class _Server(ThreadingHTTPServer):
    # Fan-out tests connect a hundred clients at once: the default backlog of 5 would drop
    # their SYNs and make each wait a second for the retransmission.
    request_queue_size = 1024


class Scripted:
    """A loopback HTTP server whose routes are plain functions of the request handler."""

    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        #: Routes for every path under a prefix, when no exact route matches.
        self.prefixes: dict[str, Handler] = {}
        self.requests: list[dict[str, Any]] = []
        self.release = threading.Event()
        scripted = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without TCP_NODELAY, a kept-alive
            # connection waits for the client's delayed ACK (40 ms) before every body.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8") if length else ""
                scripted.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers.items()),
                        "body": body,
                        # The client's port: one per connection, so reuse can be counted.
                        "peer": self.client_address[1],
                    }
                )
                path = urlsplit(self.path).path
                route = scripted.routes.get(path)
                if route is None:
                    route = next(
                        (r for p, r in scripted.prefixes.items() if path.startswith(p)), None
                    )
                if route is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                route(self)

            do_GET = _serve
            do_POST = _serve

        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        # Routes that reset the connection on purpose make the server log tracebacks; keep quiet.
        self.server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def reply(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes | str = b"",
    headers: list[tuple[str, str]] | None = None,
) -> None:
    """Send a complete response with a Content-Length."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    handler.send_response(status)
    for name, value in headers or []:
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


@pytest.fixture
def server() -> Iterator[Scripted]:
    scripted = Scripted()
    yield scripted
    scripted.close()


class Emulator:
    """``gatepost emulator`` on a free loopback port, for one world file."""

    def __init__(self, world: Path, time_scale: int = 60) -> None:
        # GATEPOST_EMULATOR overrides the command (e.g. an installed `gatepost emulator`).
        override = os.environ.get("GATEPOST_EMULATOR")
        if override:
            command = shlex.split(override)
        else:
            target = ROOT / os.environ.get("CARGO_TARGET_DIR", "target")
            binary = target / "debug" / "gatepost"
            if not binary.exists():
                raise RuntimeError(f"{binary} is missing: run `cargo build -p gatepost` first")
            command = [str(binary), "emulator"]
        self.process = subprocess.Popen(
            [
                *command,
                "--world",
                str(world),
                "--port",
                "0",
                "--time-scale",
                str(time_scale),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith(("DD_", "DATADOG_"))},
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline().strip()
        prefix = "gatepost emulator listening on "
        if not first.startswith(prefix):
            self.close()
            raise RuntimeError(f"unexpected first line from the emulator: {first!r}")
        self.url = first[len(prefix) :]
        # Keep draining stdout so the emulator never blocks on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for _ in self.process.stdout:
            pass

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


EVALUATION_ID = "e9d2f04f-4f4b-494b-86e5-52f03e10c8e9"
TRIGGER_PATH = "/api/v2/deployments/gates/evaluation"
RESULT_PATH = f"/api/v2/deployments/gates/evaluation/{EVALUATION_ID}"
GATE_ID = "e140302e-0cba-40d2-978c-6780647f8f1c"
GATE_RULES_PATH = f"/api/v2/deployment_gates/{GATE_ID}/rules"


def trigger_body() -> str:
    return json.dumps(
        {
            "data": {
                "id": EVALUATION_ID,
                "type": "deployment_gates_evaluation_response",
                "attributes": {"evaluation_id": EVALUATION_ID},
            }
        }
    )


def result_body(
    status: str, rules: list[dict[str, Any]] | None = None, dry_run: bool = False
) -> str:
    return json.dumps(
        {
            "data": {
                "id": EVALUATION_ID,
                "type": "deployment_gates_evaluation_result_response",
                "attributes": {
                    "dry_run": dry_run,
                    "evaluation_id": EVALUATION_ID,
                    "evaluation_url": "https://app.datadoghq.com/ci/deployment-gates/evaluations",
                    "gate_id": GATE_ID,
                    "gate_status": status,
                    "rules": rules
                    if rules is not None
                    else [{"name": "checkout monitors", "status": status, "dry_run": False}],
                },
            }
        }
    )


Answer = Union[tuple[int, str], tuple[int, str, list[tuple[str, str]]]]

# Retry-After: 1 keeps fault tests short (the engine raises shorter hints to 1 s).
SOON = [("Retry-After", "1")]


class FakeApi(Scripted):
    """A scripted Deployment Gates API: the trigger answers 202, each poll the next result."""

    def __init__(self) -> None:
        super().__init__()
        # Each answer is (status, body) or (status, body, headers); the last result repeats.
        self.results: list[Answer] = []
        self.trigger: list[Answer] = []
        self.routes[TRIGGER_PATH] = self._trigger
        self.routes[RESULT_PATH] = self._result

    def _trigger(self, handler: BaseHTTPRequestHandler) -> None:
        answer = self.trigger.pop(0) if self.trigger else (202, trigger_body())
        reply(handler, *answer)

    def _result(self, handler: BaseHTTPRequestHandler) -> None:
        if not self.results:
            answer: Answer = (200, result_body("in_progress"))
        else:
            answer = self.results.pop(0) if len(self.results) > 1 else self.results[0]
        reply(handler, *answer)

    def count(self, method: str, path: str | None = None) -> int:
        """Requests with this method (and this path, when given)."""
        return sum(
            1
            for r in self.requests
            if r["method"] == method and (path is None or r["path"] == path)
        )


@pytest.fixture
def api() -> Iterator[FakeApi]:
    fake = FakeApi()
    yield fake
    fake.close()
