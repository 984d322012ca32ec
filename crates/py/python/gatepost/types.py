"""The shapes of the plain dicts the low-level :class:`gatepost.Engine` takes and returns.

They are the engine's own JSON documents (snake_case, a ``type`` tag), the same in every
language gatepost ships for, so these are ``TypedDict`` declarations rather than classes.

The engine's documents (actions, inputs, events, the outcome and validation documents, and their
literals) are generated from the JSON Schemas in ``schemas/`` into :mod:`gatepost._schema_types`
by ``crates/py/scripts/gen_types.py`` and re-exported here; the few shapes below have no schema.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, TypedDict

from gatepost._schema_types import (
    Action,
    ApiErrorDocument,
    Cancel,
    Cause,
    DebugEvent,
    Done,
    Event,
    FailedMonitorDocument,
    FinishedEvent,
    IgnoredEvent,
    Input,
    NarrativeDocument,
    OutcomeDocument,
    Phase,
    ProblemDocument,
    ProgressEvent,
    Response,
    RetryingEvent,
    RuleFailuresDocument,
    RuleResultDocument,
    RuleWindowDocument,
    SendRequest,
    StartedEvent,
    Timeout,
    TransportError,
    TransportErrorKind,
    ValidationDocument,
    Verdict,
    Wait,
    WaitReason,
    WarningEvent,
)

__all__ = [
    "Action",
    "ApiErrorDocument",
    "Cancel",
    "Cause",
    "DebugEvent",
    "Done",
    "EnvDefaults",
    "Event",
    "FailedMonitorDocument",
    "FinishedEvent",
    "GateOptions",
    "IgnoredEvent",
    "Input",
    "MonitorMatch",
    "NarrativeDocument",
    "OutcomeDocument",
    "Phase",
    "ProblemDocument",
    "ProgressEvent",
    "QueryMonitor",
    "QueryMonitorGroup",
    "Response",
    "RetryingEvent",
    "RuleFailuresDocument",
    "RuleResultDocument",
    "RuleWindowDocument",
    "SendRequest",
    "Snapshot",
    "StartedEvent",
    "Timeout",
    "TransportError",
    "TransportErrorKind",
    "ValidationDocument",
    "Verdict",
    "Wait",
    "WaitReason",
    "WarningEvent",
]

#: The engine's resumable state (no keys): pass it to ``Engine.resume`` or ``gatepost.resume``.
Snapshot = dict[str, Any]


class EnvDefaults(TypedDict, total=False):
    """The keys and site an environment provides (``env_defaults``): those set, trimmed."""

    api_key: str
    app_key: str
    site: str


class _GateOptionsRequired(TypedDict):
    #: The service, as in the gate's scope.
    service: str
    #: The environment, as in the gate's scope.
    env: str


class GateOptions(_GateOptionsRequired, total=False):
    """The keyword arguments that say which gate to evaluate and how.

    One list for :func:`gatepost.options`, :func:`gatepost.evaluate`,
    :func:`gatepost.evaluate_async` and :func:`gatepost.start` (each also takes its own driver
    arguments, such as ``on_event``).
    Only ``service`` and ``env`` are required; None means "not given". Durations are seconds.
    """

    #: Inline (JIT) rules: the config file's text (problems then carry line and column) or a
    #: parsed mapping. Without a config, the gate is preconfigured server-side.
    config: str | Mapping[str, Any] | None
    #: Read ``config`` from this file (not both).
    config_path: str | os.PathLike[str] | None
    #: The version being deployed (faulty deployment detection rules need one).
    version: str | None
    #: The gate's identifier; the server uses ``default`` when it is absent.
    identifier: str | None
    #: One APM primary tag value (``region:us-east-1``) to scope FDD rules to.
    primary_tag: str | None
    #: Seconds before the evaluation gives up (fail-open unless ``fail_on_error``).
    timeout: float | None
    #: Seconds between polls of the result.
    poll_interval: float | None
    #: Seconds before one request is abandoned.
    request_timeout: float | None
    #: Seconds of trigger retries before the API counts as unavailable.
    trigger_budget: float | None
    #: Fail instead of passing when the API is unavailable or the timeout is reached (default
    #: False).
    fail_on_error: bool
    #: Unknown config keys warn and are sent as they are instead of failing (default False).
    allow_unknown_keys: bool
    #: Default: ``DATADOG_API_KEY`` / ``DD_API_KEY``, by core's rules.
    api_key: str | None
    #: Default: ``DATADOG_APP_KEY`` / ``DD_APP_KEY`` / ``DD_APPLICATION_KEY``, by core's rules.
    app_key: str | None
    #: The Datadog site; default ``DATADOG_SITE`` / ``DD_SITE`` unless ``api_url`` is given.
    site: str | None
    #: The API's base URL instead of a site (an emulator, a proxy).
    api_url: str | None
    #: Allow ``http://`` to a host that is not loopback (default False).
    allow_insecure_http: bool
    #: The jitter generator's seed; default a random number below 2**53.
    seed: int | None
    #: datadog-ci's hidden ``--monitors-query-variable``.
    monitors_query_variable: str | None


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
