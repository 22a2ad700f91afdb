"""Rule pages are generated from the catalog; the checked-in docs/rules must match it."""

from __future__ import annotations

from pathlib import Path

import pytest

from safemigrate import docs_gen
from safemigrate.lint.registry import RULES
from safemigrate.lint.rule import Rule
from safemigrate.report.rule_page import render_rule_index, render_rule_page

REPO_DOCS = Path(__file__).resolve().parents[2] / "docs" / "rules"


def test_checked_in_rule_docs_are_fresh() -> None:
    problems = docs_gen.stale_rule_docs(REPO_DOCS)
    assert problems == [], "run `python -m safemigrate.docs_gen` and commit docs/rules: " + ", ".join(problems)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_page(rule: Rule) -> None:
    page = render_rule_page(rule)
    assert page.splitlines()[0] == f"# {rule.id} {rule.name}"
    assert f"| Category | `{rule.category.value}` |" in page
    assert f"| Default severity | {rule.severity.value}" in page
    assert ("| Lock |" in page) == bool(rule.lock)
    assert f"## Bad\n\n```sql\n{rule.bad.strip()}\n```" in page
    assert f"## Good\n\n```sql\n{rule.good.strip()}\n```" in page
    assert "## Safer alternative" in page
    assert "``" not in page.replace("```", "")  # reST literals became markdown ones
    assert not page.endswith("\n")


def test_index_links_every_rule() -> None:
    index = render_rule_index(RULES)
    for rule in RULES:
        assert f"| {rule.id} | [{rule.name}]({rule.name}.md) |" in index


def test_generate_then_check(tmp_path: Path) -> None:
    docs = tmp_path / "rules"
    assert docs_gen.main(["--check", "--docs-dir", str(docs)]) == 1
    assert not docs.exists()  # --check writes nothing
    assert docs_gen.main(["--docs-dir", str(docs)]) == 0
    assert sorted(p.name for p in docs.iterdir()) == sorted([f"{r.name}.md" for r in RULES] + ["README.md"])
    assert docs_gen.stale_rule_docs(docs) == []
    assert docs_gen.main(["--check", "--docs-dir", str(docs)]) == 0

    (docs / "drop-table.md").write_text("edited by hand\n")
    (docs / "old-rule.md").write_text("a rule that was removed\n")
    (docs / "drop-column.md").unlink()
    (docs / "notes.txt").write_text("not a page\n")
    assert docs_gen.stale_rule_docs(docs) == [
        "drop-column.md: missing",
        "drop-table.md: stale",
        "old-rule.md: extra",
    ]
    assert docs_gen.main(["--check", "--docs-dir", str(docs)]) == 1
    assert (docs / "drop-table.md").read_text() == "edited by hand\n"

    changes = docs_gen.write_rule_docs(docs)
    assert changes == ["drop-column.md: written", "drop-table.md: written", "old-rule.md: removed"]
    assert docs_gen.stale_rule_docs(docs) == []
    assert (docs / "notes.txt").exists()
    page = (docs / "drop-table.md").read_text()
    assert page.startswith("<!-- Generated") and page.endswith(render_rule_page(RULES[0]) + "\n")
