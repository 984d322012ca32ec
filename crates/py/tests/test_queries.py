"""The query-semantics corpus through ``gatepost.match_monitors``.

Rules in ``tests/queries/README.md``; the same cases run in Rust
(``crates/core/tests/query_corpus.rs``), Node and wasm.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gatepost
import pytest

CORPUS = Path(__file__).resolve().parents[3] / "tests" / "queries"


def _cases() -> list[Any]:
    index = json.loads((CORPUS / "index.json").read_text(encoding="utf-8"))
    assert index["schema_version"] == 1
    found = []
    for file in index["files"]:
        topic = json.loads((CORPUS / file).read_text(encoding="utf-8"))
        for case in topic["cases"]:
            monitors = case.get("monitors", topic["monitors"])
            found.append(pytest.param(case, monitors, id=f"{file[:-5]}/{case['name']}"))
    return found


CASES = _cases()


def test_the_corpus_is_not_empty() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize(("case", "monitors"), CASES)
def test_case(case: dict[str, Any], monitors: list[dict[str, Any]]) -> None:
    assert gatepost.match_monitors(case["query"], monitors) == case["expect"], case["query"]


def test_a_bad_query_names_its_column() -> None:
    with pytest.raises(gatepost.UsageError) as caught:
        gatepost.match_monitors("a (", [])
    assert caught.value.problems[0].path == "query"
    assert caught.value.problems[0].column == 3


def test_a_bad_monitor_names_its_path() -> None:
    with pytest.raises(gatepost.UsageError) as caught:
        gatepost.match_monitors("a", [{"id": 1, "groups": [{"name": "k:v", "status": "red"}]}])
    assert caught.value.problems[0].path == "monitors[0].groups[0].status"
