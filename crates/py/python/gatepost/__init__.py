"""gatepost: Datadog Deployment Gates from Python pipelines.

One sans-IO Rust engine (the same in the CLI, Node and the browser) makes every decision; this
package drives it with urllib (blocking) or its own asyncio HTTP/1.1 transport, and returns an
:class:`Outcome`.

Example::

    import sys, gatepost

    outcome = gatepost.evaluate(service="checkout", env="prod", config_path="gate-config.json")
    print(outcome.render("text"))
    sys.exit(outcome.exit_code)

Entry points: :func:`evaluate` / :func:`evaluate_async` (to the verdict), :func:`resume` /
:func:`resume_async` (from a snapshot), :func:`start` / :func:`check` (short-lived runtimes),
:func:`validate` (offline config check; ``online=True`` also searches each monitor query),
:func:`match_monitors` (what a monitor rule's query
selects), :class:`Engine` (bring your own HTTP stack).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal, overload

from gatepost import _core
from gatepost._core import Engine, match_monitors
from gatepost._driver import (
    CancelHandler,
    ConfigSource,
    EventHandler,
    _now_ms,
    cancelled_outcome,
    check,
    evaluate,
    evaluate_async,
    options,
    read_config_file,
    resume,
    resume_async,
    start,
)
from gatepost._outcome import (
    ApiError,
    FailedMonitor,
    Narrative,
    Outcome,
    Pending,
    Rule,
    RuleFailures,
    RuleWindow,
    Validation,
)
from gatepost.errors import (
    ConfigError,
    GatepostError,
    OptionsError,
    Problem,
    SnapshotError,
    UnknownRequestError,
    UsageError,
)

__version__: str = _core.__version__

__all__ = [
    "ApiError",
    "CancelHandler",
    "ConfigError",
    "ConfigSource",
    "Engine",
    "EventHandler",
    "FailedMonitor",
    "GatepostError",
    "Narrative",
    "OptionsError",
    "Outcome",
    "Pending",
    "Problem",
    "Rule",
    "RuleFailures",
    "RuleWindow",
    "SnapshotError",
    "UnknownRequestError",
    "UsageError",
    "Validation",
    "__version__",
    "cancelled_outcome",
    "check",
    "evaluate",
    "evaluate_async",
    "match_monitors",
    "options",
    "outcome_schema",
    "render_online",
    "resume",
    "resume_async",
    "start",
    "validate",
]


@overload
def validate(
    config: str | Mapping[str, Any] | None = None,
    version: str | None = None,
    *,
    config_path: str | os.PathLike[str] | None = None,
    allow_unknown_keys: bool = False,
    online: Literal[False] = False,
) -> Validation: ...


@overload
def validate(
    config: str | Mapping[str, Any] | None = None,
    version: str | None = None,
    *,
    config_path: str | os.PathLike[str] | None = None,
    allow_unknown_keys: bool = False,
    online: Literal[True],
    service: str | None = None,
    env: str | None = None,
    identifier: str | None = None,
    api_key: str | None = None,
    app_key: str | None = None,
    site: str | None = None,
    api_url: str | None = None,
    allow_insecure_http: bool = False,
    max_retries: int | None = None,
    request_timeout: float | None = None,
    timeout: float | None = None,
    on_event: EventHandler | None = None,
) -> dict[str, Any]: ...


def validate(
    config: str | Mapping[str, Any] | None = None,
    version: str | None = None,
    *,
    config_path: str | os.PathLike[str] | None = None,
    allow_unknown_keys: bool = False,
    online: bool = False,
    service: str | None = None,
    env: str | None = None,
    identifier: str | None = None,
    api_key: str | None = None,
    app_key: str | None = None,
    site: str | None = None,
    api_url: str | None = None,
    allow_insecure_http: bool = False,
    max_retries: int | None = None,
    request_timeout: float | None = None,
    timeout: float | None = None,
    on_event: EventHandler | None = None,
) -> Validation | dict[str, Any]:
    """Check a pipeline config offline and return every problem with its path.

    ``config`` is the file's text (problems then carry line and column) or a parsed mapping;
    ``config_path`` reads a file. ``version`` is the version to be deployed (Faulty Deployment
    Detection rules need one). A query that does not parse is a problem here (the server has
    the last word, so :func:`evaluate` only warns). An unknown key is a problem, as the API
    would refuse it, unless ``allow_unknown_keys`` (then a warning, and it would be sent).
    Problems and warnings come in the order they appear in the file.

    ``online=True`` also asks Datadog (``docs/validate-online.md``): each monitor rule's query is
    searched with the monitor search API and the report (a dict) says how many monitors match (0 or
    more than 50 are ``problems``, with the rule's path) and whether one fails the rule now
    (``rules[].would_fail_now``, a warning). The rules come from the config, or, with ``service``
    and ``env`` (and ``identifier``) instead of a config, from that preconfigured gate. Faulty
    Deployment Detection rules are checked for APM data of ``service`` in ``env`` with the spans
    search (``rules[].apm``; none in the last 24 hours is a warning, ``version``'s data is
    reported); a config needs ``service`` and ``env`` for that, else they are skipped. Keys and
    site default to the environment, as for :func:`evaluate`; ``timeout`` (seconds, default 120)
    bounds the whole check. The report's ``error`` is set when the API could not be read. An
    invalid config raises :class:`ConfigError` before any request.
    """
    if online:
        from gatepost.gates import _drive, _options

        src: dict[str, Any]
        if config is None and config_path is None and (service is not None or env is not None):
            src = {"source": "gate", "service": service or "", "env": env or ""}
            if identifier is not None:
                src["identifier"] = identifier
            if version is not None:
                src["version"] = version
        else:
            if identifier is not None:
                raise OptionsError(
                    "invalid options: identifier names a preconfigured gate; a config has none",
                    problems=[
                        Problem("identifier", "identifier names a preconfigured gate, not a config")
                    ],
                )
            src = {
                "source": "config",
                "config": _config_source(config, config_path),
                "version": version,
                "allow_unknown_keys": allow_unknown_keys,
                "service": service,
                "env": env,
            }
        opts = _options(
            api_key, app_key, site, api_url, allow_insecure_http, max_retries, request_timeout
        )
        if timeout is not None:
            opts["timeout"] = timeout
        return _drive(_core.OnlineCheck(opts, src, _now_ms()), on_event)
    return Validation.from_dict(
        _core.validate(_config_source(config, config_path), version, allow_unknown_keys)
    )


def _config_source(
    config: str | Mapping[str, Any] | None, config_path: str | os.PathLike[str] | None
) -> str | dict[str, Any]:
    if (config is None) == (config_path is None):
        raise OptionsError(
            "invalid options: give exactly one of config and config_path",
            problems=[Problem("config", "give exactly one of config and config_path")],
        )
    if config_path is not None:
        return read_config_file(config_path)
    if isinstance(config, Mapping):
        return dict(config)
    return str(config)


def render_online(report: Mapping[str, Any], format: Literal["text", "markdown"] = "text") -> str:
    """A ``validate(online=True)`` report for people (``text``) or a pull-request comment.

    ``markdown`` is for the comment; both come from core's renderers, as in
    ``gatepost validate --online``.
    """
    return _core.render_online_report(report, format)


def outcome_schema() -> dict[str, Any]:
    """The JSON Schema of the outcome document (``Outcome.to_json()``)."""
    return _core.outcome_schema()
