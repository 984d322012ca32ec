"""Gates as code: export, plan and apply preconfigured gates and their rules from a gates file.

The same run as ``gatepost gates`` (core's sans-IO ``GatesRun``), performed with the package's
blocking HTTP transport::

    import gatepost.gates

    report = gatepost.gates.plan(path="gates.json")
    if report["plan"]["changes"]:
        print(gatepost.gates.render(report["plan"]))
        report = gatepost.gates.apply(path="gates.json")
    assert report["ok"], report["error"]

Every function returns the run's report, a dict: ``ok``, ``error`` (what stopped it), ``plan``
(``changes``, each with ``action``, ``service``, ``env``, ``identifier``, ``rule``, ``before``,
``after``, ``reason``; ``unchanged``), ``applied`` (how many changes were carried out, in order),
``export`` (the gates file, for :func:`export`), ``warnings`` and ``requests``. An invalid file
raises :class:`gatepost.ConfigError` with every problem; invalid options raise
:class:`gatepost.OptionsError`. Re-running an interrupted :func:`apply` resumes it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any, Literal, Union

from gatepost._core import GatesRun, OnlineCheck, render_gates_plan
from gatepost._driver import (
    EventHandler,
    _log_event,
    _now_ms,
    connection_options,
    read_config_file,
)

__all__ = ["apply", "export", "plan", "render"]

#: A gates file as text (problems then carry line and column) or as a parsed mapping.
GatesFile = Union[str, Mapping[str, Any]]


def render(plan: Mapping[str, Any], format: Literal["text", "markdown"] = "text") -> str:
    """A report's ``plan`` for people (``text``) or for a pull-request comment (``markdown``)."""
    return render_gates_plan(plan, format)


def _options(
    api_key: str | None,
    app_key: str | None,
    site: str | None,
    api_url: str | None,
    allow_insecure_http: bool,
    max_retries: int | None,
    request_timeout: float | None,
) -> dict[str, Any]:
    return connection_options(
        api_key,
        app_key,
        site,
        api_url,
        allow_insecure_http=allow_insecure_http,
        max_retries=max_retries,
        request_timeout=request_timeout,
    )


def _run(
    options: dict[str, Any], task: dict[str, Any], on_event: EventHandler | None
) -> dict[str, Any]:
    """Drive the run to its report (see :func:`_drive`)."""
    return _drive(GatesRun(options, task, _now_ms()), on_event)


def _drive(run: GatesRun | OnlineCheck, on_event: EventHandler | None) -> dict[str, Any]:
    """Drive a gates run or an online check to its report.

    The host contract of ``Engine``, with the blocking transport. Ctrl-C feeds ``cancel``: the
    report then says ``cancelled`` and what was done so far.
    """
    from gatepost._transport import perform_with_deadline

    handler = on_event if on_event is not None else _log_event
    request: dict[str, Any] | None = None
    try:
        while True:
            action = run.poll(_now_ms())
            for event in run.drain_events():
                handler(event)
            if action["type"] == "send_request":
                request = action
                continue
            if action["type"] == "done":
                report: dict[str, Any] = action["report"]
                return report
            if request is not None:
                result = perform_with_deadline(request, request["timeout_ms"] / 1000)  # type: ignore[arg-type]
                request = None
                run.handle(result, _now_ms())
                continue
            delay = (action["until"] - _now_ms()) / 1000
            if delay > 0:
                time.sleep(delay)
            run.handle({"type": "timeout"}, _now_ms())
    except KeyboardInterrupt:
        run.handle({"type": "cancel"}, _now_ms())
        done = run.poll(_now_ms())
        cancelled: dict[str, Any] = done["report"]
        return cancelled


def _file_task(
    kind: str,
    file: GatesFile | None,
    path: str | os.PathLike[str] | None,
    prune: Mapping[str, str] | None,
) -> dict[str, Any]:
    if (file is None) == (path is None):
        raise TypeError("give the gates file as file= (text or dict) or path=, exactly one")
    source: Any = read_config_file(path, "path") if path is not None else file
    if isinstance(source, Mapping):
        source = dict(source)
    task: dict[str, Any] = {"task": kind, "file": source}
    if prune is not None:
        task["prune"] = dict(prune)
    return task


def plan(
    file: GatesFile | None = None,
    *,
    path: str | os.PathLike[str] | None = None,
    prune: Mapping[str, str] | None = None,
    api_key: str | None = None,
    app_key: str | None = None,
    site: str | None = None,
    api_url: str | None = None,
    allow_insecure_http: bool = False,
    max_retries: int | None = None,
    request_timeout: float | None = None,
    on_event: EventHandler | None = None,
) -> dict[str, Any]:
    """Compare the gates file with what exists; nothing is changed.

    ``prune`` (e.g. ``{"service": "checkout"}``) also plans the deletion of gates absent from the
    file within that scope. Keys and site default to the environment, as for ``evaluate``.
    """
    task = _file_task("plan", file, path, prune)
    options = _options(
        api_key, app_key, site, api_url, allow_insecure_http, max_retries, request_timeout
    )
    return _run(options, task, on_event)


def apply(
    file: GatesFile | None = None,
    *,
    path: str | os.PathLike[str] | None = None,
    prune: Mapping[str, str] | None = None,
    api_key: str | None = None,
    app_key: str | None = None,
    site: str | None = None,
    api_url: str | None = None,
    allow_insecure_http: bool = False,
    max_retries: int | None = None,
    request_timeout: float | None = None,
    on_event: EventHandler | None = None,
) -> dict[str, Any]:
    """Carry out the plan, in order.

    A second apply changes nothing; an interrupted one is resumed by calling it again (the plan is
    computed anew from what exists).
    """
    task = _file_task("apply", file, path, prune)
    options = _options(
        api_key, app_key, site, api_url, allow_insecure_http, max_retries, request_timeout
    )
    return _run(options, task, on_event)


def export(
    *,
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
    on_event: EventHandler | None = None,
) -> dict[str, Any]:
    """Read the gates that exist (those matching the given fields) with their rules.

    The report's ``export`` is the gates file.
    """
    scope = {
        k: v for k, v in {"service": service, "env": env, "identifier": identifier}.items() if v
    }
    task: dict[str, Any] = {"task": "export", "scope": scope or None}
    options = _options(
        api_key, app_key, site, api_url, allow_insecure_http, max_retries, request_timeout
    )
    return _run(options, task, on_event)
