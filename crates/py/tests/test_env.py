"""The environment rules, shared with every host: ``tests/env/cases.json`` run through the
Python binding (``env_defaults``, ``proxy_for``), and the cases that once differed between hosts
run end to end (a key ending in a newline, a missing config file, ``asyncio.timeout``)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import gatepost
import pytest
from conftest import API_KEY, APP_KEY, EVALUATION_ID, FakeApi, result_body
from gatepost._core import env_defaults, proxy_for
from gatepost.types import Event

CASES: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[3] / "tests" / "env" / "cases.json").read_text()
)


@pytest.mark.parametrize("case", CASES["defaults"], ids=lambda c: c["name"])
def test_env_defaults_cases(case: dict[str, Any]) -> None:
    assert dict(env_defaults(case["env"])) == case["expect"]


@pytest.mark.parametrize("case", CASES["proxy"], ids=lambda c: c["name"])
def test_proxy_cases(case: dict[str, Any]) -> None:
    assert proxy_for(case["url"], case["env"]) == case["expect"]


def test_a_key_that_is_not_utf8_is_an_options_error_naming_it() -> None:
    # os.environ holds undecodable bytes as surrogate escapes.
    with pytest.raises(gatepost.OptionsError) as caught:
        env_defaults({"DATADOG_API_KEY": "k\udcff", "DD_API_KEY": "fallback"})
    assert caught.value.code == "invalid_options"
    assert [p.path for p in caught.value.problems] == ["DATADOG_API_KEY"]
    assert "fallback" not in str(caught.value)


def _keyless(api: FakeApi) -> dict[str, Any]:
    return {"service": "checkout", "env": "prod", "api_url": api.url, "poll_interval": 1, "seed": 7}


def test_a_key_ending_in_a_newline_passes_the_gate(
    api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("DATADOG_API_KEY", "DATADOG_APP_KEY", "DD_APPLICATION_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DD_API_KEY", API_KEY + "\n")
    monkeypatch.setenv("DD_APP_KEY", f"  {APP_KEY}\n")
    api.results = [(200, result_body("pass"))]
    outcome = gatepost.evaluate(**_keyless(api))
    assert (outcome.verdict, outcome.exit_code) == ("pass", 0)
    headers = {k.lower(): v for k, v in api.requests[0]["headers"].items()}
    assert headers["dd-api-key"] == API_KEY
    assert headers["dd-application-key"] == APP_KEY


def test_a_missing_config_file_is_an_options_error_naming_the_path(
    api: FakeApi, tmp_path: Path
) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(gatepost.GatepostError) as caught:
        gatepost.evaluate(**_keyless(api), api_key=API_KEY, app_key=APP_KEY, config_path=missing)
    assert caught.value.code == "invalid_options"
    assert caught.value.problems[0].path == "config_path"
    assert str(missing) in caught.value.problems[0].message
    assert api.requests == []
    with pytest.raises(gatepost.GatepostError):
        gatepost.validate(config_path=missing)


def test_cancelled_outcome_is_found_under_asyncio_timeout(api: FakeApi) -> None:
    if sys.version_info < (3, 11):
        pytest.skip("asyncio.timeout is new in Python 3.11")
    api.results = [(200, result_body("in_progress"))]

    async def scenario() -> gatepost.Outcome | None:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(None) as scope:

                def on_event(event: Event) -> None:
                    # Once the evaluation has started, the timeout expires at once.
                    if event["type"] == "started":
                        scope.reschedule(loop.time())

                await gatepost.evaluate_async(
                    **_keyless(api), api_key=API_KEY, app_key=APP_KEY, on_event=on_event
                )
        except TimeoutError as exc:
            assert isinstance(exc.__cause__, asyncio.CancelledError)
            return gatepost.cancelled_outcome(exc)
        return None

    cancelled = asyncio.run(scenario())
    assert cancelled is not None
    assert cancelled.cause == "cancelled"
    assert cancelled.evaluation_id == EVALUATION_ID
    assert cancelled.snapshot is not None
