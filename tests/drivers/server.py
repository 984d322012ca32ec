"""The scripted loopback server every driver runner shares (Python standard library only).

A script gives, per kind of request (route), the sequence of answers to play; the last answer of
a sequence repeats. Routes: `trigger` (POST .../gates/evaluation), `poll` (GET
.../gates/evaluation/ID), `details` (GET .../evaluations/rules?...), `connect` (a CONNECT: the server
is then a proxy), `other`. A route without answers gets its default: a new evaluation for
`trigger`, a passing result for `poll`, an empty list for `details`, 404 otherwise.

An answer is an object (every field optional):

- `status` (default 200; 202 for `"trigger": true`), `headers` (name -> value; `{origin}` and
  `{sink}` are replaced by this server's and the sink's base URL), and one body:
  `body` (text), `json` (a value), `trigger: true` (a trigger reply naming the evaluation id),
  `result: "pass"|"fail"|"in_progress"` (a result for the evaluation; `dry_run: true` (a dry-run
  gate), `rules`: [[name, status], ...] or [name, status, rule_dry_run], and `other_id: true` (for
  another evaluation) change it), `oversize: N` (a JSON-looking body of N
  bytes; with `chunked: true` sent without Content-Length);
- `delay`: seconds before the status line; `body_delay`: seconds between the first half of the
  body and the rest (a slow body); `truncate: true` (declare the whole body, send half, close);
  `reset: true` (read the request, then close the connection with an RST, no answer);
  `hang: true` (read the request and never answer, until the server stops);
- on `connect`: `tunnel: true` answers 200 and serves the tunnelled requests on the same
  connection (plain HTTP only); anything else is answered as given (default 403).

Every request is recorded: method, route, path, whether it came through a proxy (absolute-form or
tunnelled), its headers with the API/application keys replaced by the name of the environment
variable holding them (`keys`, from the runner; `<blank>` for an empty header, `<other>` for an
unknown value), and its body (parsed JSON when it is JSON). A request whose keys are not the
`accept` ones (route `trigger`/`poll`/`details` only) is answered 403 without consuming an
answer.

Run alone: `python3 tests/drivers/server.py SCRIPT.json` prints `listening http://127.0.0.1:PORT`,
serves until stdin closes or a request to `/__drivers/quit` arrives, then prints the recorded
requests as one JSON line.
"""

from __future__ import annotations

import http.server
import json
import socket
import struct
import sys
import threading
import urllib.parse
from typing import Any

EVALUATION_ID = "5f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f"
OTHER_ID = "0b6a3c1e-8d7f-4a2b-9c5d-1e2f3a4b5c6d"
TRIGGER_PATH = "/api/v2/deployments/gates/evaluation"
DETAILS_PATH = "/api/v2/deployment_gates/evaluations/rules"
KEY_HEADERS = ("dd-api-key", "dd-application-key")
#: A hung answer is released after this long even if the server is never stopped.
MAX_HANG_SECONDS = 60.0


def route_of(method: str, path: str) -> str:
    bare = path.split("?", 1)[0]
    if method == "CONNECT":
        return "connect"
    if method == "POST" and bare == TRIGGER_PATH:
        return "trigger"
    if method == "GET" and bare.startswith(TRIGGER_PATH + "/"):
        return "poll"
    if method == "GET" and bare == DETAILS_PATH:
        return "details"
    return "other"


def result_body(answer: dict[str, Any]) -> dict[str, Any]:
    status = answer["result"]
    rules = answer.get("rules") or [["checkout monitors", status]]
    dry = bool(answer.get("dry_run"))
    attributes = {
        "evaluation_id": OTHER_ID if answer.get("other_id") else EVALUATION_ID,
        "gate_status": status,
        "dry_run": dry,
        "rules": [
            {"name": rule[0], "status": rule[1], "dry_run": bool(rule[2]) if len(rule) > 2 else False,
             **({"reason": "a monitor is in ALERT state"} if rule[1] == "fail" else {})}
            for rule in rules
        ],
    }
    return {"data": {"id": EVALUATION_ID, "type": "deployment_gates_evaluation_result_response",
                     "attributes": attributes}}


DEFAULTS: dict[str, dict[str, Any]] = {
    "trigger": {"trigger": True},
    "poll": {"result": "pass"},
    "details": {"json": {"data": []}},
    "connect": {"status": 403},
    "other": {"status": 404, "json": {"errors": ["not found"]}},
}


