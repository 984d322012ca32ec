"""End to end against the emulator on loopback (``gatepost emulator``, time scale 60 so that a
300 s rule takes 5 s): both drivers, pass/fail/dry run, faults in both phases, the timeout, cancel
and resume, start/check, the example step script, and keys never appearing anywhere.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gatepost
import pytest
from conftest import API_KEY, APP_KEY, ROOT, Emulator
from gatepost.types import Event

WORLDS = ROOT / "examples" / "worlds"

#: Inline rules that finish quickly at time scale 60 (60 s of world time = 1 s).
QUICK_RULES = {
    "dryRun": False,
    "rules": [
        {
            "type": "monitor",
            "name": "checkout monitors",
            "options": {"query": "service:checkout env:prod", "duration": 60},
        }
    ],
}


def world(name: str, **changes: Any) -> dict[str, Any]:
    """An example world, with the keys it accepts set to the fake keys, plus ``changes``."""
    document: dict[str, Any] = json.loads((WORLDS / f"{name}.json").read_text(encoding="utf-8"))
    document.pop("$schema", None)
    document["api_keys"] = [API_KEY]
    document["app_keys"] = [APP_KEY]
    document.update(changes)
    return document


@pytest.fixture
def emulate(tmp_path: Path) -> Iterator[Any]:
    """Start an emulator for a world document; every one started is stopped after the test."""
    started: list[Emulator] = []

    def start(document: dict[str, Any], time_scale: int = 60) -> Emulator:
        path = tmp_path / f"world-{len(started)}.json"
        path.write_text(json.dumps(document), encoding="utf-8")
        emulator = Emulator(path, time_scale)
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.close()


def gate(emulator: Emulator, **extra: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "service": "checkout",
        "env": "prod",
        "version": "v2",
        "api_url": emulator.url,
        "api_key": API_KEY,
        "app_key": APP_KEY,
        "poll_interval": 1,
    }
    options.update(extra)
    return options


def assert_no_keys(*things: Any) -> None:
    for thing in things:
        text = thing if isinstance(thing, str) else f"{thing!r} {json.dumps(thing, default=str)}"
        assert API_KEY not in text
        assert APP_KEY not in text


def everything_printed(outcome: gatepost.Outcome) -> list[Any]:
    return [
        outcome,
        outcome.to_json(),
        outcome.render("text"),
        outcome.render("markdown"),
        outcome.to_dict(),
    ]


def test_sync_pass_with_a_preconfigured_gate(
    emulate: Any, caplog: pytest.LogCaptureFixture
) -> None:
    emulator = emulate(world("healthy"))
    events: list[Event] = []
    with caplog.at_level(logging.DEBUG, logger="gatepost"):
        outcome = gatepost.evaluate(**gate(emulator), on_event=events.append)
    assert (outcome.verdict, outcome.cause, outcome.exit_code) == ("pass", "gate_passed", 0)
    assert {r.name for r in outcome.rules} == {
        "Checkout monitors",
        "APM Faulty Deployment Detection",
    }
    assert all(r.status == "pass" for r in outcome.rules)
    assert outcome.evaluation_id is not None
    assert events[0]["type"] == "started"
    assert_no_keys(events, caplog.text, *everything_printed(outcome))


def test_sync_fail_reports_the_failing_rule(emulate: Any) -> None:
    emulator = emulate(world("alerting"))
    outcome = gatepost.evaluate(**gate(emulator))
    assert (outcome.verdict, outcome.cause, outcome.exit_code) == ("fail", "gate_failed", 1)
    failed = [r for r in outcome.rules if r.status == "fail"]
    assert failed and failed[0].reason
    assert "Checkout monitors" in outcome.render("text")
    assert_no_keys(*everything_printed(outcome))


def test_dry_run_passes_and_keeps_the_real_result(emulate: Any) -> None:
    emulator = emulate(world("dry-run"))
    outcome = gatepost.evaluate(**gate(emulator))
    assert (outcome.verdict, outcome.cause, outcome.exit_code) == ("pass", "dry_run", 0)
    assert outcome.dry_run
    assert outcome.would_fail


def _monitor(monitor_id: int, service: str, state: str) -> dict[str, Any]:
    tags = [f"service:{service}", "env:prod"]
    return {
        "id": monitor_id,
        "name": f"[{service}] errors",
        "type": "query alert",
        "tags": tags,
        "scope": tags,
        "state": state,
    }


@pytest.mark.parametrize("use_httpx", [True, False], ids=["httpx", "builtin"])
def test_async_fan_out_gives_each_evaluation_its_own_outcome(emulate: Any, use_httpx: bool) -> None:
    """100 concurrent evaluations of two services on one emulator: every verdict is its own."""
    limits = [
        {"endpoint": endpoint, "limit": 1_000_000, "period_seconds": 3600}
        for endpoint in ("trigger", "result")
    ]
    emulator = emulate(
        {
            "api_keys": [API_KEY],
            "app_keys": [APP_KEY],
            "monitors": [_monitor(1, "fan-pass", "OK"), _monitor(2, "fan-fail", "Alert")],
            "rate_limits": limits,
        }
    )

    def rules(service: str) -> dict[str, Any]:
        query = f"service:{service} env:prod"
        rule = {"type": "monitor", "name": service, "options": {"query": query, "duration": 0}}
        return {"dryRun": False, "rules": [rule]}

    services = ["fan-pass" if i % 2 == 0 else "fan-fail" for i in range(100)]

    async def all_of_them() -> list[gatepost.Outcome]:
        return list(
            await asyncio.gather(
                *(
                    gatepost.evaluate_async(
                        **gate(emulator, service=s, config=rules(s)),
                        use_httpx=use_httpx,
                        on_event=lambda event: None,
                    )
                    for s in services
                )
            )
        )

    outcomes = asyncio.run(all_of_them())
    assert [o.verdict for o in outcomes] == [
        "pass" if s == "fan-pass" else "fail" for s in services
    ]
    assert [o.rules[0].name for o in outcomes] == services
    assert len({o.evaluation_id for o in outcomes}) == len(services)


@pytest.mark.parametrize("use_httpx", [True, False], ids=["httpx", "builtin"])
def test_async_pass_and_fail(emulate: Any, use_httpx: bool) -> None:
    healthy = emulate(world("healthy"))
    alerting = emulate(world("alerting"))

    async def both() -> tuple[gatepost.Outcome, gatepost.Outcome]:
        return await asyncio.gather(
            gatepost.evaluate_async(**gate(healthy, config=QUICK_RULES), use_httpx=use_httpx),
            gatepost.evaluate_async(**gate(alerting), use_httpx=use_httpx),
        )

    passed, failed = asyncio.run(both())
    assert (passed.verdict, passed.cause) == ("pass", "gate_passed")
    assert (failed.verdict, failed.cause) == ("fail", "gate_failed")


def test_faults_in_both_phases_are_retried(emulate: Any) -> None:
    # A connection reset while triggering (backoff ~5 s), a 429 with Retry-After while polling.
    faults = {
        "trigger": [{"kind": "reset"}],
        "result": [{"kind": "rate_limited", "retry_after": 1}],
    }
    emulator = emulate(world("healthy", faults=faults))
    events: list[Event] = []
    outcome = gatepost.evaluate(**gate(emulator, config=QUICK_RULES), on_event=events.append)
    assert (outcome.verdict, outcome.cause) == ("pass", "gate_passed"), outcome.message
    retries = [(e.get("phase"), e.get("status")) for e in events if e["type"] == "retrying"]
    assert retries == [("trigger", None), ("poll", 429)]
    assert_no_keys(events, *everything_printed(outcome))


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_timeout_is_honoured_against_a_hung_server(emulate: Any, use_async: bool) -> None:
    emulator = emulate(world("healthy", faults={"result": [{"kind": "hang", "times": 1000}]}))
    options = gate(emulator, config=QUICK_RULES, timeout=3, request_timeout=2)
    started = time.monotonic()
    if use_async:
        outcome = asyncio.run(gatepost.evaluate_async(**options))
    else:
        outcome = gatepost.evaluate(**options)
    elapsed = time.monotonic() - started
    assert (outcome.verdict, outcome.cause, outcome.fail_open) == ("pass", "timeout", True)
    assert elapsed < 4.5, f"a 3 s timeout took {elapsed:.1f} s"


def test_client_error_for_a_wrong_key(emulate: Any) -> None:
    emulator = emulate(world("healthy"))
    outcome = gatepost.evaluate(**gate(emulator, app_key="wrong-app-key-value"))
    assert (outcome.verdict, outcome.cause, outcome.exit_code) == ("fail", "client_error", 1)
    assert not outcome.fail_open
    assert "wrong-app-key-value" not in outcome.to_json() + outcome.render("text")


def test_async_cancel_then_resume_in_another_run(emulate: Any) -> None:
    emulator = emulate(world("healthy"))
    slow_rules = {
        "rules": [
            {
                "type": "monitor",
                "name": "checkout monitors",
                "options": {"query": "service:checkout env:prod", "duration": 180},
            }
        ]
    }

    async def cancel_after_start() -> gatepost.Outcome:
        started = asyncio.Event()

        def on_event(event: Event) -> None:
            if event["type"] == "started":
                started.set()

        handed: list[gatepost.Outcome] = []
        task = asyncio.create_task(
            gatepost.evaluate_async(
                **gate(emulator, config=slow_rules), on_event=on_event, on_cancel=handed.append
            )
        )
        await asyncio.wait_for(started.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return handed[0]

    cancelled = asyncio.run(cancel_after_start())
    assert cancelled.cause == "cancelled"
    assert cancelled.exit_code == 130
    assert cancelled.snapshot is not None
    assert_no_keys(cancelled.snapshot, *everything_printed(cancelled))
    # The snapshot goes through JSON text, as it would through a file between two processes.
    text = json.dumps(cancelled.snapshot)
    resumed = asyncio.run(gatepost.resume_async(text, api_key=API_KEY, app_key=APP_KEY))
    assert (resumed.verdict, resumed.cause) == ("pass", "gate_passed")
    assert resumed.evaluation_id == cancelled.evaluation_id


def test_start_then_check_until_done(emulate: Any) -> None:
    emulator = emulate(world("healthy"))
    result: gatepost.Outcome | gatepost.Pending = gatepost.start(
        **gate(emulator, config=QUICK_RULES)
    )
    assert isinstance(result, gatepost.Pending)
    assert result.evaluation_id is not None
    assert_no_keys(result, result.snapshot)
    deadline = time.monotonic() + 20
    while isinstance(result, gatepost.Pending) and time.monotonic() < deadline:
        time.sleep(result.seconds_until_next_check())
        result = gatepost.check(result.snapshot, api_key=API_KEY, app_key=APP_KEY)
    assert isinstance(result, gatepost.Outcome)
    assert (result.verdict, result.cause) == ("pass", "gate_passed")


def step_command(emulator: Emulator, *args: str) -> tuple[list[str], dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DD_", "DATADOG_"))}
    env.update({"DD_API_KEY": API_KEY, "DD_APP_KEY": APP_KEY})
    command = [sys.executable, str(ROOT / "examples" / "python" / "gate_step.py"), *args]
    command += ["--service", "checkout", "--env", "prod", "--version", "v2"]
    command += ["--api-url", emulator.url, "--poll-interval", "1"]
    return command, env


def run_step(emulator: Emulator, *args: str) -> subprocess.CompletedProcess[str]:
    command, env = step_command(emulator, *args)
    return subprocess.run(
        command,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_example_step_script(emulate: Any, tmp_path: Path) -> None:
    healthy = emulate(world("healthy"))
    alerting = emulate(world("alerting"))
    config = tmp_path / "gate-config.json"
    config.write_text(json.dumps(QUICK_RULES), encoding="utf-8")
    out = tmp_path / "outcome.json"

    passed = run_step(healthy, "--config", str(config), "--json", str(out))
    assert passed.returncode == 0, passed.stderr
    assert json.loads(out.read_text())["verdict"] == "pass"

    failed = run_step(alerting)
    assert failed.returncode == 1
    assert "Checkout monitors" in failed.stdout

    config.write_text('{"rules": []}', encoding="utf-8")
    invalid = run_step(healthy, "--config", str(config))
    assert invalid.returncode == 1
    assert "rules" in invalid.stderr

    for run in (passed, failed, invalid):
        assert_no_keys(run.stdout, run.stderr)


def test_example_step_is_cancelled_cleanly_by_sigterm(emulate: Any, tmp_path: Path) -> None:
    emulator = emulate(world("healthy"))
    config = tmp_path / "gate-config.json"
    slow = {
        "rules": [
            {"type": "monitor", "name": "m", "options": {"query": "env:prod", "duration": 3600}}
        ]
    }
    config.write_text(json.dumps(slow), encoding="utf-8")
    command, env = step_command(emulator, "--config", str(config))
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stderr is not None
    seen = []
    for line in process.stderr:
        seen.append(line)
        if "started" in line:
            break
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=20)
    assert process.returncode == 130, "".join(seen) + stderr
    assert "cancel" in stdout.lower()
    assert_no_keys(stdout, stderr, "".join(seen))
