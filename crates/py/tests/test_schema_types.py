"""The generated TypedDicts (gatepost/_schema_types.py) against the schemas they come from."""

from __future__ import annotations

import ast
import importlib.util
import json
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, get_args

import gatepost
import pytest
from conftest import API_KEY, APP_KEY, EVALUATION_ID, ROOT, result_body, trigger_body
from gatepost import types

SCRIPT = ROOT / "crates" / "py" / "scripts" / "gen_types.py"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_types", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_committed_module_is_what_the_schemas_give() -> None:
    gen = _generator()
    assert gen.render(gen.Generator().run()) == gen.TARGET.read_text(encoding="utf-8")


def test_a_schema_change_changes_the_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What --check relies on: a new cause in the schemas is a new value of the Cause literal.
    schemas = tmp_path / "schemas"
    shutil.copytree(ROOT / "schemas", schemas)

    def add_cause(name: str) -> None:
        path = schemas / name
        schema = json.loads(path.read_text(encoding="utf-8"))
        schema["$defs"]["Cause"]["oneOf"].append({"const": "brand_new", "type": "string"})
        path.write_text(json.dumps(schema), encoding="utf-8")

    gen = _generator()
    monkeypatch.setattr(gen, "SCHEMAS", schemas)
    add_cause("outcome.schema.json")
    # Only one schema changed: it and the others now define Cause differently, which is refused.
    with pytest.raises(SystemExit, match="define Cause differently"):
        gen.Generator().run()
    add_cause("action.schema.json")
    add_cause("event.schema.json")
    text = gen.render(gen.Generator().run())
    assert '"brand_new"' in text
    assert text != gen.TARGET.read_text(encoding="utf-8")


def test_the_literals_hold_the_schemas_values() -> None:
    outcome = json.loads((ROOT / "schemas" / "outcome.schema.json").read_text(encoding="utf-8"))
    causes = [o["const"] for o in outcome["$defs"]["Cause"]["oneOf"]]
    assert list(get_args(types.Cause)) == causes
    assert list(get_args(types.Verdict)) == outcome["$defs"]["Verdict"]["enum"]
    action = json.loads((ROOT / "schemas" / "action.schema.json").read_text(encoding="utf-8"))
    reasons = [o["const"] for o in action["$defs"]["WaitReason"]["oneOf"]]
    assert list(get_args(types.WaitReason)) == reasons


def _started_id(event: types.Event) -> str | None:
    # Type-checked by mypy in the suite: the tag narrows the union to StartedEvent, whose
    # evaluation_id is required. (With one flat Event, this assignment is an error.)
    if event["type"] == "started":
        started: types.StartedEvent = event
        return started["evaluation_id"]
    return None


def _event_members() -> dict[str, Any]:
    """The Event union's members by the tag their ``type`` key's Literal holds."""
    members: dict[str, Any] = {}
    for member in get_args(types.Event):
        # ForwardRef('Literal["started"]'): the generated module's annotations are not evaluated.
        tag = getattr(member.__annotations__["type"], "__forward_arg__", None)
        assert isinstance(tag, str) and tag.startswith("Literal["), tag
        members[ast.literal_eval(tag[len("Literal[") : -1])] = member
    return members


def test_event_is_one_typed_dict_per_kind_as_the_schema_says() -> None:
    schema = json.loads((ROOT / "schemas" / "event.schema.json").read_text(encoding="utf-8"))
    members = _event_members()
    assert list(members) == [v["properties"]["type"]["const"] for v in schema["oneOf"]]
    for variant in schema["oneOf"]:
        member = members[variant["properties"]["type"]["const"]]
        keys = {*variant["properties"], *schema["properties"]}
        assert member.__required_keys__ | member.__optional_keys__ == keys
        assert member.__required_keys__ == {*variant["required"], *schema["required"]}


def test_the_engines_events_fit_their_kinds_typed_dict() -> None:
    members = _event_members()
    engine = gatepost.Engine(
        {"service": "checkout", "env": "prod", "api_key": API_KEY, "app_key": APP_KEY, "seed": 7},
        0,
    )
    trigger = engine.poll(0)
    assert trigger["type"] == "send_request"

    def answer(request_id: int, body: str) -> types.Response:
        return {
            "type": "response",
            "request_id": request_id,
            "status": 200,
            "headers": [],
            "body": body,
        }

    engine.handle(answer(trigger["request_id"], trigger_body()), 10)
    poll = engine.poll(10)
    assert poll["type"] == "send_request"
    engine.handle(answer(poll["request_id"], result_body("mystery")), 20)
    engine.handle(answer(poll["request_id"], trigger_body()), 30)  # late: ignored
    engine.handle({"type": "cancel"}, 40)
    assert engine.poll(40)["type"] == "done"
    events = engine.drain_events()
    kinds = [event["type"] for event in events]
    assert kinds == ["started", "warning", "progress", "ignored", "finished"]
    assert _started_id(events[0]) == EVALUATION_ID
    for event in events:
        member = members[event["type"]]
        assert member.__required_keys__ <= set(event) <= member.__annotations__.keys(), event
