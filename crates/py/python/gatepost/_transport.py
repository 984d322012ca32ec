"""HTTP for the blocking driver (urllib): perform one ``send_request`` and describe the result.

The rules every gatepost host follows (docs/architecture.md, "The driver loop"): never follow
redirects (a 3xx is handed to the engine as it is, so keys never go to another host); abandon the
request after ``timeout_ms``; a body above ``max_body_bytes`` is a ``body_too_large`` error;
decode the body as UTF-8 lossily; pass every response header. Proxy environment variables are
honoured (urllib's ``ProxyHandler``, httpx's ``trust_env``). What a status means is the engine's
business, never this module's.
"""

from __future__ import annotations

import http.client
import queue
import socket
import ssl
import threading
import urllib.error
import urllib.request
from typing import Any

from gatepost.types import Input, SendRequest, TransportError, TransportErrorKind

__all__ = ["describe", "perform", "perform_with_deadline", "transport_error"]

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
        return transport_error(action, _classify(exc, connecting=True), describe(exc))
    with response:
        try:
            declared = response.headers.get("Content-Length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                return transport_error(
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
                    return transport_error(
                        action, "body_too_large", f"the body is above {limit} bytes"
                    )
                chunks.append(chunk)
        except Exception as exc:
            return transport_error(action, _classify(exc, connecting=False), describe(exc))
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
        return transport_error(
            action, "timeout", f"no complete response within {action['timeout_ms']} ms"
        )
