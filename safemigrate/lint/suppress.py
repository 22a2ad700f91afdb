"""In-file suppressions: ``-- safemigrate: ignore <rule>[, <rule>] reason: ...``.

A directive applies to the statement it sits in, the statement right below it (any comment
between the previous statement and this one), or the statement whose line it ends (a comment after
the semicolon on the same line). ``allow`` is accepted as a synonym that reads better for accepted
risks (``-- safemigrate: allow drop-column reason: ...``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from safemigrate.sql.splitter import Comment, RawStatement

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


@dataclass(frozen=True)
class FileDirectives:
    attached: tuple[tuple[int, Directive], ...] = ()  # (statement index, directive)
    loose: tuple[Directive | BadDirective, ...] = ()  # unreadable, or attached to no statement


def directives_of(statements: Sequence[RawStatement], trailing: Sequence[Comment]) -> FileDirectives:
    """Attach each directive found in the file's comments to its statement."""
    attached: list[tuple[int, Directive]] = []
    loose: list[Directive | BadDirective] = []

    def place(comment: Comment, index: int | None) -> None:
        parsed = parse_directive(comment.text, comment.start.line, comment.start.column)
        if parsed is None:
            return
        if isinstance(parsed, BadDirective) or index is None:
            loose.append(parsed)
        else:
            attached.append((index, parsed))

    for i, statement in enumerate(statements):
        for comment in statement.leading_comments:
            # A comment after the previous statement's semicolon, on its last line, belongs to it.
            same_line_as_previous = i > 0 and comment.start.line == statements[i - 1].end.line
            place(comment, i - 1 if same_line_as_previous else i)
        for comment in statement.comments:
            place(comment, i)
    for comment in trailing:
        same_line = bool(statements) and comment.start.line == statements[-1].end.line
        place(comment, len(statements) - 1 if same_line else None)
    return FileDirectives(tuple(attached), tuple(loose))
