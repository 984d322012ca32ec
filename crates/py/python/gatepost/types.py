"""The shapes of the plain dicts the low-level :class:`gatepost.Engine` takes and returns.

They are the engine's own JSON documents (snake_case, a ``type`` tag), the same in every
language gatepost ships for, so these are ``TypedDict`` declarations rather than classes.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict, Union

__all__ = [
    "Action",
    "Cancel",
    "Done",
    "EnvDefaults",
    "Event",
    "Input",
    "MonitorMatch",
    "QueryMonitor",
    "QueryMonitorGroup",
    "Response",
    "SendRequest",
    "Snapshot",
    "Timeout",
    "TransportError",
    "TransportErrorKind",
    "Wait",
]

#: The engine's resumable state (no keys): pass it to ``Engine.resume`` or ``gatepost.resume``.
Snapshot = dict[str, Any]


class EnvDefaults(TypedDict, total=False):
    """The keys and site an environment provides (``env_defaults``): those set, trimmed."""

    api_key: str
    app_key: str
    site: str


#: Why a request failed below HTTP.
TransportErrorKind = Literal["connect", "timeout", "reset", "tls", "body_too_large", "other"]


class _SendRequestRequired(TypedDict):
    type: Literal["send_request"]
    request_id: int
    method: str
    url: str
    headers: list[list[str]]
    timeout_ms: int
    max_body_bytes: int


class SendRequest(_SendRequestRequired, total=False):
    """Perform this HTTP request: never follow redirects, abort after ``timeout_ms``."""

    body: str


class Wait(TypedDict):
    """Nothing to do until ``until`` (Unix ms) or until the response in flight arrives."""

    type: Literal["wait"]
    until: int
    reason: str


class Done(TypedDict):
    """The evaluation is over; ``outcome`` is the outcome document."""

    type: Literal["done"]
    outcome: dict[str, Any]


#: What ``Engine.poll`` returns.
Action = Union[SendRequest, Wait, Done]


class Response(TypedDict):
    """An HTTP response (redirects included, as they are). ``headers`` are ``[name, value]``."""

    type: Literal["response"]
    request_id: int
    status: int
    headers: list[list[str]]
    body: str


class TransportError(TypedDict):
    """The request failed before a complete response arrived."""

    type: Literal["transport_error"]
    request_id: int
    kind: TransportErrorKind
    message: str


class Timeout(TypedDict):
    """The last ``wait`` ended with nothing else having happened."""

    type: Literal["timeout"]


class Cancel(TypedDict):
    """The user asked to stop; the outcome is ``cancelled`` and the snapshot stays resumable."""

    type: Literal["cancel"]


#: What ``Engine.handle`` takes.
Input = Union[Response, TransportError, Timeout, Cancel]


class _EventRequired(TypedDict):
    type: str
    message: str


class Event(_EventRequired, total=False):
    """A progress event; ``message`` is the log line core rendered for it."""

    evaluation_id: str
    evaluation_url: str | None
    completed: int
    total: int
    phase: str
    attempt: int
    status: int
    error: str
    delay_ms: int
    code: str
    path: str
    request_id: int
    verdict: str
    cause: str


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
