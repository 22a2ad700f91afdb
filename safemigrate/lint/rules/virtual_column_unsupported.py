"""A virtual generated column needs PostgreSQL 18: on an older server the statement fails.

``GENERATED ALWAYS AS (expression) VIRTUAL``, or the same without ``STORED``, declares a column that
is computed when read. PostgreSQL 18 added it; PostgreSQL 12 to 17 only have stored generated
columns, and refuse the statement (a syntax error for ``VIRTUAL``, "generated columns must specify
STORED" without it), so the deploy stops at this migration. It is judged against the server version
in the configuration (``[lint] pg_version``, default 16): set it to 18 when the database runs
PostgreSQL 18, or declare the column ``STORED``.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.sql import model as m

FIRST_VERSION = 18


def check(ctx: Context) -> Iterator[Hit]:
    if ctx.settings.pg_version >= FIRST_VERSION:
        return
    summary = ctx.summary
    if isinstance(summary, m.CreateTable):
        table, columns = summary.table, summary.columns
    elif isinstance(summary, m.AlterTable):
        table = summary.table
        columns = tuple(a.column for a in summary.actions if isinstance(a, m.AddColumn))
    else:
        return
    for column in columns:
        if not (column.generated and column.virtual):
            continue
        yield Hit(
            message=(
                f"Generated column {table.display()}.{column.name} is virtual (no STORED), which PostgreSQL "
                f"{ctx.settings.pg_version} refuses: virtual generated columns need PostgreSQL {FIRST_VERSION}, "
                "so the deploy fails at this statement."
            ),
            help=(
                f"Declare it stored: {m.quote_ident(column.name)} ... GENERATED ALWAYS AS (...) STORED; or, if "
                f"the database runs PostgreSQL {FIRST_VERSION}, set pg_version = {FIRST_VERSION} under [lint] in "
                "safemigrate.toml."
            ),
            # No table: the statement fails whether or not the table holds rows.
            object=ctx.ref(table, column.name),
        )


RULE = Rule(
    id="SM212",
    name="virtual-column-unsupported",
    category=Category.MAY_FAIL,
    severity=Severity.ERROR,
    summary="A virtual generated column fails on PostgreSQL before 18 (pg_version in the configuration).",
    alternative="Declare the generated column STORED, or set pg_version = 18 when the server runs PostgreSQL 18.",
    bad='ALTER TABLE "User" ADD COLUMN "emailLower" TEXT GENERATED ALWAYS AS (lower("email")) VIRTUAL;',
    good='ALTER TABLE "User" ADD COLUMN "emailLower" TEXT GENERATED ALWAYS AS (lower("email")) STORED;',
    why=__doc__ or "",
    check=check,
    on=(m.CreateTable, m.AlterTable),
    references=("https://www.postgresql.org/docs/current/ddl-generated-columns.html",),
)
