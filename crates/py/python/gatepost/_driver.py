"""The drivers: the loops that perform HTTP and sleep on the engine's behalf.

They follow the host contract and nothing more: poll until ``wait`` or ``done``, perform the
request the engine asked for, feed back what happened, sleep until the engine's ``until`` and
feed ``timeout``. Every decision (retry, backoff, fail-open, what a status means) is the engine's.
Time is Unix-epoch milliseconds so a snapshot means the same in any process or language.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Callable, Literal, Union

from gatepost._core import Engine, env_defaults
from gatepost._outcome import Outcome, Pending
from gatepost.errors import OptionsError, Problem
from gatepost.types import (
    Done,
    Event,
    GateOptions,
    Input,
    OutcomeDocument,
    SendRequest,
    Snapshot,
    Wait,
)

if TYPE_CHECKING:
    import httpx
    from typing_extensions import Unpack

    from gatepost._transport_async import AsyncTransport

#: A config file larger than this is refused: far above any real one, and a mistaken path such
#: as ``/dev/zero`` must fail with a clear error instead of reading until memory runs out.
MAX_CONFIG_FILE_BYTES = 16 << 20


def read_config_file(path: str | os.PathLike[str], option: str = "config_path") -> str:
    """The text of the config file at ``path``, refused if it is larger than 16 MiB.

    A file that cannot be read (missing, a directory, no permission) or is not UTF-8 raises
    :class:`OptionsError` naming the option (``config_path``) and the path, as every other bad
    option does.
    """

    def refuse(why: str) -> OptionsError:
        message = f"{os.fspath(path)!s}: {why}"
        return OptionsError(
            f"invalid options: {option}: {message}", problems=[Problem(option, message)]
        )

    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_CONFIG_FILE_BYTES + 1)
    except OSError as exc:
        raise refuse(exc.strerror or type(exc).__name__) from exc
    if len(data) > MAX_CONFIG_FILE_BYTES:
        raise refuse(f"larger than {MAX_CONFIG_FILE_BYTES >> 20} MiB: is it the right file?")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise refuse(f"not UTF-8 text (byte {exc.start})") from exc


# asyncio, logging and the HTTP stacks are imported where they are first needed, so that
# `import gatepost` stays cheap for short-lived steps (see the README's numbers).

__all__ = [
    "CancelHandler",
    "EventHandler",
    "cancelled_outcome",
    "check",
    "evaluate",
    "evaluate_async",
    "options",
    "resume",
    "resume_async",
    "start",
]

#: Called with every event the engine queues (``started``, ``progress``, ``retrying``, ...).
EventHandler = Callable[[Event], object]

#: Called with the ``cancelled`` outcome (its ``snapshot`` resumes it) when a task is cancelled.
CancelHandler = Callable[[Outcome], object]

#: Where the cancelled outcome rides on the ``CancelledError`` it leaves with.
_OUTCOME_ATTRIBUTE = "_gatepost_outcome"

#: Config as the file's text (errors then carry line and column) or as a parsed mapping.
ConfigSource = Union[str, Mapping[str, Any]]

#: Seeds stay below 2**53 so they survive a JavaScript number when a snapshot moves to Node.
_SEED_BOUND = 2**53


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


_logger: Any = None


def _log_event(event: Event) -> None:
    """The default event handler: core's log line on the ``gatepost`` logger."""
    global _logger
    logger = _logger
    if logger is None:
        import logging

        logger = _logger = logging.getLogger("gatepost")
    level = 30 if event.get("type") == "warning" else 20  # logging.WARNING, logging.INFO
    if logger.isEnabledFor(level):
        logger.log(level, "%s", event.get("message", ""))


def _random_seed() -> int:
    """A jitter seed below 2**53: 56 random bits mod 2**53 (uniform: 2**53 divides 2**56)."""
    return int.from_bytes(os.urandom(7), "big") % _SEED_BOUND


def _from_env(
    api_key: str | None, app_key: str | None, site: str | None, api_url: str | None
) -> tuple[str | None, str | None, str | None]:
    """The keys and site, each from the environment unless given (the site only without api_url).

    The environment is read by core's rules, shared with every host (``env_defaults``): trimmed,
    empty and white-space-only values skipped, ``DATADOG_*`` before ``DD_*``. A variable that is
    set but not valid UTF-8 raises :class:`OptionsError` naming it, its value not shown.
    """
    want_site = site is None and api_url is None
    if api_key is not None and app_key is not None and not want_site:
        return api_key, app_key, site
    found = env_defaults(os.environ)
    return (
        api_key if api_key is not None else found.get("api_key"),
        app_key if app_key is not None else found.get("app_key"),
        found.get("site") if want_site else site,
    )


