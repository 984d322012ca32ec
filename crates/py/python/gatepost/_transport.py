"""HTTP for the blocking driver (urllib): perform one ``send_request`` and describe the result.

The rules every gatepost host follows (docs/architecture.md, "The driver loop"): never follow
redirects (a 3xx is handed to the engine as it is, so keys never go to another host); abandon the
request after ``timeout_ms``; a body above ``max_body_bytes`` is a ``body_too_large`` error;
decode the body as UTF-8 lossily; pass every response header. The proxy is core's decision from
the environment (``proxy_for``: the same rules in every host), handed to urllib or httpx
explicitly. What a status means is the engine's business, never this module's.
"""

from __future__ import annotations

import http.client
import os
import queue
import socket
import ssl
import threading
import urllib.error
import urllib.request
from typing import Callable

from gatepost.types import Input, SendRequest, TransportError, TransportErrorKind

__all__ = [
    "Body",
    "describe",
    "perform",
    "perform_with_deadline",
    "shared_ssl_context",
    "transport_error",
]

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


#: Guards the process-wide TLS context and the opener cache below.
_lock = threading.Lock()
_ssl_context: ssl.SSLContext | None = None
#: Openers by the proxy they were built for (see ``_opener``).
_openers: dict[tuple[tuple[str, str], ...], urllib.request.OpenerDirector] = {}
#: More distinct proxy environments than this in one process is unusual: start the cache over.
_MAX_OPENERS = 16


def shared_ssl_context() -> ssl.SSLContext:
    """The one TLS client context of the process, built on first use and shared by every request.

    Building a context loads the whole trust store (milliseconds of CPU and a few hundred KB),
    so it is done once, not per request or per evaluation; ``SSLContext`` is safe to share
    between threads and event loops. It is the system's trust store, as
    ``ssl.create_default_context()`` builds it (``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` are read
    then, once). When the system has no CA certificates at all (python.org builds on macOS) and
    certifi is installed (httpx depends on it), certifi's bundle is loaded instead. For anything
    else (a private CA, client certificates) pass your own ``httpx`` client.
    """
    global _ssl_context
    context = _ssl_context
    if context is not None:
        return context
    with _lock:
        if _ssl_context is None:
            _ssl_context = _build_ssl_context()
        return _ssl_context


def _build_ssl_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    no_system_cas = context.cert_store_stats().get("x509_ca", 0) == 0
    if no_system_cas and not os.environ.get("SSL_CERT_DIR"):
        # A capath (SSL_CERT_DIR) is loaded lazily and always counts 0: only a truly empty
        # store gets certifi.
        try:
            import certifi
        except ImportError:
            return context
        context.load_verify_locations(cafile=certifi.where())
    return context


def _opener(url: str) -> urllib.request.OpenerDirector:
    """An opener that never follows redirects, with the shared TLS context and ``url``'s proxy.

    ``build_opener`` drops a default handler when a subclass of it is given, so this opener has
    no redirect-following error processor. The proxy is core's decision (``proxy_for``, the
    same in every host: ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY``, ``NO_PROXY`` as curl reads
    it, loopback always direct), made from the environment on every request, so a changed
    environment still takes effect. Openers are shared (urllib's own ``urlopen`` shares one
    between threads) and cached by that proxy.
    """
    from gatepost._core import proxy_for

    proxy = proxy_for(url, os.environ)
    key = (("proxy", proxy or ""),)
    opener = _openers.get(key)
    if opener is None:
        # An explicit mapping: urllib then never reads the environment itself.
        proxies = {} if proxy is None else {"http": proxy, "https": proxy}
        opener = urllib.request.build_opener(
            urllib.request.ProxyHandler(proxies),
            urllib.request.HTTPSHandler(context=shared_ssl_context()),
            _PassEveryResponse(),
        )
        with _lock:
            if len(_openers) >= _MAX_OPENERS:
                _openers.clear()
            _openers[key] = opener
    return opener


def transport_error(action: SendRequest, kind: TransportErrorKind, message: str) -> TransportError:
    return {
        "type": "transport_error",
        "request_id": action["request_id"],
        "kind": kind,
        "message": message,
    }


def describe(exc: BaseException) -> str:
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


class Body:
    """A response body collected up to the engine's ``max_body_bytes``, for every backend."""

    __slots__ = ("action", "chunks", "limit", "size")

    def __init__(self, action: SendRequest) -> None:
        """Collect the body of the response to ``action``."""
        self.action = action
        self.limit = action["max_body_bytes"]
        self.size = 0
        self.chunks: list[bytes] = []

    def refuse_declared(self, declared: str | None) -> TransportError | None:
        """The ``body_too_large`` error when ``Content-Length`` already says the body is too big."""
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return transport_error(
                self.action,
                "body_too_large",
                f"Content-Length {declared} is above {self.limit} bytes",
            )
        return None

    def add(self, chunk: bytes) -> TransportError | None:
        """Keep ``chunk``; the ``body_too_large`` error once the body passes the cap."""
        self.size += len(chunk)
        if self.size > self.limit:
            return transport_error(
                self.action, "body_too_large", f"the body is above {self.limit} bytes"
            )
        self.chunks.append(chunk)
        return None

    def response(self, status: int, headers: list[list[str]]) -> Input:
        """The ``response`` input: the status, every header, the body decoded lossily."""
        return {
            "type": "response",
            "request_id": self.action["request_id"],
            "status": status,
            "headers": headers,
            "body": b"".join(self.chunks).decode("utf-8", errors="replace"),
        }


def perform(action: SendRequest) -> Input:
    """Perform the request in this thread with urllib and return the input to feed the engine."""
    timeout_s = max(action["timeout_ms"], 1) / 1000
    body = action.get("body")
    # The URL comes from the engine, which only builds http(s) URLs from a validated base URL.
    request = urllib.request.Request(  # noqa: S310
        action["url"],
        data=body.encode("utf-8") if body is not None else None,
        headers=dict(action["headers"]),
        method=action["method"],
    )
    try:
        response = _opener(action["url"]).open(request, timeout=timeout_s)
    except Exception as exc:
        return transport_error(action, _classify(exc, connecting=True), describe(exc))
    with response:
        collected = Body(action)
        try:
            refused = collected.refuse_declared(response.headers.get("Content-Length"))
            if refused is not None:
                return refused
            while True:
                chunk = response.read(_CHUNK)
                if not chunk:
                    break
                refused = collected.add(chunk)
                if refused is not None:
                    return refused
        except Exception as exc:
            return transport_error(action, _classify(exc, connecting=False), describe(exc))
        headers = [[str(name), str(value)] for name, value in response.headers.items()]
        return collected.response(int(response.status), headers)


def perform_with_deadline(
    action: SendRequest, timeout_s: float, performer: Callable[[SendRequest], Input] = perform
) -> Input:
    """Perform the request with ``performer``, giving up after ``timeout_s`` whatever happens.

    A socket timeout bounds each socket operation, not the whole exchange: a server that drips
    one byte at a time could outlive it. The request runs in a daemon thread; when the deadline
    passes first it is abandoned (its own socket timeout ends it) and a ``timeout`` error is
    reported, so no request outlives the engine's deadline.
    """
    results: queue.SimpleQueue[Input] = queue.SimpleQueue()
    worker = threading.Thread(
        target=lambda: results.put(performer(action)), name="gatepost-request", daemon=True
    )
    worker.start()
    try:
        return results.get(timeout=max(timeout_s, 0.001))
    except queue.Empty:
        return transport_error(
            action, "timeout", f"no complete response within {action['timeout_ms']} ms"
        )
