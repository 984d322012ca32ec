"""The conformance corpus through the Python binding.

Applies exactly the rules of ``tests/scenarios/README.md`` (the same as the Rust runner,
``crates/core/tests/corpus.rs``): every scenario must give the same actions, events and errors
here as in Rust, and the keys may appear only in ``send_request`` headers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gatepost
import pytest

CORPUS = Path(__file__).resolve().parents[3] / "tests" / "scenarios"


def _scenarios() -> list[Any]:
    index = json.loads((CORPUS / "index.json").read_text(encoding="utf-8"))
    found = []
    for file in index["files"]:
        topic = json.loads((CORPUS / file).read_text(encoding="utf-8"))
        for scenario in topic["scenarios"]:
            found.append(pytest.param(scenario, id=f"{file[:-5]}/{scenario['name']}"))
    return found


class Mismatch(AssertionError):
    pass


def matches(expected: Any, actual: Any, path: str) -> None:
    """Partial match (rule 7): listed keys only, arrays one to one, JSON inside strings."""
    if isinstance(expected, (dict, list)) and isinstance(actual, str):
        try:
            parsed = json.loads(actual)
        except ValueError:
            raise Mismatch(
                f"{path}: expected JSON {expected!r}, got the string {actual!r}"
            ) from None
        matches(expected, parsed, path)
        return
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key, value in expected.items():
            sub = f"{path}.{key}"
            if key in actual:
                matches(value, actual[key], sub)
            elif value is not None:
                raise Mismatch(f"{sub}: missing (expected {value!r})")
        return
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            raise Mismatch(
                f"{path}: expected {len(expected)} elements, got {len(actual)}: {actual!r}"
            )
        for i, (want, got) in enumerate(zip(expected, actual)):
            matches(want, got, f"{path}[{i}]")
        return
    numbers = (int, float)
    if (
        isinstance(expected, numbers)
        and isinstance(actual, numbers)
        and not isinstance(expected, bool)
        and not isinstance(actual, bool)
    ):
        if float(expected) == float(actual):
            return
    elif type(expected) is type(actual) and expected == actual:
        return
    raise Mismatch(f"{path}: expected {expected!r}, got {actual!r}")


def assert_no_keys(what: str, value: Any, keys: list[str]) -> None:
    """Rule 8: the keys may appear only in ``send_request.headers``."""
    if isinstance(value, dict) and value.get("type") == "send_request":
        value = {k: v for k, v in value.items() if k != "headers"}
    text = json.dumps(value) if not isinstance(value, str) else value
    for key in keys:
        if key and key in text:
            raise Mismatch(f"a key leaked into {what}")


def error_document(error: gatepost.GatepostError) -> dict[str, Any]:
    """The exception as the engine's error JSON (``code``, ``message``, ``problems``)."""
    document: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.problems:
        document["problems"] = [
            {k: v for k, v in vars(p).items() if v is not None} for p in error.problems
        ]
    return document


def run_scenario(scenario: dict[str, Any]) -> None:
    options = scenario.get("options") or {}
    keys = [options[k] for k in ("api_key", "app_key") if isinstance(options.get(k), str)]
    steps = scenario.get("steps") or []
    now = int(steps[0].get("now", 0)) if steps else 0
    built: gatepost.Engine | None = None
    failure: gatepost.GatepostError | None = None
    try:
        if "attach" in scenario:
            built = gatepost.Engine.attach(scenario["attach"], options, now)
        else:
            built = gatepost.Engine(options, now)
    except gatepost.GatepostError as e:
        failure = e
    if "expect_error" in scenario:
        if failure is None:
            raise Mismatch(f"expected error {scenario['expect_error']!r}, construction succeeded")
        actual = error_document(failure)
        assert_no_keys("the error", actual, keys)
        assert_no_keys("the exception text", f"{failure!s} {failure!r}", keys)
        matches(scenario["expect_error"], actual, "error")
        return
    if failure is not None:
        raise Mismatch(f"construction failed: {failure}")
    assert built is not None
    engine = built
    for i, step in enumerate(steps):
        at = f"step {i}"
        if "now" in step:
            now = int(step["now"])
        if step.get("snapshot_resume") is True:
            snapshot = engine.snapshot()
            assert_no_keys("the snapshot", snapshot, keys)
            engine = gatepost.Engine.resume(
                json.dumps(snapshot), options.get("api_key"), options.get("app_key"), now
            )
        if "input" in step:
            try:
                engine.handle(step["input"], now)
            except gatepost.GatepostError as e:
                if "expect_error" not in step:
                    raise Mismatch(f"{at}: input refused: {e}") from None
                assert_no_keys(f"{at} error", f"{e!s} {e!r}", keys)
                matches(step["expect_error"], error_document(e), f"{at}.error")
            else:
                if "expect_error" in step:
                    raise Mismatch(f"{at}: expected error {step['expect_error']!r}, input accepted")
        actions = []
        while True:
            action = engine.poll(now)
            actions.append(action)
            if action["type"] != "send_request":
                break
            if len(actions) > 100:
                raise Mismatch(f"{at}: poll never returned wait or done")
        events = engine.drain_events()
        for n, action in enumerate(actions):
            assert_no_keys(f"{at} action {n}", action, keys)
        assert_no_keys(f"{at} events", events, keys)
        assert_no_keys(f"{at} engine repr", repr(engine), keys)
        if "expect" in step:
            try:
                matches(step["expect"], actions, f"{at}.actions")
            except Mismatch as e:
                raise Mismatch(f"{e}\n  actions: {json.dumps(actions)}") from None
        if "events" in step:
            try:
                matches(step["events"], events, f"{at}.events")
            except Mismatch as e:
                raise Mismatch(f"{e}\n  events: {json.dumps(events)}") from None


SCENARIOS = _scenarios()


def test_corpus_is_not_empty() -> None:
    assert len(SCENARIOS) > 0


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario(scenario: dict[str, Any]) -> None:
    run_scenario(scenario)
