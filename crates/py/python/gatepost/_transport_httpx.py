"""HTTP through httpx, for both drivers: one request on a client, and what its failures mean.

The rules are the urllib backend's (see ``gatepost._transport``): never follow redirects, the
body cap, every header, the engine's error kinds. The whole-exchange deadline is the caller's
(a daemon thread for the blocking driver, a timeout scope for asyncio). Imported only when httpx
is in use, so ``import gatepost`` never loads httpx.
"""

from __future__ import annotations

import ssl
from typing import Any

import httpx

from gatepost._transport import Body, describe, shared_ssl_context, transport_error
from gatepost.types import Input, SendRequest, TransportErrorKind

__all__ = [
    "MAX_CONNECTIONS",
    "check_async_client",
    "check_sync_client",
    "classify",
    "new_async_client",
    "perform_async",
    "perform_sync",
]

#: Connections of the shared client, and how many of its requests are in flight at once.
#: httpcore's pool does work proportional to (queued requests x connections) on every request,
#: plus a readability probe (a syscall) of every idle connection: with a pool of 100 and a
#: thousand requests queued, most of a fan-out's CPU went there. So the pool is small and the
#: asyncio driver queues requests beyond it itself (a semaphore, within each request's own
#: timeout). Measured with 1,000 concurrent evaluations on 2 busy cores: 10 connections saved
#: CPU but queued the polls seconds past their results; 50 cost twice the CPU; 20 kept both.
MAX_CONNECTIONS = 20


def new_async_client(proxy: str | None = None) -> httpx.AsyncClient:
    """A client gatepost creates (one per event loop and proxy), with the shared TLS context.

    ``proxy`` is core's decision for the request's URL (see ``gatepost._transport``): httpx never
    reads the environment itself (``trust_env=False``).
    """
    limits = httpx.Limits(
        max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS
    )
    if proxy is None:
        return httpx.AsyncClient(
            follow_redirects=False, trust_env=False, verify=shared_ssl_context(), limits=limits
        )
    # A transport of our own: httpx then takes neither proxies nor TLS settings from elsewhere.
    transport = httpx.AsyncHTTPTransport(
        verify=shared_ssl_context(), limits=limits, proxy=httpx.Proxy(proxy)
    )
    return httpx.AsyncClient(follow_redirects=False, trust_env=False, transport=transport)


def _check_client(client: object, expected: type[Any], driver: str) -> None:
    from gatepost.errors import OptionsError, Problem

    if not isinstance(client, expected):
        message = (
            f"{driver} takes an httpx.{expected.__name__}, not {type(client).__module__}."
            f"{type(client).__qualname__}"
        )
        raise OptionsError(
            f"invalid options: client: {message}", problems=[Problem("client", message)]
        )


def check_async_client(client: object) -> None:
    """Raise OptionsError unless ``client`` is an ``httpx.AsyncClient``."""
    _check_client(client, httpx.AsyncClient, "the asyncio driver")


def check_sync_client(client: object) -> None:
    """Raise OptionsError unless ``client`` is an ``httpx.Client``."""
    _check_client(client, httpx.Client, "the blocking driver")


def _arguments(action: SendRequest) -> dict[str, Any]:
    body = action.get("body")
    return {
        "method": action["method"],
        "url": action["url"],
        "headers": action["headers"],
        "content": body.encode("utf-8") if body is not None else None,
        "timeout": max(action["timeout_ms"], 1) / 1000,
        # Also when the caller's own client follows redirects: keys never go to another host.
        "follow_redirects": False,
    }


async def perform_async(client: httpx.AsyncClient, action: SendRequest) -> Input:
    """Perform the request on ``client``; the caller bounds the whole exchange."""
    collected = Body(action)
    try:
        async with client.stream(**_arguments(action)) as response:
            refused = collected.refuse_declared(response.headers.get("content-length"))
            if refused is not None:
                return refused
            async for chunk in response.aiter_bytes():
                refused = collected.add(chunk)
                if refused is not None:
                    return refused
            return collected.response(response.status_code, _headers(response))
    except httpx.HTTPError as exc:
        return transport_error(action, classify(exc), describe(exc))


def perform_sync(client: httpx.Client, action: SendRequest) -> Input:
    """Perform the request on ``client`` in this thread; the caller bounds the whole exchange."""
    collected = Body(action)
    try:
        with client.stream(**_arguments(action)) as response:
            refused = collected.refuse_declared(response.headers.get("content-length"))
            if refused is not None:
                return refused
            for chunk in response.iter_bytes():
                refused = collected.add(chunk)
                if refused is not None:
                    return refused
            return collected.response(response.status_code, _headers(response))
    except httpx.HTTPError as exc:
        return transport_error(action, classify(exc), describe(exc))


def _headers(response: httpx.Response) -> list[list[str]]:
    return [[name, value] for name, value in response.headers.multi_items()]


def classify(exc: httpx.HTTPError) -> TransportErrorKind:
    """The engine's error kind for an httpx failure."""
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        return "tls" if _caused_by_tls(exc) else "connect"
    if isinstance(exc, (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)):
        return "reset"
    return "other"


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