class _Options(dict[str, Any]):
    """Engine options: a plain dict whose repr and str never show the keys."""

    _SECRET = frozenset({"api_key", "app_key"})

    def __repr__(self) -> str:
        """The options with the keys redacted."""
        shown = {k: ("<redacted>" if k in self._SECRET else v) for k, v in self.items()}
        return repr(shown)

    __str__ = __repr__


#: Every keyword of :class:`GateOptions`, and those it requires.
_GATE_KEYS = GateOptions.__required_keys__ | GateOptions.__optional_keys__


def _check_keywords(function: str, gate: Mapping[str, Any]) -> None:
    """Refuse what Python would for an explicit signature: unknown and missing keywords."""
    for key in gate:
        if key not in _GATE_KEYS:
            raise TypeError(f"{function}() got an unexpected keyword argument {key!r}")
    missing = sorted(GateOptions.__required_keys__ - gate.keys())
    if missing:
        names = " and ".join(repr(name) for name in missing)
        raise TypeError(f"{function}() missing required keyword argument: {names}")


def options(**gate: Unpack[GateOptions]) -> dict[str, Any]:
    """The engine options for these arguments, with the defaults the CLI uses.

    The arguments are those of :class:`gatepost.types.GateOptions`.

    Keys default to ``DATADOG_API_KEY``/``DD_API_KEY`` and
    ``DATADOG_APP_KEY``/``DD_APP_KEY``/``DD_APPLICATION_KEY``, the site to
    ``DATADOG_SITE``/``DD_SITE`` (unless ``api_url`` is given), trimmed, by core's rules; the
    jitter seed to a random number below 2**53. Durations are seconds. The result is a dict
    holding the keys (its repr redacts them): hand it to :class:`gatepost.Engine`.
    """
    _check_keywords("options", gate)
    config = gate.get("config")
    config_path = gate.get("config_path")
    if config is not None and config_path is not None:
        raise OptionsError(
            "invalid options: config and config_path exclude each other",
            problems=[Problem("config_path", "config and config_path exclude each other")],
        )
    if config_path is not None:
        config = read_config_file(config_path)
    values: dict[str, Any] = {
        "service": gate["service"],
        "env": gate["env"],
        "config": dict(config) if isinstance(config, Mapping) else config,
        "version": gate.get("version"),
        "identifier": gate.get("identifier"),
        "primary_tag": gate.get("primary_tag"),
        "timeout": gate.get("timeout"),
        "poll_interval": gate.get("poll_interval"),
        "trigger_budget": gate.get("trigger_budget"),
        "fail_on_error": gate.get("fail_on_error", False),
        "allow_unknown_keys": gate.get("allow_unknown_keys", False),
        "monitors_query_variable": gate.get("monitors_query_variable"),
    }
    values.update(
        connection_options(
            gate.get("api_key"),
            gate.get("app_key"),
            gate.get("site"),
            gate.get("api_url"),
            allow_insecure_http=gate.get("allow_insecure_http", False),
            request_timeout=gate.get("request_timeout"),
            seed=gate.get("seed"),
        )
    )
    return _Options((k, v) for k, v in values.items() if v is not None)


def connection_options(
    api_key: str | None,
    app_key: str | None,
    site: str | None,
    api_url: str | None,
    *,
    allow_insecure_http: bool = False,
    max_retries: int | None = None,
    request_timeout: float | None = None,
    seed: int | None = None,
) -> dict[str, Any]:
    """The options every run against the API takes, in one place for every entry point.

    Evaluations (:func:`options`), gates as code (``gatepost.gates``) and
    ``validate(online=True)`` all build their keys, site, API URL, plain-HTTP permission, request
    timeout, retries and jitter seed here: keys and site from the environment unless given (core's
    rules, see :func:`_from_env`), a random seed below 2**53 unless given. Values that are None
    are left out (the engine's defaults apply). The result's repr redacts the keys.
    """
    api_key, app_key, site = _from_env(api_key, app_key, site, api_url)
    values: dict[str, Any] = {
        "api_key": api_key,
        "app_key": app_key,
        "site": site,
        "api_url": api_url,
        "allow_insecure_http": allow_insecure_http,
        "max_retries": max_retries,
        "request_timeout": request_timeout,
        "seed": _random_seed() if seed is None else seed,
    }
    return _Options((k, v) for k, v in values.items() if v is not None)


