"""gatepost's exceptions: one base class, one subclass per engine error code.

Exceptions are for misuse (invalid options or config, a bad input to the low-level engine, a
snapshot that cannot be read). What the server does is never an exception: it ends in an
:class:`gatepost.Outcome`. No message here ever contains an API or application key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ConfigError",
    "GatepostError",
    "OptionsError",
    "Problem",
    "SnapshotError",
    "UnknownRequestError",
    "UsageError",
]


@dataclass(frozen=True)
class Problem:
    """One problem in options or a config file.

    ``path`` is a JSON path into what the user wrote (``rules[1].options.duration``, or ``""``
    for the document itself); ``line`` and ``column`` (1-based) are set when the config was text.
    """

    path: str
    message: str
    hint: str | None = None
    line: int | None = None
    column: int | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Problem:
        """Build a problem from the engine's JSON shape."""
        return cls(
            path=str(data.get("path", "")),
            message=str(data.get("message", "")),
            hint=data.get("hint"),
            line=data.get("line"),
            column=data.get("column"),
        )

    def __str__(self) -> str:
        """``rules[1].options.duration (line 7, column 20): 9000 is above ...; hint``."""
        where = self.path or "(document)"
        if self.line is not None and self.column is not None:
            where += f" (line {self.line}, column {self.column})"
        elif self.line is not None:
            where += f" (line {self.line})"
        text = f"{where}: {self.message}"
        if self.hint:
            text += f"; {self.hint}"
        return text


class GatepostError(Exception):
    """Base of every gatepost exception.

    ``code`` is the engine's stable error code (``invalid_config``, ``invalid_options``,
    ``invalid_input``, ``unknown_request``, ``invalid_snapshot``); ``problems`` lists every
    problem found (empty when the error is not about options or config).
    """

    code: str = "error"

    def __init__(
        self, message: str, *, code: str | None = None, problems: Iterable[Problem] = ()
    ) -> None:
        """Create the error; ``code`` defaults to the class's own code."""
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.problems: list[Problem] = list(problems)

    def __str__(self) -> str:
        """The message, then one line per problem."""
        lines = [self.message]
        lines.extend(f"  - {p}" for p in self.problems)
        return "\n".join(lines)


class ConfigError(GatepostError, ValueError):
    """The pipeline config file is invalid; ``problems`` names each problem with its path."""

    code = "invalid_config"


class OptionsError(GatepostError, ValueError):
    """The options are invalid (missing service, unknown option, bad site or URL...)."""

    code = "invalid_options"


class UsageError(GatepostError, ValueError):
    """The low-level engine was used wrongly (a bad input or ``now``); its state is unchanged."""

    code = "invalid_input"


class UnknownRequestError(UsageError):
    """A response or transport error names a request id the engine never issued."""

    code = "unknown_request"


class SnapshotError(GatepostError, ValueError):
    """A snapshot could not be read (corrupt, or from an incompatible version)."""

    code = "invalid_snapshot"


_BY_CODE: dict[str, type[GatepostError]] = {
    cls.code: cls
    for cls in (ConfigError, OptionsError, UsageError, UnknownRequestError, SnapshotError)
}


def _from_native(code: str, message: str, problems: list[dict[str, Any]]) -> GatepostError:
    """Build the exception for an engine error (called by ``gatepost._core``)."""
    cls = _BY_CODE.get(code, GatepostError)
    return cls(message, code=code, problems=[Problem.from_dict(p) for p in problems])
