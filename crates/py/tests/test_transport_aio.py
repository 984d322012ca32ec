"""gatepost's own asyncio transport (the default of the asyncio entry points): keep-alive reuse,
the per-loop pool cap, body framings, a server that closes an idle connection, proxies (CONNECT
and absolute form), TLS with a CA given by SSL_CERT_FILE, and the pool closed with its loop.

The rules every transport shares (redirects, deadlines, body cap, error kinds) are tested for
this one too, in test_transport.py. Every server is one the test starts itself on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from conftest import API_KEY, Scripted, reply
from gatepost import _transport, _transport_aio
from gatepost._transport_async import AsyncTransport
from gatepost.types import Input, SendRequest


def action(url: str, *, method: str = "GET", body: str | None = None, **extra: Any) -> SendRequest:
    request: SendRequest = {
        "type": "send_request",
        "request_id": 3,
        "method": method,
        "url": url,
        "headers": [["Accept", "application/json"], ["DD-API-KEY", API_KEY]],
        "timeout_ms": extra.get("timeout_ms", 3000),
        "max_body_bytes": extra.get("max_body_bytes", 100_000),
    }
    if body is not None:
        request["body"] = body
    return request


def perform(request: SendRequest) -> Any:
    return AsyncTransport().perform(request)


def peers(server: Scripted) -> set[int]:
    return {r["peer"] for r in server.requests}


# ------------------------------------------------------------------------------------------
# Keep-alive and the pool


def test_connections_are_reused_across_requests(server: Scripted) -> None:
    server.routes["/ok"] = lambda h: reply(h, 200, "ok")

    async def main() -> list[Input]:
        return [await perform(action(server.url + "/ok")) for _ in range(5)]

    results = asyncio.run(main())
    assert [r["status"] for r in results] == [200] * 5  # type: ignore[typeddict-item]
    assert len(server.requests) == 5
    assert len(peers(server)) == 1


def test_never_more_than_max_connections_at_once(server: Scripted) -> None:
    """A hundred concurrent requests: the first MAX_CONNECTIONS are held until they are all in,
    so an unbounded pool would open more connections; this one opens exactly that many."""
    cap = _transport_aio.MAX_CONNECTIONS
    barrier = threading.Barrier(cap, timeout=10)

    def held(h: BaseHTTPRequestHandler) -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()
        reply(h, 200, "ok")

    server.routes["/held"] = held

    async def main() -> list[Input]:
        return list(
            await asyncio.gather(*(perform(action(server.url + "/held")) for _ in range(100)))
        )

    results = asyncio.run(main())
    assert all(r["type"] == "response" for r in results)
    assert not barrier.broken
    assert len(server.requests) == 100
    assert len(peers(server)) == cap


def test_the_pool_is_closed_with_its_loop(server: Scripted) -> None:
    server.routes["/ok"] = lambda h: reply(h, 200, "ok")
    seen: dict[str, Any] = {}

    async def main() -> None:
        await asyncio.gather(*(perform(action(server.url + "/ok")) for _ in range(5)))
        loop = asyncio.get_running_loop()
        seen["loop"] = loop
        seen["pool"] = pool = _transport_aio._pools[loop]
        seen["connections"] = set(pool.open)

    asyncio.run(main())
    assert seen["connections"]
    assert seen["loop"] not in _transport_aio._pools
    assert seen["pool"].closed
    assert all(c.transport.is_closing() for c in seen["connections"])


def test_each_loop_has_its_own_pool_and_none_leaks(server: Scripted) -> None:
    server.routes["/ok"] = lambda h: reply(h, 200, "ok")
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(perform(action(server.url + "/ok")))
    finally:
        loop.close()  # without shutting down: its pool is dropped by the next loop that needs one
    assert loop in _transport_aio._pools
    assert asyncio.run(perform(action(server.url + "/ok")))["status"] == 200
    assert not _transport_aio._pools


# ------------------------------------------------------------------------------------------
# Body framings


def _raw(response: bytes, close: bool) -> Any:
    def route(h: BaseHTTPRequestHandler) -> None:
        h.wfile.write(response)
        h.wfile.flush()
        h.close_connection = close

    return route


def test_chunked_body(server: Scripted) -> None:
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n"
    chunked += b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n"
    server.routes["/chunked"] = _raw(chunked, close=False)

    async def main() -> list[Input]:
        return [await perform(action(server.url + "/chunked")) for _ in range(2)]

    results = asyncio.run(main())
    assert [r["body"] for r in results] == ["hello world"] * 2  # type: ignore[typeddict-item]
    assert ["X-A", "1"] in results[0]["headers"]  # type: ignore[typeddict-item]
    assert len(peers(server)) == 1  # the whole chunked body was read: the connection was kept


def test_content_length_body_with_a_repeated_header(server: Scripted) -> None:
    server.routes["/cl"] = lambda h: reply(h, 200, "x" * 70_000, [("Set", "a"), ("Set", "b")])
    result = asyncio.run(perform(action(server.url + "/cl")))
    assert result["body"] == "x" * 70_000
    assert [h for h in result["headers"] if h[0] == "Set"] == [["Set", "a"], ["Set", "b"]]


def test_close_delimited_body(server: Scripted) -> None:
    server.routes["/close"] = _raw(b"HTTP/1.1 200 OK\r\n\r\nuntil the end", close=True)

    async def main() -> list[Input]:
        return [await perform(action(server.url + "/close")) for _ in range(2)]

    results = asyncio.run(main())
    assert [r["body"] for r in results] == ["until the end"] * 2  # type: ignore[typeddict-item]
    assert len(peers(server)) == 2  # a body that ends with the connection cannot be followed


def test_connection_close_is_honoured(server: Scripted) -> None:
    server.routes["/bye"] = lambda h: reply(h, 200, "bye", [("Connection", "close")])

    async def main() -> list[Input]:
        return [await perform(action(server.url + "/bye")) for _ in range(2)]

    assert [r["status"] for r in asyncio.run(main())] == [200, 200]  # type: ignore[typeddict-item]
    assert len(peers(server)) == 2


def test_oversized_chunked_body_is_refused(server: Scripted) -> None:
    big = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"7d0\r\n" + b"z" * 2000
    big += b"\r\n0\r\n\r\n"
    server.routes["/big"] = _raw(big, close=False)
    result = asyncio.run(perform(action(server.url + "/big", max_body_bytes=1000)))
    assert (result["type"], result["kind"]) == ("transport_error", "body_too_large")


def test_truncated_body_is_a_reset(server: Scripted) -> None:
    server.routes["/cut"] = _raw(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort", close=True)
    result = asyncio.run(perform(action(server.url + "/cut")))
    assert (result["type"], result["kind"]) == ("transport_error", "reset")


# ------------------------------------------------------------------------------------------
# A server that closes a kept-alive connection while it is idle


class OneShotServer:
    """Answers one request per connection (keep-alive, no ``Connection: close``), then closes
    it and says so: the client holds a connection the server has already closed."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.requests: list[bytes] = []
        self.connections = 0
        self.closed = threading.Semaphore(0)
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                self.requests.append(data)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            self.closed.release()


