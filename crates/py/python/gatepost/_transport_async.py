"""HTTP for the asyncio driver: gatepost's own asyncio transport, or httpx when asked for.

The default is ``gatepost._transport_aio``: HTTP/1.1 on asyncio with a keep-alive pool per event
loop, whether or not httpx is installed (httpx costs ~2.5 ms of CPU per request, which a fan-out
of a thousand evaluations cannot afford). httpx is used when the caller passes a client
(``client=httpx.AsyncClient(...)``: used as it is, never closed here) or ``use_httpx=True``
(the loop's shared ``httpx.AsyncClient``, formerly the default when httpx was installed). Every
path follows the same rules (see ``gatepost._transport``): no redirects, the engine's timeout on
the whole exchange, the body cap, every header, the proxy core chooses from the environment
(``proxy_for``). Imported only by the asyncio entry points, so ``import gatepost`` stays cheap.

With ``use_httpx=True``, every evaluation on one event loop shares one ``httpx.AsyncClient`` (its
connection pool and the process's one TLS context). It is created on first use and closed when
the loop shuts down (``asyncio.run`` and every runner that calls ``loop.shutdown_asyncgens()``),
or at interpreter exit; the built-in transport's pool has the same lifecycle.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from gatepost._per_loop import PerLoop
from gatepost._transport import transport_error
from gatepost.types import Input, SendRequest

if TYPE_CHECKING:
    import httpx

__all__ = ["AsyncTransport", "shared_client"]


_httpx_found: bool | None = None


def _httpx_installed() -> bool:
    """Whether httpx can be imported; looked up once (a failed import searches the disk)."""
    global _httpx_found
    if _httpx_found is None:
        try:
            import httpx  # noqa: F401
        except ImportError:
            _httpx_found = False
        else:
            _httpx_found = True
    return _httpx_found


# ------------------------------------------------------------------------------------------
# One shared httpx client per event loop.


class _Shared:
    """The client gatepost created for one event loop, and its clients through proxies."""

    __slots__ = ("client", "gate", "proxied")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        from gatepost._transport_httpx import MAX_CONNECTIONS, new_async_client

        self.client = new_async_client()
        #: Clients for requests that go through a proxy, by proxy URL (created on first use).
        self.proxied: dict[str, httpx.AsyncClient] = {}
        #: Admits as many requests as the pool has connections; see ``MAX_CONNECTIONS``.
        self.gate = asyncio.Semaphore(MAX_CONNECTIONS)

    async def aclose(self) -> None:
        for client in [self.client, *self.proxied.values()]:
            await client.aclose()

    def abandon(self) -> None:
        """Nothing closes without the loop: the clients' sockets go with the process."""


#: The shared client of each event loop that has one (``gatepost._per_loop``: closed with its
#: loop, abandoned when its loop is found closed, and at exit).
_registry: PerLoop[_Shared] = PerLoop(_Shared)
_shared = _registry.resources
_close_at_exit = _registry.close_at_exit


async def shared_client() -> httpx.AsyncClient:
    """The running loop's shared ``httpx.AsyncClient``, created on first use."""
    return (await _registry.get()).client


# ------------------------------------------------------------------------------------------


async def _bounded(work: Coroutine[Any, Any, Input], timeout_s: float) -> Input:
    """``await work`` in the current task, cancelled after ``timeout_s`` (asyncio.TimeoutError).

    ``asyncio.timeout`` on 3.11+. Older Pythons get the same from a timer that cancels this
    task, not ``asyncio.wait_for``: before 3.12 ``wait_for`` loses a cancellation of the caller
    that arrives as the work finishes (bpo-42130), and a cancelled ``evaluate_async`` would then
    go on polling, where it must stop with its ``cancelled`` outcome.
    """
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(timeout_s):
            return await work
    task = asyncio.current_task()
    assert task is not None  # noqa: S101 - always awaited from a task
    expired = False

    def expire() -> None:
        nonlocal expired
        expired = True
        task.cancel()

    timer = asyncio.get_running_loop().call_later(timeout_s, expire)
    try:
        return await work
    except asyncio.CancelledError:
        if expired:
            raise asyncio.TimeoutError from None
        raise
    finally:
        timer.cancel()


async def _on_shared_client(action: SendRequest) -> Input:
    """Perform the request on the loop's shared client, once the client's gate admits it."""
    from gatepost._core import proxy_for
    from gatepost._transport_httpx import perform_async

    entry = await _registry.get()
    client = entry.client
    proxy = proxy_for(action["url"], os.environ)
    if proxy is not None:
        from gatepost._transport_httpx import new_async_client

        client = entry.proxied.get(proxy) or entry.proxied.setdefault(
            proxy, new_async_client(proxy)
        )
    async with entry.gate:
        return await perform_async(client, action)


class AsyncTransport:
    """Requests for the asyncio driver: the built-in transport, or httpx when asked for."""

    __slots__ = ("_backend", "_client")

    def __init__(self, use_httpx: bool | None = None, client: Any | None = None) -> None:
        """Use ``client`` (an httpx.AsyncClient) if given, else the loop's own transport.

        ``use_httpx``: True uses the loop's shared httpx client (httpx must be installed); False
        and None (the default) use gatepost's asyncio transport, installed httpx or not.
        """
        if client is not None:
            from gatepost.errors import OptionsError, Problem

            message = None
            if use_httpx is False:
                message = "a client and use_httpx=False exclude each other"
            elif not _httpx_installed():
                message = "a client must be an httpx.AsyncClient, and httpx is not installed"
            if message is not None:
                raise OptionsError(
                    f"invalid options: client: {message}", problems=[Problem("client", message)]
                )
            from gatepost._transport_httpx import check_async_client

            check_async_client(client)
            self._backend = "httpx"
        elif use_httpx:
            if not _httpx_installed():
                raise ImportError("httpx is not installed")
            self._backend = "httpx"
        else:
            self._backend = "asyncio"
        self._client = client

    @property
    def backend(self) -> str:
        """``asyncio`` (gatepost's own transport) or ``httpx``."""
        return self._backend

    async def perform(self, action: SendRequest) -> Input:
        """Perform the request; never takes longer than its ``timeout_ms``."""
        timeout_s = max(action["timeout_ms"], 1) / 1000
        try:
            if self._backend == "asyncio":
                from gatepost._transport_aio import perform

                return await _bounded(perform(action), timeout_s)
            if self._client is not None:
                from gatepost._transport_httpx import perform_async

                return await _bounded(perform_async(self._client, action), timeout_s)
            return await _bounded(_on_shared_client(action), timeout_s)
        except asyncio.TimeoutError:
            return transport_error(
                action, "timeout", f"no complete response within {action['timeout_ms']} ms"
            )
