"""Lock findings weighed against the live size of their table.

A lock rule cannot know how long its lock is held: building an index or rewriting a 200-row table
takes milliseconds, on fifty million rows it blocks the application for minutes. The plan keeps the
rules as they are and post-processes their findings with one table (rule -> does its cost grow with
the table?): on a small table such a finding becomes ``info``, on a large one ``error``, in between
it keeps the severity lint gave it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from safemigrate.lint.findings import Finding
from safemigrate.lint.rule import Severity
from safemigrate.plan.model import PlanFinding, TableFacts
from safemigrate.plan.settings import PlanSettings

# Every `lock` rule of the catalog, and whether the time its lock is held grows with the table.
SIZE_SENSITIVE: Mapping[str, bool] = {
    "add-generated-column": True,  # rewrites the table
    "add-serial-identity": True,  # rewrites the table
    "cluster": True,
    "constraint-validation-lock": True,  # scans the table while holding the lock
    "create-index-non-concurrent": True,
    "reindex-non-concurrent": True,
    "set-logged-unlogged": True,
    "set-not-null-scan": True,
    "type-change-rewrite": True,
    "vacuum-full": True,
    "volatile-default": True,
    "concurrently-in-transaction": False,  # fails whatever the size
    "drop-index-non-concurrent": False,  # brief; the wait for other sessions is what hurts (see blockers)
    "missing-lock-timeout": False,  # about queueing behind other sessions, not about the table's size
}


def _size_text(facts: TableFacts) -> str:
    rows = f"about {facts.rows_estimate:,} rows" if facts.rows_estimate is not None else "an unknown number of rows"
    return f"{facts.name} holds {rows} ({_bytes_text(facts.total_bytes)})"


def _bytes_text(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"  # pragma: no cover - the loop returns at GB


def weigh(facts: TableFacts, settings: PlanSettings) -> Severity | None:
    """The severity a size-sensitive lock finding gets on this table; None: keep lint's."""
    rows = facts.rows_estimate
    if (rows is not None and rows >= settings.large_table_rows) or facts.total_bytes >= settings.large_table_bytes:
        return Severity.ERROR
    if rows is not None and rows < settings.small_table_rows and facts.total_bytes < settings.small_table_bytes:
        return Severity.INFO
    return None


def adjust_findings(
    findings: Iterable[Finding],
    tables: Mapping[tuple[str, str], TableFacts],
    settings: PlanSettings,
    default_schema: str,
) -> tuple[PlanFinding, ...]:
    """Each finding with its table's live size; size-sensitive lock findings re-weighed."""
    result = []
    for finding in findings:
        facts = None
        if finding.object.table is not None:
            facts = tables.get((finding.object.schema or default_schema, finding.object.table))
        if facts is None or not finding.active or not SIZE_SENSITIVE.get(finding.rule, False):
            result.append(PlanFinding(finding, finding.severity, facts))
            continue
        severity = weigh(facts, settings)
        if severity is None or severity is finding.severity:
            result.append(PlanFinding(finding, finding.severity, facts))
            continue
        if severity is Severity.ERROR:
            reason = (
                f"{_size_text(facts)}: at or above [plan] large_table_rows ({settings.large_table_rows:,}) "
                f"or large_table_bytes ({_bytes_text(settings.large_table_bytes)})"
            )
        else:
            reason = f"{_size_text(facts)}: below [plan] small_table_rows ({settings.small_table_rows:,})"
        result.append(PlanFinding(replace(finding, severity=severity), finding.severity, facts, reason))
    return tuple(result)
