"""The JSON output is a contract (design: "lint --format json"): keys, order, types, counts."""

from __future__ import annotations

import json

from report_sample import ADD_POST, DROP_NICKNAME

from safemigrate.lint.findings import LintResult
from safemigrate.report.json_report import render_json

FINDING_KEYS = [
    "rule", "category", "severity", "file", "line", "column", "end_line", "migration", "statement_index",
    "object", "message", "help", "suppressed", "suppression_reason",
]  # fmt: skip
CATEGORIES = {"data-loss", "may-fail", "lock", "breaking", "unchecked", "style"}


def test_top_level_and_summary(lint_result: LintResult) -> None:
    doc = json.loads(render_json(lint_result, "1.2.3"))
    assert list(doc) == ["version", "tool", "findings", "summary", "migrations"]
    assert doc["version"] == 1
    assert doc["tool"] == "safemigrate 1.2.3"
    summary = doc["summary"]
    assert list(summary) == ["files", "statements", "findings", "by_severity", "by_category"]
    assert summary["files"] == 2
    assert summary["statements"] == 4
    assert summary["findings"] == 2  # active only: the suppressed drop-table is not counted
    assert summary["by_severity"] == {"error": 1, "warning": 1}
    assert list(summary["by_severity"]) == ["error", "warning"]
    assert summary["by_category"] == {"data-loss": 1, "unchecked": 1}


def test_findings(lint_result: LintResult) -> None:
    findings = json.loads(render_json(lint_result, "0.1.0"))["findings"]
    assert [f["rule"] for f in findings] == ["drop-column", "drop-table", "unparsed-statement"]
    for f in findings:
        assert list(f) == FINDING_KEYS
        assert f["category"] in CATEGORIES
        assert f["severity"] in {"error", "warning", "info"}
        for key in ("line", "column", "end_line", "statement_index"):
            assert type(f[key]) is int and f[key] >= 0
        assert f["line"] >= 1 and f["column"] >= 1 and f["end_line"] >= f["line"]
        for key in ("rule", "file", "migration", "message", "help"):
            assert isinstance(f[key], str) and f[key]
        assert set(f["object"]) <= {"schema", "table", "column"}
        assert all(isinstance(v, str) and v for v in f["object"].values())
        assert type(f["suppressed"]) is bool
        assert f["suppression_reason"] is None or isinstance(f["suppression_reason"], str)

    drop_column, drop_table, unparsed = findings
    assert drop_column["file"] == DROP_NICKNAME
    assert drop_column["migration"] == "20240102000000_drop_nickname"
    assert (drop_column["line"], drop_column["column"], drop_column["end_line"]) == (8, 1, 9)
    assert drop_column["statement_index"] == 0
    assert list(drop_column["object"].items()) == [
        ("schema", "public"),
        ("table", "User"),
        ("column", "nickname"),
    ]
    assert drop_column["suppressed"] is False and drop_column["suppression_reason"] is None
    assert drop_table["suppressed"] is True
    assert drop_table["suppression_reason"] == "Legacy was archived to S3 in OPS-12"
    assert drop_table["object"] == {"schema": "public", "table": "Legacy"}
    assert unparsed["object"] == {}
    assert "statement_text" not in unparsed


def test_migrations(lint_result: LintResult) -> None:
    migrations = json.loads(render_json(lint_result, "0.1.0"))["migrations"]
    assert migrations == [
        {"file": DROP_NICKNAME, "migration": "20240102000000_drop_nickname", "statements": 3,
         "transaction": "single implicit transaction"},
        {"file": ADD_POST, "migration": "20240103000000_add_post", "statements": 1,
         "transaction": "single implicit transaction"},
    ]  # fmt: skip
    assert all(list(m) == ["file", "migration", "statements", "transaction"] for m in migrations)


def test_clean_result() -> None:
    doc = json.loads(render_json(LintResult((), ()), "0.1.0"))
    assert doc["findings"] == []
    assert doc["summary"] == {
        "files": 0,
        "statements": 0,
        "findings": 0,
        "by_severity": {},
        "by_category": {},
    }
