"""Gates as code from Python: the plan corpus (tests/gates) against a fake API with a virtual clock,
and export → plan → edit → plan → apply → plan against the emulator, with an interrupted apply
resumed by calling it again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gatepost
import gatepost.gates
import pytest
from conftest import ROOT, Emulator
from gatepost._core import GatesRun

SCENARIOS = json.loads((ROOT / "tests/gates/plans.json").read_text())["scenarios"]
B = "/api/v2/deployment_gates"


def _error(status: int, detail: str) -> tuple[int, str]:
    return status, json.dumps(
        {"errors": [{"status": str(status), "title": "Error", "detail": detail}]}
    )


class Fake:
    """The fake API of crates/core/tests/gates_corpus.rs, in Python."""

    def __init__(self, server: dict[str, Any]) -> None:
        self.gates: list[dict[str, Any]] = json.loads(json.dumps(server.get("gates", [])))
        self.rule_ids = server.get("rule_ids", True)
        self.page_size = server.get("page_size", 1000)
        self.null_cursor = server.get("null_cursor", False)
        self.faults: list[dict[str, Any]] = server.get("faults", [])
        self.requests: list[str] = []
        self.bodies: list[Any] = []
        self.next_id = 1

    def _id(self) -> str:
        n = self.next_id
        self.next_id += 1
        return f"00000000-0000-4000-8000-{n:012d}"

    @staticmethod
    def _gate_json(g: dict[str, Any]) -> dict[str, Any]:
        keys = ("service", "env", "identifier", "dry_run")
        return {"id": g["id"], "type": "deployment_gate", "attributes": {k: g[k] for k in keys}}

    @staticmethod
    def _rule_attrs(gid: str, r: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": r["name"],
            "type": r["type"],
            "dry_run": r["dry_run"],
            "options": r["options"],
            "gate_id": gid,
        }

    def handle(self, request_id: int, method: str, url: str, body: str | None) -> dict[str, Any]:
        path = url.removeprefix("https://api.datadoghq.com")
        self.requests.append(f"{method} {path}")
        if body is not None:
            self.bodies.append(json.loads(body))
        n = len(self.requests)
        fault = next((f for f in self.faults if f.get("at") == n), None)
        if fault is not None and not fault.get("after", False):
            return self._fault(request_id, fault)
        status, text = self.route(method, path, body)
        if fault is not None:
            return self._fault(request_id, fault)
        return {
            "type": "response",
            "request_id": request_id,
            "status": status,
            "headers": [],
            "body": text,
        }

    @staticmethod
    def _fault(request_id: int, f: dict[str, Any]) -> dict[str, Any]:
        if "status" in f:
            status, text = _error(f["status"], f.get("detail", "fault"))
            headers = [["Retry-After", f["retry_after"]]] if "retry_after" in f else []
            return {
                "type": "response",
                "request_id": request_id,
                "status": status,
                "headers": headers,
                "body": text,
            }
        return {
            "type": "transport_error",
            "request_id": request_id,
            "kind": "reset",
            "message": "connection reset",
        }

    def route(self, method: str, path: str, body: str | None) -> tuple[int, str]:
        path, _, query = path.partition("?")
        parts = [p for p in path.removeprefix(B).split("/") if p]
        attrs: dict[str, Any] = json.loads(body)["data"]["attributes"] if body else {}
        if not parts and method == "GET":
            params = dict(kv.split("=", 1) for kv in query.split("&") if kv)
            size = min(int(params.get("page[size]", 50)), self.page_size)
            offset = int(params.get("page[cursor]", 0))
            page: dict[str, Any] = {"cursor": str(offset), "size": size}
            if offset + size < len(self.gates):
                page["next_cursor"] = str(offset + size)
            elif self.null_cursor:
                page["next_cursor"] = None
            data = [self._gate_json(g) for g in self.gates[offset : offset + size]]
            return 200, json.dumps({"data": data, "meta": {"page": page}})
        if not parts and method == "POST":
            identifier = attrs.get("identifier", "default")
            if any(
                (g["service"], g["env"], g["identifier"])
                == (attrs["service"], attrs["env"], identifier)
                for g in self.gates
            ):
                return _error(400, "Gate already exists with the given env, service and identifier")
            gate = {"id": self._id(), "service": attrs["service"], "env": attrs["env"], "identifier": identifier,
                    "dry_run": attrs.get("dry_run", False), "rules": []}  # fmt: skip
            self.gates.append(gate)
            return 200, json.dumps({"data": self._gate_json(gate)})
        found = [g for g in self.gates if g["id"] == parts[0]]
        if not found:
            return _error(404, "Gate does not exist")
        gate = found[0]
        rest = parts[1:]
        if not rest and method == "PUT":
            gate["dry_run"] = attrs["dry_run"]
            return 200, json.dumps({"data": self._gate_json(gate)})
        if not rest and method == "DELETE":
            self.gates.remove(gate)
            return 204, ""
        if rest == ["rules"] and method == "GET":
            listed = [
                {
                    "id": r["id"],
                    "type": "deployment_rule",
                    "attributes": self._rule_attrs(gate["id"], r),
                }
                if self.rule_ids
                else self._rule_attrs(gate["id"], r)
                for r in gate["rules"]
            ]
            rule_list = {
                "id": gate["id"],
                "type": "list_deployment_rules",
                "attributes": {"rules": listed},
            }
            return 200, json.dumps({"data": rule_list})
        if rest == ["rules"] and method == "POST":
            if any(r["name"] == attrs["name"] for r in gate["rules"]):
                return _error(400, "Rule name already exists")
            rule = {"id": self._id(), "name": attrs["name"], "type": attrs["type"],
                    "dry_run": attrs.get("dry_run", False), "options": attrs["options"]}  # fmt: skip
            gate["rules"].append(rule)
            out = {
                "id": rule["id"],
                "type": "deployment_rule",
                "attributes": self._rule_attrs(gate["id"], rule),
            }
            return 200, json.dumps({"data": out})
        if len(rest) == 2 and rest[0] == "rules":
            matching = [r for r in gate["rules"] if r["id"] == rest[1]]
            if not matching:
                return _error(404, "Rule does not exist")
            rule = matching[0]
            if method == "PUT":
                if "type" in attrs or any(k not in attrs for k in ("name", "options", "dry_run")):
                    return _error(
                        400, "name, options and dry_run are required; type is not allowed"
                    )
                rule.update({k: attrs[k] for k in ("name", "options", "dry_run")})
                return 200, json.dumps({"data": {"id": rule["id"]}})
            if method == "DELETE":
                gate["rules"].remove(rule)
                return 204, ""
        return _error(405, "method not allowed")


def _drive(
    fake: Fake, task: dict[str, Any], options: dict[str, Any]
) -> tuple[dict[str, Any], list[int]]:
    now = 1000
    run = GatesRun({**options, "api_key": "k", "app_key": "a"}, task, now)
    waits: list[int] = []
    for _ in range(10_000):
        action = run.poll(now)
        if action["type"] == "send_request":
            result = fake.handle(
                action["request_id"], action["method"], action["url"], action.get("body")
            )
            now += 1
            run.handle(result, now)  # type: ignore[arg-type]
        elif action["type"] == "wait":
            waits.append(action["until"] - now)
            now = action["until"]
            run.handle({"type": "timeout"}, now)
        else:
            report: dict[str, Any] = action["report"]
            return report, waits
    raise AssertionError("the run did not end")


def _lines(report: dict[str, Any]) -> list[str]:
    changes = (report.get("plan") or {}).get("changes", [])
    return [f"{c['action']} {_subject(c)}" for c in changes]


def _subject(c: dict[str, Any]) -> str:
    gate = f"gate {c['service']}/{c['env']}/{c['identifier']}"
    return f"rule {json.dumps(c['rule'])} of {gate}" if c.get("rule") is not None else gate


def _task(kind: str, s: dict[str, Any]) -> dict[str, Any]:
    return {"task": kind, "file": s["file"], "prune": s.get("prune")}


def test_corpus_has_at_least_20_scenarios() -> None:
    assert len(SCENARIOS) >= 20


@pytest.mark.parametrize("s", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
def test_plan_corpus(s: dict[str, Any]) -> None:
    expect = s["expect"]
    fake = Fake(s["server"])
    before = json.loads(json.dumps(fake.gates))
    report, _ = _drive(fake, _task("plan", s), {})
    assert report["ok"], report.get("error")
    assert fake.gates == before
    assert _lines(report) == expect["plan"]
    for text in expect.get("text_contains", []):
        assert text in gatepost.gates.render(report["plan"])

    fake = Fake(s["server"])
    report, waits = _drive(fake, _task("apply", s), s.get("options", {}))
    if "error" in expect:
        assert not report["ok"]
        assert expect["error"] in report["error"]
    else:
        assert report["ok"], report.get("error")
    assert fake.requests == expect["requests"]
    if "bodies" in expect:
        assert fake.bodies == expect["bodies"]
    if "waits" in expect:
        assert waits == expect["waits"]
    if "error" in expect and "resume" not in expect:
        return
    fake.faults = []
    if "resume" in expect:
        fake.requests = []
        report, _ = _drive(fake, _task("apply", s), {})
        assert report["ok"], report.get("error")
        assert fake.requests == expect["resume"]
    fake.requests = []
    report, _ = _drive(fake, _task("apply", s), {})
    assert report["ok"] and _lines(report) == []
    assert all(r.startswith("GET ") for r in fake.requests)


def _world(tmp_path: Path, faults: dict[str, Any]) -> Path:
    world = json.loads((ROOT / "examples/worlds/healthy.json").read_text())
    world.pop("$schema", None)
    world["faults"] = faults
    path = tmp_path / "world.json"
    path.write_text(json.dumps(world))
    return path


def test_export_plan_edit_apply_round_trip_against_the_emulator(tmp_path: Path) -> None:
    emulator = Emulator(_world(tmp_path, {}))
    try:
        url = emulator.url
        exported = gatepost.gates.export(service="checkout", api_url=url)
        assert exported["ok"], exported.get("error")
        file = exported["export"]
        assert [g["service"] for g in file["gates"]] == ["checkout"]
        assert gatepost.gates.plan(file, api_url=url)["plan"]["changes"] == []

        file["gates"][0]["rules"][0]["options"]["duration"] = 600
        file["gates"].append({"service": "payments", "env": "prod", "dryRun": True, "rules": [
            {"type": "monitor", "name": "Payments", "options": {"query": "service:payments"}}]})  # fmt: skip
        planned = gatepost.gates.plan(json.dumps(file), api_url=url)
        assert planned["ok"] and planned["plan"]["changes"]
        assert "options.duration: 300 → 600" in gatepost.gates.render(planned["plan"])
        events: list[Any] = []
        applied = gatepost.gates.apply(file, api_url=url, on_event=events.append)
        assert applied["ok"], applied.get("error")
        assert applied["applied"] == len(applied["plan"]["changes"])
        assert any("created gate payments/prod/default" in e["message"] for e in events)
        assert gatepost.gates.plan(file, api_url=url)["plan"]["changes"] == []
    finally:
        emulator.close()


def test_an_interrupted_apply_is_resumed_by_calling_it_again(tmp_path: Path) -> None:
    faults = {"rules": [{"kind": "pass", "times": 2}, {"kind": "reset"}]}
    emulator = Emulator(_world(tmp_path, faults))
    try:
        file = {"gates": [{"service": "search", "env": "prod", "rules": [
            {"type": "monitor", "name": n, "options": {"query": "service:search"}} for n in ("a", "b", "c", "d")]}]}  # fmt: skip
        first = gatepost.gates.apply(file, api_url=emulator.url, max_retries=0)
        assert not first["ok"] and "run it again to resume" in first["error"]
        assert 0 < first["applied"] < len(first["plan"]["changes"])
        second = gatepost.gates.apply(file, api_url=emulator.url)
        assert second["ok"], second.get("error")
        assert all(c["action"] == "create" and c.get("rule") for c in second["plan"]["changes"])
        assert gatepost.gates.plan(file, api_url=emulator.url)["plan"]["changes"] == []
    finally:
        emulator.close()


def test_an_invalid_file_raises_with_every_problem() -> None:
    with pytest.raises(gatepost.ConfigError) as info:
        gatepost.gates.plan(
            '{"gates": [{"service": "a", "rules": []}]}', api_url="http://127.0.0.1:9"
        )
    assert [p.path for p in info.value.problems] == ["gates[0]"]
