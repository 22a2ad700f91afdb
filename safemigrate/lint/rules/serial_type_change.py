"""Changing a column to a serial type always fails: serial types exist only in CREATE TABLE and ADD COLUMN.

``serial``, ``bigserial`` and ``smallserial`` (``serial4``, ``serial8``, ``serial2``) are shorthands, not
types: CREATE TABLE and ADD COLUMN turn them into an integer column, a sequence and a ``nextval()``
default. ``ALTER COLUMN ... TYPE BIGSERIAL`` looks up a type of that name and fails with
``type "bigserial" does not exist``, even on an empty table, so the migration stops at that statement.
Prisma writes it when an ``@default(autoincrement())`` field changes size (``Int`` to ``BigInt``,
prisma/orm#16825). The fix is the integer type, and a sequence as wide: a serial column's sequence
was created ``AS integer``, and changing the column's type leaves it so, so inserts would still fail
once it passes 2147483647.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.sql import model as m
from safemigrate.sql import types


def _nextval_sequence(ctx: Context, table: m.Name, column: str) -> m.Name | None:
    """The sequence a ``SET DEFAULT nextval(...)`` of this file (up to this statement) gives the column."""
    key, found = ctx.schema.key(table), None
    for statement in (*ctx.earlier(), ctx.statement):
        summary = statement.summary
        if isinstance(summary, m.AlterTable) and ctx.schema.key(summary.table) == key:
            for action in summary.actions:
                if isinstance(action, m.SetDefault) and action.column == column and action.default.sequences:
                    found = action.default.sequences[0]
    return found


def _widen_sequence(ctx: Context, table: m.Name, column: str, integer: str) -> str:
    """The ALTER SEQUENCE that makes the column's sequence as wide as ``integer``; "" when it has none."""
    given = _nextval_sequence(ctx, table, column)
    if given is not None:
        return f" Then make its sequence as wide: ALTER SEQUENCE {given.sql()} AS {integer};"
    state = ctx.schema.column(table, column)
    if state is not None and not state.has_default:
        return ""  # no default: it draws from no sequence
    serial = m.Name(f"{table.name}_{column}_seq", table.schema).sql()  # the name PostgreSQL gives a serial's
    widen = f"ALTER SEQUENCE {serial} AS {integer};"
    if state is None:
        return f" If it is a serial column, also make its sequence as wide: {widen}"
    return f" Then make its sequence as wide (a serial's is created for its type): {widen}"


def check(ctx: Context) -> Iterator[Hit]:
    alter = ctx.summary
    if not isinstance(alter, m.AlterTable):
        return
    table = alter.table
    for action in alter.actions:
        if not isinstance(action, m.AlterColumnType):
            continue
        serial = types.serial_type_in(action)
        integer = types.serial_integer(serial) if serial is not None else None
        if serial is None or integer is None:
            continue
        col = m.quote_ident(action.column)
        spelled = serial.sql or serial.display()
        if serial == action.new_type:
            where = f"Changing {table.display()}.{action.column} to {spelled}"
            fix = f"ALTER TABLE {table.sql()} ALTER COLUMN {col} TYPE {integer.upper()}{'[]' * serial.array_dims};"
            sequence = "" if serial.array_dims else _widen_sequence(ctx, table, action.column, integer)
        else:
            where = f"Changing {table.display()}.{action.column} with a cast to {spelled} in USING"
            fix = f"cast to {integer} in USING."
            sequence = ""
        yield Hit(
            message=(
                f'{where} always fails: PostgreSQL answers type "{serial.base}" does not exist, even on an empty '
                "table (serial types exist only in CREATE TABLE and ADD COLUMN), so the migration stops here."
            ),
            help=f"Write the integer type instead of {spelled}: {fix}{sequence}",
            object=ctx.ref(table, action.column),
            table=None,  # fails whatever the table holds, even on a table created by this deploy
        )


RULE = Rule(
    id="SM215",
    name="serial-type-change",
    category=Category.MAY_FAIL,
    severity=Severity.ERROR,
    summary="ALTER COLUMN ... TYPE with a serial type always fails: PostgreSQL has no type of that name.",
    alternative="Change the column to the integer type (BIGINT), then its sequence (ALTER SEQUENCE ... AS bigint).",
    bad='ALTER TABLE "Org" ALTER COLUMN "id" SET DATA TYPE BIGSERIAL;',
    good='ALTER TABLE "Org" ALTER COLUMN "id" SET DATA TYPE BIGINT;\nALTER SEQUENCE "Org_id_seq" AS bigint;',
    why=__doc__ or "",
    check=check,
    on=(m.AlterTable,),
    references=(
        "https://www.postgresql.org/docs/current/datatype-numeric.html#DATATYPE-SERIAL",
        "https://github.com/prisma/orm/issues/16825",
    ),
)
