"""An ``integer`` primary key runs out after 2,147,483,647 ids.

Sequences never reuse values, so deleted rows and failed inserts count too; then every insert
fails, and widening the column rewrites the table and every column that references it. A
``bigint`` id costs four more bytes per row. Prisma's ``Int @id @default(autoincrement())`` is a
``SERIAL`` (integer) key, ``BigInt`` a ``BIGSERIAL``. A matter of taste, so off by default.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.sql import model as m

_LIMITS = {"integer": "2,147,483,647", "smallint": "32,767"}  # both names take "an"


def _primary_key(table: m.CreateTable) -> str | None:
    """The single primary-key column, column-level or table-level; None for none or a composite key."""
    keys = [c.columns for c in table.constraints if c.kind == "primary key"]
    for column in table.columns:
        keys += [(column.name,) for c in column.constraints if c.kind == "primary key"]
    if len(keys) == 1 and len(keys[0]) == 1:
        return keys[0][0]
    return None


def check(ctx: Context) -> Iterator[Hit]:
    table = ctx.summary
    if not isinstance(table, m.CreateTable):
        return
    key = _primary_key(table)
    column = next((c for c in table.columns if c.name == key), None)
    if column is None or column.type.array_dims or column.type.base not in _LIMITS:
        return
    big = "BIGSERIAL" if column.identity and column.default is not None else "BIGINT"
    yield Hit(
        message=(
            f"{table.table.display()}.{column.name} is an {column.type.base} primary key: inserts fail once "
            f"{_LIMITS[column.type.base]} ids are used, and widening it later rewrites the table."
        ),
        help=(
            f"Use a bigint id: in schema.prisma `{column.name} BigInt @id @default(autoincrement())`, "
            f"in SQL {m.quote_ident(column.name)} {big} NOT NULL."
        ),
        object=ctx.ref(table.table, column.name),
        table=table.table,
    )


RULE = Rule(
    id="SM602",
    name="prefer-bigint-id",
    category=Category.STYLE,
    severity=Severity.OFF,
    summary="An integer primary key runs out of ids at 2.1 billion.",
    alternative="A BigInt id (BIGSERIAL / BIGINT).",
    bad='CREATE TABLE "Event" ("id" SERIAL NOT NULL, CONSTRAINT "Event_pkey" PRIMARY KEY ("id"));',
    good='CREATE TABLE "Event" ("id" BIGSERIAL NOT NULL, CONSTRAINT "Event_pkey" PRIMARY KEY ("id"));',
    why=__doc__ or "",
    check=check,
    on=(m.CreateTable,),
)