def _keys(api_key: str | None, app_key: str | None) -> tuple[str | None, str | None]:
    key, app, _ = _from_env(api_key, app_key, None, "")
    return key, app


class _Session:
    """One engine, its event handler, and the poll-until-settled step every driver shares."""

    def __init__(self, engine: Engine, on_event: EventHandler | None) -> None:
        self.engine = engine
        self.on_event: EventHandler = on_event if on_event is not None else _log_event

    def settle(self) -> tuple[SendRequest | None, Wait | Done]:
        """Poll until ``wait`` or ``done``: the request to perform (if any) and that last action."""
        request: SendRequest | None = None
        while True:
            action = self.engine.poll(_now_ms())
            if action["type"] == "send_request":
                request = action
                continue
            self.emit()
            return request, action

    def emit(self) -> None:
        for event in self.engine.drain_events():
            self.on_event(event)

    def feed(self, item: Any) -> None:
        self.engine.handle(item, _now_ms())

    def finish(self, document: OutcomeDocument) -> Outcome:
        snapshot = self.engine.snapshot() if document.get("cause") == "cancelled" else None
        return Outcome.from_dict(document, snapshot=snapshot)

    def pending(self, until: int) -> Pending:
        return Pending(
            snapshot=self.engine.snapshot(),
            evaluation_id=self.engine.evaluation_id,
            next_check_at_ms=until,
        )

    def cancel(self) -> Outcome:
        """Feed ``cancel`` and return the cancelled outcome (with its resumable snapshot)."""
        self.feed({"type": "cancel"})
        _, action = self.settle()
        if action["type"] != "done":
            # The engine ends at once on cancel (a corpus scenario pins it); anything else is a
            # bug in the engine, not something a driver may paper over.
            raise RuntimeError(f"the engine did not finish on cancel: {action['type']}")
        return self.finish(action["outcome"])


_Mode = Literal["finish", "start", "check"]


def _sync_performer(client: Any | None) -> Callable[[SendRequest], Input]:
    """How the blocking driver performs a request: on ``client`` (an httpx.Client), else urllib."""
    from gatepost._transport import perform

    if client is None:
        return perform
    try:
        from gatepost._transport_httpx import check_sync_client, perform_sync
    except ImportError:
        message = "a client must be an httpx.Client, and httpx is not installed"
        raise OptionsError(
            f"invalid options: client: {message}", problems=[Problem("client", message)]
        ) from None
    check_sync_client(client)
    return functools.partial(perform_sync, client)


def _run_sync(
    session: _Session, mode: _Mode, performer: Callable[[SendRequest], Input]
) -> Outcome | Pending:
    """The blocking driver. Ctrl-C (KeyboardInterrupt) cancels: the outcome is ``cancelled``."""
    from gatepost._transport import perform_with_deadline

    try:
        while True:
            request, action = session.settle()
            if action["type"] == "done":
                return session.finish(action["outcome"])
            if request is not None:
                result = perform_with_deadline(request, request["timeout_ms"] / 1000, performer)
                session.feed(result)
                continue
            until = action["until"]
            if mode == "start" and session.engine.evaluation_id is not None:
                return session.pending(until)
            if mode == "check" and until > _now_ms():
                return session.pending(until)
            delay = (until - _now_ms()) / 1000
            if delay > 0:
                time.sleep(delay)
            session.feed({"type": "timeout"})
    except KeyboardInterrupt:
        return session.cancel()


async def _run_async(
    session: _Session, transport: AsyncTransport, on_cancel: CancelHandler | None
) -> Outcome:
    """The asyncio driver.

    ``task.cancel()`` feeds ``cancel`` to the engine, hands the ``cancelled`` outcome (with its
    snapshot) to ``on_cancel`` and attaches it to the ``CancelledError``, which is then re-raised
    as it is: a subclass would break ``asyncio.timeout()`` on Python 3.11 (it converts only the
    exact ``CancelledError`` into ``TimeoutError``), and task groups count on the original.
    """
    import asyncio

    try:
        while True:
            request, action = session.settle()
            if action["type"] == "done":
                return session.finish(action["outcome"])
            if request is not None:
                session.feed(await transport.perform(request))
                continue
            delay = (action["until"] - _now_ms()) / 1000
            if delay > 0:
                await asyncio.sleep(delay)
            session.feed({"type": "timeout"})
    except asyncio.CancelledError as exc:
        outcome = session.cancel()
        setattr(exc, _OUTCOME_ATTRIBUTE, outcome)
        if on_cancel is not None:
            on_cancel(outcome)
        raise


