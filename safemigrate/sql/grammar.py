"""PostgreSQL's own parser (libpg_query, through pglast) as the judge of syntax.

sqlglot, which the linter reads statements with, is lenient in places and does not know every
PostgreSQL form: a statement it cannot read may be valid SQL the linter does not know, or a typo that
fails the deploy. PostgreSQL's raw parser tells the two apart without a server: it is the grammar and
lexer of PostgreSQL 18, and it runs no statement, resolves no name and checks no type (those errors
only show on a server, in ``dry-run``).

A file is parsed whole, as PostgreSQL reads a script (microseconds): a refused file names where it
fails, and the rest of the file after that statement is parsed again, so that each refused statement
is named without cutting the file where PostgreSQL would not (``BEGIN ATOMIC`` bodies, rules with
several actions).

Older servers read some of PostgreSQL 18's keywords as plain names (``system_user`` became a keyword
in 16, ``json_value`` in 17): a statement that parses once those words are quoted is marked with them
(:attr:`Rejection.newer_keywords`), and is refused only when the migrations target PostgreSQL 18.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from safemigrate.sql import model as m
from safemigrate.sql.splitter import RawStatement

GRAMMAR_MAJOR = 18  # the PostgreSQL version of pglast's parser (pglast 8)

# Keywords of PostgreSQL 18's grammar that PostgreSQL 15 does not have, or reserves less: pg_get_keywords()
# of a PostgreSQL 15 server against pglast.keywords (tests/db/test_grammar_keywords.py checks it).
NEWER_KEYWORDS = frozenset(
    {
        "absent", "conditional", "empty", "enforced", "error", "format", "indent", "json", "json_array",
        "json_arrayagg", "json_exists", "json_object", "json_objectagg", "json_query", "json_scalar",
        "json_serialize", "json_table", "json_value", "keep", "keys", "merge_action", "nested", "objects",
        "omit", "path", "period", "plan", "quotes", "scalar", "source", "string", "system_user", "target",
        "unconditional", "virtual",
    }
)  # fmt: skip


NUL_MESSAGE = (
    "a NUL character (byte 0), which PostgreSQL refuses anywhere in a query, comments included: the "
    'whole file fails with "invalid message format"'
)


def refused_on(rejection: m.Rejection, pg_version: int) -> bool:
    """Whether a server of ``pg_version`` refuses the statement too, as far as the parser can tell."""
    return not rejection.newer_keywords or pg_version >= GRAMMAR_MAJOR


def rejections(text: str, statements: Sequence[RawStatement]) -> dict[int, m.Rejection]:
    """The statements (by index) PostgreSQL's parser refuses, with its message and where. Never
    raises: should the parser itself fail on some input, it gives no verdict."""
    from pglast import parser  # loaded on first use: a lint served from its cache never needs it

    found: dict[int, m.Rejection] = {}
    if not statements:
        return found
    starts = [raw.start.offset for raw in statements]
    nul = text.find("\0")
    if nul >= 0:
        # The wire protocol ends a query at its first NUL, so the server refuses the whole file ("invalid
        # message format", seen with node-postgres, Prisma's driver). The rest is judged without the NULs.
        raw = statements[max(0, bisect.bisect_right(starts, nul) - 1)]
        found[raw.index] = _rejection(text, nul, NUL_MESSAGE, ())
        text = text.replace("\0", " ")
    base = 0
    while True:
        try:
            parser.parse_sql_json(text[base:])
            return found
        except parser.ParseError as err:
            error = err
        except Exception:  # not a verdict on the SQL: say nothing more
            return found
        offset = _offset(error)
        at = len(text) if offset is None else base + offset
        index = max(0, bisect.bisect_right(starts, at) - 1)
        raw = statements[index]
        if raw.unterminated:  # reported on its own: the file ends inside a string or comment
            return found
        message = str(error.args[0]) if error.args else "syntax error"
        found.setdefault(raw.index, _rejection(text, at, message, _newer_keywords(raw.text)))
        if index + 1 >= len(statements):
            return found
        base = statements[index + 1].start.offset


def _rejection(text: str, at: int, message: str, newer_keywords: tuple[str, ...]) -> m.Rejection:
    at = min(at, len(text))
    line = text.count("\n", 0, at) + 1
    column = at - (text.rfind("\n", 0, at) + 1) + 1
    return m.Rejection(message, line, column, newer_keywords)


def _newer_keywords(statement: str) -> tuple[str, ...]:
    """The newer keywords whose quoting lets the statement parse (then older servers accept it)."""
    from pglast import parser

    try:
        tokens = [t for t in parser.scan(statement) if statement[t.start : t.end + 1].lower() in NEWER_KEYWORDS]
        if not tokens:
            return ()
        quoted = statement
        for token in reversed(tokens):
            word = statement[token.start : token.end + 1].lower()
            quoted = quoted[: token.start] + f'"{word}"' + quoted[token.end + 1 :]
        parser.parse_sql_json(quoted)
    except Exception:
        return ()
    return tuple(sorted({statement[t.start : t.end + 1].lower() for t in tokens}))


def _offset(err: Exception) -> int | None:
    """pglast's ParseError carries (message, character offset or None: at the end of the input)."""
    offset = err.args[1] if len(err.args) > 1 else None
    return offset if isinstance(offset, int) and offset >= 0 else None
