"""HTTP for the asyncio driver: httpx when it is installed, else urllib in a daemon thread.

The same rules as the blocking driver (see ``gatepost._transport``): no redirects, the engine's
timeout on the whole exchange, the body cap, every header, proxy variables honoured
(``trust_env``). Imported only by the asyncio entry points, so ``import gatepost`` stays cheap.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from typing import Any

from gatepost._transport import describe, perform, transport_error
from gatepost.types import Input, SendRequest, TransportErrorKind

__all__ = ["AsyncTransport"]


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
                return transport_error(
                    action, "timeout", f"no complete response within {action['timeout_ms']} ms"
                )
        try:
            return await asyncio.wait_for(self._perform_httpx(action, timeout_s), timeout_s)
        except asyncio.TimeoutError:
            return transport_error(
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
                    return transport_error(
                        action,
                        "body_too_large",
                        f"Content-Length {declared} is above {limit} bytes",
                    )
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > limit:
                        return transport_error(
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
            return transport_error(action, "timeout", describe(exc))
        except httpx.ConnectError as exc:
            kind: TransportErrorKind = "tls" if _caused_by_tls(exc) else "connect"
            return transport_error(action, kind, describe(exc))
        except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError) as exc:
            return transport_error(action, "reset", describe(exc))
        except httpx.HTTPError as exc:
            return transport_error(action, "other", describe(exc))

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
