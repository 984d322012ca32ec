"""The drivers' HTTP rules, for every backend: no redirects, hard deadlines, body cap, error kinds.

Each test talks to a server it starts itself on 127.0.0.1 (see ``conftest.Scripted``).
"""

from __future__ import annotations

import asyncio
import functools
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import API_KEY, Scripted, reply
from gatepost._transport import perform_with_deadline
from gatepost._transport_async import AsyncTransport
from gatepost._transport_httpx import perform_sync
from gatepost.types import Input, SendRequest

# The shipped paths: urllib (blocking), gatepost's own asyncio transport (the asyncio default),
# the loop's shared httpx client (use_httpx=True), and clients the caller passes (built to follow
# redirects, to show that gatepost still never does).
BACKENDS = [
    "sync-urllib",
    "sync-httpx-client",
    "async-builtin",
    "async-httpx",
    "async-httpx-own-client",
]


def action(
    url: str,
    *,
    method: str = "GET",
    body: str | None = None,
    timeout_ms: int = 3000,
    max_body_bytes: int = 1000,
) -> SendRequest:
    request: SendRequest = {
        "type": "send_request",
        "request_id": 7,
        "method": method,
        "url": url,
        "headers": [["Accept", "application/json"], ["DD-API-KEY", API_KEY]],
        "timeout_ms": timeout_ms,
        "max_body_bytes": max_body_bytes,
    }
    if body is not None:
        request["body"] = body
    return request


def run(backend: str, request: SendRequest) -> Any:
    if backend == "sync-urllib":
        return perform_with_deadline(request, request["timeout_ms"] / 1000)
    if backend == "sync-httpx-client":
        with httpx.Client(follow_redirects=True) as client:
            return perform_with_deadline(
                request, request["timeout_ms"] / 1000, functools.partial(perform_sync, client)
            )

    async def go() -> Input:
        if backend == "async-httpx-own-client":
            async with httpx.AsyncClient(follow_redirects=True) as client:
                return await AsyncTransport(client=client).perform(request)
        transport = AsyncTransport(use_httpx=backend == "async-httpx")
        assert transport.backend == ("httpx" if backend == "async-httpx" else "asyncio")
        return await transport.perform(request)

    return asyncio.run(go())


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_response_passes_status_headers_and_body(server: Scripted, backend: str) -> None:
    server.routes["/ok"] = lambda h: reply(
        h, 200, "héllo", [("X-Dup", "a"), ("X-Dup", "b"), ("Retry-After", "3")]
    )
    result = run(backend, action(server.url + "/ok"))
    assert result["type"] == "response"
    assert result["request_id"] == 7
    assert result["status"] == 200
    assert result["body"] == "héllo"
    names = [name.lower() for name, _ in result["headers"]]
    assert names.count("x-dup") == 2
    assert ["retry-after", "3"] in [[n.lower(), v] for n, v in result["headers"]]


def test_request_method_body_and_headers_are_sent(server: Scripted, backend: str) -> None:
    server.routes["/evaluation"] = lambda h: reply(h, 202, "{}")
    result = run(backend, action(server.url + "/evaluation", method="POST", body='{"a":1}'))
    assert result["status"] == 202
    sent = server.requests[-1]
    assert sent["method"] == "POST"
    assert sent["body"] == '{"a":1}'
    assert {k.lower(): v for k, v in sent["headers"].items()}["dd-api-key"] == API_KEY


def test_redirect_is_never_followed(server: Scripted, backend: str) -> None:
    server.routes["/moved"] = lambda h: reply(h, 302, "", [("Location", server.url + "/ok")])
    server.routes["/ok"] = lambda h: reply(h, 200, "followed")
    result = run(backend, action(server.url + "/moved"))
    assert result["type"] == "response"
    assert result["status"] == 302
    assert [r["path"] for r in server.requests] == ["/moved"]


def test_error_statuses_are_responses(server: Scripted, backend: str) -> None:
    server.routes["/down"] = lambda h: reply(h, 503, '{"errors":["x"]}')
    result = run(backend, action(server.url + "/down"))
    assert (result["type"], result["status"], result["body"]) == (
        "response",
        503,
        '{"errors":["x"]}',
    )