def test_an_idle_connection_the_server_closed_is_not_reused() -> None:
    server = OneShotServer()
    try:

        async def main() -> list[Input]:
            loop = asyncio.get_running_loop()
            first = await perform(action(server.url + "/a", method="POST", body="{}"))
            # Wait (in a thread, so the loop keeps running) until the server has closed it.
            assert await loop.run_in_executor(None, server.closed.acquire, True, 5)
            second = await perform(action(server.url + "/b", method="POST", body="{}"))
            return [first, second]

        results = asyncio.run(main())
    finally:
        server.listener.close()
    assert [r["status"] for r in results] == [200, 200]  # type: ignore[typeddict-item]
    # Each POST was sent once, the second on a new connection.
    assert [r.split(b" ", 2)[1] for r in server.requests] == [b"/a", b"/b"]
    assert server.connections == 2


# ------------------------------------------------------------------------------------------
# TLS with a CA of the test's own (SSL_CERT_FILE), directly and through a CONNECT proxy


@pytest.fixture
def tls_origin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Scripted]:
    """A loopback HTTPS server whose self-signed certificate is trusted through SSL_CERT_FILE."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a self-signed certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    san = "subjectAltName=DNS:localhost,DNS:gatepost-test.invalid,IP:127.0.0.1"
    command = [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    command += ["-subj", "/CN=localhost", "-addext", san, "-keyout", str(key), "-out", str(cert)]
    subprocess.run(
        command,
        check=True,
        capture_output=True,
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    # The process's one context is built on first use: build it again with this CA.
    monkeypatch.setattr(_transport, "_ssl_context", None)
    scripted = Scripted()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    scripted.server.socket = context.wrap_socket(scripted.server.socket, server_side=True)
    yield scripted
    scripted.close()
    _transport._ssl_context = None


def https(server: Scripted, host: str = "localhost") -> str:
    return f"https://{host}:{server.server.server_address[1]}"


def test_tls_with_a_ca_from_ssl_cert_file(tls_origin: Scripted) -> None:
    tls_origin.routes["/secure"] = lambda h: reply(h, 200, "secure")

    async def main() -> list[Input]:
        return [await perform(action(https(tls_origin) + "/secure")) for _ in range(3)]

    results = asyncio.run(main())
    assert [r["body"] for r in results] == ["secure"] * 3  # type: ignore[typeddict-item]
    assert len(peers(tls_origin)) == 1
    assert (
        tls_origin.requests[0]["headers"]["Host"]
        == f"localhost:{tls_origin.server.server_address[1]}"
    )


def test_tls_hostname_is_verified(tls_origin: Scripted) -> None:
    # 127.0.0.2 is loopback too, but the certificate does not name it.
    port = tls_origin.server.server_address[1]
    result = asyncio.run(perform(action(f"https://127.0.0.2:{port}/x")))
    assert result["type"] == "transport_error"
    assert result["kind"] in ("tls", "connect")  # connect where 127.0.0.2 is not routed


class ConnectProxy:
    """A CONNECT proxy: records each tunnel request, then relays bytes both ways."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.heads: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(4096)
            if not chunk:
                client.close()
                return
            head += chunk
        self.heads.append(head)
        _, port = head.split(b" ")[1].decode().rsplit(":", 1)
        upstream = socket.create_connection(("127.0.0.1", int(port)))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")

        def pump(source: socket.socket, sink: socket.socket) -> None:
            try:
                while data := source.recv(65536):
                    sink.sendall(data)
            except OSError:
                pass
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

        threading.Thread(target=pump, args=(upstream, client), daemon=True).start()
        pump(client, upstream)


