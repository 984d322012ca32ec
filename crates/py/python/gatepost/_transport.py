"""HTTP for the drivers: perform one ``send_request`` action and describe what happened as an input.

The rules every gatepost host follows (DESIGN.md, "host driver contract"): never follow
redirects (a 3xx is handed to the engine as it is, so keys never go to another host); abandon the
request after ``timeout_ms``; a body above ``max_body_bytes`` is a ``body_too_large`` error;
decode the body as UTF-8 lossily; pass every response header. Proxy environment variables are
honoured (urllib's ``ProxyHandler``, httpx's ``trust_env``). What a status means is the engine's
business, never this module's.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import queue
import socket
import ssl
import threading
import urllib.error
import urllib.request
from typing import Any

from gatepost.types import Input, SendRequest, TransportError, TransportErrorKind

__all__ = ["AsyncTransport", "perform", "perform_with_deadline"]

_CHUNK = 64 * 1024


class _PassEveryResponse(urllib.request.HTTPErrorProcessor):
    """Hand every status to the caller as a response.

    urllib's default processor turns non-2xx statuses into ``HTTPError`` and sends 3xx to the
    redirect handler, which follows them. Replacing it means no redirect is ever followed: the
    engine sees the 3xx and decides.
    """

    def http_response(
        self, request: urllib.request.Request, response: http.client.HTTPResponse
    ) -> http.client.HTTPResponse:
        """Return the response untouched, whatever its status."""
        return response

    https_response = http_response


def _opener() -> urllib.request.OpenerDirector:
    """An opener that never follows redirects and honours the proxy environment variables.

    ``build_opener`` drops a default handler when a subclass of it is given, so this opener has
    no redirect-following error processor; its ``ProxyHandler`` reads ``HTTPS_PROXY`` /
    ``NO_PROXY``... when built, so one is built per request to see the current environment.
    """
    return urllib.request.build_opener(_PassEveryResponse())


def _transport_error(action: SendRequest, kind: TransportErrorKind, message: str) -> TransportError:
    return {
        "type": "transport_error",
        "request_id": action["request_id"],
        "kind": kind,
        "message": message,
    }


def _describe(exc: BaseException) -> str:
    """``ConnectionRefusedError: [Errno 111] Connection refused``: never holds headers or keys."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _classify(exc: BaseException, *, connecting: bool) -> TransportErrorKind:
    """Map an exception raised while performing a request to the engine's error kinds."""
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
        # urllib wraps what fails while connecting and sending; the cause is in `reason`.
        return _classify(exc.reason, connecting=True)
    if isinstance(exc, (ssl.SSLEOFError, ssl.SSLZeroReturnError)):
        return "reset"
    if isinstance(exc, ssl.SSLError):
        return "tls"
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return "timeout"
    if isinstance(exc, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)):
        return "reset"
    if isinstance(exc, (http.client.IncompleteRead, http.client.HTTPException)):
        return "reset"
    if isinstance(exc, OSError):
        return "connect" if connecting else "reset"
    return "other"


def _headers_of(message: Any) -> list[list[str]]:
    return [[str(name), str(value)] for name, value in message.items()]


