"""Counting and wording shared by the renderers, so every format says the same numbers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from safemigrate.lint.findings import Finding, LintResult
from safemigrate.lint.rule import Category, Severity

# Severities that can appear on an active finding, most severe first.
SEVERITIES: tuple[Severity, ...] = (Severity.ERROR, Severity.WARNING, Severity.INFO)


def by_severity(findings: Iterable[Finding]) -> dict[str, int]:
    """Counts per severity, most severe first, only severities that occur."""
    counts = Counter(f.severity for f in findings)
    return {s.value: counts[s] for s in SEVERITIES if counts[s]}


def by_category(findings: Iterable[Finding]) -> dict[str, int]:
    """Counts per category, in the catalog's category order, only categories that occur."""
    counts = Counter(f.category for f in findings)
    return {c.value: counts[c] for c in Category if counts[c]}


def plural(count: int, word: str) -> str:
    """``1 error``, ``2 errors``; ``info`` and ``statement`` follow the usual rules too."""
    if count == 1 or word == "info":
        return f"{count} {word}"
    return f"{count} {word}s"


def first_names(names: Sequence[str], shown: int) -> str:
    """``a, b, c and 7 more``: the first ``shown`` names of a list that can be long."""
    more = len(names) - shown
    if more <= 0:
        return ", ".join(names)
    return ", ".join(names[:shown]) + f" and {more} more"


def severity_phrase(findings: Sequence[Finding]) -> str:
    """``3 errors, 1 warning``; empty when there is nothing active."""
    return ", ".join(plural(n, name) for name, n in by_severity(findings).items())


def summary_line(result: LintResult) -> str:
    """``3 errors, 1 warning in 2 files (14 statements)``, or ``No findings in ...`` when clean."""
    active = result.active()
    scope = f"in {plural(len(result.files), 'file')} ({plural(result.statements, 'statement')})"
    head = severity_phrase(active) or "No findings"
    suppressed = len(result.findings) - len(active)
    tail = f"; {suppressed} suppressed" if suppressed else ""
    return f"{head} {scope}{tail}"


def object_label(finding: Finding) -> str:
    """``public.User.nickname``: the finding's object as one dotted name, empty when it has none."""
    return ".".join(finding.object.as_dict().values())