def test_body_above_the_cap_by_content_length(server: Scripted, backend: str) -> None:
    server.routes["/big"] = lambda h: reply(h, 200, b"x" * 5000)
    result = run(backend, action(server.url + "/big", max_body_bytes=1000))
    assert (result["type"], result["kind"]) == ("transport_error", "body_too_large")


def _chunked_big(h: BaseHTTPRequestHandler) -> None:
    h.send_response(200)
    h.send_header("Connection", "close")
    h.end_headers()
    h.wfile.write(b"y" * 5000)
    h.close_connection = True


def test_body_above_the_cap_without_content_length(server: Scripted, backend: str) -> None:
    server.routes["/big"] = _chunked_big
    result = run(backend, action(server.url + "/big", max_body_bytes=1000))
    assert (result["type"], result["kind"]) == ("transport_error", "body_too_large")


def test_body_is_decoded_lossily(server: Scripted, backend: str) -> None:
    server.routes["/bytes"] = lambda h: reply(h, 200, b"\xff\xfeok")
    result = run(backend, action(server.url + "/bytes"))
    assert result["body"].endswith("ok")
    assert "\ufffd" in result["body"]


def test_hung_server_times_out(server: Scripted, backend: str) -> None:
    def hang(h: BaseHTTPRequestHandler) -> None:
        server.release.wait(10)
        reply(h, 200, "late")

    server.routes["/hang"] = hang
    started = time.monotonic()
    result = run(backend, action(server.url + "/hang", timeout_ms=300))
    elapsed = time.monotonic() - started
    assert (result["type"], result["kind"]) == ("transport_error", "timeout")
    assert elapsed < 2.0


def _drip(server: Scripted) -> Any:
    def route(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "100")
        h.end_headers()
        for _ in range(100):
            if server.release.wait(0.05):
                return
            h.wfile.write(b"z")
            h.wfile.flush()

    return route


def test_dripping_server_cannot_outlive_the_deadline(server: Scripted, backend: str) -> None:
    """Every byte arrives within the socket timeout, but the whole exchange must not."""
    server.routes["/drip"] = _drip(server)
    started = time.monotonic()
    result = run(backend, action(server.url + "/drip", timeout_ms=600))
    elapsed = time.monotonic() - started
    assert (result["type"], result["kind"]) == ("transport_error", "timeout")
    assert elapsed < 2.5


def _reset(h: BaseHTTPRequestHandler) -> None:
    h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    h.connection.close()
    h.close_connection = True


def test_connection_reset(server: Scripted, backend: str) -> None:
    server.routes["/reset"] = _reset
    result = run(backend, action(server.url + "/reset"))
    assert result["type"] == "transport_error"
    assert result["kind"] == "reset"


def test_connection_refused(backend: str) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    result = run(backend, action(f"http://127.0.0.1:{port}/x"))
    assert (result["type"], result["kind"]) == ("transport_error", "connect")
    assert API_KEY not in result["message"]


@pytest.fixture
def tls_server(tmp_path: Path) -> Any:
    """A loopback HTTPS server with a self-signed certificate nobody trusts."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a self-signed certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    command = [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    command += ["-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)]
    subprocess.run(
        command,
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1024)
            except OSError:
                conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(2)
    listener.close()


def test_untrusted_certificate_is_a_tls_error(tls_server: str, backend: str) -> None:
    result = run(backend, action(tls_server + "/x"))
    assert (result["type"], result["kind"]) == ("transport_error", "tls")


def test_proxy_environment_is_honoured(
    server: Scripted, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", server.url)
    monkeypatch.setenv("http_proxy", server.url)
    server.routes["/via-proxy"] = lambda h: reply(h, 200, "proxied")
    result = run(backend, action("http://gatepost-test.invalid/via-proxy"))
    assert (result["type"], result["status"], result["body"]) == ("response", 200, "proxied")
    assert server.requests[-1]["path"] == "http://gatepost-test.invalid/via-proxy"
