"""``gatepost.Cancelled``, in its own module so that ``import gatepost`` does not load asyncio."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gatepost._outcome import Outcome

__all__ = ["Cancelled"]


class Cancelled(asyncio.CancelledError):
    """An ``evaluate_async`` task was cancelled; the evaluation stopped cleanly.

    It is an :class:`asyncio.CancelledError`, so cancellation propagates as asyncio expects.
    ``outcome`` is the engine's ``cancelled`` outcome (exit code 130) and ``snapshot`` the state
    to pass to :func:`gatepost.resume` (it holds no keys); ``evaluation_id`` is set once the
    server had accepted the evaluation.
    """

    def __init__(self, outcome: Outcome) -> None:
        """Wrap the cancelled outcome."""
        super().__init__(outcome.message)
        self.outcome = outcome

    @property
    def snapshot(self) -> dict[str, Any] | None:
        """The resumable state (no keys)."""
        return self.outcome.snapshot

    @property
    def evaluation_id(self) -> str | None:
        """The server's evaluation id, if the trigger had succeeded."""
        return self.outcome.evaluation_id
