"""The generated TypedDicts (gatepost/_schema_types.py) against the schemas they come from."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import get_args

import pytest
from conftest import ROOT
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