def perform(action: SendRequest) -> Input:
    """Perform the request in this thread with urllib and return the input to feed the engine."""
    timeout_s = max(action["timeout_ms"], 1) / 1000
    limit = action["max_body_bytes"]
    body = action.get("body")
    # The URL comes from the engine, which only builds http(s) URLs from a validated base URL.
    request = urllib.request.Request(  # noqa: S310
        action["url"],
        data=body.encode("utf-8") if body is not None else None,
        method=action["method"],
    )
    for name, value in action["headers"]:
        request.add_header(name, value)
    try:
        response = _opener().open(request, timeout=timeout_s)
    except Exception as exc:
        return _transport_error(action, _classify(exc, connecting=True), _describe(exc))
    with response:
        try:
            declared = response.headers.get("Content-Length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                return _transport_error(
                    action, "body_too_large", f"Content-Length {declared} is above {limit} bytes"
                )
            chunks: list[bytes] = []
            size = 0
            while True:
                chunk = response.read(_CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    return _transport_error(
                        action, "body_too_large", f"the body is above {limit} bytes"
                    )
                chunks.append(chunk)
        except Exception as exc:
            return _transport_error(action, _classify(exc, connecting=False), _describe(exc))
        return {
            "type": "response",
            "request_id": action["request_id"],
            "status": int(response.status),
            "headers": _headers_of(response.headers),
            "body": b"".join(chunks).decode("utf-8", errors="replace"),
        }


def perform_with_deadline(action: SendRequest, timeout_s: float) -> Input:
    """Perform the request, giving up after ``timeout_s`` whatever the server does.

    urllib's timeout bounds each socket operation, not the whole exchange: a server that drips
    one byte at a time could outlive it. The request runs in a daemon thread; when the deadline
    passes first it is abandoned (its own socket timeout ends it) and a ``timeout`` error is
    reported, so no request outlives the engine's deadline.
    """
    results: queue.Queue[Input] = queue.Queue(maxsize=1)
    worker = threading.Thread(
        target=lambda: results.put(perform(action)), name="gatepost-request", daemon=True
    )
    worker.start()
    try:
        return results.get(timeout=max(timeout_s, 0.001))
    except queue.Empty:
        return _transport_error(
            action, "timeout", f"no complete response within {action['timeout_ms']} ms"
        )


async def _in_daemon_thread(action: SendRequest) -> Input:
    """Run the blocking urllib request in a daemon thread and await its result.

    Not ``asyncio.to_thread``: the default executor's threads are joined when the event loop
    closes, so an abandoned request to a hung server would hold ``asyncio.run`` open past the
    deadline. A daemon thread is simply left to its own socket timeout.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Input] = loop.create_future()

    def deliver(result: Input) -> None:
        if not future.done():
            future.set_result(result)

    def work() -> None:
        result = perform(action)
        # A closed loop raises RuntimeError: nobody is waiting for this result any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(deliver, result)

    threading.Thread(target=work, name="gatepost-request", daemon=True).start()
    return await future


def _httpx_module() -> Any | None:
    try:
        import httpx
    except ImportError:
        return None
    return httpx


class AsyncTransport:
    """Requests for the asyncio driver: httpx when it is installed, else urllib in a thread."""

    def __init__(self, use_httpx: bool | None = None) -> None:
        """Use httpx if ``use_httpx`` is True, never if False, when installed if None."""
        httpx = _httpx_module() if use_httpx is not False else None
        if use_httpx and httpx is None:
            raise ImportError("httpx is not installed")
        self._httpx = httpx
        self._client: Any | None = None

    @property
    def backend(self) -> str:
        """``httpx`` or ``urllib`` (the latter in a worker thread)."""
        return "httpx" if self._httpx is not None else "urllib"

    async def perform(self, action: SendRequest) -> Input:
        """Perform the request; never takes longer than its ``timeout_ms``."""
        timeout_s = max(action["timeout_ms"], 1) / 1000
        if self._httpx is None:
            try:
                return await asyncio.wait_for(_in_daemon_thread(action), timeout_s)
            except asyncio.TimeoutError:
                return _transport_error(
                    action, "timeout", f"no complete response within {action['timeout_ms']} ms"
                )
        try:
            return await asyncio.wait_for(self._perform_httpx(action, timeout_s), timeout_s)
        except asyncio.TimeoutError:
            return _transport_error(
                action, "timeout", f"no complete response within {action['timeout_ms']} ms"
            )

    async def _perform_httpx(self, action: SendRequest, timeout_s: float) -> Input:
        httpx = self._httpx
        assert httpx is not None  # noqa: S101 - only called when httpx is in use
        if self._client is None:
            self._client = httpx.AsyncClient(follow_redirects=False, trust_env=True)
        limit = action["max_body_bytes"]
        body = action.get("body")
        try:
            async with self._client.stream(
                action["method"],
                action["url"],
                headers=[(name, value) for name, value in action["headers"]],
                content=body.encode("utf-8") if body is not None else None,
                timeout=timeout_s,
                follow_redirects=False,
            ) as response:
                declared = response.headers.get("content-length")
                if declared is not None and declared.isdigit() and int(declared) > limit:
                    return _transport_error(
                        action,
                        "body_too_large",
                        f"Content-Length {declared} is above {limit} bytes",
                    )
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > limit:
                        return _transport_error(
                            action, "body_too_large", f"the body is above {limit} bytes"
                        )
                    chunks.append(chunk)
                return {
                    "type": "response",
                    "request_id": action["request_id"],
                    "status": int(response.status_code),
                    "headers": [[k, v] for k, v in response.headers.multi_items()],
                    "body": b"".join(chunks).decode("utf-8", errors="replace"),
                }
        except httpx.TimeoutException as exc:
            return _transport_error(action, "timeout", _describe(exc))
        except httpx.ConnectError as exc:
            kind: TransportErrorKind = "tls" if _caused_by_tls(exc) else "connect"
            return _transport_error(action, kind, _describe(exc))
        except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError) as exc:
            return _transport_error(action, "reset", _describe(exc))
        except httpx.HTTPError as exc:
            return _transport_error(action, "other", _describe(exc))

    async def aclose(self) -> None:
        """Close the httpx client, if one was opened."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _caused_by_tls(exc: BaseException) -> bool:
    """Httpx reports a certificate failure as a ConnectError caused by an ``ssl.SSLError``."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLError) and not isinstance(
            current, (ssl.SSLEOFError, ssl.SSLZeroReturnError)
        ):
            return True
        if "CERTIFICATE_VERIFY_FAILED" in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False
