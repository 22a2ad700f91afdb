"""In-file suppressions: ``-- safemigrate: ignore <rule>[, <rule>] reason: ...``.

A directive applies to the statement it sits in, the statement right below it (any comment
between the previous statement and this one), or the statement whose line it ends (a comment after
the semicolon on the same line). ``allow`` is accepted as a synonym that reads better for accepted
risks (``-- safemigrate: allow drop-column reason: ...``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Matching a comment's own text, not SQL: the directive grammar is ours.
_DIRECTIVE = re.compile(
    r"safemigrate:\s*(?P<verb>ignore|allow)\b(?P<rules>.*?)(?:\breason:\s*(?P<reason>.*))?$",
    re.IGNORECASE | re.DOTALL,
)
_MARKER = re.compile(r"\bsafemigrate:", re.IGNORECASE)


@dataclass(frozen=True)
class Directive:
    verb: str
    rules: tuple[str, ...]
    reason: str | None
    line: int
    column: int


@dataclass(frozen=True)
class BadDirective:
    text: str
    line: int
    column: int


def parse_directive(text: str, line: int, column: int) -> Directive | BadDirective | None:
    """Read one comment body; None when it is not meant for safemigrate."""
    if not _MARKER.search(text):
        return None
    match = _DIRECTIVE.search(" ".join(text.split()))
    if match is None:
        return BadDirective(text.strip(), line, column)
    rules = tuple(r for r in re.split(r"[\s,]+", match.group("rules").strip()) if r)
    if not rules:
        return BadDirective(text.strip(), line, column)
    reason = (match.group("reason") or "").strip() or None
    return Directive(match.group("verb").lower(), rules, reason, line, column)
