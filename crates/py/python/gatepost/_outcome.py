"""Result types: the outcome of an evaluation, a pending evaluation, a validation result."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from gatepost import _core
from gatepost.errors import Problem
from gatepost.types import Cause, Verdict

__all__ = [
    "ApiError",
    "FailedMonitor",
    "Narrative",
    "Outcome",
    "Pending",
    "Rule",
    "RuleFailures",
    "RuleWindow",
    "Validation",
]


@dataclass(frozen=True)
class FailedMonitor:
    """A monitor that failed a rule (``state`` such as ``Alert``; ``url`` to inspect it)."""

    id: str
    name: str | None = None
    state: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Narrative:
    """A faulty deployment detection narrative."""

    id: str
    hostgroup: str | None = None


@dataclass(frozen=True)
class RuleFailures:
    """What made a rule fail, from the API's rule evaluations (fetched once after a failure)."""

    monitors: list[FailedMonitor] = field(default_factory=list)
    faulty_apm_resources: list[str] = field(default_factory=list)
    narratives: list[Narrative] = field(default_factory=list)

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> RuleFailures:
        return cls(
            monitors=[
                FailedMonitor(
                    id=str(m["id"]), name=m.get("name"), state=m.get("state"), url=m.get("url")
                )
                for m in document.get("monitors", [])
            ],
            faulty_apm_resources=[str(r) for r in document.get("faulty_apm_resources", [])],
            narratives=[
                Narrative(id=str(n["id"]), hostgroup=n.get("hostgroup"))
                for n in document.get("narratives", [])
            ],
        )


@dataclass(frozen=True)
class RuleWindow:
    """When a rule watched, and when it was decided.

    ``warmup_s`` then ``duration_s`` seconds from the evaluation's start; ``decided_after_ms``
    when the server said (for a failed rule, the moment it failed).
    """

    duration_s: int
    warmup_s: int = 0
    decided_after_ms: int | None = None

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> RuleWindow:
        decided = document.get("decided_after_ms")
        return cls(
            duration_s=int(document["duration_s"]),
            warmup_s=int(document.get("warmup_s", 0)),
            decided_after_ms=None if decided is None else int(decided),
        )


@dataclass(frozen=True)
class Rule:
    """One rule's result as the server reported it (``status``: pass, fail or in_progress).

    ``failures`` names the failing monitors and faulty resources when the rule failed and the
    API gave the details (None otherwise). ``window`` says when the rule watched and was decided,
    when known (from the rule's inline options or the API's rule evaluations; None otherwise).
    """

    name: str
    status: str
    reason: str | None = None
    dry_run: bool = False
    failures: RuleFailures | None = None
    window: RuleWindow | None = None


@dataclass(frozen=True)
class ApiError:
    """What the server said when it refused a request (``status`` is None for TLS failures)."""

    status: int | None
    details: list[str]


@dataclass(frozen=True)
class Outcome:
    """The result of an evaluation. Returned, never raised.

    The attributes mirror the engine's outcome document (the JSON every gatepost host prints):
    ``verdict`` (``pass``/``fail``), ``cause``, ``exit_code`` (0, 1, or 130 when cancelled),
    ``fail_open`` (the verdict came from the error policy, not the gate), the evaluation and
    rule results. ``snapshot`` is set for a cancelled evaluation: pass it to
    :func:`gatepost.resume` to continue.
    """

    schema_version: int
    verdict: Verdict
    exit_code: int
    cause: Cause
    fail_open: bool
    message: str
    evaluation_id: str | None
    evaluation_url: str | None
    gate_id: str | None
    gate_status: str | None
    dry_run: bool
    rules: list[Rule]
    would_fail: bool
    requests: int
    elapsed_ms: int
    skip_reason: str | None = None
    error: ApiError | None = None
    snapshot: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    _document: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(
        cls, document: Mapping[str, Any], *, snapshot: dict[str, Any] | None = None
    ) -> Outcome:
        """Build an outcome from the engine's document (the ``outcome`` of a ``done`` action)."""
        error = document.get("error")
        return cls(
            schema_version=int(document["schema_version"]),
            verdict=document["verdict"],
            exit_code=int(document["exit_code"]),
            cause=document["cause"],
            fail_open=bool(document["fail_open"]),
            message=str(document["message"]),
            evaluation_id=document.get("evaluation_id"),
            evaluation_url=document.get("evaluation_url"),
            gate_id=document.get("gate_id"),
            gate_status=document.get("gate_status"),
            dry_run=bool(document["dry_run"]),
            rules=[
                Rule(
                    name=r["name"],
                    status=r["status"],
                    reason=r.get("reason"),
                    dry_run=bool(r.get("dry_run", False)),
                    failures=RuleFailures.from_dict(r["failures"]) if r.get("failures") else None,
                    window=RuleWindow.from_dict(r["window"]) if r.get("window") else None,
                )
                for r in document.get("rules", [])
            ],
            would_fail=bool(document["would_fail"]),
            requests=int(document["requests"]),
            elapsed_ms=int(document["elapsed_ms"]),
            skip_reason=document.get("skip_reason"),
            error=ApiError(status=error.get("status"), details=list(error.get("details", [])))
            if error
            else None,
            snapshot=snapshot,
            _document=dict(document),
        )

    @property
    def passed(self) -> bool:
        """True when the deploy may proceed (``verdict == "pass"``)."""
        return self.verdict == "pass"

    def to_dict(self) -> dict[str, Any]:
        """The engine's outcome document as a dict (a copy)."""
        return json.loads(self.to_json())  # type: ignore[no-any-return]

    def to_json(self) -> str:
        """The outcome's JSON, byte for byte what every gatepost host prints."""
        return _core.render(self._document, "json")

    def render(self, format: Literal["text", "markdown"] = "text", *, color: bool = False) -> str:
        """A report for people: ``text`` (logs, terminals) or ``markdown`` (step summaries)."""
        return _core.render(self._document, format, color)


@dataclass(frozen=True)
class Pending:
    """An evaluation that is not finished: returned by :func:`gatepost.start` and :func:`check`.

    Store ``snapshot`` (it holds no keys) and call :func:`gatepost.check` with it at or after
    ``next_check_at_ms`` (Unix-epoch milliseconds).
    """

    snapshot: dict[str, Any] = field(repr=False)
    evaluation_id: str | None
    next_check_at_ms: int

    def seconds_until_next_check(self, now: float | None = None) -> float:
        """Seconds from ``now`` (default: the current time, Unix seconds) to the next check."""
        current = time.time() if now is None else now
        return max(0.0, self.next_check_at_ms / 1000 - current)


@dataclass(frozen=True)
class Validation:
    """The result of :func:`gatepost.validate`: every problem, with its path."""

    valid: bool
    problems: list[Problem]
    warnings: list[Problem]
    configuration: dict[str, Any] | None

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> Validation:
        """Build the result from the engine's document."""
        return cls(
            valid=bool(document["valid"]),
            problems=[Problem.from_dict(p) for p in document.get("problems", [])],
            warnings=[Problem.from_dict(p) for p in document.get("warnings", [])],
            configuration=document.get("configuration"),
        )
