"""The drivers' loops against a scripted API on loopback: verdicts, faults, timeout, cancel/resume,
start/check, and keys never leaking. (The emulator tests in test_e2e.py do the same against a
faithful server; these pin the driver behaviour with exact server answers.)
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import gatepost
import pytest
from conftest import (
    API_KEY,
    APP_KEY,
    EVALUATION_ID,
    GATE_RULES_PATH,
    RESULT_PATH,
    SOON,
    FakeApi,
    result_body,
)
from gatepost.types import Event


def gate(api: FakeApi, **extra: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "service": "checkout",
        "env": "prod",
        "api_url": api.url,
        "api_key": API_KEY,
        "app_key": APP_KEY,
        "poll_interval": 1,
        "seed": 7,
    }
    options.update(extra)
    return options


def assert_no_keys(*things: Any) -> None:
    for thing in things:
        text = thing if isinstance(thing, str) else f"{thing!r} {json.dumps(thing, default=str)}"
        assert API_KEY not in text
        assert APP_KEY not in text


def test_evaluate_pass(api: FakeApi) -> None:
    api.results = [(200, result_body("pass"))]
    outcome = gatepost.evaluate(**gate(api))
    assert (outcome.verdict, outcome.cause, outcome.exit_code) == ("pass", "gate_passed", 0)
    assert outcome.passed
    assert outcome.evaluation_id == EVALUATION_ID
    assert [r.name for r in outcome.rules] == ["checkout monitors"]
    assert api.count("POST") == 1
    assert outcome.to_dict()["verdict"] == "pass"
    assert_no_keys(outcome, outcome.to_json(), outcome.render("text"), outcome.render("markdown"))


def test_evaluate_fail_reports_rule_reasons(api: FakeApi) -> None:
    rules = [
        {"name": "monitors", "status": "fail", "reason": "monitor 42 in ALERT", "dry_run": False}
    ]
    api.results = [(200, result_body("fail", rules))]
    outcome = gatepost.evaluate(**gate(api))
    assert (outcome.verdict, outcome.cause, outcome.exit_code) == ("fail", "gate_failed", 1)
    assert outcome.rules[0].reason == "monitor 42 in ALERT"
    assert not outcome.fail_open


@pytest.mark.parametrize("use_httpx", [True, False], ids=["httpx", "builtin"])
def test_evaluate_async(api: FakeApi, use_httpx: bool) -> None:
    api.results = [(200, result_body("in_progress")), (200, result_body("pass"))]
    # A 2 s grid leaves time for the rules read before the next poll (none below 1 s).
    outcome = asyncio.run(
        gatepost.evaluate_async(**gate(api, poll_interval=2), use_httpx=use_httpx)
    )
    assert (outcome.verdict, outcome.cause) == ("pass", "gate_passed")
    assert api.count("GET", RESULT_PATH) == 2
    # The in-progress result names the gate: its stored rules are read once (404 here, so the
    # polls stay on the grid).
    assert api.count("GET", GATE_RULES_PATH) == 1


def test_events_go_to_on_event(api: FakeApi) -> None:
    api.results = [(200, result_body("pass"))]
    events: list[Event] = []
    gatepost.evaluate(**gate(api), on_event=events.append)
    kinds = [e["type"] for e in events]
    assert kinds[0] == "started"
    assert kinds[-1] == "finished"
    assert all(e["message"] for e in events)
    assert_no_keys(events)


def test_default_logging_never_shows_keys(api: FakeApi, caplog: pytest.LogCaptureFixture) -> None:
    api.results = [(503, '{"errors":["x"]}', SOON), (200, result_body("pass"))]
    with caplog.at_level(logging.DEBUG):
        outcome = gatepost.evaluate(**gate(api, poll_interval=1))
    assert outcome.passed
    assert any(
        "started" in r.getMessage().lower() or EVALUATION_ID in r.getMessage()
        for r in caplog.records
    )
    assert_no_keys(caplog.text)


def test_keys_and_site_default_to_the_environment(
    api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DD_API_KEY", "ignored-because-datadog-api-key-wins")
    monkeypatch.setenv("DATADOG_API_KEY", API_KEY)
    monkeypatch.setenv("DD_APP_KEY", APP_KEY)
    monkeypatch.delenv("DATADOG_APP_KEY", raising=False)
    api.results = [(200, result_body("pass"))]
    options = gate(api)
    del options["api_key"], options["app_key"]
    assert gatepost.evaluate(**options).passed
    headers = {k.lower(): v for k, v in api.requests[0]["headers"].items()}
    assert headers["dd-api-key"] == API_KEY
    assert headers["dd-application-key"] == APP_KEY

    monkeypatch.setenv("DD_SITE", "datadoghq.eu")
    engine = gatepost.Engine(gatepost.options(service="s", env="e"), 0)
    first = engine.poll(0)
    assert first["type"] == "send_request"
    assert first["url"].startswith("https://api.datadoghq.eu/")


def test_invalid_config_raises_before_anything_is_sent(api: FakeApi) -> None:
    config = {"rules": [{"type": "monitor", "name": "m", "options": {"duration": 9000}}]}
    with pytest.raises(gatepost.ConfigError) as caught:
        gatepost.evaluate(**gate(api), config=config)
    error = caught.value
    assert error.code == "invalid_config"
    assert isinstance(error, ValueError)
    paths = {p.path for p in error.problems}
    assert "rules[0].options.duration" in paths
    assert "rules[0].options" in paths, "the missing query is reported too"
    assert api.requests == []
    assert_no_keys(str(error), repr(error))


def test_config_path_problems_carry_line_and_column(api: FakeApi, tmp_path: Path) -> None:
    path = tmp_path / "gate-config.json"
    path.write_text(
        '{\n  "rules": [\n    {"type": "monitor", "name": "m", "options": {"query": "env:prod", "duration": 9000}}\n  ]\n}\n'
    )
    with pytest.raises(gatepost.ConfigError) as caught:
        gatepost.evaluate(**gate(api), config_path=path)
    problem = caught.value.problems[0]
    assert problem.path == "rules[0].options.duration"
    assert problem.line == 3


def test_client_error_is_an_outcome_not_an_exception(api: FakeApi) -> None:
    api.trigger = [(403, '{"errors":["Forbidden"]}')]
    outcome = gatepost.evaluate(**gate(api))
    assert (outcome.verdict, outcome.cause, outcome.exit_code) == ("fail", "client_error", 1)
    assert not outcome.fail_open
    assert outcome.error is not None and outcome.error.status == 403
    assert api.count("POST") == 1


def test_trigger_redirect_is_not_followed(api: FakeApi) -> None:
    api.routes["/elsewhere"] = lambda h: pytest.fail("a redirect was followed")
    api.trigger = [(302, "")]
    outcome = gatepost.evaluate(**gate(api))
    assert outcome.cause == "client_error"


def test_faults_in_both_phases_are_retried(api: FakeApi) -> None:
    api.trigger = [(503, '{"errors":[{"status":"503","title":"Service Unavailable"}]}', SOON)]
    api.results = [(500, "oops", SOON), (429, "{}", SOON), (200, result_body("pass"))]
    events: list[Event] = []
    started = time.monotonic()
    outcome = gatepost.evaluate(**gate(api), on_event=events.append)
    assert outcome.passed, outcome.message
    assert api.count("POST") == 2
    assert api.count("GET") == 3
    phases = [e.get("phase") for e in events if e["type"] == "retrying"]
    assert "trigger" in phases and "poll" in phases
    assert time.monotonic() - started < 8


def test_timeout_is_honoured_and_fails_open(api: FakeApi) -> None:
    api.results = [(200, result_body("in_progress"))]
    started = time.monotonic()
    # request_timeout=1 keeps the engine's final-poll window (min(5 s, request timeout)) inside
    # the 2 s timeout: a poll at 0 s, the final one at 1 s, then the timeout outcome.
    outcome = gatepost.evaluate(**gate(api, timeout=2, request_timeout=1))
    elapsed = time.monotonic() - started
    assert (outcome.verdict, outcome.cause, outcome.fail_open) == ("pass", "timeout", True)
    assert 0.9 < elapsed < 3.0
    assert api.count("GET") >= 2

    strict = gatepost.evaluate(**gate(api, timeout=1, fail_on_error=True))
    assert (strict.verdict, strict.cause, strict.exit_code) == ("fail", "timeout", 1)


def test_start_then_check_without_sleeping(api: FakeApi) -> None:
    api.results = [(200, result_body("in_progress"))]
    pending = gatepost.start(**gate(api))
    assert isinstance(pending, gatepost.Pending)
    assert pending.evaluation_id == EVALUATION_ID
    assert_no_keys(pending, pending.snapshot)
    gets = api.count("GET")

    again = gatepost.check(pending.snapshot, api_key=API_KEY, app_key=APP_KEY)
    assert isinstance(again, gatepost.Pending)
    assert api.count("GET") == gets, "nothing is due yet, so nothing is sent"

    api.results = [(200, result_body("pass"))]
    time.sleep(again.seconds_until_next_check())
    done = gatepost.check(json.dumps(again.snapshot), api_key=API_KEY, app_key=APP_KEY)
    assert isinstance(done, gatepost.Outcome)
    assert done.passed
    assert api.count("POST") == 1


def test_async_cancel_leaves_a_resumable_snapshot(api: FakeApi) -> None:
    api.results = [(200, result_body("in_progress"))]
    handed: list[gatepost.Outcome] = []

    async def scenario() -> tuple[gatepost.Outcome | None, bool]:
        started = asyncio.Event()

        def on_event(event: Event) -> None:
            if event["type"] == "started":
                started.set()

        caught: list[gatepost.Outcome | None] = []

        async def step() -> gatepost.Outcome:
            try:
                return await gatepost.evaluate_async(
                    **gate(api), on_event=on_event, on_cancel=handed.append
                )
            except asyncio.CancelledError as exc:
                assert type(exc) is asyncio.CancelledError, "the original error propagates"
                caught.append(gatepost.cancelled_outcome(exc))
                raise

        task = asyncio.create_task(step())
        await asyncio.wait_for(started.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return caught[0], task.cancelled()

    cancelled, task_cancelled = asyncio.run(scenario())
    assert task_cancelled
    assert cancelled is not None
    assert handed == [cancelled]
    assert cancelled.cause == "cancelled"
    assert cancelled.exit_code == 130
    assert cancelled.evaluation_id == EVALUATION_ID
    assert cancelled.snapshot is not None
    assert_no_keys(cancelled.snapshot, cancelled, cancelled.to_json())

    api.results = [(200, result_body("pass"))]
    resumed = asyncio.run(
        gatepost.resume_async(cancelled.snapshot, api_key=API_KEY, app_key=APP_KEY)
    )
    assert resumed.passed
    assert api.count("POST") == 1, "the trigger is never sent again"


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout is new in 3.11")
def test_asyncio_timeout_still_raises_timeout_error(api: FakeApi) -> None:
    """A cancellation from asyncio.timeout() must come out as TimeoutError, as without gatepost."""
    api.results = [(200, result_body("in_progress"))]
    handed: list[gatepost.Outcome] = []

    async def scenario() -> None:
        async with asyncio.timeout(0.3):  # type: ignore[attr-defined,unused-ignore]
            await gatepost.evaluate_async(**gate(api), on_cancel=handed.append)

    with pytest.raises(TimeoutError):
        asyncio.run(scenario())
    assert handed and handed[0].cause == "cancelled"


def test_wait_for_still_raises_timeout_error(api: FakeApi) -> None:
    api.results = [(200, result_body("in_progress"))]

    async def scenario() -> None:
        await asyncio.wait_for(gatepost.evaluate_async(**gate(api)), 0.3)

    with pytest.raises(asyncio.TimeoutError):
        asyncio.run(scenario())


def test_interrupt_cancels_the_sync_driver(api: FakeApi) -> None:
    api.results = [(200, result_body("in_progress"))]

    def interrupt(event: Event) -> None:
        if event["type"] == "started":
            raise KeyboardInterrupt

    outcome = gatepost.evaluate(**gate(api), on_event=interrupt)
    assert (outcome.cause, outcome.exit_code) == ("cancelled", 130)
    assert outcome.snapshot is not None
    api.results = [(200, result_body("pass"))]
    resumed = gatepost.resume(outcome.snapshot, api_key=API_KEY, app_key=APP_KEY)
    assert resumed.passed
    assert api.count("POST") == 1
