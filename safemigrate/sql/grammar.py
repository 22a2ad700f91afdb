"""PostgreSQL's own parser (libpg_query, through pglast) as the judge of syntax.

sqlglot, which the linter reads statements with, is lenient in places and does not know every
PostgreSQL form: a statement it cannot read may be valid SQL the linter does not know, or a typo that
fails the deploy. PostgreSQL's raw parser tells the two apart without a server: it is the grammar and
lexer of PostgreSQL 18, and it runs no statement, resolves no name and checks no type (those errors
only show on a server, in ``dry-run``). A whole file is parsed in one call (microseconds); only a file
it refuses is parsed again statement by statement, to name each statement it refuses.
"""

from __future__ import annotations

from collections.abc import Sequence

from safemigrate.sql import model as m
from safemigrate.sql.splitter import RawStatement


def rejections(text: str, statements: Sequence[RawStatement]) -> dict[int, m.Rejection]:
    """The statements (by index) PostgreSQL's parser refuses, with its message and where. Never
    raises: should the parser itself fail on some input, it gives no verdict."""
    from pglast import parser  # loaded on first use: a lint served from its cache never needs it

    try:
        parser.parse_sql_json(text)
        return {}
    except parser.ParseError as err:
        whole_file = err
    except Exception:  # not a verdict on the SQL (e.g. a NUL character): say nothing
        return {}
    found: dict[int, m.Rejection] = {}
    for raw in statements:
        if raw.unterminated:  # reported on its own: the file ends inside a string or comment
            continue
        # With its semicolon, as PostgreSQL reads it: 'at or near ";"' rather than 'at end of input'.
        ended = text[raw.end.offset + 1 : raw.end.offset + 2] == ";"
        try:
            parser.parse_sql_json(raw.text + ";" if ended else raw.text)
        except parser.ParseError as err:
            found[raw.index] = _rejection(raw, err)
        except Exception:
            continue
    if not found and statements:
        # The file fails although each statement parses alone (text between statements the
        # splitter and PostgreSQL see differently): name the statement where it failed.
        offset = _offset(whole_file)
        at = [raw for raw in statements if offset is None or raw.start.offset <= offset]
        raw = at[-1] if at else statements[0]
        if not raw.unterminated:
            found[raw.index] = m.Rejection(_message(whole_file), raw.start.line, raw.start.column)
    return found


def _rejection(raw: RawStatement, err: Exception) -> m.Rejection:
    offset = _offset(err)
    before = raw.text if offset is None else raw.text[:offset]  # None: at the end of the statement
    newlines = before.count("\n")
    if newlines:
        return m.Rejection(_message(err), raw.start.line + newlines, len(before) - before.rfind("\n"))
    return m.Rejection(_message(err), raw.start.line, raw.start.column + len(before))


def _offset(err: Exception) -> int | None:
    """pglast's ParseError carries (message, character offset or None)."""
    offset = err.args[1] if len(err.args) > 1 else None
    return offset if isinstance(offset, int) and offset >= 0 else None


def _message(err: Exception) -> str:
    return str(err.args[0]) if err.args else "syntax error"
