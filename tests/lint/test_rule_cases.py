"""Per-rule cases as data: tests/lint/cases/<rule-name>.yaml, each case running only its own rule.

Case file format:

    rule: drop-column
    cases:
      - id: drops-existing-column        # readable pytest id
        history: |                       # optional: earlier migrations, folded into the model only
          CREATE TABLE "User" ("id" INTEGER, "nickname" TEXT);
        sql: |                           # the migration under test
          ALTER TABLE "User" DROP COLUMN "nickname";
        expect:                          # hits of this rule, in order ([] = must not fire)
          - line: 1
            object: {table: User, column: nickname}   # optional, compared as a subset
            message: nickname                          # optional substring of the message
        suppressed: 0                    # optional: how many hits are suppressed (same-deploy tables...)
        history_in_deploy: true          # optional: the history is a migration of the same deploy
        one_transaction: false           # optional: LintSettings.one_transaction (default: not known)
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from safemigrate.lint.engine import LintOptions, SourceFile, lint_sources
from safemigrate.lint.rule import LintSettings, Rule, Severity

CASES_DIR = Path(__file__).parent / "cases"


def load_rule(name: str) -> Rule:
    module = importlib.import_module("safemigrate.lint.rules." + name.replace("-", "_"))
    rule: Rule = module.RULE
    assert rule.name == name, f"{module.__name__} defines {rule.name}, expected {name}"
    return rule


def _cases() -> list[Any]:
    params = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        for case in data["cases"]:
            params.append(pytest.param(data["rule"], case, id=f"{data['rule']}::{case['id']}"))
    return params


def run_case(rule: Rule, case: dict[str, Any]) -> list[Any]:
    sources = []
    if case.get("history"):
        sources.append(SourceFile("history.sql", "00000000000000_history", case["history"].encode()))
    sources.append(SourceFile("migration.sql", "20990101000000_case", case["sql"].encode()))
    deploy = {"00000000000000_history", "20990101000000_case"} if case.get("history_in_deploy") else set()
    options = LintOptions(
        settings=LintSettings(pg_version=int(case.get("pg_version", 16)), one_transaction=case.get("one_transaction")),
        deploy=frozenset(deploy),
        severities={rule.name: Severity.ERROR},  # style rules are off by default; cases run them anyway
        report=frozenset({"migration.sql"}),
        rules=(rule,),
    )
    return [f for f in lint_sources(sources, options).findings if f.rule == rule.name]


@pytest.mark.parametrize(("rule_name", "case"), _cases())
def test_rule_case(rule_name: str, case: dict[str, Any]) -> None:
    rule = load_rule(rule_name)
    hits = run_case(rule, case)
    active = [h for h in hits if not h.suppressed]
    expected = case["expect"]
    assert len(active) == len(expected), [(h.line, h.message) for h in active]
    for hit, want in zip(active, expected, strict=True):
        assert hit.line == want["line"], (hit.line, hit.message)
        for key, value in (want.get("object") or {}).items():
            assert getattr(hit.object, key) == value, (key, hit.object)
        if "message" in want:
            assert want["message"] in hit.message, hit.message
        if "help" in want:
            assert want["help"] in hit.help, hit.help
    if "suppressed" in case:
        assert len([h for h in hits if h.suppressed]) == case["suppressed"]
