"""HTTP/1.1 on asyncio for the asyncio driver: a small keep-alive pool per event loop.

The default transport of ``evaluate_async`` and ``resume_async``, with or without httpx
installed. It follows every rule of the other transports (see ``gatepost._transport``): no
redirect is followed (a 3xx goes back to the engine as it is), the engine's ``timeout_ms`` bounds
the whole exchange (the caller's timeout scope: queueing, connecting, sending and reading), a body
above ``max_body_bytes`` is ``body_too_large``, every header the engine gives is sent and every
response header is passed back, the proxy is core's decision (``proxy_for``: HTTPS through a
``CONNECT`` tunnel, plain HTTP in absolute form), TLS uses the process's one context (SNI and
hostname checks on), and failures map to the engine's error kinds as urllib's do. It never sends
a request twice: retrying is the engine's decision, and a kept-alive connection that turns out
dead before any byte of the answer is reported as ``reset``, like any other reset.

Why not httpx: at fan-out scale httpx/httpcore cost ~2.5 ms of CPU per request (a thousand
evaluations took 10 CPU-seconds where the budget is 5); urllib in threads costs a thread per
request and a TLS handshake per request. Here a request costs a few hundred microseconds.

Each event loop has one pool: at most ``MAX_CONNECTIONS`` connections open at once over every
origin and proxy, further requests waiting their turn (within their own timeout). An idle
connection is reused only when it is no older than ``IDLE_S`` since its last answer and the
server has neither closed it nor sent anything unasked; otherwise it is closed and a new one
opened. The pool is created on first use and closed when the loop shuts down (``asyncio.run`` and
every runner that calls ``loop.shutdown_asyncgens()``), or at interpreter exit, exactly as the
shared httpx client is.
"""

from __future__ import annotations

import asyncio
import base64
import os
import ssl
import time
from urllib.parse import unquote, urlsplit

from gatepost._per_loop import PerLoop
from gatepost._transport import Body, _classify, describe, shared_ssl_context, transport_error
from gatepost.types import Input, SendRequest, TransportErrorKind

__all__ = ["IDLE_S", "MAX_CONNECTIONS", "perform"]

#: Connections of one event loop's pool, over every origin and proxy, and so the requests in
#: flight at once; the rest queue. 20 is what kept a burst of 1,000 evaluations on time on 2 cores
#: with the least CPU for httpx and for urllib threads; with this transport it gives 0.9-1.2
#: CPU-s and outcomes at most 0.4 s after their results (bench/RESULTS.md, 5d).
MAX_CONNECTIONS = 20

#: An idle connection older than this is closed instead of reused: below the usual server idle
#: timeouts (5 s in Node, 60 s on cloud load balancers), so a server rarely closes one just as it
#: is reused.
IDLE_S = 4.0

#: A response head (status line and headers) larger than this is refused.
MAX_HEAD_BYTES = 64 * 1024

#: A chunk-size line (with its extensions) longer than this is refused.
_MAX_LINE = 4096


