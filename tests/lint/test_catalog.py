"""Meta-tests over the rule catalog: identity, coverage by cases, examples that prove themselves."""

from __future__ import annotations

import pkgutil
import re
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

import safemigrate.lint.rules as rules_package
from safemigrate.lint.engine import LintOptions, SourceFile, lint_sources
from safemigrate.lint.registry import RULES
from safemigrate.lint.rule import Category, Rule, Severity

CASES = Path(__file__).parent / "cases"
STATEMENT_RULES = [r for r in RULES if r.scope == "statement"]


def test_ids_and_names_are_unique_and_well_formed() -> None:
    assert len({r.id for r in RULES}) == len(RULES)
    assert len({r.name for r in RULES}) == len(RULES)
    for rule in RULES:
        assert re.fullmatch(r"SM[1-6]\d\d", rule.id), rule.id
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", rule.name), rule.name


def test_registry_is_in_id_order_and_lists_every_module() -> None:
    assert [r.id for r in RULES] == sorted(r.id for r in RULES)
    modules = {m.name for m in pkgutil.iter_modules(rules_package.__path__)}
    assert modules == {r.name.replace("-", "_") for r in RULES}


def test_id_hundreds_follow_the_category() -> None:
    digit = {
        Category.DATA_LOSS: "1",
        Category.MAY_FAIL: "2",
        Category.LOCK: "3",
        Category.BREAKING: "4",
        Category.UNCHECKED: "5",
        Category.STYLE: "6",
    }
    for rule in RULES:
        assert rule.id[2] == digit[rule.category], rule.id


def test_style_rules_are_off_by_default_and_others_are_on() -> None:
    for rule in RULES:
        assert (rule.severity is Severity.OFF) == (rule.category is Category.STYLE), rule.name


def test_every_rule_is_documented() -> None:
    for rule in RULES:
        assert rule.summary and rule.alternative and rule.why.strip(), rule.name


@pytest.mark.parametrize("rule", STATEMENT_RULES, ids=lambda r: r.name)
def test_every_statement_rule_has_cases_that_fire_and_cases_that_do_not(rule: Rule) -> None:
    path = CASES / f"{rule.name}.yaml"
    assert path.is_file(), f"missing {path}"
    cases = yaml.safe_load(path.read_text())["cases"]
    assert any(c["expect"] for c in cases), "no case where the rule fires"
    assert any(not c["expect"] for c in cases), "no case where the rule stays quiet"


def _fires(rule: Rule, sql: str) -> bool:
    options = LintOptions(severities={rule.name: Severity.ERROR}, rules=(rule,))
    result = lint_sources([SourceFile("example.sql", "20990101000000_example", sql.encode())], options)
    return any(f.rule == rule.name and f.active for f in result.findings)


@pytest.mark.parametrize("rule", STATEMENT_RULES, ids=lambda r: r.name)
def test_bad_example_fires_and_good_example_does_not(rule: Rule) -> None:
    assert _fires(rule, rule.bad), f"bad example of {rule.name} does not fire"
    assert not _fires(rule, rule.good), f"good example of {rule.name} fires"


ALL_CASE_SQL = [
    (case.get("history") or "", case["sql"])
    for path in sorted(CASES.glob("*.yaml"))
    for case in yaml.safe_load(path.read_text())["cases"]
]


def _hits(rule: Rule, sources: list[SourceFile]) -> list[tuple[int, str]]:
    options = LintOptions(severities={rule.name: Severity.ERROR}, rules=(rule,))
    return [(f.line, f.message) for f in lint_sources(sources, options).findings if f.rule == rule.name]


@pytest.mark.parametrize("rule", [r for r in RULES if r.on], ids=lambda r: r.name)
def test_declared_statement_types_hide_no_finding(rule: Rule) -> None:
    """`on` only skips statements the rule would not fire on: compare with the rule run on everything."""
    everywhere = replace(rule, on=())
    for history, sql in ALL_CASE_SQL:
        sources = [SourceFile("h.sql", "00000000000000_h", history.encode()), SourceFile("m.sql", "1_m", sql.encode())]
        assert _hits(rule, sources) == _hits(everywhere, sources), sql
