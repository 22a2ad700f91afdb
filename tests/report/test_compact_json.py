"""The one-line JSON report (orjson) is byte for byte what json.dumps writes, and falls back to it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from safemigrate import api
from safemigrate.report.json_report import compact_json, json_document, render_json

FIXTURES = Path(__file__).parents[2] / "fixtures"


def _reference(document: Any) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


@pytest.mark.parametrize(
    "project", ["blog", *(f"patterns/{p.name}" for p in sorted((FIXTURES / "patterns").iterdir()))]
)
def test_lint_reports_of_the_fixtures_are_the_same_bytes(project: str) -> None:
    outcome = api.lint(project_dir=FIXTURES / project, fail_on="never", use_cache=False)
    document = json_document(outcome.result, "0.1.0")
    assert outcome.result.files and (project != "blog" or outcome.result.findings)
    assert render_json(outcome.result, "0.1.0", pretty=False) == _reference(document)


AWKWARD = [
    "plain",
    'quotes " and back\\slash',
    "control \x00\x01\x08\t\n\x0b\x0c\r\x1f and DEL \x7f",
    "unicode é ü ß 中文 🙂 \u2028\u2029 \ufeff",
    "",
]


def test_awkward_strings_numbers_and_nesting_are_the_same_bytes() -> None:
    document = {
        "strings": AWKWARD,
        "numbers": [0, -1, 2**63 - 1, -(2**63), True, False, None],
        "nested": {"a": [{"b": {}}, [], [[]]], "é": "\U0001f600"},
    }
    assert compact_json(document) == _reference(document)


def test_what_orjson_refuses_is_written_by_json() -> None:
    document = {"path": "migrations/\udcff/migration.sql", "big": 2**70}  # a non-UTF-8 file name; a huge int
    assert compact_json(document) == _reference(document)
