"""The shapes of the plain dicts the low-level :class:`gatepost.Engine` takes and returns.

They are the engine's own JSON documents (snake_case, a ``type`` tag), the same in every
language gatepost ships for, so these are ``TypedDict`` declarations rather than classes.

The engine's documents (actions, inputs, events, the outcome and validation documents, and their
literals) are generated from the JSON Schemas in ``schemas/`` into :mod:`gatepost._schema_types`
by ``crates/py/scripts/gen_types.py`` and re-exported here; the few shapes below have no schema.
"""

from __future__ import annotations

from typing import Any, TypedDict

from gatepost._schema_types import (
    Action,
    ApiErrorDocument,
    Cancel,
    Cause,
    Done,
    Event,
    FailedMonitorDocument,
    Input,
    NarrativeDocument,
    OutcomeDocument,
    Phase,
    ProblemDocument,
    Response,
    RuleFailuresDocument,
    RuleResultDocument,
    RuleWindowDocument,
    SendRequest,
    Timeout,
    TransportError,
    TransportErrorKind,
    ValidationDocument,
    Verdict,
    Wait,
    WaitReason,
)

__all__ = [
    "Action",
    "ApiErrorDocument",
    "Cancel",
    "Cause",
    "Done",
    "EnvDefaults",
    "Event",
    "FailedMonitorDocument",
    "Input",
    "MonitorMatch",
    "NarrativeDocument",
    "OutcomeDocument",
    "Phase",
    "ProblemDocument",
    "QueryMonitor",
    "QueryMonitorGroup",
    "Response",
    "RuleFailuresDocument",
    "RuleResultDocument",
    "RuleWindowDocument",
    "SendRequest",
    "Snapshot",
    "Timeout",
    "TransportError",
    "TransportErrorKind",
    "ValidationDocument",
    "Verdict",
    "Wait",
    "WaitReason",
]

#: The engine's resumable state (no keys): pass it to ``Engine.resume`` or ``gatepost.resume``.
Snapshot = dict[str, Any]


class EnvDefaults(TypedDict, total=False):
    """The keys and site an environment provides (``env_defaults``): those set, trimmed."""

    api_key: str
    app_key: str
    site: str


class _QueryMonitorGroupRequired(TypedDict):
    name: str


class QueryMonitorGroup(_QueryMonitorGroupRequired, total=False):
    """One group of a monitor: ``k:v`` or ``k:v,k2:v2``; ``status`` defaults to ``OK``."""

    status: str


class _QueryMonitorRequired(TypedDict):
    id: int


class QueryMonitor(_QueryMonitorRequired, total=False):
    """A monitor for :func:`gatepost.match_monitors`; only ``id`` is required."""

    name: str
    message: str
    type: str
    tags: list[str]
    scope: list[str]
    groups: list[QueryMonitorGroup]
    status: str
    muted: bool
    creator: str


class MonitorMatch(TypedDict):
    """A selected monitor and the groups evaluated (``[]``: the monitor as a whole)."""

    id: int
    groups: list[str]
