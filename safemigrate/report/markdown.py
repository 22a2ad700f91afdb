"""``lint --format markdown``: a report for a pull-request comment or ``$GITHUB_STEP_SUMMARY``.

A heading and a one-line verdict, a summary table (categories x severities), one section per
migration with findings (its transaction shape, a findings table, the help in a ``<details>``
block), the clean migrations in one table, and suppressed findings in a collapsed ``<details>``.
Rendered from ``templates/lint.md.j2``; the returned text has no trailing newline.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from safemigrate.lint.findings import FileReport, Finding, LintResult
from safemigrate.lint.rule import Category
from safemigrate.report.counts import SEVERITIES, object_label, plural, severity_phrase
from safemigrate.report.templating import render


@dataclass(frozen=True)
class _Migration:
    report: FileReport
    findings: tuple[Finding, ...]


@dataclass(frozen=True)
class _CategoryRow:
    category: str
    counts: tuple[int, ...]  # per severity, in SEVERITIES order
    total: int


def render_markdown(result: LintResult, tool_version: str) -> str:
    """The markdown report for ``result``."""
    active = result.active()
    migrations = [_Migration(report, tuple(f for f in active if f.file == report.file)) for report in result.files]
    # Findings on files without a report (should not happen) still show up, under their own file.
    known = {r.file for r in result.files}
    for file in dict.fromkeys(f.file for f in active if f.file not in known):
        findings = tuple(f for f in active if f.file == file)
        migrations.append(_Migration(FileReport(file, findings[0].migration, 0, "unknown"), findings))
    return render(
        "lint.md.j2",
        tool_version=tool_version,
        verdict=_verdict(result),
        severities=[s.value for s in SEVERITIES],
        category_rows=_category_rows(active),
        severity_totals=[sum(1 for f in active if f.severity is s) for s in SEVERITIES],
        total=len(active),
        with_findings=[m for m in migrations if m.findings],
        clean=[m for m in migrations if not m.findings],
        suppressed=[f for f in result.findings if f.suppressed],
        object_label=object_label,
        plural=plural,
    )


def _verdict(result: LintResult) -> str:
    active = result.active()
    scope = f"{plural(len(result.files), 'migration file')}, {plural(result.statements, 'statement')}"
    if not active:
        return f"No findings ({scope})."
    counts = severity_phrase(active)
    if any(f.severity.value == "error" for f in active):
        return f"Not safe to deploy as written: {counts} ({scope})."
    return f"Review needed: {counts} ({scope})."


def _category_rows(active: tuple[Finding, ...]) -> list[_CategoryRow]:
    counts = Counter((f.category, f.severity) for f in active)
    rows = []
    for category in Category:
        per_severity = tuple(counts[(category, s)] for s in SEVERITIES)
        if any(per_severity):
            rows.append(_CategoryRow(category.value, per_severity, sum(per_severity)))
    return rows
