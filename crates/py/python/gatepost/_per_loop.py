"""One resource per asyncio event loop, created on first use and closed with its loop.

The built-in transport's connection pool (``gatepost._transport_aio``) and the shared httpx client
(``gatepost._transport_async``) both live this way. A resource is closed when its loop shuts down:
an async generator started on a loop is registered with that loop's ``shutdown_asyncgens()``, the
one shutdown step every runner performs (``asyncio.run``, ``asyncio.Runner``, pytest-asyncio,
anyio) while the loop can still run the closing. A loop closed without shutting down
(``loop.close()`` alone) cannot run anything any more: its resource is abandoned (closed as far as
that is possible without the loop) the next time any loop asks, so no number of short-lived loops
adds up to a leak. At interpreter exit, what is left is closed where its loop still allows it.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import threading
from collections.abc import AsyncGenerator, Callable, Iterator, Mapping
from typing import Generic, Protocol, TypeVar

__all__ = ["Closable", "PerLoop"]


class Closable(Protocol):
    async def aclose(self) -> None:
        """Close on the resource's own loop, which can still run."""

    def abandon(self) -> None:
        """Close what can be closed without the loop, which cannot run anything any more."""


R = TypeVar("R", bound=Closable)


class _Entry(Generic[R]):
    __slots__ = ("abandoned", "closer", "resource")

    def __init__(self, resource: R) -> None:
        self.resource = resource
        #: Suspended at its ``yield`` until the loop shuts its async generators down.
        self.closer: AsyncGenerator[None, None] | None = None
        self.abandoned = False


class _Resources(Mapping[asyncio.AbstractEventLoop, R]):
    """A read-only view of the loops that have a resource now, and their resources."""

    def __init__(self, entries: dict[asyncio.AbstractEventLoop, _Entry[R]]) -> None:
        self._entries = entries

    def __getitem__(self, loop: asyncio.AbstractEventLoop) -> R:
        return self._entries[loop].resource

    def __iter__(self) -> Iterator[asyncio.AbstractEventLoop]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)


class PerLoop(Generic[R]):
    """The resource of each event loop that has one; a loop is never kept alive by this table."""

    def __init__(self, create: Callable[[asyncio.AbstractEventLoop], R]) -> None:
        self._create = create
        self._entries: dict[asyncio.AbstractEventLoop, _Entry[R]] = {}
        self._lock = threading.Lock()
        self._atexit_registered = False
        #: The loops that have a resource now, and their resources (for tests and diagnostics).
        self.resources: Mapping[asyncio.AbstractEventLoop, R] = _Resources(self._entries)

    async def get(self) -> R:
        """The running loop's resource, created on first use."""
        loop = asyncio.get_running_loop()
        entry = self._entries.get(loop)
        if entry is not None:
            return entry.resource
        with self._lock:
            closed = [(lp, known) for lp, known in self._entries.items() if lp.is_closed()]
            for lp, _ in closed:
                del self._entries[lp]
            entry = self._entries.get(loop)
            created = entry is None
            if entry is None:
                entry = self._entries[loop] = _Entry(self._create(loop))
            if not self._atexit_registered:
                atexit.register(self.close_at_exit)
                self._atexit_registered = True
        for _, known in closed:
            self._abandon(known)
        if created:
            entry.closer = self._close_at_shutdown(entry)
            # The first step registers the generator with this loop's shutdown, and stops at yield.
            await entry.closer.asend(None)
        return entry.resource

    async def _close_at_shutdown(self, entry: _Entry[R]) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            with self._lock:
                for loop, known in list(self._entries.items()):
                    if known is entry:
                        del self._entries[loop]
            if not entry.abandoned:
                await entry.resource.aclose()

    def _abandon(self, entry: _Entry[R]) -> None:
        """Finish the entry's closing generator without awaiting (its loop cannot run anything)."""
        entry.abandoned = True
        with contextlib.suppress(RuntimeError):
            entry.resource.abandon()
        if entry.closer is not None:
            closing = entry.closer.aclose()
            with contextlib.suppress(StopIteration, RuntimeError):
                closing.send(None)
            closing.close()

    def close_at_exit(self) -> None:
        """At interpreter exit: close what loops that never shut down left, where possible."""
        with self._lock:
            entries = list(self._entries.items())
            self._entries.clear()
        for loop, entry in entries:
            if not loop.is_closed() and not loop.is_running():
                with contextlib.suppress(Exception):
                    loop.run_until_complete(entry.resource.aclose())
            self._abandon(entry)