class _Failure(Exception):
    """A failure with the engine's kind and a message that never holds headers or keys."""

    def __init__(self, kind: TransportErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind: TransportErrorKind = kind
        self.message = message


# ------------------------------------------------------------------------------------------
# One connection


class _Connection(asyncio.Protocol):
    """A TCP (or TLS) connection, its received bytes, and whether the peer has closed it."""

    def __init__(self, loop: asyncio.AbstractEventLoop, key: tuple[str, ...]) -> None:
        self.loop = loop
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        #: The peer closed its side, or the connection is lost.
        self.eof = False
        #: Why the connection was lost, when it was an error.
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None
        #: A request is using the connection (bytes arriving otherwise are unasked for).
        self.busy = True
        self.idle_since = 0.0

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport."""
        assert isinstance(transport, asyncio.Transport)  # noqa: S101 - stream transports only
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        """Keep the bytes; an idle connection that receives any is useless, and closed."""
        self.buffer += data
        if not self.busy:
            self.abort()
        self._wake()

    def eof_received(self) -> bool:
        """The peer closed its side: the connection ends (False closes our side too)."""
        self.eof = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        """The connection is gone; a reader waiting for bytes learns it now."""
        self.eof = True
        self.error = exc
        self._wake()

    # ours

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def more(self) -> None:
        """Wait for more bytes; the caller checks ``eof`` first."""
        waiter = self.loop.create_future()
        self.waiter = waiter
        try:
            await waiter
        finally:
            self.waiter = None

    def usable(self, now: float) -> bool:
        """Whether an idle connection may carry a request: open, silent, and not too old."""
        return (
            not self.eof
            and not self.buffer
            and self.transport is not None
            and not self.transport.is_closing()
            and now - self.idle_since < IDLE_S
        )

    def abort(self) -> None:
        """Close at once, dropping anything unsent (a connection in an unknown state)."""
        self.eof = True
        if self.transport is not None:
            self.transport.abort()

    def ended(self, reused: bool, what: str) -> _Failure:
        """The failure for a connection that ended while ``what`` was being read."""
        if self.error is not None:
            return _Failure(_classify(self.error, connecting=False), describe(self.error))
        kept = " (a kept-alive connection)" if reused else ""
        return _Failure("reset", f"the server closed the connection{kept} {what}")

    async def read_head(self, reused: bool, started: bool) -> bytes:
        """The next response head, without its final blank line."""
        buffer = self.buffer
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end >= 0:
                head = bytes(buffer[:end])
                del buffer[: end + 4]
                return head
            if len(buffer) > MAX_HEAD_BYTES:
                raise _Failure("reset", f"the response head is larger than {MAX_HEAD_BYTES} bytes")
            if self.eof:
                what = "mid-head" if started or buffer else "before answering"
                raise self.ended(reused, what)
            await self.more()

    async def read_line(self) -> bytes:
        """The next CRLF-terminated line of a chunked body, without the CRLF."""
        buffer = self.buffer
        while True:
            end = buffer.find(b"\r\n")
            if end >= 0:
                line = bytes(buffer[:end])
                del buffer[: end + 2]
                return line
            if len(buffer) > _MAX_LINE:
                raise _Failure("reset", "a chunk-size line is too long")
            if self.eof:
                raise self.ended(False, "mid-body")
            await self.more()

    async def read_exactly(self, size: int) -> bytes:
        """The next ``size`` bytes."""
        buffer = self.buffer
        while len(buffer) < size:
            if self.eof:
                raise self.ended(False, "mid-body")
            await self.more()
        data = bytes(buffer[:size])
        del buffer[:size]
        return data


# ------------------------------------------------------------------------------------------
# The request on the wire


class _Target:
    """Where a request goes: the origin, the proxy (core's decision), and its pool key."""

    __slots__ = ("absolute", "authorization", "host", "key", "port", "proxy", "scheme")

    def __init__(self, url: str, proxy: str | None) -> None:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise _Failure("other", "the request URL is not valid") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _Failure("other", "the request URL is not an http(s) URL")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = port or (443 if parts.scheme == "https" else 80)
        self.proxy: tuple[str, str, int] | None = None
        #: Proxy-Authorization for a proxy URL with credentials (never shown anywhere).
        self.authorization: str | None = None
        if proxy is not None:
            try:
                via = urlsplit(proxy if "://" in proxy else "http://" + proxy)
                via_port = via.port
            except ValueError:
                raise _Failure("other", "the proxy URL is not valid") from None
            if via.scheme not in ("http", "https") or not via.hostname:
                raise _Failure("other", "the proxy URL is not an http(s) URL")
            self.proxy = (
                via.scheme,
                via.hostname,
                via_port or (443 if via.scheme == "https" else 80),
            )
            if via.username is not None:
                credentials = f"{unquote(via.username)}:{unquote(via.password or '')}"
                self.authorization = "Basic " + base64.b64encode(credentials.encode()).decode()
        #: Plain HTTP through a proxy: the request line names the whole URL.
        self.absolute = self.proxy is not None and self.scheme == "http"
        # The credentials only as a hash: a key may be seen in a debugger or a log.
        secret = str(hash(self.authorization)) if self.authorization is not None else ""
        self.key = (self.scheme, self.host, str(self.port), repr(self.proxy), secret)

    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def _encode(action: SendRequest, target: _Target) -> tuple[bytes, bool]:
    """The request's bytes, and whether it asks the server to close the connection after it."""
    url = action["url"]
    if target.absolute:
        request_target = url.split("#", 1)[0]
    else:
        parts = urlsplit(url)
        request_target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    method = action["method"]
    lines = [f"{method} {request_target} HTTP/1.1"]
    have = set()
    close = False
    for name, value in action["headers"]:
        if any(c in name for c in "\r\n\0:") or any(c in value for c in "\r\n\0"):
            raise _Failure("other", f"the header {name.strip()[:40]!r} is not valid on the wire")
        lowered = name.lower()
        have.add(lowered)
        if lowered == "connection" and "close" in value.lower():
            close = True
        lines.append(f"{name}: {value}")
    if "host" not in have:
        lines.insert(1, f"Host: {target.authority()}")
    body = action.get("body")
    data = body.encode("utf-8") if body is not None else b""
    if "content-length" not in have and (body is not None or method in ("POST", "PUT", "PATCH")):
        lines.append(f"Content-Length: {len(data)}")
    if target.absolute and target.authorization is not None:
        lines.append(f"Proxy-Authorization: {target.authorization}")
    try:
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    except UnicodeEncodeError:
        raise _Failure("other", "a request header is not Latin-1 text") from None
    return head + data, close


def _parse_head(head: bytes) -> tuple[str, int, list[list[str]]]:
    """The HTTP version, status and headers (in order, repeated ones kept) of a response head."""
    lines = head.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit():
        raise _Failure("reset", "the server's answer is not an HTTP/1.x response")
    headers: list[list[str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:
            headers[-1][1] = f"{headers[-1][1]} {line.strip()}"  # obsolete line folding
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise _Failure("reset", "the response has a malformed header line")
        headers.append([name, value.strip()])
    return version, int(code), headers


def _header(headers: list[list[str]], name: str) -> str | None:
    """The last value of a header (``name`` in lower case)."""
    found = None
    for key, value in headers:
        if key.lower() == name:
            found = value
    return found


async def _exchange(
    conn: _Connection, action: SendRequest, target: _Target, reused: bool
) -> tuple[Input, bool]:
    """Send the request on ``conn`` and read the answer: the input, and whether to keep ``conn``."""
    data, close = _encode(action, target)
    assert conn.transport is not None  # noqa: S101 - set when connected
    conn.transport.write(data)
    head = await conn.read_head(reused, started=False)
    version, status, headers = _parse_head(head)
    while 100 <= status < 200 and status != 101:  # interim answers (100 Continue...)
        version, status, headers = _parse_head(await conn.read_head(reused, started=True))
    collected = Body(action)
    declared = _header(headers, "content-length")
    refused = collected.refuse_declared(declared.strip() if declared is not None else None)
    if refused is not None:
        return refused, False
    connection = (_header(headers, "connection") or "").lower()
    keep = version == "HTTP/1.1" and "close" not in connection and not close
    encoding = (_header(headers, "transfer-encoding") or "").lower()
    if action["method"] == "HEAD" or status in (101, 204, 304) or status < 200:
        keep = keep and status != 101
    elif encoding:
        if encoding.rsplit(",", 1)[-1].strip() != "chunked":
            # Any other transfer coding: the body runs to the close.
            failure = await _read_to_close(conn, collected)
            return (failure or collected.response(status, headers)), False
        failure = await _read_chunked(conn, collected)
        if failure is not None:
            return failure, False
    elif declared is not None:
        value = declared.strip()
        if not value.isdigit():
            raise _Failure("reset", "the response's Content-Length is not a number")
        failure = collected.add(await conn.read_exactly(int(value)))
        if failure is not None:
            return failure, False
    else:
        failure = await _read_to_close(conn, collected)
        return (failure or collected.response(status, headers)), False
    return collected.response(status, headers), keep and not conn.eof and not conn.buffer


async def _read_chunked(conn: _Connection, collected: Body) -> Input | None:
    """Read a chunked body into ``collected``: None, or the body_too_large error."""
    while True:
        line = await conn.read_line()
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise _Failure("reset", "the response has a malformed chunk size") from None
        if size < 0:
            raise _Failure("reset", "the response has a malformed chunk size")
        if size == 0:
            while await conn.read_line():  # trailers, up to the blank line
                pass
            return None
        if collected.size + size > collected.limit:
            # Refused before reading a chunk that would pass the cap.
            return transport_error(
                collected.action, "body_too_large", f"the body is above {collected.limit} bytes"
            )
        failure = collected.add(await conn.read_exactly(size))
        if failure is not None:
            return failure
        if await conn.read_exactly(2) != b"\r\n":
            raise _Failure("reset", "the response has a malformed chunk")


async def _read_to_close(conn: _Connection, collected: Body) -> Input | None:
    """Read a body that ends when the server closes the connection."""
    buffer = conn.buffer
    while True:
        if buffer:
            failure = collected.add(bytes(buffer))
            buffer.clear()
            if failure is not None:
                return failure
        if conn.eof:
            if conn.error is not None:
                raise conn.ended(False, "mid-body")
            return None
        await conn.more()


# ------------------------------------------------------------------------------------------
# Opening a connection (directly, through a proxy, through a CONNECT tunnel)


async def _open(loop: asyncio.AbstractEventLoop, target: _Target) -> _Connection:
    conn = _Connection(loop, target.key)
    tls = shared_ssl_context() if target.scheme == "https" else None
    if target.proxy is None:
        await loop.create_connection(
            lambda: conn,
            target.host,
            target.port,
            ssl=tls,
            server_hostname=target.host if tls else None,
        )
        return conn
    via_scheme, via_host, via_port = target.proxy
    via_tls = shared_ssl_context() if via_scheme == "https" else None
    await loop.create_connection(
        lambda: conn, via_host, via_port, ssl=via_tls, server_hostname=via_host if via_tls else None
    )
    if tls is None:
        return conn
    try:
        await _tunnel(conn, target, tls)
    except BaseException:
        conn.abort()
        raise
    return conn


async def _tunnel(conn: _Connection, target: _Target, tls: ssl.SSLContext) -> None:
    """Ask the proxy for a tunnel to the origin, then speak TLS to the origin through it."""
    authority = (
        f"[{target.host}]:{target.port}" if ":" in target.host else f"{target.host}:{target.port}"
    )
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
    if target.authorization is not None:
        lines.append(f"Proxy-Authorization: {target.authorization}")
    assert conn.transport is not None  # noqa: S101 - set when connected
    conn.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    try:
        _, status, _ = _parse_head(await conn.read_head(False, started=False))
    except _Failure as failure:
        raise _Failure("connect", f"the proxy's answer to CONNECT: {failure.message}") from None
    if not 200 <= status < 300:
        raise _Failure("connect", f"the proxy refused the tunnel: status {status}")
    if conn.buffer:
        raise _Failure("connect", "the proxy sent bytes after its answer to CONNECT")
    transport = await conn.loop.start_tls(conn.transport, conn, tls, server_hostname=target.host)
    if transport is None:
        raise _Failure("reset", "the proxy closed the tunnel")
    conn.transport = transport


# ------------------------------------------------------------------------------------------
# One pool per event loop


class _Pool:
    """The connections of one event loop: idle ones by target, and the admission gate."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.idle: dict[tuple[str, ...], list[_Connection]] = {}
        #: Every open connection, idle or carrying a request.
        self.open: set[_Connection] = set()
        #: Connections being opened (not in ``open`` yet), counted against the cap too.
        self.opening = 0
        #: The timer that closes connections idle for longer than IDLE_S, while any are idle.
        self.reaper: asyncio.TimerHandle | None = None
        #: Admits as many requests as the pool may have connections.
        self.gate = asyncio.Semaphore(MAX_CONNECTIONS)
        self.closed = False

    def take(self, key: tuple[str, ...]) -> _Connection | None:
        """The most recently used idle connection to ``key`` still fit for a request."""
        stack = self.idle.get(key)
        if not stack:
            return None
        now = time.monotonic()
        while stack:
            conn = stack.pop()
            if conn.usable(now):
                conn.busy = True
                return conn
            self.drop(conn)
        return None

    def make_room(self) -> None:
        """Close the longest-idle connection when a new one would pass ``MAX_CONNECTIONS``."""
        while len(self.open) + self.opening >= MAX_CONNECTIONS:
            oldest: _Connection | None = None
            for stack in self.idle.values():
                if stack and (oldest is None or stack[0].idle_since < oldest.idle_since):
                    oldest = stack[0]
            if oldest is None:
                return
            self.idle[oldest.key].remove(oldest)
            self.drop(oldest)

    def give_back(self, conn: _Connection) -> None:
        """Keep ``conn`` for the next request to its target (closed if the pool is)."""
        if self.closed:
            self.drop(conn, graceful=True)
            return
        conn.busy = False
        conn.idle_since = time.monotonic()
        self.idle.setdefault(conn.key, []).append(conn)
        if self.reaper is None:
            self.reaper = self.loop.call_later(IDLE_S, self.reap)

    def reap(self) -> None:
        """Close the connections idle for IDLE_S or more, so that none stays open for nothing."""
        self.reaper = None
        now = time.monotonic()
        for key, stack in list(self.idle.items()):
            fit = [conn for conn in stack if conn.usable(now)]
            for conn in stack:
                if conn not in fit:
                    self.drop(conn)
            if fit:
                self.idle[key] = fit
            else:
                del self.idle[key]
        if self.idle and not self.closed:
            oldest = min(stack[0].idle_since for stack in self.idle.values())
            self.reaper = self.loop.call_later(max(oldest + IDLE_S - now, 0.05), self.reap)

    def drop(self, conn: _Connection, graceful: bool = False) -> None:
        self.open.discard(conn)
        if graceful and conn.transport is not None:
            conn.busy = True
            conn.transport.close()
        else:
            conn.abort()

    def close_all(self) -> None:
        self.closed = True
        if self.reaper is not None:
            self.reaper.cancel()
            self.reaper = None
        for stack in self.idle.values():
            for conn in stack:
                self.drop(conn, graceful=True)
        self.idle.clear()

    async def aclose(self) -> None:
        """Close every connection on the loop, which can still run their closing."""
        self.close_all()
        await asyncio.sleep(0)

    def abandon(self) -> None:
        """The loop cannot run anything: close what closes without it."""
        self.close_all()


#: The pool of each event loop that has one (``gatepost._per_loop``: closed with its loop).
_registry: PerLoop[_Pool] = PerLoop(_Pool)
_pools = _registry.resources
_close_at_exit = _registry.close_at_exit


# ------------------------------------------------------------------------------------------


async def perform(action: SendRequest) -> Input:
    """Perform one request on the loop's pool; the caller bounds the whole exchange."""
    from gatepost._core import proxy_for

    try:
        target = _Target(action["url"], proxy_for(action["url"], os.environ))
    except _Failure as failure:
        return transport_error(action, failure.kind, failure.message)
    pool = await _registry.get()
    async with pool.gate:
        conn = pool.take(target.key)
        reused = conn is not None
        if conn is None:
            pool.make_room()
            pool.opening += 1
            try:
                conn = await _open(pool.loop, target)
            except _Failure as failure:
                return transport_error(action, failure.kind, failure.message)
            except Exception as exc:
                return transport_error(action, _classify(exc, connecting=True), describe(exc))
            finally:
                pool.opening -= 1
            pool.open.add(conn)
        keep = False
        try:
            result, keep = await _exchange(conn, action, target, reused)
            return result
        except _Failure as failure:
            return transport_error(action, failure.kind, failure.message)
        except Exception as exc:
            return transport_error(action, _classify(exc, connecting=False), describe(exc))
        finally:
            # Kept only after a complete, clean exchange; on any failure, timeout or
            # cancellation the connection's state is unknown and it is closed.
            if keep:
                pool.give_back(conn)
            else:
                pool.drop(conn)