def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)


def test_https_through_a_connect_proxy(
    tls_origin: Scripted, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_proxy_env(monkeypatch)
    proxy = ConnectProxy()
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("https_proxy", proxy.url)
    tls_origin.routes["/tunnelled"] = lambda h: reply(h, 200, "tunnelled")
    # A name only the proxy resolves (it sends every tunnel to 127.0.0.1; loopback names would
    # go direct): the certificate names it, so TLS is checked end to end through the tunnel.
    url = https(tls_origin, "gatepost-test.invalid") + "/tunnelled"

    async def main() -> list[Input]:
        return [await perform(action(url)) for _ in range(2)]

    try:
        results = asyncio.run(main())
    finally:
        proxy.listener.close()
    assert [r["body"] for r in results] == ["tunnelled"] * 2  # type: ignore[typeddict-item]
    assert len(proxy.heads) == 1  # the tunnel is kept alive too
    port = tls_origin.server.server_address[1]
    assert proxy.heads[0].startswith(f"CONNECT gatepost-test.invalid:{port} HTTP/1.1\r\n".encode())
    assert API_KEY.encode() not in proxy.heads[0]  # keys only inside the tunnel


def test_plain_http_through_a_proxy_in_absolute_form(
    server: Scripted, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_proxy_env(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", server.url)
    monkeypatch.setenv("http_proxy", server.url)
    server.routes["/via"] = lambda h: reply(h, 200, "proxied")

    async def main() -> list[Input]:
        return [await perform(action("http://gatepost-test.invalid/via?x=1")) for _ in range(2)]

    results = asyncio.run(main())
    assert [r["body"] for r in results] == ["proxied"] * 2  # type: ignore[typeddict-item]
    assert [r["path"] for r in server.requests] == ["http://gatepost-test.invalid/via?x=1"] * 2
    assert server.requests[0]["headers"]["Host"] == "gatepost-test.invalid"
    assert len(peers(server)) == 1


# ------------------------------------------------------------------------------------------
# Errors never hold keys


def test_errors_never_show_keys(server: Scripted) -> None:
    server.routes["/reset"] = lambda h: h.connection.close()
    bad = action(server.url + "/x")
    bad["headers"].append(["X-Bad", API_KEY + "\r\nInjected: 1"])
    results = asyncio.run(_all([action(server.url + "/reset"), bad]))
    assert [r["type"] for r in results] == ["transport_error"] * 2
    for result in results:
        assert API_KEY not in result["message"]  # type: ignore[typeddict-item]
    assert [r["path"] for r in server.requests] == ["/reset"]  # the bad header never left


async def _all(requests: list[SendRequest]) -> list[Input]:
    return [await perform(r) for r in requests]


def test_a_connection_idle_too_long_is_not_reused(server: Scripted) -> None:
    server.routes["/ok"] = lambda h: reply(h, 200, "ok")

    async def main() -> list[Input]:
        first = await perform(action(server.url + "/ok"))
        pool = _transport_aio._pools[asyncio.get_running_loop()]
        (idle,) = [conn for stack in pool.idle.values() for conn in stack]
        idle.idle_since -= _transport_aio.IDLE_S  # as if it had waited that long
        second = await perform(action(server.url + "/ok"))
        assert idle.transport is not None and idle.transport.is_closing()
        return [first, second]

    assert [r["status"] for r in asyncio.run(main())] == [200, 200]  # type: ignore[typeddict-item]
    assert len(peers(server)) == 2


def test_a_kept_alive_connection_dying_unanswered_is_a_reset_never_resent() -> None:
    """The server reads the second request on a kept-alive connection and closes it without an
    answer: that is the engine's ``reset`` to retry or not; the transport never sends it again."""
    listener = socket.create_server(("127.0.0.1", 0))
    seen: list[bytes] = []
    accepted: list[int] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(1)
            with conn:
                for answer in (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", None):
                    data = b""
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(4096)
                        if not chunk:
                            return
                        data += chunk
                    seen.append(data.split(b" ", 2)[1])
                    if answer is not None:
                        conn.sendall(answer)

    threading.Thread(target=serve, daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"

    async def main() -> list[Input]:
        first = await perform(action(url + "/trigger", method="POST", body="{}"))
        second = await perform(action(url + "/again", method="POST", body="{}"))
        return [first, second]

    try:
        first, second = asyncio.run(main())
    finally:
        listener.close()
    assert first["type"] == "response"
    assert (second["type"], second["kind"]) == ("transport_error", "reset")  # type: ignore[typeddict-item]
    assert "kept-alive" in second["message"]  # type: ignore[typeddict-item]
    assert seen == [b"/trigger", b"/again"]
    assert len(accepted) == 1
