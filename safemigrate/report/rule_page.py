"""A rule's reference page, from its metadata: docs/rules/<name>.md and ``safemigrate rules explain``.

Both come from ``templates/rule.md.j2`` (one template, so the docs and the CLI never disagree);
the index ``docs/rules/README.md`` from ``templates/rules_index.md.j2``. The returned text has no
trailing newline.
"""

from __future__ import annotations

from collections.abc import Sequence

from safemigrate.lint.rule import Category, Rule
from safemigrate.report.templating import docstring_markdown, escape_md, render

CATEGORY_MEANINGS: dict[Category, str] = {
    Category.DATA_LOSS: "stored rows or values are removed or overwritten",
    Category.MAY_FAIL: "fails on some existing data",
    Category.LOCK: "holds a blocking lock for a time that grows with the table",
    Category.BREAKING: "breaks application code still running against the old schema",
    Category.UNCHECKED: "could not be analysed: never silently passed",
    Category.STYLE: "opinions: off by default",
}


def render_rule_page(rule: Rule) -> str:
    """``# SM101 drop-table``, the summary, category/severity/lock, why, alternative, examples."""
    return render(
        "rule.md.j2",
        rule=rule,
        why=why_markdown(rule),
        references=[_reference(ref) for ref in rule.references],
    )


def render_rule_index(rules: Sequence[Rule]) -> str:
    """The catalog as one table, each rule linking to ``<name>.md``."""
    return render(
        "rules_index.md.j2",
        rules=list(rules),
        categories=[(c.value, CATEGORY_MEANINGS.get(c, "")) for c in Category],
    )


def why_markdown(rule: Rule) -> str:
    """The rule's docstring as markdown, without a first paragraph that only repeats the summary."""
    why = docstring_markdown(rule.why)
    first, _, rest = why.partition("\n\n")
    if " ".join(first.split()) == " ".join(rule.summary.split()):
        return rest.strip()
    return why


def _reference(ref: str) -> str:
    return f"<{ref}>" if ref.startswith(("https://", "http://")) and " " not in ref else escape_md(ref)