def cancelled_outcome(error: BaseException) -> Outcome | None:
    """The ``cancelled`` outcome a cancelled :func:`evaluate_async` left on its CancelledError.

    For code that catches the cancellation::

        try:
            outcome = await gatepost.evaluate_async(...)
        except asyncio.CancelledError as exc:
            cancelled = gatepost.cancelled_outcome(exc)   # .snapshot resumes it
            ...
            raise

    Under ``asyncio.timeout()`` (or ``asyncio.wait_for``) the exception caught is a
    ``TimeoutError`` raised from the CancelledError: the outcome is found on its ``__cause__``
    (or ``__context__``) too. None for any other exception.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        outcome = getattr(current, _OUTCOME_ATTRIBUTE, None)
        if isinstance(outcome, Outcome):
            return outcome
        current = current.__cause__ or current.__context__
    return None


def _async_transport(use_httpx: bool | None, client: Any | None) -> AsyncTransport:
    from gatepost._transport_async import AsyncTransport

    return AsyncTransport(use_httpx, client)


def _expect_outcome(result: Outcome | Pending) -> Outcome:
    assert isinstance(result, Outcome)  # noqa: S101 - mode "finish" never returns Pending
    return result


def evaluate(
    *,
    on_event: EventHandler | None = None,
    client: httpx.Client | None = None,
    **gate: Unpack[GateOptions],
) -> Outcome:
    """Evaluate a Deployment Gate and wait for the verdict (blocking).

    The gate and how to evaluate it are the keyword arguments of
    :class:`gatepost.types.GateOptions` (``service`` and ``env`` required), the same as
    :func:`options`, :func:`evaluate_async` and :func:`start` take.

    Returns the :class:`Outcome`; a failing gate is an outcome, not an exception
    (``sys.exit(outcome.exit_code)`` ends a pipeline step the way the CLI does). Raises
    :class:`ConfigError` / :class:`OptionsError` with every problem before anything is sent.
    Durations are seconds (``timeout=600``). ``on_event`` receives progress events; by default
    they are logged on the ``gatepost`` logger. Ctrl-C cancels: the outcome is then ``cancelled``
    (exit code 130) and ``outcome.snapshot`` resumes it with :func:`resume`.

    Requests go through urllib with the process's one TLS context, or through ``client``, an
    ``httpx.Client`` of yours (proxies, client certificates, a private CA, connection reuse);
    gatepost never closes a client it did not create. Safe to call from many threads at once.
    """
    _check_keywords("evaluate", gate)
    opts = options(**gate)
    performer = _sync_performer(client)
    session = _Session(Engine(opts, _now_ms()), on_event)
    return _expect_outcome(_run_sync(session, "finish", performer))


async def evaluate_async(
    *,
    on_event: EventHandler | None = None,
    on_cancel: CancelHandler | None = None,
    use_httpx: bool | None = None,
    client: httpx.AsyncClient | None = None,
    **gate: Unpack[GateOptions],
) -> Outcome:
    """Evaluate a Deployment Gate without blocking the event loop.

    The same arguments and outcome as :func:`evaluate`. Requests go through gatepost's own
    HTTP/1.1 transport on asyncio, whether or not httpx is installed: every evaluation on the
    event loop shares one pool of at most 20 kept-alive connections, created on first use and
    closed when the loop shuts down. ``client`` passes your own ``httpx.AsyncClient`` instead
    (gatepost never closes it); ``use_httpx=True`` uses one shared ``httpx.AsyncClient`` per event
    loop (httpx must be installed); ``use_httpx=False`` or None is the built-in transport.
    Cancelling the task stops the evaluation cleanly:
    ``on_cancel`` receives the ``cancelled`` outcome, whose ``snapshot`` resumes it with
    :func:`resume_async`, and the ``CancelledError`` propagates unchanged (the outcome is also
    on it: :func:`cancelled_outcome`).
    """
    _check_keywords("evaluate_async", gate)
    opts = options(**gate)
    transport = _async_transport(use_httpx, client)
    session = _Session(Engine(opts, _now_ms()), on_event)
    return await _run_async(session, transport, on_cancel)


def _resumed(
    snapshot: Snapshot | str,
    options: Mapping[str, Any] | None,
    api_key: str | None,
    app_key: str | None,
) -> Engine:
    """The engine for a snapshot.

    Bound to ``options`` when given (the engine decides whether the snapshot belongs to that
    request), else trusting the request the snapshot records.
    """
    if options is not None:
        return Engine.resume_for(snapshot, options, _now_ms())
    key, app = _keys(api_key, app_key)
    return Engine.resume(snapshot, key, app, _now_ms())


def resume(
    snapshot: Snapshot | str,
    *,
    options: Mapping[str, Any] | None = None,
    api_key: str | None = None,
    app_key: str | None = None,
    on_event: EventHandler | None = None,
    client: httpx.Client | None = None,
) -> Outcome:
    """Continue an evaluation from a snapshot (taken in any process or language) to its verdict.

    Pass ``options`` (from :func:`gatepost.options`, with the same arguments as the run that took
    the snapshot) when the snapshot comes from a file or a store: the engine then resumes it only
    if it belongs to that request, with those options' timeout and fail-on-error, and otherwise
    starts a new evaluation (a ``snapshot_not_resumed`` warning event says why). Without
    ``options`` the snapshot's own request is used, re-checked as a fresh run's would be.
    Snapshots hold no keys: they come from ``options``, or default to the same environment
    variables as :func:`evaluate`. The trigger is never sent again once the evaluation has an id.
    ``client`` as in :func:`evaluate`.
    """
    performer = _sync_performer(client)
    session = _Session(_resumed(snapshot, options, api_key, app_key), on_event)
    return _expect_outcome(_run_sync(session, "finish", performer))


async def resume_async(
    snapshot: Snapshot | str,
    *,
    options: Mapping[str, Any] | None = None,
    api_key: str | None = None,
    app_key: str | None = None,
    on_event: EventHandler | None = None,
    on_cancel: CancelHandler | None = None,
    use_httpx: bool | None = None,
    client: httpx.AsyncClient | None = None,
) -> Outcome:
    """:func:`resume` for asyncio; the client and cancelling work as in :func:`evaluate_async`."""
    transport = _async_transport(use_httpx, client)
    session = _Session(_resumed(snapshot, options, api_key, app_key), on_event)
    return await _run_async(session, transport, on_cancel)


def start(
    *,
    on_event: EventHandler | None = None,
    client: httpx.Client | None = None,
    **gate: Unpack[GateOptions],
) -> Outcome | Pending:
    """Trigger an evaluation and return as soon as the server has accepted it.

    The same gate arguments as :func:`evaluate` (:class:`gatepost.types.GateOptions`).

    For short-lived runtimes (serverless steps, scheduled functions): returns a :class:`Pending`
    (its ``snapshot``, ``evaluation_id`` and ``next_check_at_ms``) once the evaluation has an id,
    or the :class:`Outcome` if it ended first (refused, API unavailable). Trigger retries within
    the trigger budget happen here, so this can block for up to that budget (60 s by default).
    Continue with :func:`check`. ``client`` as in :func:`evaluate`.
    """
    _check_keywords("start", gate)
    opts = options(**gate)
    performer = _sync_performer(client)
    return _run_sync(_Session(Engine(opts, _now_ms()), on_event), "start", performer)


def check(
    snapshot: Snapshot | str,
    *,
    options: Mapping[str, Any] | None = None,
    api_key: str | None = None,
    app_key: str | None = None,
    on_event: EventHandler | None = None,
    client: httpx.Client | None = None,
) -> Outcome | Pending:
    """Resume a pending evaluation, send what is due now, and return without sleeping.

    Returns the :class:`Outcome` when the evaluation is over, else a new :class:`Pending` to
    store and check again at its ``next_check_at_ms``. Calling early is harmless: nothing is
    sent before it is due. ``options`` binds the snapshot to a request as in :func:`resume`;
    ``client`` as in :func:`evaluate`.
    """
    performer = _sync_performer(client)
    session = _Session(_resumed(snapshot, options, api_key, app_key), on_event)
    return _run_sync(session, "check", performer)
