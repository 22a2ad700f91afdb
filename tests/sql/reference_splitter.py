"""The first, character-by-character splitter, kept as the reference for a differential test of the fast one."""

from __future__ import annotations

import bisect

from safemigrate.sql.splitter import Comment, Position, RawStatement, SplitResult


class _Lines:
    """Offset -> (line, column) in O(log n)."""

    def __init__(self, text: str) -> None:
        self._starts = [0]
        for i, ch in enumerate(text):
            if ch == "\n":
                self._starts.append(i + 1)

    def position(self, offset: int) -> Position:
        line_index = bisect.bisect_right(self._starts, offset) - 1
        return Position(offset, line_index + 1, offset - self._starts[line_index] + 1)


def _is_ident_char(ch: str) -> bool:
    return ch.isalnum() or ch in "_$"


def _dollar_tag_at(text: str, i: int) -> str | None:
    """Return the full opening tag (``$$`` or ``$name$``) starting at ``text[i] == '$'``, if any."""
    j = i + 1
    n = len(text)
    if j < n and text[j] == "$":
        return "$$"
    if j < n and (text[j].isalpha() or text[j] == "_"):
        k = j + 1
        while k < n and (text[k].isalnum() or text[k] == "_"):
            k += 1
        if k < n and text[k] == "$":
            return text[i : k + 1]
    return None


def split_sql(text: str) -> SplitResult:
    """Split ``text`` into statements; never raises."""
    lines = _Lines(text)
    n = len(text)
    statements: list[RawStatement] = []
    all_comments: list[Comment] = []
    pending_comments: list[Comment] = []  # comments seen while no statement has started
    inside_comments: list[Comment] = []
    stmt_start: int | None = None
    last_significant = -1
    unterminated: str | None = None
    i = 0

    def finish(end_exclusive: int) -> None:
        nonlocal stmt_start, pending_comments, inside_comments, unterminated
        if stmt_start is not None:
            end = max(last_significant, stmt_start)
            statements.append(
                RawStatement(
                    index=len(statements),
                    text=text[stmt_start : end + 1],
                    start=lines.position(stmt_start),
                    end=lines.position(end),
                    comments=tuple(inside_comments),
                    leading_comments=tuple(pending_comments),
                    unterminated=unterminated,
                )
            )
            pending_comments = []
        else:
            # An empty statement (";;"): its comments belong to the next statement.
            pass
        inside_comments = []
        stmt_start = None
        unterminated = None

    def add_comment(comment: Comment) -> None:
        all_comments.append(comment)
        if stmt_start is None:
            pending_comments.append(comment)
        else:
            inside_comments.append(comment)

    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch == "-" and text.startswith("--", i):
            end = text.find("\n", i)
            end = n if end == -1 else end
            pos = lines.position(i)
            add_comment(Comment(text[i + 2 : end].rstrip("\r"), pos, pos.line, block=False))
            i = end
            continue
        if ch == "/" and text.startswith("/*", i):
            depth = 1
            j = i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth += 1
                    j += 2
                elif text.startswith("*/", j):
                    depth -= 1
                    j += 2
                else:
                    j += 1
            pos = lines.position(i)
            body_end = j - 2 if depth == 0 else n
            add_comment(Comment(text[i + 2 : body_end], pos, lines.position(max(j - 1, i)).line, block=True))
            if depth:
                if stmt_start is not None:
                    unterminated = "block comment"
                else:
                    # A file that ends inside a comment is a statement of its own, so it is reported.
                    stmt_start = i
                    last_significant = n - 1
                    unterminated = "block comment"
            i = j
            continue
        if ch == ";":
            finish(i)
            i += 1
            continue
        if stmt_start is None:
            stmt_start = i
        # Literals and identifiers: skip to their end so that ';' inside them is not a separator.
        if ch == "'" or (
            ch in "eE" and i + 1 < n and text[i + 1] == "'" and (i == 0 or not _is_ident_char(text[i - 1]))
        ):
            backslash_escapes = ch != "'"
            j = i + (2 if backslash_escapes else 1)
            closed = False
            while j < n:
                c = text[j]
                if backslash_escapes and c == "\\":
                    j += 2
                    continue
                if c == "'":
                    if j + 1 < n and text[j + 1] == "'":
                        j += 2
                        continue
                    closed = True
                    break
                j += 1
            if not closed:
                unterminated = "string constant"
                last_significant = n - 1
                i = n
                break
            last_significant = j
            i = j + 1
            continue
        if ch == '"':
            j = i + 1
            closed = False
            while j < n:
                if text[j] == '"':
                    if j + 1 < n and text[j + 1] == '"':
                        j += 2
                        continue
                    closed = True
                    break
                j += 1
            if not closed:
                unterminated = "quoted identifier"
                last_significant = n - 1
                i = n
                break
            last_significant = j
            i = j + 1
            continue
        if ch == "$" and (i == 0 or not _is_ident_char(text[i - 1])):
            tag = _dollar_tag_at(text, i)
            if tag is not None:
                close = text.find(tag, i + len(tag))
                if close == -1:
                    unterminated = f"dollar-quoted body ({tag})"
                    last_significant = n - 1
                    i = n
                    break
                last_significant = close + len(tag) - 1
                i = close + len(tag)
                continue
        if _is_ident_char(ch):
            j = i + 1
            while j < n and _is_ident_char(text[j]):
                j += 1
            last_significant = j - 1
            i = j
            continue
        last_significant = i
        i += 1

    finish(n)
    return SplitResult(tuple(statements), tuple(pending_comments), tuple(all_comments))
