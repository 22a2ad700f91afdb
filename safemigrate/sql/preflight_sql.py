"""SQL fragments of a migration that the plan's preflight checks and the rehearsal reuse, read through sqlglot.

A unique index's key expressions and a partial index's WHERE predicate are SQL text written in the
migration. The checks run them against the live table only when sqlglot parsed them into one
expression without a subquery; they come back re-rendered by sqlglot, never as the raw text.

A rehearsal clone gets the rows of the tables the pending migrations change; a statement such as
``INSERT INTO a SELECT ... FROM b`` or ``UPDATE a SET x = (SELECT ... FROM b)`` also needs ``b``'s
rows (:func:`tables_named`), or the clone runs it on an empty ``b`` and may pass (or fail) where the
target would not. The linter's summaries keep what a statement changes, not what it reads.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from safemigrate.sql import model as m

_DIALECT = "postgres"


@dataclass(frozen=True)
class IndexKey:
    column: str | None  # a plain column (as PostgreSQL resolves it), else None
    expression: str  # the key re-rendered by sqlglot (same as the quoted column for a plain one)


@dataclass(frozen=True)
class IndexDefinition:
    keys: tuple[IndexKey, ...]
    predicate: str | None  # the partial index's WHERE, re-rendered by sqlglot; None when not partial


def _column_name(node: exp.Expression) -> str | None:
    if isinstance(node, exp.Column) and not node.table and isinstance(node.this, exp.Identifier):
        ident = node.this
        return str(ident.this) if ident.quoted else str(ident.this).lower()
    return None


def _is_plain_expression(node: exp.Expression) -> bool:
    """One scalar expression: no subquery, no statement hidden inside."""
    return not any(isinstance(n, (exp.Select, exp.Subquery, exp.Query, exp.Command)) for n in node.walk())


def read_index_definition(statement_text: str) -> IndexDefinition | None:
    """The keys and predicate of ``CREATE [UNIQUE] INDEX``; None when sqlglot cannot read them safely."""
    from safemigrate.sql.parse import without_index_nulls_clause

    dialect = sqlglot.Dialect.get_or_raise(_DIALECT)
    try:
        tokens, _ = without_index_nulls_clause(dialect.tokenize(statement_text))
        parsed = dialect.parser().parse(tokens, statement_text)
    except SqlglotError:
        return None
    nodes = [p for p in parsed if isinstance(p, exp.Expression)]
    if len(nodes) != 1 or not isinstance(nodes[0], exp.Create) or not isinstance(nodes[0].this, exp.Index):
        return None
    params = nodes[0].this.args.get("params")
    if not isinstance(params, exp.IndexParameters):
        return None
    keys: list[IndexKey] = []
    for column in params.args.get("columns") or []:
        inner = column.this if isinstance(column, exp.Ordered) else column
        if isinstance(inner, exp.Opclass):
            inner = inner.this
        if not isinstance(inner, exp.Expression) or not _is_plain_expression(inner):
            return None
        keys.append(IndexKey(_column_name(inner), inner.sql(dialect=_DIALECT)))
    if not keys:
        return None
    predicate: str | None = None
    where = params.args.get("where")
    if where is not None:
        condition = where.this if isinstance(where, exp.Where) else where
        if not isinstance(condition, exp.Expression) or not _is_plain_expression(condition):
            return None
        predicate = condition.sql(dialect=_DIALECT)
    return IndexDefinition(tuple(keys), predicate)


def read_check_condition(statement_text: str, name: str) -> str | None:
    """The condition of ``ADD CONSTRAINT name CHECK (...)`` in an ALTER TABLE, re-rendered by sqlglot;
    None when sqlglot cannot read it safely (a subquery, an unnamed or unreadable constraint)."""
    try:
        parsed = sqlglot.parse(statement_text, dialect=_DIALECT)
    except (SqlglotError, RecursionError, ValueError):
        return None
    nodes = [p for p in parsed if isinstance(p, exp.Expression)]
    if len(nodes) != 1 or not isinstance(nodes[0], exp.Alter):
        return None
    for constraint in nodes[0].find_all(exp.Constraint):
        identifier = constraint.this
        if not isinstance(identifier, exp.Identifier):
            continue
        if (str(identifier.this) if identifier.quoted else str(identifier.this).lower()) != name:
            continue
        for check in constraint.expressions:
            condition = check.this if isinstance(check, exp.CheckColumnConstraint) else None
            if isinstance(condition, exp.Expression) and _is_plain_expression(condition):
                return condition.sql(dialect=_DIALECT)
    return None


def is_plain_cast(using: str, column: str) -> bool:
    """True when a USING clause only casts the column (``"c"::integer``, ``CAST(c AS uuid)``,
    ``"c"::text::"E"``): the conversion is PostgreSQL's own, so checking that cast checks the statement."""
    try:
        node = sqlglot.parse_one(using, dialect=_DIALECT)
    except SqlglotError:
        return False
    while isinstance(node, (exp.Paren, exp.Cast)):
        node = node.this
    return isinstance(node, exp.Expression) and _column_name(node) == column


def tables_named(text: str) -> tuple[m.Name, ...] | None:
    """Every table ``text`` (one statement) names, names of its WITH queries left out; None when
    sqlglot cannot read it (the caller then knows it cannot tell)."""
    try:
        parsed = sqlglot.parse_one(text, dialect=_DIALECT)
    except (SqlglotError, RecursionError, ValueError):  # sqlglot raises ValueError on some odd input
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
