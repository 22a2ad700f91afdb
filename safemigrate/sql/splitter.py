"""Split SQL text into statements with exact positions, the way PostgreSQL's lexer sees it.

A semicolon only ends a statement outside comments (``--`` and nested ``/* */``), string constants
(``'...'`` with ``''``, ``E'...'`` with backslash escapes), quoted identifiers (``"..."``) and
dollar-quoted bodies (``$tag$...$tag$``). Anything left open at the end of the file is reported on
the statement (``unterminated``) rather than guessed at.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Position:
    offset: int
    line: int  # 1-based
    column: int  # 1-based, in characters


@dataclass(frozen=True)
class Comment:
    text: str  # the comment body without its delimiters
    start: Position
    end_line: int
    block: bool


@dataclass(frozen=True)
class RawStatement:
    index: int  # 0-based within the file
    text: str  # from the first token to the last character before the terminating semicolon
    start: Position
    end: Position  # position of the last character of the statement text
    comments: tuple[Comment, ...]  # comments inside the statement
    leading_comments: tuple[Comment, ...]  # comments between the previous statement and this one
    unterminated: str | None  # what was left open at end of file: "string", "comment", ...


@dataclass(frozen=True)
class SplitResult:
    statements: tuple[RawStatement, ...]
    trailing_comments: tuple[Comment, ...]  # comments after the last statement
    all_comments: tuple[Comment, ...]


class _Lines:
    """Offset -> (line, column) in O(log n)."""

    def __init__(self, text: str) -> None:
        self._starts = [0, *(match.end() for match in _NEWLINE.finditer(text))]

    def position(self, offset: int) -> Position:
        line_index = bisect.bisect_right(self._starts, offset) - 1
        return Position(offset, line_index + 1, offset - self._starts[line_index] + 1)


_NEWLINE = re.compile("\n")
# Ordinary code, quoted identifiers included (Prisma quotes every name), matched at C speed up to the
# next character that can start a comment, a string, a dollar quote or end the statement. An
# identifier left open at the end of the file is not matched: its '"' stops the run.
_ORDINARY = re.compile(r"""(?:[^-/;'"$]+|-(?!-)|/(?!\*)|"(?:[^"]|"")*")*""")
_NON_SPACE = re.compile(r"\S")
_STANDARD_STRING_END = re.compile(r"(?:[^']|'')*'")
_ESCAPE_STRING_END = re.compile(r"(?:[^'\\]|\\.|'')*'(?!')", re.DOTALL)  # (?!'): no backtracking into an escaped ''
_IDENTIFIER_END = re.compile(r'(?:[^"]|"")*"')
_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$")
_BLOCK_COMMENT_TOKEN = re.compile(r"/\*|\*/")


def _is_ident_char(ch: str) -> bool:
    return ch.isalnum() or ch in "_$"


def _last_non_space(text: str, start: int, end: int) -> int:
    """Index of the last non-whitespace character in text[start:end], or -1."""
    stripped = text[start:end].rstrip()
    return start + len(stripped) - 1 if stripped else -1


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

    def finish() -> None:
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
        # An empty statement (";;") keeps its comments for the next statement.
        inside_comments = []
        stmt_start = None
        unterminated = None

    def add_comment(comment: Comment) -> None:
        all_comments.append(comment)
        (pending_comments if stmt_start is None else inside_comments).append(comment)

    def significant(start: int, end: int) -> None:
        """Account for ordinary text[start:end] (code outside literals and comments)."""
        nonlocal stmt_start, last_significant
        if start >= end:
            return
        last = _last_non_space(text, start, end)
        if last < 0:
            return
        if stmt_start is None:
            first = _NON_SPACE.search(text, start, end)
            stmt_start = first.start() if first else start
        last_significant = last

    def open_to_end(what: str, start: int) -> None:
        nonlocal stmt_start, last_significant, unterminated
        if stmt_start is None:
            stmt_start = start
        last_significant = n - 1
        unterminated = what

    i = 0  # start of the code not yet accounted for by significant()
    scan = 0  # where to look for the next special character
    while True:
        j = _ORDINARY.match(text, scan).end()  # type: ignore[union-attr]  # a star pattern always matches
        if j >= n:
            significant(i, n)
            break
        token = text[j]
        if token == "-":  # "--": a lone "-" is ordinary code
            significant(i, j)
            end = text.find("\n", j)
            end = n if end == -1 else end
            pos = lines.position(j)
            add_comment(Comment(text[j + 2 : end].rstrip("\r"), pos, pos.line, block=False))
            i = scan = end
        elif token == "/":  # "/*"
            significant(i, j)
            depth, k = 1, j + 2
            while depth:
                mark = _BLOCK_COMMENT_TOKEN.search(text, k)
                if mark is None:
                    k = n
                    break
                depth += 1 if mark.group() == "/*" else -1
                k = mark.end()
            pos = lines.position(j)
            body_end = k - 2 if depth == 0 else n
            add_comment(Comment(text[j + 2 : body_end], pos, lines.position(max(k - 1, j)).line, block=True))
            if depth and stmt_start is not None:
                unterminated = "block comment"
            elif depth:
                open_to_end("block comment", j)
            i = scan = k
        elif token == ";":
            significant(i, j)
            finish()
            i = scan = j + 1
        elif token == "'":
            # E'...' strings take backslash escapes; the E must start a word of its own.
            escape = j > 0 and text[j - 1] in "eE" and (j == 1 or not _is_ident_char(text[j - 2]))
            end_match = (_ESCAPE_STRING_END if escape else _STANDARD_STRING_END).match(text, j + 1)
            if end_match is None:
                significant(i, j)
                open_to_end("string constant", j - 1 if escape else j)
                break
            scan = end_match.end()  # a string constant is code: the run from i goes on
        elif token == '"':  # only an identifier left open stops the ordinary run
            significant(i, j)
            open_to_end("quoted identifier", j)
            break
        else:  # "$": a dollar quote only where it cannot continue an identifier ($1, a$b are not)
            tag = _DOLLAR_TAG.match(text, j) if j == 0 or not _is_ident_char(text[j - 1]) else None
            if tag is None:
                scan = j + 1
                continue
            close = text.find(tag.group(), tag.end())
            if close == -1:
                significant(i, j)
                open_to_end(f"dollar-quoted body ({tag.group()})", j)
                break
            scan = close + len(tag.group())

    finish()
    return SplitResult(tuple(statements), tuple(pending_comments), tuple(all_comments))
