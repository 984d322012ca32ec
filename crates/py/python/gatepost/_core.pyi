"""The native engine (Rust, pyo3). Use it through :mod:`gatepost`."""

from collections.abc import Mapping, Sequence
from typing import Any, Literal, final

from gatepost.types import (
    Action,
    EnvDefaults,
    Event,
    Input,
    MonitorMatch,
    QueryMonitor,
    Snapshot,
    ValidationDocument,
)

__all__ = [
    "Engine",
    "GatesRun",
    "OnlineCheck",
    "__version__",
    "env_defaults",
    "match_monitors",
    "outcome_schema",
    "proxy_for",
    "render",
    "render_gates_plan",
    "render_online_report",
    "validate",
]

__version__: str

@final
class Engine:
    """The sans-IO Deployment Gates engine: hand it what happened, ask it what to do next.

    Call ``poll(now)`` until it returns ``wait`` or ``done``; perform each ``send_request``
    (no redirects, abort after ``timeout_ms``, cap the body at ``max_body_bytes``) and feed the
    ``response`` or ``transport_error`` to ``handle``; when a wait ends with nothing else having
    happened feed ``{"type": "timeout"}``. ``now`` is Unix-epoch ms, an int or a float (default:
    the current time).
    """

    def __new__(cls, options: Mapping[str, Any], now: float | None = None) -> Engine: ...
    @staticmethod
    def attach(
        evaluation_id: str, options: Mapping[str, Any], now: float | None = None
    ) -> Engine: ...
    @staticmethod
    def resume(
        snapshot: Snapshot | str,
        api_key: str | None = None,
        app_key: str | None = None,
        now: float | None = None,
    ) -> Engine: ...
    @staticmethod
    def resume_for(
        snapshot: Snapshot | str,
        options: Mapping[str, Any],
        now: float | None = None,
    ) -> Engine: ...
    @property
    def resumed(self) -> bool: ...
    def handle(self, input: Input, now: float | None = None) -> None: ...
    def poll(self, now: float | None = None) -> Action: ...
    def drain_events(self) -> list[Event]: ...
    def snapshot(self) -> Snapshot: ...
    @property
    def evaluation_id(self) -> str | None: ...

@final
class GatesRun:
    """A gates-as-code run (export, plan or apply), driven like :class:`Engine`."""

    def __new__(
        cls, options: Mapping[str, Any], task: Mapping[str, Any], now: float | None = None
    ) -> GatesRun: ...
    def handle(self, input: Input, now: float | None = None) -> None: ...
    def poll(self, now: float | None = None) -> dict[str, Any]: ...
    def drain_events(self) -> list[Event]: ...

@final
class OnlineCheck:
    """A ``validate(online=True)`` check, driven like :class:`Engine`."""

    def __new__(
        cls, options: Mapping[str, Any], source: Mapping[str, Any], now: float | None = None
    ) -> OnlineCheck: ...
    def handle(self, input: Input, now: float | None = None) -> None: ...
    def poll(self, now: float | None = None) -> dict[str, Any]: ...
    def drain_events(self) -> list[Event]: ...

def render_gates_plan(plan: Mapping[str, Any], format: Literal["text", "markdown"]) -> str: ...
def render_online_report(report: Mapping[str, Any], format: Literal["text", "markdown"]) -> str: ...
def validate(
    config: str | Mapping[str, Any], version: str | None = None, allow_unknown_keys: bool = False
) -> ValidationDocument: ...
def render(
    outcome: Mapping[str, Any],
    format: Literal["text", "markdown", "json"] = "text",
    color: bool = False,
) -> str: ...
def outcome_schema() -> dict[str, Any]: ...
def match_monitors(
    query: str, monitors: Sequence[QueryMonitor | Mapping[str, Any]]
) -> list[MonitorMatch]: ...
def env_defaults(environ: Mapping[str, str]) -> EnvDefaults: ...
def proxy_for(url: str, environ: Mapping[str, str]) -> str | None: ...
