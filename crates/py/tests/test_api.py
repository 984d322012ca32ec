"""The Python surface without a server: validation, exceptions, outcomes, the low-level engine."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Callable

import gatepost
import pytest
from conftest import API_KEY, APP_KEY, EVALUATION_ID, ROOT, trigger_body
from gatepost import _core
from gatepost.types import GateOptions, OutcomeDocument

OPTIONS: dict[str, Any] = {
    "service": "checkout",
    "env": "prod",
    "api_key": API_KEY,
    "app_key": APP_KEY,
    "seed": 7,
}


def test_version_is_the_engine_version() -> None:
    assert gatepost.__version__ == _core.__version__
    assert gatepost.__version__.count(".") == 2


def test_validate_reports_every_problem_with_its_path() -> None:
    config = {
        "rules": [
            {"type": "moniyor", "name": "a", "options": {"query": "env:prod"}},
            {"type": "monitor", "name": "b", "options": {"query": "env:prod", "duration": 9000}},
        ]
    }
    result = gatepost.validate(config)
    assert not result.valid
    paths = [p.path for p in result.problems]
    assert "rules[0].type" in paths
    assert "rules[1].options.duration" in paths
    assert result.configuration is None


def test_validate_text_gives_line_and_column_and_hints(tmp_path: Path) -> None:
    text = '{\n  "dryrun": true,\n  "rules": [{"type": "monitor", "name": "m", "options": {"query": "env:prod"}}]\n}'
    result = gatepost.validate(text)
    assert not result.valid
    problem = result.problems[0]
    assert problem.line == 2
    assert problem.hint is not None and "dryRun" in problem.hint
    assert "line 2" in str(problem)
    path = tmp_path / "gate-config.json"
    path.write_text(text)
    assert gatepost.validate(config_path=path).problems == result.problems


def test_validate_valid_config_returns_what_would_be_sent() -> None:
    config = {
        "dryRun": True,
        "rules": [{"type": "monitor", "name": "m", "options": {"query": "env:prod"}}],
    }
    result = gatepost.validate(config)
    assert result.valid, result.problems
    assert result.configuration is not None
    assert result.configuration["dry_run"] is True


def test_validate_refuses_unknown_keys_unless_allowed() -> None:
    config = {
        "rules": [
            {"type": "monitor", "name": "m", "options": {"query": "env:prod", "durration": 300}}
        ]
    }
    result = gatepost.validate(config)
    assert not result.valid
    assert [p.path for p in result.problems] == ["rules[0].options.durration"]
    assert result.problems[0].hint == 'did you mean "duration"?'
    allowed = gatepost.validate(config, allow_unknown_keys=True)
    assert allowed.valid, allowed.problems
    assert [w.path for w in allowed.warnings] == ["rules[0].options.durration"]
    assert allowed.configuration is not None
    assert allowed.configuration["rules"][0]["options"]["durration"] == 300
    # Sent only what was written: no dry_run anywhere.
    assert "dry_run" not in allowed.configuration
    assert "dry_run" not in allowed.configuration["rules"][0]


def test_rule_failures_become_dataclasses() -> None:
    document = {
        "schema_version": 1,
        "verdict": "fail",
        "exit_code": 1,
        "cause": "gate_failed",
        "fail_open": False,
        "message": "the gate failed",
        "evaluation_id": EVALUATION_ID,
        "evaluation_url": None,
        "gate_id": None,
        "gate_status": "fail",
        "dry_run": False,
        "rules": [
            {
                "name": "m",
                "status": "fail",
                "dry_run": False,
                "failures": {
                    "monitors": [{"id": "34330981", "state": "Alert"}],
                    "faulty_apm_resources": ["GET /checkout"],
                    "narratives": [{"id": "n-1"}],
                },
                "window": {"warmup_s": 0, "duration_s": 300, "decided_after_ms": 120000},
            },
            {"name": "p", "status": "pass", "dry_run": False},
        ],
        "would_fail": False,
        "requests": 3,
        "elapsed_ms": 10,
    }
    outcome = gatepost.Outcome.from_dict(document)
    failures = outcome.rules[0].failures
    assert failures == gatepost.RuleFailures(
        monitors=[gatepost.FailedMonitor(id="34330981", state="Alert")],
        faulty_apm_resources=["GET /checkout"],
        narratives=[gatepost.Narrative(id="n-1")],
    )
    assert outcome.rules[1].failures is None
    assert "Failing monitor: 34330981 (Alert)" in outcome.render()
    assert outcome.rules[0].window == gatepost.RuleWindow(duration_s=300, decided_after_ms=120000)
    assert outcome.rules[1].window is None
    assert "❌ failed at 2 min" in outcome.render("markdown")


def test_validate_needs_exactly_one_source() -> None:
    with pytest.raises(gatepost.OptionsError):
        gatepost.validate()


def test_exception_hierarchy_and_codes() -> None:
    assert issubclass(gatepost.ConfigError, gatepost.GatepostError)
    assert issubclass(gatepost.ConfigError, ValueError)
    assert issubclass(gatepost.OptionsError, gatepost.GatepostError)
    assert issubclass(gatepost.UnknownRequestError, gatepost.UsageError)
    assert issubclass(gatepost.SnapshotError, gatepost.GatepostError)
    assert gatepost.cancelled_outcome(asyncio.CancelledError()) is None
    codes = {
        gatepost.ConfigError.code,
        gatepost.OptionsError.code,
        gatepost.UsageError.code,
        gatepost.UnknownRequestError.code,
        gatepost.SnapshotError.code,
    }
    assert codes == {
        "invalid_config",
        "invalid_options",
        "invalid_input",
        "unknown_request",
        "invalid_snapshot",
    }


def test_options_errors_name_each_option() -> None:
    with pytest.raises(gatepost.OptionsError) as caught:
        gatepost.Engine({**OPTIONS, "timeout": -1, "pollIntervall": 5})
    paths = {p.path for p in caught.value.problems}
    assert {"timeout", "pollIntervall"} <= paths
    assert caught.value.code == "invalid_options"
    text = f"{caught.value!s} {caught.value!r}"
    assert API_KEY not in text and APP_KEY not in text


def test_missing_keys_are_an_options_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "DD_API_KEY",
        "DATADOG_API_KEY",
        "DD_APP_KEY",
        "DATADOG_APP_KEY",
        "DD_SITE",
        "DATADOG_SITE",
    ):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(gatepost.OptionsError):
        gatepost.evaluate(service="checkout", env="prod")


def test_config_and_config_path_exclude_each_other(tmp_path: Path) -> None:
    with pytest.raises(gatepost.OptionsError):
        gatepost.options(service="s", env="e", config="{}", config_path=tmp_path / "x.json")


def test_default_seed_is_random_and_below_2_53() -> None:
    seeds = {gatepost.options(service="s", env="e")["seed"] for _ in range(5)}
    assert len(seeds) > 1
    assert all(0 <= s < 2**53 for s in seeds)


def test_durations_are_seconds() -> None:
    engine = gatepost.Engine({**OPTIONS, "timeout": 60, "request_timeout": 5}, 0)
    first = engine.poll(0)
    assert first["type"] == "send_request"
    assert first["timeout_ms"] == 5000
    assert engine.snapshot()["timeout_ms"] == 60000


def test_low_level_engine_round_trip() -> None:
    engine = gatepost.Engine(OPTIONS, 0)
    first = engine.poll(0)
    assert first["type"] == "send_request"
    assert first["method"] == "POST"
    assert engine.poll(0)["type"] == "wait"
    engine.handle(
        {
            "type": "response",
            "request_id": first["request_id"],
            "status": 202,
            "headers": [],
            "body": trigger_body(),
        },
        40,
    )
    assert engine.evaluation_id == EVALUATION_ID
    events = engine.drain_events()
    assert events[0]["type"] == "started"
    snapshot = engine.snapshot()
    text = json.dumps(snapshot) + repr(engine)
    assert API_KEY not in text and APP_KEY not in text
    resumed = gatepost.Engine.resume(json.dumps(snapshot), API_KEY, APP_KEY, 50)
    assert resumed.evaluation_id == EVALUATION_ID
    assert EVALUATION_ID in repr(resumed)


def test_usage_errors_leave_the_engine_usable() -> None:
    engine = gatepost.Engine(OPTIONS, 0)
    engine.poll(0)
    with pytest.raises(gatepost.UnknownRequestError) as caught:
        engine.handle(
            {"type": "response", "request_id": 99, "status": 200, "headers": [], "body": ""}, 1
        )
    assert caught.value.code == "unknown_request"
    nonsense: Any = {"type": "nonsense"}
    with pytest.raises(gatepost.UsageError):
        engine.handle(nonsense, 1)
    unconvertible: Any = {"type": "timeout", "x": object()}
    with pytest.raises(TypeError):
        engine.handle(unconvertible, 1)
    assert engine.poll(1)["type"] == "wait"


def test_bad_snapshots_raise_snapshot_error() -> None:
    with pytest.raises(gatepost.SnapshotError):
        gatepost.Engine.resume("not json", API_KEY, APP_KEY, 0)
    with pytest.raises(gatepost.SnapshotError):
        gatepost.Engine.resume({"schema_version": 999}, API_KEY, APP_KEY, 0)


def test_attach_polls_without_a_trigger() -> None:
    engine = gatepost.Engine.attach(EVALUATION_ID, OPTIONS, 0)
    first = engine.poll(0)
    assert first["type"] == "send_request"
    assert first["method"] == "GET"
    assert first["url"].endswith(EVALUATION_ID)


def _done(engine: gatepost.Engine, now: int) -> OutcomeDocument:
    engine.handle({"type": "cancel"}, now)
    action = engine.poll(now)
    assert action["type"] == "done"
    return action["outcome"]


def test_a_cancelled_engine_gives_a_cancelled_outcome() -> None:
    engine = gatepost.Engine(OPTIONS, 0)
    engine.poll(0)
    document = _done(engine, 10)
    outcome = gatepost.Outcome.from_dict(document, snapshot=engine.snapshot())
    assert (outcome.verdict, outcome.cause, outcome.exit_code) == ("fail", "cancelled", 130)
    assert (outcome.fail_open, outcome.evaluation_id, outcome.requests) == (False, None, 1)
    assert not outcome.passed
    assert outcome.snapshot is not None
    assert gatepost.Engine.resume(outcome.snapshot, API_KEY, APP_KEY, 20).resumed
    assert "snapshot" not in repr(outcome)
    with pytest.raises(ValueError):
        outcome.render("html")  # type: ignore[arg-type]


#: An outcome document written out by hand (not by the engine) with every field of
#: schemas/outcome.schema.json set, so that a field the Python side drops or misreads shows.
EVERY_FIELD: OutcomeDocument = {
    "schema_version": 1,
    "verdict": "fail",
    "exit_code": 1,
    "cause": "gate_failed",
    "fail_open": False,
    "message": "The gate failed: 1 of 2 rules failed.",
    "evaluation_id": "ev-1",
    "evaluation_url": "https://app.datadoghq.com/ci/deployment-gates/evaluations?id=ev-1",
    "gate_id": "gate-1",
    "gate_status": "fail",
    "dry_run": False,
    "rules": [
        {
            "name": "monitors",
            "status": "fail",
            "reason": "a monitor alerted",
            "dry_run": True,
            "failures": {
                "monitors": [{"id": "7", "name": "cpu", "state": "Alert", "url": "https://m/7"}],
                "faulty_apm_resources": ["GET /checkout"],
                "narratives": [{"id": "n-1", "hostgroup": "web"}],
            },
            "window": {"warmup_s": 30, "duration_s": 600, "decided_after_ms": 1234},
        },
        {"name": "fdd", "status": "pass"},
    ],
    "would_fail": True,
    "requests": 5,
    "elapsed_ms": 9876,
    "skip_reason": "break-glass",
    "error": {"status": 403, "details": ["Forbidden"]},
}


def test_outcome_reads_every_field_of_the_document() -> None:
    outcome = gatepost.Outcome.from_dict(EVERY_FIELD)
    assert (outcome.schema_version, outcome.verdict, outcome.cause) == (1, "fail", "gate_failed")
    assert (outcome.exit_code, outcome.fail_open, outcome.passed) == (1, False, False)
    assert outcome.message == "The gate failed: 1 of 2 rules failed."
    assert (outcome.evaluation_id, outcome.gate_id) == ("ev-1", "gate-1")
    assert outcome.gate_status == "fail"
    assert outcome.evaluation_url is not None and outcome.evaluation_url.endswith("?id=ev-1")
    assert (outcome.dry_run, outcome.would_fail) == (False, True)
    assert (outcome.requests, outcome.elapsed_ms, outcome.skip_reason) == (5, 9876, "break-glass")
    assert outcome.error == gatepost.ApiError(status=403, details=["Forbidden"])
    assert outcome.snapshot is None
    assert outcome.rules == [
        gatepost.Rule(
            name="monitors",
            status="fail",
            reason="a monitor alerted",
            dry_run=True,
            failures=gatepost.RuleFailures(
                monitors=[gatepost.FailedMonitor("7", "cpu", "Alert", "https://m/7")],
                faulty_apm_resources=["GET /checkout"],
                narratives=[gatepost.Narrative("n-1", "web")],
            ),
            window=gatepost.RuleWindow(duration_s=600, warmup_s=30, decided_after_ms=1234),
        ),
        gatepost.Rule(name="fdd", status="pass"),
    ]


def test_outcome_json_is_the_engines_rendering_of_the_document() -> None:
    outcome = gatepost.Outcome.from_dict(EVERY_FIELD)
    # Core re-reads the document and writes it back: every field survives, and a default the
    # document left out (the second rule's dry_run) is written.
    expected = json.loads(json.dumps(EVERY_FIELD))
    expected["rules"][1]["dry_run"] = False
    assert outcome.to_dict() == expected
    assert list(outcome.to_dict()) == list(EVERY_FIELD)
    assert outcome.to_json() == _core.render(EVERY_FIELD, "json")
    assert "ev-1" in outcome.render("text")
    assert "GET /checkout" in outcome.render("markdown")
    # to_dict is a copy: changing it changes neither the outcome nor what it prints next.
    copy = outcome.to_dict()
    copy["verdict"] = "pass"
    assert outcome.to_dict()["verdict"] == "fail"


def test_outcome_schema_is_the_committed_schema() -> None:
    committed = json.loads((ROOT / "schemas" / "outcome.schema.json").read_text(encoding="utf-8"))
    schema = gatepost.outcome_schema()
    assert schema == committed
    # The generated TypedDict says what the schema says (gen_types.py --check keeps it so).
    assert OutcomeDocument.__required_keys__ == frozenset(schema["required"])
    assert OutcomeDocument.__optional_keys__ == frozenset(schema["properties"]) - frozenset(
        schema["required"]
    )
    assert set(EVERY_FIELD) == set(schema["properties"])


def test_values_cross_the_boundary_intact() -> None:
    config: dict[str, Any] = {
        "dryRun": False,
        "rules": [
            {
                "type": "faulty_deployment_detection",
                "name": "fdd ü",
                "options": {"duration": 900, "excluded_resources": ("GET /health",)},
            }
        ],
    }
    result = gatepost.validate(config, "v1")
    assert result.valid, result.problems
    assert result.configuration is not None
    rule = result.configuration["rules"][0]
    assert rule["name"] == "fdd ü"
    assert rule["options"]["excluded_resources"] == ["GET /health"]
    with pytest.raises(TypeError):
        gatepost.validate({"rules": object()})
    with pytest.raises(ValueError):
        gatepost.validate({"rules": float("nan")})


def test_now_may_be_a_float_and_options_any_mapping() -> None:
    import time
    import types

    engine = gatepost.Engine(types.MappingProxyType(OPTIONS), time.time() * 1000)
    first = engine.poll(time.time() * 1000)
    assert first["type"] == "send_request"
    with pytest.raises(ValueError):
        engine.poll(-1)
    with pytest.raises(ValueError):
        engine.poll(float("inf"))


def test_options_repr_redacts_the_keys() -> None:
    opts = gatepost.options(service="s", env="e", api_key=API_KEY, app_key=APP_KEY)
    assert opts["api_key"] == API_KEY
    for text in (repr(opts), str(opts), f"{opts}", repr([opts])):
        assert API_KEY not in text and APP_KEY not in text
    assert gatepost.Engine(opts, 0).poll(0)["type"] == "send_request"


def test_options_maps_every_gate_option() -> None:
    given: GateOptions = {
        "service": "checkout",
        "env": "prod",
        "config": {"rules": []},
        "version": "v2",
        "identifier": "pre-deploy",
        "primary_tag": "region:us-east-1",
        "timeout": 600,
        "poll_interval": 15,
        "request_timeout": 30,
        "trigger_budget": 60,
        "fail_on_error": True,
        "allow_unknown_keys": True,
        "api_key": API_KEY,
        "app_key": APP_KEY,
        "api_url": "http://127.0.0.1:9",
        "allow_insecure_http": True,
        "seed": 7,
        "monitors_query_variable": "team",
    }
    # config_path and site exclude config and api_url: every other key is set, once.
    assert set(given) == set(GateOptions.__annotations__) - {"config_path", "site"}
    assert dict(gatepost.options(**given)) == given
    site = gatepost.options(service="s", env="e", site="datadoghq.eu", seed=1)
    assert (site["site"], site["fail_on_error"], site["allow_insecure_http"]) == (
        "datadoghq.eu",
        False,
        False,
    )


def _entry_points() -> list[tuple[str, Callable[..., object]]]:
    def evaluate_async(**kwargs: Any) -> object:
        return asyncio.run(gatepost.evaluate_async(**kwargs))

    return [
        ("options", gatepost.options),
        ("evaluate", gatepost.evaluate),
        ("evaluate_async", evaluate_async),
        ("start", gatepost.start),
    ]


@pytest.mark.parametrize(("name", "function"), _entry_points())
def test_every_entry_point_takes_the_one_keyword_list(
    name: str, function: Callable[..., object]
) -> None:
    # GateOptions is the only list of these keywords: a typo or a missing one is refused the way
    # Python refuses it for an explicit signature, before anything is read or sent.
    with pytest.raises(
        TypeError, match=rf"^{name}\(\) got an unexpected keyword argument 'timout'"
    ):
        function(service="s", env="e", timout=3)
    with pytest.raises(TypeError, match=rf"^{name}\(\) missing required keyword argument: 'env'"):
        function(service="s")
    with pytest.raises(gatepost.OptionsError, match="config and config_path exclude each other"):
        function(service="s", env="e", config="{}", config_path="gate-config.json")