class ScriptServer:
    """Serve `script` (the `server` object of a driver script) on a free 127.0.0.1 port."""

    def __init__(self, script: dict[str, Any] | None = None, keys: dict[str, str] | None = None,
                 accept: dict[str, str] | None = None, sink_url: str = "") -> None:
        self.script = script or {}
        # Key value (as set, and trimmed) -> the variable that holds it; `accept`: the variables
        # whose keys the requests must carry.
        self.keys: dict[str, str] = {}
        for name, value in (keys or {}).items():
            if value.strip():
                self.keys.setdefault(value.strip(), name)
        for name, value in (keys or {}).items():
            if value:
                self.keys[value] = name
        self.accept = accept or {}
        self.sink_url = sink_url
        self.requests: list[dict[str, Any]] = []
        self.counts: dict[str, int] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            tunnelled = False

            def log_message(self, *args: object) -> None:
                return

            def handle_one(self) -> None:
                outer.serve(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_CONNECT = handle_one

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    # -- recording ---------------------------------------------------------------------------

    def label(self, value: str | None) -> str | None:
        if value is None:
            return None
        if value == "":
            return "<blank>"
        return self.keys.get(value, "<other>")

    def record(self, handler: Any, route: str, path: str, proxied: bool, body: bytes) -> dict[str, Any]:
        headers: dict[str, str] = {}
        for name, value in handler.headers.items():
            lower = name.lower()
            headers[lower] = self.label(value) if lower in KEY_HEADERS else value  # type: ignore[assignment]
        text = body.decode("utf-8", "replace")
        try:
            parsed: Any = json.loads(text) if text else None
        except ValueError:
            parsed = text
        entry = {"method": handler.command, "route": route, "path": path, "proxied": proxied,
                 "api_key": self.label(handler.headers.get("DD-API-KEY")),
                 "app_key": self.label(handler.headers.get("DD-APPLICATION-KEY")),
                 "headers": headers, "body": parsed}
        with self.lock:
            self.requests.append(entry)
        return entry

    def next_answer(self, route: str) -> dict[str, Any]:
        with self.lock:
            n = self.counts.get(route, 0)
            self.counts[route] = n + 1
        answers = self.script.get(route) or [DEFAULTS[route]]
        return answers[min(n, len(answers) - 1)]

    # -- serving -----------------------------------------------------------------------------

    def serve(self, h: Any) -> None:
        target = h.path
        proxied = h.tunnelled
        if h.command != "CONNECT" and "://" in target:
            # Absolute form: a client using this server as a plain-HTTP proxy.
            parts = urllib.parse.urlsplit(target)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            proxied = True
        if target == "/__drivers/quit":
            self.reply(h, {"status": 200, "json": {"stopping": True}}, "other")
            threading.Thread(target=self.stop, daemon=True).start()
            return
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        route = route_of(h.command, target)
        entry = self.record(h, route, target if h.command != "CONNECT" else h.path, proxied, body)
        if route == "connect":
            answer = self.next_answer(route)
            if answer.get("tunnel"):
                h.send_response(200, "Connection established")
                h.end_headers()
                h.tunnelled = True
                h.close_connection = False
                return
            self.reply(h, answer, route)
            h.close_connection = True
            return
        if route in ("trigger", "poll", "details") and self.accept and (
            entry["api_key"] != self.accept.get("api") or entry["app_key"] != self.accept.get("app")
        ):
            self.reply(h, {"status": 403, "json": {"errors": ["Forbidden: wrong or missing key"]}}, route)
            return
        self.reply(h, self.next_answer(route), route)

    def reply(self, h: Any, answer: dict[str, Any], route: str) -> None:
        if answer.get("delay"):
            self.stopping.wait(float(answer["delay"]))
        if answer.get("hang"):
            self.stopping.wait(MAX_HANG_SECONDS)
            h.close_connection = True
            return
        if answer.get("reset"):
            # SO_LINGER with a zero timeout: close() sends an RST instead of a FIN.
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            h.close_connection = True
            h.connection.close()
            return
        status, data, content_type = self.body_of(answer, route)
        h.send_response(int(status))
        for name, value in (answer.get("headers") or {}).items():
            h.send_header(name, str(value).replace("{origin}", self.url).replace("{sink}", self.sink_url))
        h.send_header("Content-Type", content_type)
        chunked = bool(answer.get("chunked"))
        try:
            if chunked:
                h.send_header("Transfer-Encoding", "chunked")
                h.end_headers()
                for start in range(0, len(data), 65536):
                    piece = data[start:start + 65536]
                    h.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                h.wfile.write(b"0\r\n\r\n")
                return
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            half = len(data) // 2
            if answer.get("truncate"):
                h.wfile.write(data[:half])
                h.wfile.flush()
                h.close_connection = True
                h.connection.shutdown(socket.SHUT_RDWR)
                return
            if answer.get("body_delay"):
                h.wfile.write(data[:half])
                h.wfile.flush()
                if self.stopping.wait(float(answer["body_delay"])):
                    return
                h.wfile.write(data[half:])
                return
            h.wfile.write(data)
        except OSError:
            # The client hung up (a timeout, a refused body): what these scripts provoke.
            h.close_connection = True

    def body_of(self, answer: dict[str, Any], route: str) -> tuple[int, bytes, str]:
        status = answer.get("status")
        if answer.get("trigger"):
            body: Any = {"data": {"id": EVALUATION_ID, "type": "deployment_gates_evaluation_response",
                                  "attributes": {"evaluation_id": EVALUATION_ID}}}
            return status or 202, json.dumps(body).encode(), "application/json"
        if "result" in answer:
            return status or 200, json.dumps(result_body(answer)).encode(), "application/json"
        if "oversize" in answer:
            n = int(answer["oversize"])
            data = b'{"data": {"pad": "' + b"x" * max(0, n - 22) + b'"}}'
            return status or 200, data, "application/json"
        if "json" in answer:
            return status or 200, json.dumps(answer["json"]).encode(), "application/json"
        text = str(answer.get("body", ""))
        text = text.replace("{origin}", self.url).replace("{sink}", self.sink_url)
        return status or 200, text.encode(), answer.get("content_type", "text/plain")

    # -- lifecycle ---------------------------------------------------------------------------

    def count(self, route: str | None = None) -> int:
        with self.lock:
            return sum(1 for r in self.requests if route is None or r["route"] == route)

    def stop(self) -> None:
        if self.stopping.is_set():
            return
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> ScriptServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    script = json.loads(open(sys.argv[1]).read()) if len(sys.argv) > 1 else {}
    server = ScriptServer(script.get("server", script))
    print(f"listening {server.url}", flush=True)

    def wait_stdin() -> None:
        sys.stdin.read()
        server.stop()

    threading.Thread(target=wait_stdin, daemon=True).start()
    server.stopping.wait()
    print(json.dumps(server.requests), flush=True)


if __name__ == "__main__":
    main()
