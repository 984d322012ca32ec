"""gatepost: Datadog Deployment Gates from Python pipelines.

One sans-IO Rust engine (the same in the CLI, Node and the browser) makes every decision; this
package drives it with urllib (blocking) or httpx/asyncio, and returns an :class:`Outcome`.

Example::

    import sys, gatepost

    outcome = gatepost.evaluate(service="checkout", env="prod", config_path="gate-config.json")
    print(outcome.render("text"))
    sys.exit(outcome.exit_code)

Entry points: :func:`evaluate` / :func:`evaluate_async` (to the verdict), :func:`resume` /
:func:`resume_async` (from a snapshot), :func:`start` / :func:`check` (short-lived runtimes),
:func:`validate` (offline config check), :func:`match_monitors` (what a monitor rule's query
selects), :class:`Engine` (bring your own HTTP stack).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from gatepost import _core
from gatepost._core import Engine, match_monitors
from gatepost._driver import (
    CancelHandler,
    ConfigSource,
    EventHandler,
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
    "resume",
    "resume_async",
    "start",
    "validate",
]


def validate(
    config: str | Mapping[str, Any] | None = None,
    version: str | None = None,
    *,
    config_path: str | os.PathLike[str] | None = None,
    allow_unknown_keys: bool = False,
) -> Validation:
    """Check a pipeline config offline and return every problem with its path.

    ``config`` is the file's text (problems then carry line and column) or a parsed mapping;
    ``config_path`` reads a file. ``version`` is the version to be deployed (Faulty Deployment
    Detection rules need one). A query that does not parse is a problem here (the server has
    the last word, so :func:`evaluate` only warns). An unknown key is a problem, as the API
    would refuse it, unless ``allow_unknown_keys`` (then a warning, and it would be sent).
    Problems and warnings come in the order they appear in the file.
    """
    if (config is None) == (config_path is None):
        raise OptionsError(
            "invalid options: give exactly one of config and config_path",
            problems=[Problem("config", "give exactly one of config and config_path")],
        )
    source: str | dict[str, Any]
    if config_path is not None:
        source = read_config_file(config_path)
    elif isinstance(config, Mapping):
        source = dict(config)
    else:
        source = str(config)
    return Validation.from_dict(_core.validate(source, version, allow_unknown_keys))


def outcome_schema() -> dict[str, Any]:
    """The JSON Schema of the outcome document (``Outcome.to_json()``)."""
    return _core.outcome_schema()
