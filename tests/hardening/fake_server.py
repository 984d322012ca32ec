"""A scripted fake Deployment Gates API on loopback (stdlib only), for hostile-server tests.

`FakeApi(behaviour)` serves `behaviour(method, path, count) -> (status, headers, body)` on a free
127.0.0.1 port, over plain HTTP or TLS (`cert=(certfile, keyfile)`), and records every request:
method, path, and whether the API or application key came with it. `Sink()` is a server that
only records — the "other host" a redirect points at, which must never see a key.
"""

from __future__ import annotations

import http.server
import ssl
import subprocess
import threading
from collections.abc import Callable

from common import API_KEY, APP_KEY

#: A body that streams forever (chunked), to check that clients cap what they read.
ENDLESS = "<endless>"

Behaviour = Callable[[str, str, int], tuple[int, list[tuple[str, str]], str]]


class FakeApi:
    def __init__(self, behaviour: Behaviour, cert: tuple[str, str] | None = None) -> None:
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                return

            def handle_any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode(errors="replace") if length else ""
                raw = str(self.headers) + body
                with outer.lock:
                    count = len(outer.requests)
                    outer.requests.append({
                        "method": self.command, "path": self.path,
                        "api_key": API_KEY in raw, "app_key": APP_KEY in raw,
                    })
                status, headers, text = behaviour(self.command, self.path, count)
                if text is ENDLESS:
                    self.stream_forever(status, headers)
                    return
                data = text.encode()
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def stream_forever(self, status: int, headers: list[tuple[str, str]]) -> None:
                """A chunked JSON-looking body that never ends, until the client hangs up."""
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b'{"data": "' + b"x" * 65_536
                sent = 0
                try:
                    # At most 1 GiB, so a client that never stops cannot keep this thread forever.
                    while sent < 1 << 30:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        sent += len(chunk)
                        chunk = b"x" * 65_536
                except (BrokenPipeError, ConnectionResetError):
                    return
                self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = handle_any

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # Clients hanging up mid-body is what these tests provoke: not worth a traceback.
        self.server.handle_error = lambda request, client_address: None
        scheme = "http"
        if cert is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*cert)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.port = self.server.server_address[1]
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def keyed_requests(self) -> list[dict]:
        with self.lock:
            return [r for r in self.requests if r["api_key"] or r["app_key"]]

    def paths(self) -> list[str]:
        with self.lock:
            return [r["path"] for r in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> "FakeApi":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def Sink() -> FakeApi:  # noqa: N802 - reads as a kind of server
    return FakeApi(lambda m, p, n: (200, [], '{"stolen": true}'))


def self_signed(dirpath: str, name: str = "localhost") -> tuple[str, str]:
    """A self-signed certificate for `name` (untrusted by every client), via the openssl CLI."""
    cert, key = f"{dirpath}/{name}.crt", f"{dirpath}/{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}"],
                   check=True, capture_output=True)
    return cert, key
