"""The tables a statement names anywhere: its target, FROM, JOIN, USING, subqueries, WITH queries.

A rehearsal clone gets the rows of the tables the pending migrations change; a statement such as
``INSERT INTO a SELECT ... FROM b`` or ``UPDATE a SET x = (SELECT ... FROM b)`` also needs ``b``'s
rows, or the clone runs it on an empty ``b`` and may pass (or fail) where the target would not. The
linter's summaries keep what a statement changes; this reads what it names, with sqlglot.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from safemigrate.sql import model as m


def tables_named(text: str) -> tuple[m.Name, ...] | None:
    """Every table ``text`` (one statement) names, names of its WITH queries left out; None when
    sqlglot cannot read it (the caller then knows it cannot tell)."""
    try:
        parsed = sqlglot.parse_one(text, read="postgres")
    except (SqlglotError, RecursionError):
        return None
    with_names = {_folded(cte.args["alias"].this) for cte in parsed.find_all(exp.CTE) if cte.args.get("alias")}
    found: dict[m.Name, None] = {}
    for table in parsed.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):  # FROM generate_series(...) and other functions
            continue
        schema = table.args.get("db")
        name = m.Name(_folded(table.this), _folded(schema) if isinstance(schema, exp.Identifier) else None)
        if name.schema is None and name.name in with_names:
            continue
        found[name] = None
    return tuple(found)


def _folded(identifier: exp.Expression) -> str:
    """PostgreSQL's spelling: unquoted identifiers fold to lower case."""
    text = identifier.name
    return text if isinstance(identifier, exp.Identifier) and identifier.quoted else text.lower()
