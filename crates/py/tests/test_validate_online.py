"""``gatepost.validate(online=True)``: the core's online check driven by the Python transport,
against the emulator serving ``examples/worlds/validate-online.json`` (a rule that is fine, one
alerting now, one over 50 matches, one with none; APM data for checkout, none for payments; a
preconfigured gate)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import gatepost
import pytest
from conftest import ROOT, Emulator

WORLD = ROOT / "examples/worlds/validate-online.json"
CONFIG = ROOT / "examples/validate-online/gate-config.json"
FDD_CONFIG = ROOT / "examples/validate-online/fdd-config.json"


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    emulator = Emulator(WORLD)
    try:
        yield emulator.url
    finally:
        emulator.close()


def test_zero_over_fifty_and_alerting_now_are_caught(url: str) -> None:
    report = gatepost.validate(config_path=CONFIG, online=True, api_url=url)
    assert "error" not in report
    assert [r["matched"] for r in report["rules"]] == [2, 2, 60, 0]
    paths = [(p["path"], p["message"].split(";")[0]) for p in report["problems"]]
    assert paths == [
        ("rules[2].options.query", "60 monitors match this query"),
        (
            "rules[3].options.query",
            "no monitor matches this query (muted monitors left out, as the gate does): "
            "the rule would fail",
        ),
    ]
    assert report["problems"][0]["line"] is not None
    assert report["rules"][1]["would_fail_now"] is True
    assert [w["path"] for w in report["warnings"]] == ["rules[1].options.query"]
    assert report["ok"] is False
    text = gatepost.render_online(report)
    assert "WOULD FAIL NOW" in text


def test_a_preconfigured_gate(url: str) -> None:
    report = gatepost.validate(online=True, service="payments", env="prod", api_url=url)
    assert report["source"] == "gate"
    assert report["gate"]["service"] == "payments"
    assert report["rules"][0]["would_fail_now"] is True
    assert report["problems"][0]["path"] == "rules[1].options.query"


def test_a_clean_config_is_ok_and_an_invalid_one_raises(url: str) -> None:
    config = {"rules": [{"type": "monitor", "name": "c", "options": {"query": "service:checkout"}}]}
    report = gatepost.validate(json.dumps(config), online=True, api_url=url)
    assert report["ok"] is True and report["requests"] == 1
    assert report["rules"][0]["matched"] == 2
    with pytest.raises(gatepost.ConfigError) as raised:
        gatepost.validate(
            {"rules": [{"type": "monitor", "name": "x", "options": {}}]}, online=True, api_url=url
        )
    assert "query" in raised.value.problems[0].message


def test_offline_validate_is_unchanged() -> None:
    validation = gatepost.validate(config_path=CONFIG)
    assert validation.valid


def test_fdd_rules_report_apm_data_and_warn_without_it(url: str) -> None:
    report = gatepost.validate(
        config_path=FDD_CONFIG,
        version="v2",
        online=True,
        service="checkout",
        env="prod",
        api_url=url,
    )
    assert report["ok"] is True and report["warnings"] == []
    assert report["rules"][1]["apm"] == {
        "service": "checkout",
        "env": "prod",
        "window": "24h",
        "service_data": True,
        "version": "v2",
        "version_data": False,
    }
    report = gatepost.validate(
        config_path=FDD_CONFIG,
        version="v2",
        online=True,
        service="payments",
        env="prod",
        api_url=url,
    )
    assert report["ok"] is True
    [warning] = report["warnings"]
    assert warning["path"] == "rules[1]" and warning["line"] == 12
    assert warning["message"].startswith("no APM data for service payments in env prod")
    assert "no APM data for service payments" in gatepost.render_online(report, "markdown")
    # Without service and env a config's FDD rule is skipped, saying what to pass.
    report = gatepost.validate(config_path=FDD_CONFIG, version="v2", online=True, api_url=url)
    assert report["rules"][1]["status"] == "skipped"
    with pytest.raises(gatepost.OptionsError):
        gatepost.validate(
            config_path=FDD_CONFIG, version="v2", online=True, identifier="x", api_url=url
        )
